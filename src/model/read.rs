//! The fast path of [`Config::parse`]: serde visitors that build the model while reading the
//! document, instead of reading it into the wire types of [`super::raw`] first and converting
//! them.
//!
//! Why: the config's rules, conditions and percentage options are gathered into its
//! [`Blocks`](super::Blocks) as they are read (user conditions converted where they are read,
//! with buffers that travel with the parse), and each block is copied out once at its exact
//! size, so the only allocations left are the model's own (the raw types grew a `Vec` per list
//! by doubling, and then the model copied each one again). Served values, percentage options,
//! preferences and segment and prerequisite conditions are still read as their wire types and
//! converted by the same functions as the wire path.
//!
//! The wire types stay the grammar of the document: this path accepts no document they reject
//! and builds the same model from every document it accepts. Whatever it does not read, it
//! rejects (a struct written as a JSON array, a duplicate field), and [`Config::parse`] then
//! reads the document through the wire types, which give the result or the error (with its
//! path) exactly as before.
//!
//! The order of fields is free in JSON, and the CDN writes them in different orders: a
//! setting's type may come after its values (`{"i":…,"r":…,"t":…,"v":…}`), the preferences
//! and the segments after the settings. So values are kept in their wire form until the
//! setting ends, the salt is set on every setting at the end, and segment conditions read
//! before the segments are pointed at their segment once the segments are read.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use smol_str::SmolStr;

use super::raw::{
    self, PackedTexts, RawPercentageOption, RawPreferences, RawSegmentCondition, RawServedValue,
    RawUserCondition, RawValue,
};
use super::{
    Blocks, Condition, Config, Preferences, Segment, Setting, SettingType, Settings, SharedSlice,
    UserCondition,
};

/// Reads `json` straight into a [`Config`], or fails on anything it does not read (see the
/// module's documentation): the caller then reads it through the wire types.
pub(super) fn read(json: &str) -> Result<Config, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let config = deserializer.deserialize_map(Document { len: json.len() })?;
    deserializer.end()?;
    Ok(config)
}

/// The one-letter name of a field, or 0 for any other name (ignored, as the wire types do).
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = u8;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<u8, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for Key {
    type Value = u8;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, name: &str) -> Result<u8, E> {
        Ok(match name.as_bytes() {
            [letter] => *letter,
            _ => 0,
        })
    }
}

/// Fails on a field seen twice, which the wire types reject (and report).
fn once<E: de::Error>(seen: &mut bool) -> Result<(), E> {
    if std::mem::replace(seen, true) {
        return Err(E::custom("a duplicate field"));
    }
    Ok(())
}

/// Lists reused from one setting to the next for the whole parse.
struct Scratch {
    rules: Vec<PendingRule>,
    /// The config's rules, conditions and options so far (the conditions as they are read,
    /// the rest when a setting ends, its type known).
    blocks: Blocks,
    /// The percentage options of the setting being read, its own and its rules'.
    options: Vec<RawPercentageOption>,
    /// The segment indexes of the segment conditions read before the segments, in document
    /// order.
    deferred_segments: Vec<i64>,
    /// The conditions of the segment being read.
    user_conditions: Vec<UserCondition>,
    texts: Texts,
}

impl Scratch {
    /// Lists with room for what most configs hold, so that they seldom grow.
    fn new(document_len: usize) -> Scratch {
        Scratch {
            rules: Vec::with_capacity(16),
            blocks: Blocks::for_document(document_len),
            options: Vec::with_capacity(8),
            deferred_segments: Vec::new(),
            user_conditions: Vec::new(),
            texts: Texts {
                list: (String::with_capacity(512), 0),
                names: Vec::with_capacity(raw::NAMES_SHARED),
            },
        }
    }
}

/// What user conditions are read with: passed along rather than kept per thread (as the wire
/// types keep them), which costs a look-up of the thread's copy per condition.
struct Texts {
    /// The comparison list being read (see [`PackedTexts::read`]).
    list: raw::ListScratch,
    /// The attribute names read so far (see [`raw::shared_name`]).
    names: Vec<SmolStr>,
}

/// A targeting rule whose values wait for the setting's type.
struct PendingRule {
    /// Its run of the config's conditions.
    conditions: std::ops::Range<usize>,
    served: Option<RawServedValue>,
    /// Which of [`Scratch::options`] it serves, if it has `p`.
    options: Option<std::ops::Range<usize>>,
}

/// The whole document, `len` bytes long.
struct Document {
    len: usize,
}

