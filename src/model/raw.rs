//! The config_v6 JSON document exactly as it arrives on the wire.
//!
//! These types only mirror the JSON; [`super::Config::parse`] turns them into the evaluation
//! model, doing once per config the work that would otherwise repeat on every evaluation.
//! Unknown fields are ignored so that the CDN can add fields without breaking old clients.

use std::cell::RefCell;
use std::sync::Arc;

use serde::Deserialize;
use smol_str::SmolStr;

#[derive(Deserialize, Default)]
pub(crate) struct RawConfig {
    #[serde(rename = "p")]
    pub preferences: Option<RawPreferences>,
    #[serde(rename = "s", default)]
    pub segments: Vec<RawSegment>,
    /// In document order, not in a map: the settings map is built once, from these (a later
    /// duplicate key wins there, as it would here).
    #[serde(rename = "f", default, deserialize_with = "entries")]
    pub settings: Vec<(SmolStr, RawSetting)>,
}

/// The entries of a JSON object, in order.
fn entries<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<(SmolStr, RawSetting)>, D::Error> {
    struct Entries;
    impl<'de> serde::de::Visitor<'de> for Entries {
        type Value = Vec<(SmolStr, RawSetting)>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a map")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::new();
            while let Some(entry) = map.next_entry()? {
                entries.push(entry);
            }
            Ok(entries)
        }
    }
    deserializer.deserialize_map(Entries)
}

#[derive(Deserialize, Default)]
pub(crate) struct RawPreferences {
    #[serde(rename = "u")]
    pub base_url: Option<String>,
    #[serde(rename = "r")]
    pub redirect_mode: Option<i64>,
    #[serde(rename = "s")]
    pub salt: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct RawSegment {
    #[serde(rename = "n", default)]
    pub name: String,
    #[serde(rename = "r", default)]
    pub conditions: Vec<RawUserCondition>,
}

#[derive(Deserialize)]
pub(crate) struct RawSetting {
    #[serde(rename = "t")]
    pub setting_type: i64,
    #[serde(rename = "a")]
    pub percentage_attribute: Option<String>,
    #[serde(rename = "r", default)]
    pub targeting_rules: Vec<RawTargetingRule>,
    #[serde(rename = "p", default)]
    pub percentage_options: Vec<RawPercentageOption>,
    #[serde(rename = "v", default)]
    pub value: RawValue,
    #[serde(rename = "i")]
    pub variation_id: Option<SmolStr>,
}

/// `{ "b" | "s" | "i" | "d": ... }`: which field counts depends on the owning setting's type.
#[derive(Deserialize, Default, Clone, Debug, PartialEq)]
pub(crate) struct RawValue {
    pub b: Option<bool>,
    /// Read as the `Arc<str>` that a [`crate::Value::String`] holds: the value takes it
    /// without a copy.
    #[serde(default, deserialize_with = "shared_text")]
    pub s: Option<Arc<str>>,
    pub i: Option<i64>,
    pub d: Option<f64>,
}

/// An optional text, read straight into an `Arc<str>`.
fn shared_text<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Arc<str>>, D::Error> {
    struct Text;
    impl serde::de::Visitor<'_> for Text {
        type Value = Arc<str>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Arc<str>, E> {
            Ok(Arc::from(text))
        }
    }
    struct Optional;
    impl<'de> serde::de::Visitor<'de> for Optional {
        type Value = Option<Arc<str>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("option")
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: serde::Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_string(Text).map(Some)
        }
    }
    deserializer.deserialize_option(Optional)
}

#[derive(Deserialize)]
pub(crate) struct RawTargetingRule {
    #[serde(rename = "c", default)]
    pub conditions: Vec<RawCondition>,
    #[serde(rename = "s")]
    pub served: Option<RawServedValue>,
    #[serde(rename = "p")]
    pub percentage_options: Option<Vec<RawPercentageOption>>,
}

#[derive(Deserialize)]
pub(crate) struct RawServedValue {
    #[serde(rename = "v", default)]
    pub value: RawValue,
    #[serde(rename = "i")]
    pub variation_id: Option<SmolStr>,
}

