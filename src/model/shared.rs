//! A config's targeting rules, conditions and percentage options, each kind held in one block
//! for the whole config, and [`Shared`], the handle evaluation details use to point at a rule
//! or an option.
//!
//! One block per kind, not one allocation per item: an evaluation walks a setting's rules in
//! order, and a request evaluates many flags of one config. Items side by side in memory cost
//! one cache miss for many; items allocated one by one, wherever the allocator had room, cost
//! one each. In a process whose heap is fragmented (any long-running one) that was most of an
//! evaluation's time.

use std::fmt;
use std::ops::{Deref, Range};
use std::sync::Arc;

/// One block of items; an empty block allocates nothing.
pub(crate) struct SharedList<T>(Option<Arc<[T]>>);

impl<T> SharedList<T> {
    /// The items of an iterator that knows its length: one allocation, no copy through a
    /// `Vec` (collecting into an `Arc<[T]>` sizes it from the length up front).
    pub(crate) fn from_exact(items: impl ExactSizeIterator<Item = T>) -> Self {
        SharedList((items.len() > 0).then(|| items.collect()))
    }

    fn as_slice(&self) -> &[T] {
        self.0.as_deref().unwrap_or(&[])
    }
}

impl<T> Clone for SharedList<T> {
    fn clone(&self) -> Self {
        SharedList(self.0.clone())
    }
}

impl<T> Default for SharedList<T> {
    fn default() -> Self {
        SharedList(None)
    }
}

/// A run of a block's items: a setting's rules or percentage options, a rule's conditions or
/// options. Made as a range while the config is read, then attached to the block (see
/// [`Blocks`](super::Blocks)); an empty run holds no block.
pub(crate) struct SharedSlice<T> {
    block: SharedList<T>,
    start: u32,
    len: u32,
}

impl<T> SharedSlice<T> {
    /// The run `range` of a block still being gathered.
    pub(crate) fn pending(range: Range<usize>) -> Self {
        // A config that could overflow these would not fit in memory: its JSON is bounded.
        SharedSlice {
            block: SharedList::default(),
            start: u32::try_from(range.start).unwrap_or(u32::MAX),
            len: u32::try_from(range.len()).unwrap_or(0),
        }
    }

    /// Attaches the run to the block it was counted in.
    pub(crate) fn attach(&mut self, block: &SharedList<T>) {
        if self.len > 0 {
            self.block = block.clone();
        }
    }

    /// Whether the run is empty, read from the run itself: a setting without rules is
    /// evaluated without reading its block.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The items of the run (none before it is attached, or if it lies outside its block).
    #[inline]
    pub(crate) fn as_slice(&self) -> &[T] {
        let start = self.start as usize;
        let end = start.saturating_add(self.len as usize);
        self.block.as_slice().get(start..end).unwrap_or(&[])
    }

    /// A handle on `item`, which must be one of the run's items (found by address, not by
    /// value: equal rules of one setting stay apart). `None` when it is not.
    pub(crate) fn share(&self, item: &T) -> Option<Shared<T>> {
        let block = self.block.0.as_ref()?;
        let position = self.as_slice().iter().position(|x| std::ptr::eq(x, item))?;
        Some(Shared {
            block: Arc::clone(block),
            index: self.start as usize + position,
        })
    }
}

impl<T> Clone for SharedSlice<T> {
    fn clone(&self) -> Self {
        SharedSlice {
            block: self.block.clone(),
            ..*self
        }
    }
}

impl<T> Default for SharedSlice<T> {
    fn default() -> Self {
        SharedSlice::pending(0..0)
    }
}

impl<T> Deref for SharedSlice<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T: fmt::Debug> fmt::Debug for SharedSlice<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_slice().fmt(f)
    }
}

impl<T: PartialEq> PartialEq for SharedSlice<T> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

/// A targeting rule or percentage option of a config, as evaluation details hand it out:
/// it dereferences to the item, and cloning it counts a reference to the config's block
/// instead of copying anything.
///
/// ```
/// use configcat_actix::{Config, NoLog, User, Value, eval};
/// let config = Config::parse(
///     r#"{"f":{"beta":{"t":0,"v":{"b":false},
///         "r":[{"c":[{"u":{"a":"Country","c":28,"s":"Hungary"}}],"s":{"v":{"b":true},"i":"hu"}}]}}}"#,
/// )?;
/// let user = User::new("42").country("Hungary");
/// let details = eval::evaluate_details(&config, "beta", false, Some(&user), None, &NoLog);
/// let rule = details.matched_targeting_rule.expect("the rule matched");
/// assert_eq!(rule.served_value(), Some(&Value::Bool(true)));
/// assert_eq!(rule.conditions().len(), 1);
/// # Ok::<(), configcat_actix::ParseError>(())
/// ```
pub struct Shared<T> {
    block: Arc<[T]>,
    index: usize,
}

impl<T> Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.block[self.index]
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared {
            block: Arc::clone(&self.block),
            index: self.index,
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// Equal when the items are equal, as `Arc`'s equality compares what it points at.
impl<T: PartialEq> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

#[cfg(test)]
mod tests {
    use super::{SharedList, SharedSlice};

    fn attached(block: &SharedList<i32>, range: std::ops::Range<usize>) -> SharedSlice<i32> {
        let mut slice = SharedSlice::pending(range);
        slice.attach(block);
        slice
    }

    #[test]
    fn a_run_reads_its_items_once_attached_and_an_impossible_run_is_empty() {
        let block = SharedList::from_exact(0..6);
        let pending = SharedSlice::<i32>::pending(2..5);
        assert!(pending.as_slice().is_empty(), "not attached yet");
        assert_eq!(attached(&block, 2..5).as_slice(), &[2, 3, 4]);
        assert!(attached(&block, 4..9).as_slice().is_empty());
        assert!(SharedSlice::<i32>::default().as_slice().is_empty());
    }

    #[test]
    fn an_empty_run_holds_no_block_and_an_empty_block_allocates_nothing() {
        let block = SharedList::from_exact(0..3);
        let empty = attached(&block, 1..1);
        assert!(empty.block.0.is_none());
        assert!(
            SharedList::<i32>::from_exact(std::iter::empty())
                .0
                .is_none()
        );
    }

    #[test]
    fn a_huge_document_reserves_no_more_than_a_large_config_needs() {
        let blocks = super::super::Blocks::for_document(usize::MAX);
        let most = 1 << 14;
        assert!(blocks.rules.capacity() <= 2 * most);
        assert!(blocks.conditions.capacity() <= 2 * most);
        assert!(blocks.options.capacity() <= 2 * most);
        let small = super::super::Blocks::for_document(1_000);
        assert!(small.conditions.capacity() < 16);
    }

    #[test]
    fn an_item_is_shared_by_its_address_not_its_value() {
        let block = SharedList::from_exact([1, 7, 7, 9].into_iter());
        let run = attached(&block, 1..4);
        let second = run.share(&run[1]).expect("an item of the run");
        assert!(std::ptr::eq(&*second, &run[1]));
        assert!(!std::ptr::eq(&*second, &run[0]));
        assert_eq!(*second, 7);
        let outside = attached(&block, 0..1);
        assert!(
            run.share(&outside[0]).is_none(),
            "in the block, not in the run"
        );
        assert!(run.share(&7).is_none());
    }
}
