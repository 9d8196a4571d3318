//! Comparison lists prepared for lookups: a list long enough for a linear scan to cost more
//! than a hash lookup gets a hash index at parse time, so that `IS ONE OF` and `ARRAY CONTAINS
//! ANY OF` (and their negated and confidential forms) cost one lookup per user value, not one
//! scan of the list: a million values against a thousand user items is a thousand lookups.
//!
//! The index holds positions into the list, hashed with a per-process random seed (a config
//! cannot choose colliding values), so it adds about five bytes per item and copies nothing.

use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::ops::Deref;

use hashbrown::HashTable;

/// Lists up to this long are scanned: comparing a few items is as fast as hashing one.
pub(crate) const INDEX_FROM: usize = 32;

/// Positions of a list's items by hash.
#[derive(Clone, Default)]
struct Index {
    table: HashTable<u32>,
    state: foldhash::fast::RandomState,
}

impl Index {
    /// An index of the items `key` gives a key for (the others never match), or `None` for a
    /// list too short to need one (or too long to number with `u32`).
    fn build<T, K: Hash + ?Sized>(items: &[T], key: impl Fn(&T) -> Option<&K>) -> Option<Index> {
        if items.len() <= INDEX_FROM || u32::try_from(items.len()).is_err() {
            return None;
        }
        let mut index = Index::default();
        index.table.reserve(items.len(), |_| 0);
        for (i, item) in items.iter().enumerate() {
            if let Some(k) = key(item) {
                let hash = index.state.hash_one(k);
                let position = i as u32;
                index.table.insert_unique(hash, position, |&j| {
                    key(&items[j as usize]).map_or(0, |k| index.state.hash_one(k))
                });
            }
        }
        Some(index)
    }

    fn find<K: Hash + ?Sized>(&self, key: &K, is: impl Fn(usize) -> bool) -> bool {
        self.table
            .find(self.state.hash_one(key), |&i| is(i as usize))
            .is_some()
    }
}

/// A list of texts: `IS ONE OF`, `CONTAINS ANY OF`, `ARRAY CONTAINS ANY OF`… Reads as the
/// slice it holds; [`TextList::contains`] uses the index when there is one.
#[derive(Clone)]
pub(crate) struct TextList {
    items: Vec<String>,
    index: Option<Index>,
}

impl TextList {
    /// A list scanned item by item (the comparators that match parts of texts).
    pub(crate) fn scanned(items: Vec<String>) -> TextList {
        TextList { items, index: None }
    }

    /// A list looked up whole, indexed when long.
    pub(crate) fn indexed(items: Vec<String>) -> TextList {
        let index = Index::build(&items, |s: &String| Some(s.as_str()));
        TextList { items, index }
    }

    /// Whether `text` is one of the items.
    #[inline]
    pub(crate) fn contains(&self, text: &str) -> bool {
        match &self.index {
            Some(index) => index.find(text, |i| self.items[i] == text),
            None => self.items.iter().any(|i| i == text),
        }
    }

    #[cfg(test)]
    pub(crate) fn is_indexed(&self) -> bool {
        self.index.is_some()
    }
}

/// A list of SHA-256 digests (`None` for an item that is not one: it never matches).
#[derive(Clone)]
pub(crate) struct HashList {
    items: Vec<Option<[u8; 32]>>,
    index: Option<Index>,
}

impl HashList {
    /// A list of digests, indexed when long.
    pub(crate) fn new(items: Vec<Option<[u8; 32]>>) -> HashList {
        let index = Index::build(&items, |d: &Option<[u8; 32]>| d.as_ref());
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
    groups: Vec<(usize, HashList)>,
}

impl AffixList {
    pub(crate) fn new(mut items: Vec<(usize, Option<[u8; 32]>)>) -> AffixList {
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
        }
    }

    /// Each length and the digests of that length, shortest first.
    pub(crate) fn groups(&self) -> impl Iterator<Item = (usize, &HashList)> {
        self.groups.iter().map(|(length, list)| (*length, list))
    }
}

impl Deref for TextList {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.items
    }
}

/// Lists are equal when their items are: the index follows from them.
impl PartialEq for TextList {
    fn eq(&self, other: &TextList) -> bool {
        self.items == other.items
    }
}

impl PartialEq for HashList {
    fn eq(&self, other: &HashList) -> bool {
        self.items == other.items
    }
}

impl fmt::Debug for TextList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TextList")
            .field("items", &self.items)
            .field("indexed", &self.index.is_some())
            .finish()
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

    #[test]
    fn long_lists_are_indexed_and_agree_with_a_scan() {
        let items: Vec<String> = (0..1000).map(|i| format!("item-{i}")).collect();
        let indexed = TextList::indexed(items.clone());
        let scanned = TextList::scanned(items.clone());
        assert!(indexed.is_indexed() && !scanned.is_indexed());
        assert!(!TextList::indexed(items[..INDEX_FROM].to_vec()).is_indexed());
        for probe in ["item-0", "item-999", "item-500", "item-1000", "", "item-"] {
            assert_eq!(indexed.contains(probe), scanned.contains(probe), "{probe}");
        }
        assert!(indexed.contains("item-999") && !indexed.contains("item-1000"));
        assert_eq!(indexed.len(), 1000);
        assert_eq!(indexed, scanned);
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