#[derive(Deserialize)]
pub(crate) struct RawCondition {
    #[serde(rename = "u")]
    pub user: Option<RawUserCondition>,
    #[serde(rename = "s")]
    pub segment: Option<RawSegmentCondition>,
    #[serde(rename = "p")]
    pub prerequisite: Option<RawPrerequisiteCondition>,
}

#[derive(Deserialize)]
pub(crate) struct RawUserCondition {
    #[serde(rename = "a", default, deserialize_with = "attribute_name")]
    pub attribute: SmolStr,
    #[serde(rename = "c")]
    pub comparator: i64,
    #[serde(rename = "s")]
    pub string_value: Option<String>,
    #[serde(rename = "d")]
    pub number_value: Option<f64>,
    #[serde(rename = "l")]
    pub list_value: Option<PackedTexts>,
}

/// How many distinct long attribute names a parse shares (a config names a few, in thousands of
/// conditions); past these, a long name is held by its condition alone.
pub(crate) const NAMES_SHARED: usize = 16;

thread_local! {
    /// The long attribute names read by the parse under way on this thread (emptied when it
    /// ends: see [`forget_names`]).
    static NAMES: RefCell<Vec<SmolStr>> = const { RefCell::new(Vec::new()) };
}

/// A condition's attribute name: inline in the condition up to 23 bytes (most names), so that
/// comparing it reads no other memory; a longer one shared with the conditions before it that
/// name the same attribute, one allocation per name rather than per condition.
fn attribute_name<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<SmolStr, D::Error> {
    struct Name;
    impl serde::de::Visitor<'_> for Name {
        type Value = SmolStr;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<SmolStr, E> {
            // Nothing re-enters while the table is borrowed.
            Ok(NAMES.with(|names| shared_name(&mut names.borrow_mut(), name)))
        }
    }
    deserializer.deserialize_string(Name)
}

/// `name` as a condition holds it: inline up to 23 bytes (most names), so that comparing it
/// reads no other memory; a longer one as held in `names` (the long names read so far, up to
/// [`NAMES_SHARED`]), added if new: one allocation per long name rather than per condition.
pub(crate) fn shared_name(names: &mut Vec<SmolStr>, name: &str) -> SmolStr {
    const INLINE: usize = 23;
    if name.len() <= INLINE {
        return SmolStr::new(name);
    }
    if let Some(known) = names.iter().find(|known| **known == *name) {
        return known.clone();
    }
    let new = SmolStr::new(name);
    if names.len() < NAMES_SHARED {
        names.push(new.clone());
    }
    new
}

/// How many attribute names this thread's table holds.
#[cfg(test)]
pub(crate) fn names_held() -> usize {
    NAMES.with(|names| names.borrow().len())
}

/// Ends the sharing of attribute names of the parse that just ended: nothing read from one
/// document is kept after it.
pub(crate) fn forget_names() {
    NAMES.with(|names| names.borrow_mut().clear());
}

/// A JSON array of strings read into one text: no allocation per item, while parsing or after
/// (a config's lists hold tens of thousands of short texts), and one per list, so that a
/// comparison reads one block of memory. The text holds the item count, then each item after
/// its byte length (see [`push_number`]). The items are gathered in a per-thread scratch
/// buffer and copied out at their exact size.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PackedTexts {
    pub packed: Box<str>,
}

/// No items: a count of zero.
impl Default for PackedTexts {
    fn default() -> PackedTexts {
        PackedTexts {
            packed: "\0".into(),
        }
    }
}

impl PackedTexts {
    /// The items, in order.
    pub(crate) fn iter(&self) -> Items<'_> {
        items(&self.packed)
    }
}

/// A packed list's scratch buffer: the items so far, each after its length, and their count.
pub(crate) type ListScratch = (String, usize);

