//! Conditions of targeting rules and segments, with their comparison values prepared for
//! evaluation.

use std::sync::Arc;

use smol_str::SmolStr;

use super::list::{AffixList, HashList, IndexedTextList, TextList};
use super::raw::{
    RawCondition, RawPrerequisiteCondition, RawSegment, RawSegmentCondition, RawUserCondition,
    RawValue,
};
use super::{SettingType, Value};
use crate::text::js_trim;

/// A condition of a targeting rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Compares a user attribute with a value.
    User(UserCondition),
    /// Tests whether the user is in a segment.
    Segment(SegmentCondition),
    /// Compares the value of another flag.
    Prerequisite(PrerequisiteCondition),
    /// A condition of a kind this client does not know; evaluating it is an error.
    Unknown,
}

/// A user attribute compared with a comparison value.
///
/// Kept small (64 bytes): a config holds thousands. Rare or large parts are boxed.
#[derive(Debug, Clone, PartialEq)]
pub struct UserCondition {
    /// Inline up to 23 bytes; a longer name is shared by the conditions of a config that
    /// name it.
    pub(crate) attribute: SmolStr,
    pub(crate) comparator: Option<Comparator>,
    /// The comparison value prepared for the comparator, with the text the evaluation log
    /// shows where it cannot show the prepared value: see
    /// [`UserCondition::comparison_text`] and [`UserCondition::comparison_list`].
    pub(crate) operand: Operand,
}

/// A comparison value kept as text for the evaluation log.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kept {
    Text(Box<str>),
    List(TextList),
}

/// Versions parsed from a comparison value, with the value as the config gives it, for the
/// evaluation log.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Versions<K, V> {
    pub(crate) text: K,
    /// `None` when the value is not a valid version (or a list item is not): the condition
    /// is false.
    pub(crate) parsed: Option<V>,
}

/// A comparison value, parsed and decoded at load time for its comparator. At most 24 bytes
/// of payload: large and rare forms are boxed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    /// Missing, or not what the comparator needs: evaluating the condition is an error. The
    /// log shows what the config gave, if anything.
    Invalid(Option<Box<Kept>>),
    /// Inline up to 23 bytes (most comparison texts), so that comparing it reads no other
    /// memory.
    Text(SmolStr),
    TextList(TextList),
    /// A long list for the comparators that look a whole text up (a short one is a
    /// `TextList`).
    IndexedTextList(Box<IndexedTextList>),
    Number(f64),
    SemVer(Box<Versions<Box<str>, semver::Version>>),
    /// Empty items are skipped.
    SemVerList(Box<Versions<TextList, Box<[semver::Version]>>>),
    /// SHA-256 digests, as bytes; `None` for an item that is not 64 hex digits (it never
    /// matches).
    Hash(Option<Box<[u8; 32]>>),
    HashList(HashList),
    /// `(byte length, digest)` pairs of the hashed STARTS/ENDS WITH comparators.
    HashAffixList(AffixList),
}

/// A segment (an entry of the root `s`): a named, reusable list of AND-ed user conditions.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub(crate) name: String,
    pub(crate) conditions: Box<[UserCondition]>,
}

/// A segment membership test.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentCondition {
    /// `None` when the index points outside the segment list: evaluating it is an error.
    pub(crate) segment: Option<Arc<Segment>>,
    pub(crate) comparator: Option<SegmentComparator>,
}

/// A comparison with the value of another flag.
#[derive(Debug, Clone, PartialEq)]
pub struct PrerequisiteCondition {
    pub(crate) key: Box<str>,
    pub(crate) comparator: Option<PrerequisiteComparator>,
    /// Kept raw: which field counts depends on the prerequisite flag's type, which flag
    /// overrides can change after this config was parsed. Boxed: a `RawValue` is larger than
    /// a user condition, and every condition would be as large.
    pub(crate) value: Box<RawValue>,
}

/// `IS IN SEGMENT` (0) or `IS NOT IN SEGMENT` (1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentComparator {
    /// The user is in the segment.
    IsIn,
    /// The user is not in the segment.
    IsNotIn,
}