impl<'de> Visitor<'de> for Document {
    type Value = Config;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a config")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Config, A::Error> {
        let mut scratch = Scratch::new(self.len);
        let (mut preferences, mut segments, mut settings) = (None, None, None);
        let mut seen = [false; 3];
        while let Some(key) = map.next_key_seed(Key)? {
            match key {
                b'p' => {
                    once(&mut seen[0])?;
                    preferences = map.next_value::<Option<RawPreferences>>()?;
                }
                b's' => {
                    once(&mut seen[1])?;
                    segments = Some(map.next_value_seed(Segments(&mut scratch))?);
                }
                b'f' => {
                    once(&mut seen[2])?;
                    settings = Some(map.next_value_seed(SettingsSeed {
                        segments: segments.as_deref(),
                        scratch: &mut scratch,
                    })?);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let segments = segments.unwrap_or_default();
        let mut settings: Vec<(SmolStr, Setting)> = settings.unwrap_or_default();
        let mut blocks = scratch.blocks;
        if !scratch.deferred_segments.is_empty() {
            point_at_segments(
                &mut blocks.conditions,
                &scratch.deferred_segments,
                &segments,
            )?;
        }
        blocks.attach(settings.iter_mut().map(|(_, setting)| setting));
        let preferences = Preferences::from_raw(preferences);
        let salt = setting_salt(&preferences);
        for (_, setting) in &mut settings {
            setting.salt.clone_from(&salt);
        }
        Ok(Config {
            preferences,
            settings: settings.into_iter().collect::<Settings>(),
        })
    }
}

/// The salt as every setting holds it.
pub(super) fn setting_salt(preferences: &Preferences) -> Option<Arc<Box<str>>> {
    preferences.salt.as_deref().map(|s| Arc::new(Box::from(s)))
}

/// Points the segment conditions read before the segments at their segment: `conditions` are
/// the config's, in the order they were read, and `indexes` the segment indexes of those read
/// before the segments, in the same order.
fn point_at_segments<E: de::Error>(
    conditions: &mut [Condition],
    indexes: &[i64],
    segments: &[Arc<Segment>],
) -> Result<(), E> {
    let mut indexes = indexes.iter();
    for condition in conditions {
        if let Condition::Segment(condition) = condition {
            let index = indexes.next().ok_or_else(|| E::custom("a lost segment"))?;
            condition.segment = super::condition::segment_at(*index, segments);
        }
    }
    Ok(())
}

/// The root `s`: segments, converted as they are read.
struct Segments<'a>(&'a mut Scratch);

impl<'de> DeserializeSeed<'de> for Segments<'_> {
    type Value = Vec<Arc<Segment>>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Segments<'_> {
    type Value = Vec<Arc<Segment>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut segments = Vec::new();
        while let Some(segment) = seq.next_element_seed(SegmentSeed(&mut *self.0))? {
            segments.push(Arc::new(segment));
        }
        Ok(segments)
    }
}

/// A segment, read as [`RawSegment`](raw::RawSegment) reads it, its conditions as a rule's
/// user conditions are read (sharing their attribute names).
struct SegmentSeed<'a>(&'a mut Scratch);

impl<'de> DeserializeSeed<'de> for SegmentSeed<'_> {
    type Value = Segment;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Segment, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SegmentSeed<'_> {
    type Value = Segment;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a segment")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Segment, A::Error> {
        let (mut name, mut conditions) = (None, None);
        let mut seen = [false; 2];
        while let Some(key) = map.next_key_seed(Key)? {
            match key {
                b'n' => {
                    once(&mut seen[0])?;
                    name = Some(map.next_value::<String>()?);
                }
                b'r' => {
                    once(&mut seen[1])?;
                    conditions = Some(map.next_value_seed(SegmentConditions(&mut *self.0))?);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Segment {
            name: name.unwrap_or_default(),
            conditions: conditions.unwrap_or_default(),
        })
    }
}

/// A segment's `r`, copied out at its exact size.
struct SegmentConditions<'a>(&'a mut Scratch);

impl<'de> DeserializeSeed<'de> for SegmentConditions<'_> {
    type Value = Box<[UserCondition]>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for SegmentConditions<'_> {
    type Value = Box<[UserCondition]>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let Scratch {
            user_conditions,
            texts,
            ..
        } = self.0;
        user_conditions.clear();
        while let Some(condition) = seq.next_element_seed(UserConditionSeed(&mut *texts))? {
            user_conditions.push(condition);
        }
        Ok(user_conditions.drain(..).collect())
    }
}

/// The root `f`: the settings in document order (a later duplicate key wins in the map).
struct SettingsSeed<'a> {
    segments: Option<&'a [Arc<Segment>]>,
    scratch: &'a mut Scratch,
}

