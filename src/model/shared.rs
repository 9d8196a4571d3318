//! A setting's targeting rules and percentage options, each list held in one allocation, and
//! [`Shared`], the handle evaluation details use to point at one of their items.
//!
//! One allocation per list, not one per item: an evaluation walks a setting's rules in order,
//! and items that sit side by side in memory cost one cache miss where items allocated one by
//! one, wherever the allocator had room, cost one each. In a process whose heap is fragmented
//! (any long-running one) that was most of an evaluation's time.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// A list of a setting's items in one shared allocation; an empty list allocates nothing.
pub(crate) struct SharedList<T>(Option<Arc<[T]>>);

impl<T> Clone for SharedList<T> {
    fn clone(&self) -> Self {
        SharedList(self.0.clone())
    }
}

impl<T> SharedList<T> {
    /// The items, in the config's order.
    pub(crate) fn as_slice(&self) -> &[T] {
        self.0.as_deref().unwrap_or(&[])
    }

    /// A handle on `item`, which must be an element of this list (found by address, not by
    /// value: equal rules of one setting stay apart). `None` when it is not.
    pub(crate) fn share(&self, item: &T) -> Option<Shared<T>> {
        let list = self.0.as_ref()?;
        let index = list.iter().position(|x| std::ptr::eq(x, item))?;
        Some(Shared {
            list: Arc::clone(list),
            index,
        })
    }

    /// The items for in-place changes while nothing else holds the list (during a parse).
    pub(crate) fn get_mut(&mut self) -> Option<&mut [T]> {
        match &mut self.0 {
            None => Some(&mut []),
            Some(list) => Arc::get_mut(list),
        }
    }
}

impl<T> SharedList<T> {
    /// The run `start..start + len` of this list, sharing it.
    pub(crate) fn slice(&self, start: usize, len: usize) -> SharedSlice<T> {
        // A config that could overflow these would not fit in memory: its JSON is bounded.
        let start = u32::try_from(start).unwrap_or(u32::MAX);
        let len = u32::try_from(len).unwrap_or(0);
        SharedSlice {
            block: self.clone(),
            start,
            len,
        }
    }
}

/// A run of a [`SharedList`]'s items: a rule's conditions, in the one block that holds the
/// conditions of all its setting's rules, so that a walk over the rules reads them in order.
pub(crate) struct SharedSlice<T> {
    block: SharedList<T>,
    start: u32,
    len: u32,
}

impl<T> SharedSlice<T> {
    /// The items of the run.
    pub(crate) fn as_slice(&self) -> &[T] {
        let start = self.start as usize;
        let end = start.saturating_add(self.len as usize);
        self.block.as_slice().get(start..end).unwrap_or(&[])
    }

    /// Changes the block that the runs of `owners` share (`run` finds each one's): takes the
    /// block from each, so that nothing else holds it, then hands it back. `None`, and nothing
    /// changed, when something besides `owners` shares it too.
    pub(crate) fn change_shared_block<R>(
        owners: &mut [R],
        run: impl Fn(&mut R) -> &mut SharedSlice<T>,
        change: impl FnOnce(&mut [T]),
    ) -> Option<()> {
        let mut block = SharedList::default();
        for owner in owners.iter_mut() {
            block = std::mem::take(&mut run(owner).block);
        }
        let changed = block.get_mut().map(change);
        for owner in owners {
            run(owner).block = block.clone();
        }
        changed
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
        SharedList::default().slice(0, 0)
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

impl<T> Default for SharedList<T> {
    fn default() -> Self {
        SharedList(None)
    }
}

impl<T> SharedList<T> {
    /// The items of an iterator that knows its length: one allocation, no copy through a
    /// `Vec` (collecting into an `Arc<[T]>` sizes it from the length up front).
    pub(crate) fn from_exact(items: impl ExactSizeIterator<Item = T>) -> Self {
        SharedList((items.len() > 0).then(|| items.collect()))
    }
}

impl<T> From<Vec<T>> for SharedList<T> {
    fn from(items: Vec<T>) -> Self {
        SharedList((!items.is_empty()).then(|| Arc::from(items)))
    }
}

impl<T> FromIterator<T> for SharedList<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        SharedList::from(items.into_iter().collect::<Vec<T>>())
    }
}

impl<T> Deref for SharedList<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T: fmt::Debug> fmt::Debug for SharedList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_slice().fmt(f)
    }
}

impl<T: PartialEq> PartialEq for SharedList<T> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

/// A targeting rule or percentage option of a config, as evaluation details hand it out:
/// it dereferences to the item, and cloning it counts a reference to the setting's list
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
    list: Arc<[T]>,
    index: usize,
}

impl<T> Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.list[self.index]
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared {
            list: Arc::clone(&self.list),
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

    #[test]
    fn an_item_is_shared_by_its_address_not_its_value() {
        let list: SharedList<i32> = [7, 7, 9].into_iter().collect();
        let second = list.share(&list[1]).expect("an element");
        assert!(std::ptr::eq(&*second, &list[1]));
        assert!(!std::ptr::eq(&*second, &list[0]));
        let outside = 7;
        assert!(list.share(&outside).is_none());
    }

    #[test]
    fn an_empty_list_allocates_nothing_and_shares_nothing() {
        let list: SharedList<i32> = std::iter::empty().collect();
        assert!(list.0.is_none());
        assert!(list.as_slice().is_empty());
        assert!(list.share(&1).is_none());
    }

    #[test]
    fn slices_read_their_run_and_an_impossible_run_is_empty() {
        let list: SharedList<i32> = (0..6).collect();
        assert_eq!(list.slice(2, 3).as_slice(), &[2, 3, 4]);
        assert_eq!(list.slice(6, 0).as_slice(), &[] as &[i32]);
        assert_eq!(list.slice(4, 5).as_slice(), &[] as &[i32]);
        assert_eq!(SharedSlice::<i32>::default().as_slice(), &[] as &[i32]);
    }

    #[test]
    fn the_block_shared_by_slices_is_changed_in_place_and_handed_back() {
        let list: SharedList<i32> = (0..4).collect();
        let mut slices = [list.slice(0, 1), list.slice(1, 3)];
        drop(list);
        let changed = SharedSlice::change_shared_block(&mut slices, |s| s, |block| block[3] = 30);
        assert_eq!(changed, Some(()));
        assert_eq!(slices[1].as_slice(), &[1, 2, 30]);
        // Still one block: a change through one run shows in the other.
        let outside = slices[0].clone();
        let refused = SharedSlice::change_shared_block(&mut slices, |s| s, |block| block[0] = 9);
        assert_eq!(refused, None, "a run outside the slices holds the block");
        assert_eq!(outside.as_slice(), &[0]);
        assert_eq!(slices[0].as_slice(), &[0], "handed back unchanged");
        assert_eq!(slices[1].as_slice(), &[1, 2, 30]);
    }

    #[test]
    fn a_list_is_changed_in_place_only_while_unshared() {
        let mut list: SharedList<i32> = [1, 2].into_iter().collect();
        list.get_mut().expect("unshared")[0] = 5;
        let other = list.clone();
        assert!(list.get_mut().is_none());
        assert_eq!(other.as_slice(), &[5, 2]);
    }
}