/// `EQUALS` (0) or `NOT EQUALS` (1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrerequisiteComparator {
    /// The prerequisite flag's value equals the comparison value.
    Equals,
    /// It does not.
    NotEquals,
}

macro_rules! comparators {
    ($($code:literal => $name:ident, $text:literal, $doc:literal;)*) => {
        /// The 36 user-condition comparators of config v6 (`c` of a user condition).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Comparator {
            $(#[doc = $doc] $name,)*
        }

        impl Comparator {
            /// Maps the wire code to a comparator.
            pub fn from_code(code: i64) -> Option<Comparator> {
                match code {
                    $($code => Some(Comparator::$name),)*
                    _ => None,
                }
            }

            /// The operator as the evaluation log writes it.
            pub fn text(self) -> &'static str {
                match self {
                    $(Comparator::$name => $text,)*
                }
            }
        }
    };
}

comparators! {
    0 => IsOneOf, "IS ONE OF", "Text is one of the listed texts.";
    1 => IsNotOneOf, "IS NOT ONE OF", "Text is none of the listed texts.";
    2 => ContainsAnyOf, "CONTAINS ANY OF", "Text contains one of the listed texts.";
    3 => NotContainsAnyOf, "NOT CONTAINS ANY OF", "Text contains none of the listed texts.";
    4 => SemVerIsOneOf, "IS ONE OF", "Version is one of the listed versions.";
    5 => SemVerIsNotOneOf, "IS NOT ONE OF", "Version is none of the listed versions.";
    6 => SemVerLess, "<", "Version precedes.";
    7 => SemVerLessOrEquals, "<=", "Version precedes or equals.";
    8 => SemVerGreater, ">", "Version follows.";
    9 => SemVerGreaterOrEquals, ">=", "Version follows or equals.";
    10 => NumberEquals, "=", "Number equals.";
    11 => NumberNotEquals, "!=", "Number differs.";
    12 => NumberLess, "<", "Number is less.";
    13 => NumberLessOrEquals, "<=", "Number is less or equal.";
    14 => NumberGreater, ">", "Number is greater.";
    15 => NumberGreaterOrEquals, ">=", "Number is greater or equal.";
    16 => SensitiveIsOneOf, "IS ONE OF", "Hashed text is one of the listed hashes.";
    17 => SensitiveIsNotOneOf, "IS NOT ONE OF", "Hashed text is none of the listed hashes.";
    18 => DateBefore, "BEFORE", "Date (Unix seconds) is before.";
    19 => DateAfter, "AFTER", "Date (Unix seconds) is after.";
    20 => SensitiveEquals, "EQUALS", "Hashed text equals.";
    21 => SensitiveNotEquals, "NOT EQUALS", "Hashed text differs.";
    22 => SensitiveStartsWithAnyOf, "STARTS WITH ANY OF", "Hashed prefix is one of the listed.";
    23 => SensitiveNotStartsWithAnyOf, "NOT STARTS WITH ANY OF", "Hashed prefix is none of the listed.";
    24 => SensitiveEndsWithAnyOf, "ENDS WITH ANY OF", "Hashed suffix is one of the listed.";
    25 => SensitiveNotEndsWithAnyOf, "NOT ENDS WITH ANY OF", "Hashed suffix is none of the listed.";
    26 => SensitiveArrayContainsAnyOf, "ARRAY CONTAINS ANY OF", "A hashed list item is one of the listed.";
    27 => SensitiveArrayNotContainsAnyOf, "ARRAY NOT CONTAINS ANY OF", "No hashed list item is one of the listed.";
    28 => TextEquals, "EQUALS", "Text equals.";
    29 => TextNotEquals, "NOT EQUALS", "Text differs.";
    30 => TextStartsWithAnyOf, "STARTS WITH ANY OF", "Text starts with one of the listed.";
    31 => TextNotStartsWithAnyOf, "NOT STARTS WITH ANY OF", "Text starts with none of the listed.";
    32 => TextEndsWithAnyOf, "ENDS WITH ANY OF", "Text ends with one of the listed.";
    33 => TextNotEndsWithAnyOf, "NOT ENDS WITH ANY OF", "Text ends with none of the listed.";
    34 => ArrayContainsAnyOf, "ARRAY CONTAINS ANY OF", "A list item is one of the listed.";
    35 => ArrayNotContainsAnyOf, "ARRAY NOT CONTAINS ANY OF", "No list item is one of the listed.";
}