impl<'de> DeserializeSeed<'de> for SettingsSeed<'_> {
    type Value = Vec<(SmolStr, Setting)>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SettingsSeed<'_> {
    type Value = Vec<(SmolStr, Setting)>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut settings = Vec::new();
        while let Some(key) = map.next_key::<SmolStr>()? {
            let setting = map.next_value_seed(SettingSeed {
                segments: self.segments,
                scratch: &mut *self.scratch,
            })?;
            settings.push((key, setting));
        }
        Ok(settings)
    }
}

/// One setting. Its values wait for its type (`t`), which may come last.
struct SettingSeed<'a> {
    segments: Option<&'a [Arc<Segment>]>,
    scratch: &'a mut Scratch,
}

impl<'de> DeserializeSeed<'de> for SettingSeed<'_> {
    type Value = Setting;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Setting, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SettingSeed<'_> {
    type Value = Setting;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a setting")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Setting, A::Error> {
        let scratch = self.scratch;
        scratch.rules.clear();
        scratch.options.clear();
        let mut setting_type = None;
        let mut attribute = None;
        let mut value = None;
        let mut variation_id = None;
        let mut options = None;
        let mut seen = [false; 6];
        while let Some(key) = map.next_key_seed(Key)? {
            match key {
                b't' => {
                    once(&mut seen[0])?;
                    setting_type = Some(map.next_value::<i64>()?);
                }
                b'a' => {
                    once(&mut seen[1])?;
                    attribute = map.next_value::<Option<String>>()?;
                }
                b'r' => {
                    once(&mut seen[2])?;
                    map.next_value_seed(Rules {
                        segments: self.segments,
                        scratch: &mut *scratch,
                    })?;
                }
                b'p' => {
                    once(&mut seen[3])?;
                    options = Some(map.next_value_seed(Options(&mut scratch.options))?);
                }
                b'v' => {
                    once(&mut seen[4])?;
                    value = Some(map.next_value::<RawValue>()?);
                }
                b'i' => {
                    once(&mut seen[5])?;
                    variation_id = Some(map.next_value::<Option<SmolStr>>()?);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let type_code = setting_type.ok_or_else(|| de::Error::missing_field("t"))?;
        let setting_type = SettingType::from_code(type_code);
        let Scratch {
            rules,
            options: read,
            blocks,
            ..
        } = scratch;
        let options_at = |range: std::ops::Range<usize>| read.get(range).unwrap_or(&[]);
        let start = blocks.rules.len();
        for rule in rules.drain(..) {
            let options = rule.options.map(options_at);
            blocks.push_rule(rule.conditions, rule.served, options, setting_type);
        }
        let targeting_rules = SharedSlice::pending(start..blocks.rules.len());
        let options = blocks.push_options(options.map_or(&[][..], options_at), setting_type);
        Ok(Setting::assemble(
            (type_code, setting_type),
            attribute,
            targeting_rules,
            options,
            &value.unwrap_or_default(),
            variation_id.flatten(),
        ))
    }
}

/// A setting's `r`: rules kept in [`Scratch::rules`] until the setting's type is known.
struct Rules<'a> {
    segments: Option<&'a [Arc<Segment>]>,
    scratch: &'a mut Scratch,
}

impl<'de> DeserializeSeed<'de> for Rules<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Rules<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(rule) = seq.next_element_seed(Rule {
            segments: self.segments,
            scratch: &mut *self.scratch,
        })? {
            self.scratch.rules.push(rule);
        }
        Ok(())
    }
}

struct Rule<'a> {
    segments: Option<&'a [Arc<Segment>]>,
    scratch: &'a mut Scratch,
}

impl<'de> DeserializeSeed<'de> for Rule<'_> {
    type Value = PendingRule;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<PendingRule, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Rule<'_> {
    type Value = PendingRule;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a targeting rule")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PendingRule, A::Error> {
        let scratch = self.scratch;
        let mut conditions = None;
        let mut served = None;
        let mut options = None;
        let mut seen = [false; 3];
        while let Some(key) = map.next_key_seed(Key)? {
            match key {
                b'c' => {
                    once(&mut seen[0])?;
                    conditions = Some(map.next_value_seed(Conditions {
                        segments: self.segments,
                        scratch: &mut *scratch,
                    })?);
                }
                b's' => {
                    once(&mut seen[1])?;
                    served = map.next_value::<Option<RawServedValue>>()?;
                }
                b'p' => {
                    once(&mut seen[2])?;
                    options = map.next_value_seed(Optional(Options(&mut scratch.options)))?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(PendingRule {
            conditions: conditions.unwrap_or_default(),
            served,
            options,
        })
    }
}

/// `null` or what `S` reads, as `Option<T>` reads it.
struct Optional<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Optional<S> {
    type Value = Option<S::Value>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Optional<S> {
    type Value = Option<S::Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("option")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(deserializer).map(Some)
    }
}

/// A percentage option list, appended to [`Scratch::options`]: the range it took.
struct Options<'a>(&'a mut Vec<RawPercentageOption>);