/// Appends `n` in 6-bit digits, lowest first, each an ASCII byte: `0x40 | digit` while more
/// follow, the last as it is. ASCII keeps the packed text UTF-8, so that an item is sliced from
/// it as a `&str` without being checked again; a length under 64 takes one byte (a `u32` end
/// took four).
fn push_number(out: &mut String, mut n: usize) {
    while n >= 0x40 {
        out.push(char::from(0x40 | (n & 0x3F) as u8));
        n >>= 6;
    }
    out.push(char::from(n as u8));
}

/// How many bytes [`push_number`] writes for `n`.
fn number_len(n: usize) -> usize {
    1 + (usize::BITS - n.leading_zeros()).saturating_sub(1) as usize / 6
}

/// Reads a number [`push_number`] wrote at the start of `rest`, and moves past it.
#[inline]
fn read_number(rest: &mut &str) -> usize {
    let mut n = 0;
    for (i, &digit) in rest.as_bytes().iter().enumerate() {
        n |= usize::from(digit & 0x3F) << (6 * i);
        if digit < 0x40 {
            *rest = rest.get(i + 1..).unwrap_or_default();
            return n;
        }
    }
    *rest = "";
    n
}

/// The items of a packed text, in order.
pub(crate) fn items(packed: &str) -> Items<'_> {
    let mut rest = packed;
    let left = read_number(&mut rest);
    Items { rest, left }
}

/// The item packed at byte `offset` of `packed` (where its length starts), as
/// [`Items::offset`] gave it.
#[inline]
pub(crate) fn item_at(packed: &str, offset: usize) -> &str {
    let mut rest = packed.get(offset..).unwrap_or_default();
    let len = read_number(&mut rest);
    rest.get(..len).unwrap_or_default()
}

/// The items of a packed text: each starts where the one before ended.
#[derive(Clone)]
pub(crate) struct Items<'t> {
    rest: &'t str,
    left: usize,
}

impl<'t> Items<'t> {
    /// Where the next item starts in `packed` (the text these items are read from).
    pub(crate) fn offset(&self, packed: &str) -> usize {
        packed.len() - self.rest.len()
    }
}

impl<'t> Iterator for Items<'t> {
    type Item = &'t str;
    #[inline]
    fn next(&mut self) -> Option<&'t str> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let len = read_number(&mut self.rest);
        let (item, rest) = self.rest.split_at_checked(len)?;
        self.rest = rest;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Items<'_> {}

/// A scratch buffer larger than this is not kept for the next list (a hostile config's huge
/// list must not stay in memory).
const SCRATCH_KEPT: usize = 64 * 1024;

thread_local! {
    static SCRATCH: RefCell<ListScratch> = const { RefCell::new((String::new(), 0)) };
}

impl<'de> Deserialize<'de> for PackedTexts {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Items;
        impl<'de> serde::de::Visitor<'de> for Items {
            type Value = PackedTexts;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a sequence")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<PackedTexts, A::Error> {
                SCRATCH.with(|scratch| {
                    // A list holds only strings: nothing re-enters while the buffer is borrowed.
                    let mut scratch = scratch.borrow_mut();
                    let packed = PackedTexts::read(&mut seq, &mut scratch);
                    if scratch.0.capacity() > SCRATCH_KEPT {
                        *scratch = Default::default();
                    }
                    packed
                })
            }
        }
        deserializer.deserialize_seq(Items)
    }
}

impl PackedTexts {
    /// Reads the items of `seq` through the scratch buffer and copies them out at their exact
    /// size, after their count.
    pub(crate) fn read<'de, A: serde::de::SeqAccess<'de>>(
        seq: &mut A,
        (text, count): &mut ListScratch,
    ) -> Result<PackedTexts, A::Error> {
        text.clear();
        *count = 0;
        while let Some(()) = seq.next_element_seed(Append(text, count))? {}
        let mut packed = String::with_capacity(number_len(*count) + text.len());
        push_number(&mut packed, *count);
        packed.push_str(text);
        Ok(PackedTexts {
            packed: packed.into_boxed_str(),
        })
    }
}

/// Appends one string item to a list being packed.
struct Append<'p>(&'p mut String, &'p mut usize);