impl Comparator {
    /// Whether the comparison value is confidential (hashed) and hidden in logs.
    pub fn is_sensitive(self) -> bool {
        use Comparator::*;
        matches!(
            self,
            SensitiveIsOneOf
                | SensitiveIsNotOneOf
                | SensitiveEquals
                | SensitiveNotEquals
                | SensitiveStartsWithAnyOf
                | SensitiveNotStartsWithAnyOf
                | SensitiveEndsWithAnyOf
                | SensitiveNotEndsWithAnyOf
                | SensitiveArrayContainsAnyOf
                | SensitiveArrayNotContainsAnyOf
        )
    }
}

impl SegmentComparator {
    /// The operator as the evaluation log writes it.
    pub fn text(self) -> &'static str {
        match self {
            SegmentComparator::IsIn => "IS IN SEGMENT",
            SegmentComparator::IsNotIn => "IS NOT IN SEGMENT",
        }
    }
}

impl PrerequisiteComparator {
    /// The operator as the evaluation log writes it.
    pub fn text(self) -> &'static str {
        match self {
            PrerequisiteComparator::Equals => "EQUALS",
            PrerequisiteComparator::NotEquals => "NOT EQUALS",
        }
    }
}

impl Condition {
    pub(crate) fn from_raw(raw: RawCondition, segments: &[Arc<Segment>]) -> Condition {
        let user = raw.user.map(UserCondition::from_raw);
        Condition::one_of(user, raw.segment, raw.prerequisite, segments)
    }

    /// The condition of the one kind given (a user condition already converted), or
    /// [`Condition::Unknown`] when none or several are.
    pub(crate) fn one_of(
        user: Option<UserCondition>,
        segment: Option<RawSegmentCondition>,
        prerequisite: Option<RawPrerequisiteCondition>,
        segments: &[Arc<Segment>],
    ) -> Condition {
        match (user, segment, prerequisite) {
            (Some(u), None, None) => Condition::User(u),
            (None, Some(s), None) => Condition::Segment(SegmentCondition::from_raw(s, segments)),
            (None, None, Some(p)) => Condition::Prerequisite(PrerequisiteCondition::from_raw(p)),
            _ => Condition::Unknown,
        }
    }
}

impl Segment {
    pub(crate) fn from_raw(raw: RawSegment) -> Segment {
        Segment {
            name: raw.name,
            conditions: raw
                .conditions
                .into_iter()
                .map(UserCondition::from_raw)
                .collect(),
        }
    }

    /// The segment's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl SegmentCondition {
    fn from_raw(raw: RawSegmentCondition, segments: &[Arc<Segment>]) -> SegmentCondition {
        SegmentCondition {
            segment: segment_at(raw.index, segments),
            comparator: match raw.comparator {
                0 => Some(SegmentComparator::IsIn),
                1 => Some(SegmentComparator::IsNotIn),
                _ => None,
            },
        }
    }
}

/// The segment at `index` of the root `s`, if there is one.
pub(super) fn segment_at(index: i64, segments: &[Arc<Segment>]) -> Option<Arc<Segment>> {
    usize::try_from(index)
        .ok()
        .and_then(|i| segments.get(i).cloned())
}

impl PrerequisiteCondition {
    fn from_raw(raw: RawPrerequisiteCondition) -> PrerequisiteCondition {
        PrerequisiteCondition {
            key: raw.key.into_boxed_str(),
            comparator: match raw.comparator {
                0 => Some(PrerequisiteComparator::Equals),
                1 => Some(PrerequisiteComparator::NotEquals),
                _ => None,
            },
            value: Box::new(raw.value),
        }
    }

    /// The comparison value as a value of the prerequisite flag's type, if it has one.
    pub(crate) fn value_for(&self, setting_type: SettingType) -> Option<Value> {
        self.value.typed(setting_type)
    }
}