impl<'de> DeserializeSeed<'de> for Options<'_> {
    type Value = std::ops::Range<usize>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Options<'_> {
    type Value = std::ops::Range<usize>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let start = self.0.len();
        while let Some(option) = seq.next_element::<RawPercentageOption>()? {
            self.0.push(option);
        }
        Ok(start..self.0.len())
    }
}

/// A rule's `c`, converted as read and appended to [`Scratch::conditions`]: the run it took.
struct Conditions<'a> {
    segments: Option<&'a [Arc<Segment>]>,
    scratch: &'a mut Scratch,
}

impl<'de> DeserializeSeed<'de> for Conditions<'_> {
    type Value = std::ops::Range<usize>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Conditions<'_> {
    type Value = std::ops::Range<usize>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let scratch = self.scratch;
        let conditions = &mut scratch.blocks.conditions;
        let start = conditions.len();
        while let Some(condition) = seq.next_element_seed(ConditionSeed {
            segments: self.segments,
            texts: &mut scratch.texts,
            deferred_segments: &mut scratch.deferred_segments,
        })? {
            conditions.push(condition);
        }
        Ok(start..conditions.len())
    }
}

/// A condition, read as [`raw::RawCondition`] reads it, and converted as read (the user condition
/// as soon as it ends): what travels back up is the model's condition, not the larger wire
/// form. A segment condition read before the segments gets its index noted (see
/// [`Scratch::deferred_segments`]).
struct ConditionSeed<'a> {
    segments: Option<&'a [Arc<Segment>]>,
    texts: &'a mut Texts,
    deferred_segments: &'a mut Vec<i64>,
}

impl<'de> DeserializeSeed<'de> for ConditionSeed<'_> {
    type Value = Condition;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Condition, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ConditionSeed<'_> {
    type Value = Condition;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a condition")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Condition, A::Error> {
        let (mut user, mut segment, mut prerequisite) = (None, None::<RawSegmentCondition>, None);
        let mut seen = [false; 3];
        while let Some(key) = map.next_key_seed(Key)? {
            match key {
                b'u' => {
                    once(&mut seen[0])?;
                    user = map.next_value_seed(Optional(UserConditionSeed(&mut *self.texts)))?;
                }
                b's' => {
                    once(&mut seen[1])?;
                    segment = map.next_value()?;
                }
                b'p' => {
                    once(&mut seen[2])?;
                    prerequisite = map.next_value()?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let segments = match self.segments {
            Some(segments) => segments,
            None => {
                if let (None, Some(segment), None) = (&user, &segment, &prerequisite) {
                    self.deferred_segments.push(segment.index);
                }
                &[]
            }
        };
        Ok(Condition::one_of(user, segment, prerequisite, segments))
    }
}

/// A user condition, read as [`RawUserCondition`] reads it, with the buffers of [`Texts`], and
/// converted.
struct UserConditionSeed<'a>(&'a mut Texts);

impl<'de> DeserializeSeed<'de> for UserConditionSeed<'_> {
    type Value = UserCondition;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for UserConditionSeed<'_> {
    type Value = UserCondition;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a user condition")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UserCondition, A::Error> {
        let texts = self.0;
        let (mut attribute, mut comparator) = (None, None);
        let (mut string_value, mut number_value, mut list_value) = (None, None, None);
        let mut seen = [false; 5];
        while let Some(key) = map.next_key_seed(Key)? {
            match key {
                b'a' => {
                    once(&mut seen[0])?;
                    attribute = Some(map.next_value_seed(Name(&mut texts.names))?);
                }
                b'c' => {
                    once(&mut seen[1])?;
                    comparator = Some(map.next_value::<i64>()?);
                }
                b's' => {
                    once(&mut seen[2])?;
                    string_value = map.next_value::<Option<String>>()?;
                }
                b'd' => {
                    once(&mut seen[3])?;
                    number_value = map.next_value::<Option<f64>>()?;
                }
                b'l' => {
                    once(&mut seen[4])?;
                    list_value = map.next_value_seed(Optional(List(&mut texts.list)))?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(UserCondition::from_raw(RawUserCondition {
            attribute: attribute.unwrap_or_default(),
            comparator: comparator.ok_or_else(|| de::Error::missing_field("c"))?,
            string_value,
            number_value,
            list_value,
        }))
    }
}

/// An attribute name, shared through [`Texts::names`].
struct Name<'a>(&'a mut Vec<SmolStr>);

