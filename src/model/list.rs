//! Comparison lists prepared for lookups: a list long enough for a linear scan to cost more
//! than a hash lookup gets a hash index at parse time, so that `IS ONE OF` and `ARRAY CONTAINS
//! ANY OF` (and their negated and confidential forms) cost one lookup per user value, not one
//! scan of the list: a million values against a thousand user items is a thousand lookups.
//!
//! The index holds positions into the list, hashed with a per-process random seed (a config
//! cannot choose colliding values), so it adds about five bytes per item and copies nothing.

use std::fmt;
use std::hash::{BuildHasher, Hash};

use hashbrown::HashTable;

use super::raw::{self, PackedTexts};

/// Lists up to this long are scanned: comparing a few items is as fast as hashing one.
pub(crate) const INDEX_FROM: usize = 32;

/// Positions of a list's items by hash.
#[derive(Clone, Default)]
struct Index {
    table: HashTable<u32>,
    state: foldhash::fast::RandomState,
}

impl Index {
    /// An index of the `len` items at `positions`, `key` giving an item's key by its position
    /// (`None`: it never matches), or `None` for a list too short to need one (or too long to
    /// number with `u32`). Boxed: most lists have none, and a list is part of every
    /// condition's size.
    fn build<'k, K: Hash + ?Sized + 'k>(
        len: usize,
        positions: impl Iterator<Item = usize>,
        key: impl Fn(usize) -> Option<&'k K>,
    ) -> Option<Box<Index>> {
        if len <= INDEX_FROM || u32::try_from(len).is_err() {
            return None;
        }
        let mut index = Box::<Index>::default();
        index.table.reserve(len, |_| 0);
        for i in positions {
            let (Some(k), Ok(position)) = (key(i), u32::try_from(i)) else {
                continue;
            };
            let hash = index.state.hash_one(k);
            index.table.insert_unique(hash, position, |&j| {
                key(j as usize).map_or(0, |k| index.state.hash_one(k))
            });
        }
        Some(index)
    }

    fn find<K: Hash + ?Sized>(&self, key: &K, is: impl Fn(usize) -> bool) -> bool {
        self.table
            .find(self.state.hash_one(key), |&i| is(i as usize))
            .is_some()
    }
}

/// A list of texts: `IS ONE OF`, `CONTAINS ANY OF`, `ARRAY CONTAINS ANY OF`… The items are
/// packed into one text (see [`PackedTexts`]): one allocation per list, read front to back.
#[derive(Clone, Default)]
pub(crate) struct TextList {
    packed: Box<str>,
}

/// A long list looked up whole, with its index. Apart from [`TextList`] (and boxed where a
/// condition holds it) so that the many short lists carry no room for an index.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct IndexedTextList {
    pub(crate) list: TextList,
    index: Index,
}

impl IndexedTextList {
    /// Whether `text` is one of the items.
    #[inline]
    pub(crate) fn contains(&self, text: &str) -> bool {
        self.index
            .find(text, |at| raw::item_at(&self.list.packed, at) == text)
    }
}

impl TextList {
    /// A list scanned item by item (the comparators that match parts of texts).
    pub(crate) fn scanned(items: PackedTexts) -> TextList {
        TextList {
            packed: items.packed,
        }
    }

    /// A list looked up whole: with an index when long (`Ok`), as it is when short (`Err`).
    /// The index holds where each item starts in the packed text.
    pub(crate) fn indexed(items: PackedTexts) -> Result<Box<IndexedTextList>, TextList> {
        let list = TextList::scanned(items);
        let packed = &*list.packed;
        let mut items = list.iter();
        let offsets = std::iter::from_fn(|| {
            let at = items.offset(packed);
            items.next().map(|_| at)
        });
        match Index::build(list.len(), offsets, |at| Some(raw::item_at(packed, at))) {
            Some(index) => Ok(Box::new(IndexedTextList {
                list,
                index: *index,
            })),
            None => Err(list),
        }
    }

    /// How many items there are.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.iter().len()
    }

    /// The items, in order: each starts where the one before ended.
    #[inline]
    pub(crate) fn iter(&self) -> raw::Items<'_> {
        raw::items(&self.packed)
    }

    /// Whether `text` is one of the items, item by item.
    #[inline]
    pub(crate) fn contains(&self, text: &str) -> bool {
        self.iter().any(|i| i == text)
    }
}

/// A list of SHA-256 digests (`None` for an item that is not one: it never matches).
#[derive(Clone)]
pub(crate) struct HashList {
    items: Box<[Option<[u8; 32]>]>,
    index: Option<Box<Index>>,
}

impl HashList {
    /// A list of digests, indexed when long.
    pub(crate) fn new(items: Vec<Option<[u8; 32]>>) -> HashList {
        let items = items.into_boxed_slice();
        let index = Index::build(items.len(), 0..items.len(), |i| items[i].as_ref());
        HashList { items, index }
    }

    /// Whether `digest` is one of the items.
    #[inline]
    pub(crate) fn contains(&self, digest: &[u8; 32]) -> bool {
        match &self.index {
            Some(index) => index.find(digest, |i| self.items[i].as_ref() == Some(digest)),
            None => self.items.iter().any(|i| i.as_ref() == Some(digest)),
        }
    }

    /// How many items the config listed.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    #[cfg(test)]
    pub(crate) fn is_indexed(&self) -> bool {
        self.index.is_some()
    }
}

/// The `(byte length, digest)` items of the hashed STARTS/ENDS WITH ANY OF comparators,
/// grouped by length, shortest first: a text is hashed once per length (not once per item) and
/// each digest looked up in its group, and lengths past the text's end are never visited.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct AffixList {
    groups: Box<[(usize, HashList)]>,
    /// How many items the config listed, for the evaluation log.
    len: usize,
}