impl UserCondition {
    pub(crate) fn from_raw(mut raw: RawUserCondition) -> UserCondition {
        let comparator = Comparator::from_code(raw.comparator);
        let mut operand = comparator.and_then(|c| Operand::prepare(c, &mut raw));
        if operand.is_none() {
            // What the log shows of an invalid value: the items of a (malformed) list, or else
            // the text. A hashed value is shown as a count or a placeholder only.
            let kept = match (raw.string_value, raw.list_value) {
                (_, Some(list)) => Some(Kept::List(TextList::scanned(list))),
                (Some(text), None) => Some(Kept::Text(text.into_boxed_str())),
                (None, None) => None,
            };
            operand = Some(Operand::Invalid(kept.map(Box::new)));
        }
        UserCondition {
            attribute: raw.attribute,
            comparator,
            operand: operand.unwrap_or(Operand::Invalid(None)),
        }
    }

    /// The name of the user attribute compared.
    pub fn attribute(&self) -> &str {
        &self.attribute
    }

    /// The comparator, or `None` for a code this client does not know.
    pub fn comparator(&self) -> Option<Comparator> {
        self.comparator
    }

    /// The text comparison value (`s`) as the config gives it, for the comparators that
    /// show it (text and version comparators).
    pub(crate) fn comparison_text(&self) -> Option<&str> {
        match &self.operand {
            Operand::Text(text) => Some(text),
            Operand::SemVer(version) => Some(&version.text),
            Operand::Invalid(Some(kept)) => match &**kept {
                Kept::Text(text) => Some(text),
                Kept::List(_) => None,
            },
            _ => None,
        }
    }