impl<'de> serde::de::DeserializeSeed<'de> for Append<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for Append<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: serde::de::Error>(self, item: &str) -> Result<(), E> {
        push_number(self.0, item.len());
        self.0.push_str(item);
        if u32::try_from(self.0.len()).is_err() {
            return Err(E::custom("a comparison list longer than 4 GiB"));
        }
        *self.1 += 1;
        Ok(())
    }
}

#[derive(Deserialize)]
pub(crate) struct RawSegmentCondition {
    #[serde(rename = "s")]
    pub index: i64,
    #[serde(rename = "c")]
    pub comparator: i64,
}

#[derive(Deserialize)]
pub(crate) struct RawPrerequisiteCondition {
    #[serde(rename = "f")]
    pub key: String,
    #[serde(rename = "c")]
    pub comparator: i64,
    #[serde(rename = "v", default)]
    pub value: RawValue,
}

#[derive(Deserialize)]
pub(crate) struct RawPercentageOption {
    #[serde(rename = "p")]
    pub percentage: i64,
    #[serde(rename = "v", default)]
    pub value: RawValue,
    #[serde(rename = "i")]
    pub variation_id: Option<SmolStr>,
}

#[cfg(test)]
mod tests {
    use crate::model::Config;

    #[test]
    fn short_attribute_names_are_inline_long_ones_held_once_and_the_parse_keeps_none() {
        const LONG: &str = "CustomerSubscriptionTierName";
        let rule = |attribute: &str| {
            format!(
                r#"{{"c":[{{"u":{{"a":"{attribute}","c":28,"s":"x"}}}}],"s":{{"v":{{"b":true}}}}}}"#
            )
        };
        let json = format!(
            r#"{{"f":{{"a":{{"t":0,"v":{{"b":false}},"r":[{},{}]}},"b":{{"t":0,"v":{{"b":false}},"r":[{}]}}}}}}"#,
            rule(LONG),
            rule("Country"),
            rule(LONG)
        );
        let config = Config::parse(&json).expect("parses");
        let attribute = |key: &str, rule: usize| match &config.settings()[key].targeting_rules()
            [rule]
            .conditions()[0]
        {
            crate::model::Condition::User(condition) => condition.attribute.clone(),
            other => panic!("a user condition, not {other:?}"),
        };
        let (long_a, long_b) = (attribute("a", 0), attribute("b", 0));
        assert!(long_a.is_heap_allocated());
        assert!(
            std::ptr::eq(long_a.as_str(), long_b.as_str()),
            "one allocation for the long name"
        );
        assert!(
            !attribute("a", 1).is_heap_allocated(),
            "a short name is inline"
        );
        assert_eq!((&*attribute("a", 1), &*long_b), ("Country", LONG));
        assert_eq!(super::NAMES.with(|names| names.borrow().len()), 0);
        // Past the shared names, each condition holds its own.
        let many: Vec<String> = (0..super::NAMES_SHARED + 2)
            .map(|i| rule(&format!("{LONG}{i}")))
            .collect();
        let json = format!(
            r#"{{"f":{{"a":{{"t":0,"v":{{"b":false}},"r":[{}]}}}}}}"#,
            many.join(",")
        );
        let config = Config::parse(&json).expect("parses");
        assert_eq!(
            config.settings()["a"].targeting_rules().len(),
            super::NAMES_SHARED + 2
        );
    }

    #[test]
    fn a_duplicate_setting_key_keeps_the_last_setting_as_a_map_would() {
        let config = Config::parse(
            r#"{"f":{"a":{"t":2,"v":{"i":1}},"b":{"t":2,"v":{"i":2}},"a":{"t":2,"v":{"i":3}}}}"#,
        )
        .expect("parses");
        let value = |key: &str| {
            config.settings()[key]
                .default_value()
                .and_then(|v| v.as_int())
        };
        assert_eq!(
            (config.settings().len(), value("a"), value("b")),
            (2, Some(3), Some(2))
        );
        let error = Config::parse(r#"{"f":{"a":{"t":2},"b":{"t":"x"}}}"#).expect_err("a bad type");
        assert_eq!(error.path(), "f.b.t");
    }
}