impl<'de> DeserializeSeed<'de> for Name<'_> {
    type Value = SmolStr;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<SmolStr, D::Error> {
        deserializer.deserialize_string(self)
    }
}

impl Visitor<'_> for Name<'_> {
    type Value = SmolStr;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, name: &str) -> Result<SmolStr, E> {
        Ok(raw::shared_name(self.0, name))
    }
}

/// A comparison list, packed through [`Texts::list`].
struct List<'a>(&'a mut raw::ListScratch);

impl<'de> DeserializeSeed<'de> for List<'_> {
    type Value = PackedTexts;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<PackedTexts, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for List<'_> {
    type Value = PackedTexts;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PackedTexts, A::Error> {
        PackedTexts::read(&mut seq, self.0)
    }
}

/// The generated config of the parse and memory benches.
#[cfg(test)]
#[path = "../../benches/support/big_config.rs"]
mod big_config;

#[cfg(test)]
mod tests {
    use super::super::raw::RawConfig;
    use super::big_config;
    use super::*;

    /// The config the wire types build, as before the fast path.
    fn through_wire_types(json: &str) -> Config {
        Config::from_raw(serde_json::from_str::<RawConfig>(json).expect("the wire types read it"))
    }

    /// Reads `json` on the fast path, which must read it, and checks that it built what the
    /// wire types build.
    fn assert_same(json: &str) {
        let fast = read(json).unwrap_or_else(|e| panic!("the fast path reads it: {e}"));
        let wire = through_wire_types(json);
        assert_eq!(fast.preferences(), wire.preferences());
        assert_eq!(fast.settings().len(), wire.settings().len());
        for (key, setting) in wire.settings() {
            assert_eq!(fast.settings().get(key), Some(setting), "{key}");
        }
    }