    /// The number comparison value (`d`) of the number and date comparators.
    pub(crate) fn comparison_number(&self) -> Option<f64> {
        match self.operand {
            Operand::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The list comparison value (`l`) as the config gives it, for the comparators that
    /// show its items (text and version lists).
    pub(crate) fn comparison_list(&self) -> Option<&TextList> {
        match &self.operand {
            Operand::TextList(list) => Some(list),
            Operand::IndexedTextList(indexed) => Some(&indexed.list),
            Operand::SemVerList(versions) => Some(&versions.text),
            Operand::Invalid(Some(kept)) => match &**kept {
                Kept::List(list) => Some(list),
                Kept::Text(_) => None,
            },
            _ => None,
        }
    }

    /// How many items a hashed list comparison value has (the log shows only the count), or
    /// `None` when there is no list; a hashed single value counts as one.
    pub(crate) fn hashed_count(&self) -> Option<usize> {
        match &self.operand {
            Operand::Hash(_) => Some(1),
            Operand::HashList(list) => Some(list.len()),
            Operand::HashAffixList(list) => Some(list.len()),
            _ => self.comparison_list().map(TextList::len),
        }
    }
}

impl Operand {
    /// The comparison value of `raw` for `comparator`, or `None` when it has none of the kind
    /// the comparator needs. A value the comparator uses as it is is moved out of `raw` rather
    /// than copied: a config holds it once.
    fn prepare(comparator: Comparator, raw: &mut RawUserCondition) -> Option<Operand> {
        use Comparator::*;
        let text = raw.string_value.as_ref();
        let list = raw.list_value.as_ref();
        match comparator {
            IsOneOf | IsNotOneOf | ArrayContainsAnyOf | ArrayNotContainsAnyOf => raw
                .list_value
                .take()
                .map(|items| match TextList::indexed(items) {
                    Ok(indexed) => Operand::IndexedTextList(indexed),
                    Err(short) => Operand::TextList(short),
                }),
            ContainsAnyOf
            | NotContainsAnyOf
            | TextStartsWithAnyOf
            | TextNotStartsWithAnyOf
            | TextEndsWithAnyOf
            | TextNotEndsWithAnyOf => raw
                .list_value
                .take()
                .map(|items| Operand::TextList(TextList::scanned(items))),
            TextEquals | TextNotEquals => raw
                .string_value
                .take()
                .map(|t| Operand::Text(SmolStr::from(t))),
            SemVerIsOneOf | SemVerIsNotOneOf => raw.list_value.take().map(|items| {
                // Empty items are skipped; one invalid item makes the whole condition false.
                let parsed = items
                    .iter()
                    .map(js_trim)
                    .filter(|i| !i.is_empty())
                    .map(|i| semver::Version::parse(i).ok())
                    .collect();
                let text = TextList::scanned(items);
                Operand::SemVerList(Box::new(Versions { text, parsed }))
            }),
            SemVerLess | SemVerLessOrEquals | SemVerGreater | SemVerGreaterOrEquals => {
                raw.string_value.take().map(|text| {
                    let parsed = semver::Version::parse(js_trim(&text)).ok();
                    let text = text.into_boxed_str();
                    Operand::SemVer(Box::new(Versions { text, parsed }))
                })
            }
            NumberEquals
            | NumberNotEquals
            | NumberLess
            | NumberLessOrEquals
            | NumberGreater
            | NumberGreaterOrEquals
            | DateBefore
            | DateAfter => raw.number_value.map(Operand::Number),
            SensitiveEquals | SensitiveNotEquals => {
                text.map(|t| Operand::Hash(decode_sha256(t).map(Box::new)))
            }
            SensitiveIsOneOf
            | SensitiveIsNotOneOf
            | SensitiveArrayContainsAnyOf
            | SensitiveArrayNotContainsAnyOf => list.map(|items| {
                Operand::HashList(HashList::new(items.iter().map(decode_sha256).collect()))
            }),
            SensitiveStartsWithAnyOf
            | SensitiveNotStartsWithAnyOf
            | SensitiveEndsWithAnyOf
            | SensitiveNotEndsWithAnyOf => list.and_then(|items| {
                items
                    .iter()
                    .map(|item| {
                        let (length, hash) = item.split_once('_')?;
                        Some((js_trim(length).parse::<usize>().ok()?, decode_sha256(hash)))
                    })
                    .collect::<Option<Vec<_>>>()
                    .map(|items| Operand::HashAffixList(AffixList::new(items)))
            }),
        }
    }
}

/// Decodes 64 lower-case hex digits; anything else cannot equal a SHA-256 digest. The
/// canonical SDK compares the lower-case hex text of the digest exactly, so an upper-case
/// comparison value never matches (spec §2.4), and decoding it would make it match.
fn decode_sha256(hex: &str) -> Option<[u8; 32]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut digest = [0u8; 32];
    for (out, pair) in digest.iter_mut().zip(bytes.chunks_exact(2)) {
        *out = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(json: &str) -> UserCondition {
        UserCondition::from_raw(serde_json::from_str(json).expect("a user condition"))
    }

    #[test]
    fn a_short_comparison_text_is_held_inline() {
        let short = condition(r#"{"a": "Email", "c": 28, "s": "éa@example.com"}"#);
        let Operand::Text(text) = &short.operand else {
            panic!("{short:?}")
        };
        assert_eq!(text, "éa@example.com");
        assert!(!text.is_heap_allocated());
        let long = "a-comparison-text-longer-than-23-bytes";
        let long = condition(&format!(r#"{{"a": "Email", "c": 29, "s": "{long}"}}"#));
        assert_eq!(
            long.comparison_text(),
            Some("a-comparison-text-longer-than-23-bytes")
        );
    }

    #[test]
    fn conditions_keep_their_size() {
        // A packed list is one pointer and its length, no larger than the inline text.
        assert_eq!(std::mem::size_of::<Operand>(), 32);
        assert_eq!(std::mem::size_of::<UserCondition>(), 64);
        assert_eq!(std::mem::size_of::<Condition>(), 64);
    }

    #[test]
    fn only_lower_case_hex_decodes() {
        let lower = "5ee9b44b3b90bedd9441b256c429f862ceb2ea847a58a8e33d8052da141e47aa";
        let digest = decode_sha256(lower).expect("lower-case hex decodes");
        assert_eq!(digest[0], 0x5e);
        assert_eq!(digest[31], 0xaa);
        assert_eq!(decode_sha256(&lower.to_uppercase()), None);
        assert_eq!(decode_sha256(&lower.replacen('e', "E", 1)), None);
        assert_eq!(decode_sha256(&lower[1..]), None);
        assert_eq!(decode_sha256(&format!("{}g", &lower[1..])), None);
    }
}