impl AffixList {
    pub(crate) fn new(mut items: Vec<(usize, Option<[u8; 32]>)>) -> AffixList {
        let len = items.len();
        items.sort_by_key(|(length, _)| *length);
        let mut groups: Vec<(usize, Vec<Option<[u8; 32]>>)> = Vec::new();
        for (length, digest) in items {
            match groups.last_mut() {
                Some((last, digests)) if *last == length => digests.push(digest),
                _ => groups.push((length, vec![digest])),
            }
        }
        AffixList {
            groups: groups
                .into_iter()
                .map(|(length, digests)| (length, HashList::new(digests)))
                .collect(),
            len,
        }
    }

    /// Each length and the digests of that length, shortest first.
    pub(crate) fn groups(&self) -> impl Iterator<Item = (usize, &HashList)> {
        self.groups.iter().map(|(length, list)| (*length, list))
    }

    /// How many items the config listed.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// Lists are equal when their items are: the index follows from them.
impl PartialEq for TextList {
    fn eq(&self, other: &TextList) -> bool {
        self.packed == other.packed
    }
}

impl PartialEq for HashList {
    fn eq(&self, other: &HashList) -> bool {
        self.items == other.items
    }
}

impl fmt::Debug for TextList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl fmt::Debug for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Index({} items)", self.table.len())
    }
}

/// An index follows from its list's items.
impl PartialEq for Index {
    fn eq(&self, _: &Index) -> bool {
        true
    }
}

impl fmt::Debug for HashList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashList")
            .field("items", &self.items.len())
            .field("indexed", &self.index.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(items: &[impl AsRef<str>]) -> PackedTexts {
        let json = serde_json::to_string(&items.iter().map(AsRef::as_ref).collect::<Vec<_>>());
        serde_json::from_str(&json.expect("a list of texts")).expect("packs")
    }

    #[test]
    fn packed_lists_keep_empty_and_escaped_items() {
        let list = TextList::scanned(packed(&["", "a\"b", "", "é"]));
        assert_eq!(list.iter().collect::<Vec<_>>(), ["", "a\"b", "", "é"]);
        assert!(list.contains("") && list.contains("é") && !list.contains("a"));
        assert_eq!(TextList::scanned(packed(&[] as &[&str])).len(), 0);
        assert!(serde_json::from_str::<PackedTexts>(r#"["a", 1]"#).is_err());
    }

    #[test]
    fn a_list_is_one_text_whose_items_read_back_exactly() {
        // Lengths whose packed form takes one, two and three digits, on both sides of each
        // step; multi-byte and empty items.
        let mut items: Vec<String> = [0, 1, 63, 64, 65, 4095, 4096, 4097, 300_000]
            .iter()
            .map(|&n| "é".repeat(n / 2) + &"x".repeat(n % 2))
            .collect();
        items.extend(["", "ü", "\0", "@"].map(String::from));
        let list = TextList::scanned(packed(&items));
        assert_eq!(std::mem::size_of::<TextList>(), 16, "one allocation");
        assert_eq!(list.iter().collect::<Vec<_>>(), items);
        assert_eq!(list.len(), items.len());
        assert_eq!(list.iter().len(), items.len());
        for item in &items {
            assert!(list.contains(item));
        }
        assert!(!list.contains("é") && !list.contains("xx"));
        let indexed = TextList::indexed(packed(&[items.as_slice(); 3].concat()))
            .expect("39 items are indexed");
        for item in &items {
            assert!(indexed.contains(item));
        }
        assert!(!indexed.contains("é"));
        assert_eq!(TextList::default().len(), 0);
        assert_eq!(PackedTexts::default().iter().len(), 0);
    }

    #[test]
    fn long_lists_are_indexed_and_agree_with_a_scan() {
        let items: Vec<String> = (0..1000).map(|i| format!("item-{i}")).collect();
        let indexed = TextList::indexed(packed(&items)).expect("a long list is indexed");
        let scanned = TextList::scanned(packed(&items));
        assert!(TextList::indexed(packed(&items[..INDEX_FROM])).is_err());
        assert_eq!(indexed.list.iter().collect::<Vec<_>>(), items);
        for probe in ["item-0", "item-999", "item-500", "item-1000", "", "item-"] {
            assert_eq!(indexed.contains(probe), scanned.contains(probe), "{probe}");
        }
        assert!(indexed.contains("item-999") && !indexed.contains("item-1000"));
        assert_eq!(indexed.list.len(), 1000);
        assert_eq!(indexed.list, scanned);
    }

    #[test]
    fn long_digest_lists_are_indexed_and_skip_invalid_items() {
        let digest = |i: u32| {
            let mut d = [0u8; 32];
            d[28..].copy_from_slice(&i.to_be_bytes());
            d
        };
        let mut items: Vec<Option<[u8; 32]>> = (0..100).map(|i| Some(digest(i))).collect();
        items.push(None);
        items.push(Some(digest(7)));
        let list = HashList::new(items);
        assert!(list.is_indexed());
        assert!(list.contains(&digest(0)) && list.contains(&digest(99)));
        assert!(!list.contains(&digest(100)));
        assert!(!HashList::new(vec![Some(digest(1))]).is_indexed());
        let affixes = AffixList::new(vec![
            (5, Some(digest(1))),
            (2, Some(digest(2))),
            (5, None),
            (5, Some(digest(3))),
        ]);
        let groups: Vec<(usize, bool, bool)> = affixes
            .groups()
            .map(|(length, list)| (length, list.contains(&digest(1)), list.contains(&digest(3))))
            .collect();
        assert_eq!(groups, [(2, false, false), (5, true, true)]);
        assert!(HashList::new(vec![Some(digest(1))]).contains(&digest(1)));
    }
}