    #[test]
    fn the_fast_path_builds_what_the_wire_types_build_from_every_test_config() {
        let mut read_configs = 0;
        let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).expect("a test data folder") {
                let path = entry.expect("an entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "json") {
                    let json = std::fs::read_to_string(&path).expect("a test file");
                    let is_config = json.trim_start().starts_with('{')
                        && serde_json::from_str::<RawConfig>(&json)
                            .is_ok_and(|raw| !raw.settings.is_empty());
                    if is_config {
                        assert_same(&json);
                        read_configs += 1;
                    }
                }
            }
        }
        assert!(read_configs >= 20, "{read_configs} configs");
        assert_same(&big_config::big_config_json(200));
    }

    #[test]
    fn fields_may_come_in_any_order() {
        let rules = r#""r":[{"c":[{"s":{"s":1,"c":0}},{"u":{"a":"Email","c":16,"l":["x"]}}],"s":{"v":{"s":"seg"},"i":"r1"}},
            {"p":[{"p":40,"v":{"s":"a"},"i":"p1"},{"i":"p2","v":{"s":"b"},"p":60}],"c":[{"s":{"c":1,"s":0}}]},
            {"c":[{"p":{"f":"other","c":0,"v":{"s":"x"}}}]}]"#;
        let setting = format!(
            r#"{{"i":"d",{rules},"p":[{{"p":100,"v":{{"s":"all"}}}}],"a":"Country","v":{{"s":"def"}},"t":1}}"#
        );
        let segments = r#""s":[{"n":"A","r":[{"a":"Email","c":2,"l":["@a"]}]},{"n":"B","r":[]}]"#;
        let preferences = r#""p":{"s":"salt","u":"https://example.com","r":1}"#;
        let other = r#""other":{"t":1,"v":{"s":"x"}}"#;
        for json in [
            format!(r#"{{{preferences},{segments},"f":{{"a":{setting},{other}}}}}"#),
            format!(r#"{{"f":{{"a":{setting},{other}}},{segments},{preferences}}}"#),
            format!(r#"{{"f":{{"a":{setting},{other}}},{preferences}}}"#),
            format!(r#"{{"x":[1,{{"s":[]}}],"f":{{"a":{setting},"a":{setting}}},{segments}}}"#),
        ] {
            assert_same(&json);
        }
        let config = read(&format!(
            r#"{{"f":{{"a":{setting}}},{segments},{preferences}}}"#
        ))
        .expect("reads");
        let rules = config.settings()["a"].targeting_rules();
        match (&rules[0].conditions()[0], &rules[1].conditions()[0]) {
            (Condition::Segment(b), Condition::Segment(a)) => {
                assert_eq!(b.segment.as_ref().map(|s| s.name()), Some("B"));
                assert_eq!(a.segment.as_ref().map(|s| s.name()), Some("A"));
            }
            other => panic!("segment conditions, not {other:?}"),
        }
        assert_eq!(
            config.settings()["a"].salt.as_deref().map(|s| &**s),
            Some("salt")
        );
    }

    /// Both paths put the config's rules, conditions and percentage options each in one block,
    /// a setting's rules and a rule's conditions side by side, and late segments are set in
    /// that block.
    #[test]
    fn a_configs_rules_conditions_and_options_are_one_block_each_on_both_paths() {
        let json = r#"{"f":{"a":{"t":1,"v":{"s":"d"},"r":[
            {"c":[{"u":{"a":"Email","c":2,"l":["@a"]}},{"s":{"s":0,"c":0}}],"s":{"v":{"s":"1"}}},
            {"c":[],"p":[{"p":100,"v":{"s":"2"}}]},
            {"c":[{"u":{"a":"Country","c":28,"s":"HU"}}],"s":{"v":{"s":"3"}}}]},
            "b":{"t":1,"v":{"s":"d"},"r":[{"c":[{"u":{"a":"Email","c":28,"s":"x"}}],"s":{"v":{"s":"4"}}}],
                "p":[{"p":100,"v":{"s":"5"}}]}},
            "s":[{"n":"S","r":[{"a":"Email","c":2,"l":["@b"]}]}]}"#;
        for config in [read(json).expect("reads"), through_wire_types(json)] {
            let (a, b) = (&config.settings()["a"], &config.settings()["b"]);
            let runs: Vec<&[Condition]> =
                a.targeting_rules().iter().map(|r| r.conditions()).collect();
            assert_eq!(runs.iter().map(|r| r.len()).collect::<Vec<_>>(), [2, 0, 1]);
            assert_eq!(
                runs[2].as_ptr(),
                runs[0].as_ptr_range().end,
                "a's runs side by side"
            );
            // The settings' order in the block is the document's, whatever the map's.
            let b_rules = b.targeting_rules();
            assert_eq!(b_rules.as_ptr(), a.targeting_rules().as_ptr_range().end);
            assert_eq!(b_rules[0].conditions().as_ptr(), runs[2].as_ptr_range().end);
            let rule_options = a.targeting_rules()[1].percentage_options();
            assert_eq!(
                b.percentage_options().as_ptr(),
                rule_options.as_ptr_range().end
            );
            match &runs[0][1] {
                Condition::Segment(c) => {
                    assert_eq!(c.segment.as_ref().map(|s| s.name()), Some("S"))
                }
                other => panic!("a segment condition, not {other:?}"),
            }
        }
    }

    /// A rule of a bool setting with these conditions.
    fn with_conditions(conditions: &str) -> String {
        format!(
            r#"{{"f":{{"a":{{"t":0,"v":{{"b":false}},"r":[{{"c":[{conditions}],"s":{{"v":{{"b":true}}}}}}]}}}}}}"#
        )
    }

    #[test]
    fn user_conditions_are_read_with_the_parse_s_own_buffers() {
        let json = with_conditions(
            r#"{"u":{"a":"EmailOfTheCustomerAccount","c":2,"l":["@a","@b"]}},{"u":{"l":["x"],"c":34,"a":"EmailOfTheCustomerAccount"}}"#,
        );
        raw::forget_names();
        let config = read(&json).expect("reads");
        // Not the per-thread table of the wire types, which only `Config::parse` empties.
        assert_eq!(raw::names_held(), 0);
        let attributes: Vec<SmolStr> = config.settings()["a"].targeting_rules()[0]
            .conditions()
            .iter()
            .map(|condition| match condition {
                Condition::User(user) => user.attribute.clone(),
                other => panic!("a user condition, not {other:?}"),
            })
            .collect();
        // A name longer than fits inline is held once.
        assert!(std::ptr::eq(attributes[0].as_str(), attributes[1].as_str()));
        assert_same(&json);
    }

    #[test]
    fn user_conditions_read_as_the_wire_types_read_them() {
        for conditions in [
            r#"{"u":null}"#,
            r#"{"u":{"c":16,"a":"Email","s":null,"d":null,"l":null}}"#,
            r#"{"u":{"c":2}}"#,
            r#"{"u":{"a":"Seats","c":12,"d":5,"x":[{"a":1}],"ab":"?"}}"#,
            r#"{"u":{"a":"Email","c":28,"s":"a@b"},"s":{"s":0,"c":0}}"#,
            r#"{"u":{"a":"V","c":9,"s":"1.0.0"},"x":1},{"p":{"f":"b","c":1,"v":{"b":true}}}"#,
            r#"{"u":{"a":"E","c":0,"l":["","\"q\"","é"]}},{"u":{"a":"E","c":0,"l":[]}}"#,
            r#"{"u":{"a":"E","c":99,"l":["x"]}},{},{"s":null,"p":null}"#,
        ] {
            assert_same(&with_conditions(conditions));
        }
        // What the wire types reject, the fast path rejects: the wire types give the error.
        for (conditions, path) in [
            (r#"{"u":{"a":"E","c":2,"a":"F"}}"#, "f.a.r[0].c[0].u"),
            (
                r#"{"u":{"a":"E","c":2,"l":["x"],"l":[]}}"#,
                "f.a.r[0].c[0].u",
            ),
            (r#"{"u":{"a":"E","c":2},"u":null}"#, "f.a.r[0].c[0]"),
            (r#"{"u":{"a":"E","l":["x"]}}"#, "f.a.r[0].c[0].u"),
            (r#"{"u":{"a":null,"c":2}}"#, "f.a.r[0].c[0].u.a"),
            (
                r#"{"u":{"a":"E","c":2,"l":["x",1]}}"#,
                "f.a.r[0].c[0].u.l[1]",
            ),
            (r#"{"u":{"a":"E","c":2.5}}"#, "f.a.r[0].c[0].u.c"),
        ] {
            let json = with_conditions(conditions);
            assert!(read(&json).is_err(), "{conditions}");
            let error = Config::parse(&json).expect_err(conditions);
            assert_eq!(error.path(), path, "{conditions}: {error}");
        }
    }

    #[test]
    fn segments_are_read_with_the_parse_s_own_buffers_and_as_the_wire_types_read_them() {
        let rule = r#"{"c":[{"s":{"s":0,"c":0}},{"u":{"a":"EmailOfTheCustomerAccount","c":2,"l":["@x"]}}]}"#;
        let json = format!(
            r#"{{"s":[{{"n":"A","r":[{{"a":"EmailOfTheCustomerAccount","c":2,"l":["@a","@b"]}}],"x":1}},{{"r":[]}},{{}}],"f":{{"a":{{"t":0,"v":{{"b":false}},"r":[{rule}]}}}}}}"#
        );
        raw::forget_names();
        let config = read(&json).expect("reads");
        assert_eq!(raw::names_held(), 0);
        let conditions = config.settings()["a"].targeting_rules()[0].conditions();
        match (&conditions[0], &conditions[1]) {
            (Condition::Segment(segment), Condition::User(user)) => {
                let segment = segment.segment.as_ref().expect("segment 0");
                // One long name for the whole config, segments included.
                assert!(std::ptr::eq(
                    segment.conditions[0].attribute.as_str(),
                    user.attribute.as_str()
                ));
            }
            other => panic!("a segment and a user condition, not {other:?}"),
        }
        assert_same(&json);
        for (segments, path) in [
            (r#"[{"n":"A","n":"B"}]"#, "s[0]"),
            (r#"[{"n":null}]"#, "s[0].n"),
            (r#"[{"n":"A","r":null}]"#, "s[0].r"),
            (r#"[{"n":"A","r":[{"a":"E"}]}]"#, "s[0].r[0]"),
        ] {
            let json = format!(r#"{{"s":{segments},"f":{{"a":{{"t":0,"v":{{"b":false}}}}}}}}"#);
            assert!(read(&json).is_err(), "{segments}");
            let error = Config::parse(&json).expect_err(segments);
            assert_eq!(error.path(), path, "{segments}: {error}");
        }
    }

    /// Every kind of field the fast path reads, segments before and after the settings.
    const EVERY_FIELD: &str = r#"{"p":{"u":"https://x","r":1,"s":"salt"},
        "s":[{"n":"S","r":[{"a":"Email","c":2,"l":["@a","@b"]},{"a":"Seats","c":15,"d":10}]}],
        "f":{"a":{"t":1,"a":"Country","v":{"s":"def"},"i":"d","r":[
            {"c":[{"u":{"a":"Email","c":28,"s":"a@b"}},{"s":{"s":0,"c":1}}],"s":{"v":{"s":"r"},"i":"r1"}},
            {"c":[{"p":{"f":"b","c":0,"v":{"b":true}}}],"p":[{"p":30,"v":{"s":"x"},"i":"o1"},{"p":70,"v":{"s":"y"}}]},
            {"c":[{"u":{"a":"Version","c":9,"s":"1.2.3"}},{"u":{"a":"Seats","c":12,"d":2.5}}],"s":{"v":{"s":"v"}}}],
            "p":[{"p":100,"v":{"s":"all"},"i":"p"}]},
          "b":{"t":0,"v":{"b":true},"r":[{"c":[{"u":{"a":"Email","c":16,"l":["x","y"]}}],"s":{"v":{"b":false}}}]}},
        "z":[{"s":1}]}"#;

    /// Changes one part of `doc` at random: a value replaced, a field removed, renamed (to a
    /// field name of the format) or added.
    fn mutate(doc: &mut serde_json::Value, random: &mut impl FnMut() -> usize) {
        use serde_json::{Value, json};
        fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
            match value {
                Value::Object(map) => map
                    .iter()
                    .for_each(|(k, v)| pointers(v, format!("{at}/{k}"), out)),
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .for_each(|(i, v)| pointers(v, format!("{at}/{i}"), out)),
                _ => {}
            }
            out.push(at);
        }
        let replacements = [
            json!(null),
            json!(0),
            json!(-1),
            json!(1.5),
            json!("s"),
            json!([]),
            json!({}),
            json!(true),
            json!(["x"]),
            json!([1]),
            json!({"a": "E", "c": 0, "l": ["x"]}),
            json!({"s": 0, "c": 0}),
            json!({"v": {"b": true}}),
        ];
        let names = [
            "a", "b", "c", "d", "f", "i", "l", "n", "p", "r", "s", "t", "u", "v", "zz",
        ];
        let mut all = Vec::new();
        pointers(doc, String::new(), &mut all);
        let at = &all[random() % all.len()];
        let node = doc.pointer_mut(at).expect("a pointer just listed");
        let replacement = replacements[random() % replacements.len()].clone();
        match node {
            Value::Object(map) if !map.is_empty() && !random().is_multiple_of(4) => {
                let key = map
                    .keys()
                    .nth(random() % map.len())
                    .cloned()
                    .expect("a key");
                let value = map.remove(&key).expect("the key's value");
                match random() % 3 {
                    0 => {}
                    1 => drop(map.insert(names[random() % names.len()].to_owned(), value)),
                    _ => drop(map.insert(key, replacement)),
                }
            }
            node => *node = replacement,
        }
    }

    /// Whatever the fast path reads, the wire types read too, to the same model (so that it
    /// never accepts what they reject, nor reads it differently).
    #[test]
    fn on_mutated_configs_the_fast_path_reads_only_what_the_wire_types_read() {
        let base: serde_json::Value = serde_json::from_str(EVERY_FIELD).expect("a config");
        assert_same(EVERY_FIELD);
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 16) as usize
        };
        let (mut read_fast, mut left) = (0, 0);
        for _ in 0..3000 {
            let mut doc = base.clone();
            for _ in 0..1 + random() % 3 {
                mutate(&mut doc, &mut random);
            }
            let json = doc.to_string();
            if read(&json).is_ok() {
                // `assert_same` fails if the wire types reject it or build something else.
                assert_same(&json);
                read_fast += 1;
            } else {
                left += 1;
            }
        }
        assert!(
            read_fast > 300 && left > 300,
            "{read_fast} read, {left} left"
        );
    }

    /// What the fast path does not read, the wire types read (or reject) as before.
    #[test]
    fn what_the_fast_path_leaves_the_wire_types_read() {
        let as_array = r#"{"f":{"a":[2,null,[],[],{"i":7},"v1"]}}"#;
        assert!(read(as_array).is_err());
        let config = Config::parse(as_array).expect("the wire types read a struct as an array");
        assert_eq!(
            config.settings()["a"]
                .default_value()
                .and_then(|v| v.as_int()),
            Some(7)
        );
        let duplicate = r#"{"f":{"a":{"t":2,"v":{"i":1},"t":2}}}"#;
        assert!(read(duplicate).is_err());
        let error = Config::parse(duplicate).expect_err("a duplicate field");
        assert_eq!(error.path(), "f.a");
        assert!(error.to_string().contains("duplicate field `t`"), "{error}");
        let missing_type = r#"{"f":{"a":{"v":{"i":1}}}}"#;
        assert!(read(missing_type).is_err());
        assert_eq!(
            Config::parse(missing_type).expect_err("no type").path(),
            "f.a"
        );
    }
}
