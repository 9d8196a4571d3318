//! The config_v6 model: what a downloaded `config_v6.json` parses into.
//!
//! [`Config::parse`] reads the wire format (the private `raw` module) and prepares it for evaluation:
//! segment indexes become shared references, semantic versions and hashed comparison values are
//! parsed and decoded once, the config salt is copied into every setting. Anything that is
//! malformed but can be confined to one flag (an unknown comparator, a value of the wrong type)
//! is kept and reported when that flag is evaluated, so one bad flag never hides the others.

mod changes;
mod condition;
mod list;
pub(crate) mod raw;
mod read;
mod shared;
mod value;

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use smol_str::SmolStr;

pub(crate) use changes::changed_keys;
pub(crate) use condition::Operand;
pub use condition::{
    Comparator, Condition, PrerequisiteComparator, PrerequisiteCondition, Segment,
    SegmentComparator, SegmentCondition, UserCondition,
};
pub use shared::Shared;
pub(crate) use shared::{SharedList, SharedSlice};
pub use value::{SettingType, Value};

use raw::{RawConfig, RawPercentageOption, RawPreferences, RawServedValue, RawSetting, RawValue};

/// A parsed config_v6 document.
///
/// ```
/// use configcat_actix::Config;
/// let config = Config::parse(r#"{"f":{"isAwesome":{"t":0,"v":{"b":true}}}}"#)?;
/// assert_eq!(config.settings().len(), 1);
/// # Ok::<(), configcat_actix::ParseError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Config {
    preferences: Preferences,
    settings: Settings,
}

/// The settings of a config, by key, in no particular order.
///
/// Every evaluation looks its key up here, so the map inside uses foldhash (several times
/// faster than the standard SipHash on short keys, still seeded per process); the newtype keeps
/// that choice out of the public API. Keys are [`SmolStr`]s (inline up to 23 bytes, shared
/// beyond), so evaluation details can carry the key without copying it; they are looked up by
/// `&str`.
///
/// ```
/// use configcat_actix::Config;
/// let config = Config::parse(r#"{"f":{"a":{"t":0,"v":{"b":true}},"b":{"t":1,"v":{"s":"x"}}}}"#)?;
/// let settings = config.settings();
/// assert_eq!(settings.len(), 2);
/// assert!(settings.contains_key("a") && !settings.is_empty());
/// assert_eq!(settings.get("b").and_then(|s| s.default_value()).and_then(|v| v.as_str()), Some("x"));
/// assert!(settings.get("c").is_none());
/// assert_eq!(settings["a"].default_value().and_then(|v| v.as_bool()), Some(true));
/// let mut keys: Vec<&str> = settings.keys().map(|k| k.as_str()).collect();
/// keys.sort();
/// assert_eq!(keys, ["a", "b"]);
/// assert_eq!(settings.iter().count(), 2);
/// for (key, setting) in settings {
///     assert!(setting.setting_type().is_some(), "{key}");
/// }
/// # Ok::<(), configcat_actix::ParseError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Settings(HashMap<SmolStr, Setting, foldhash::fast::RandomState>);

impl Settings {
    /// The setting of `key`, if the config has one.
    ///
    /// ```
    /// # use configcat_actix::Config;
    /// let config = Config::parse(r#"{"f":{"a":{"t":2,"v":{"i":7}}}}"#)?;
    /// assert_eq!(config.settings().get("a").and_then(|s| s.default_value()).and_then(|v| v.as_int()), Some(7));
    /// # Ok::<(), configcat_actix::ParseError>(())
    /// ```
    #[inline]
    pub fn get(&self, key: &str) -> Option<&Setting> {
        self.0.get(key)
    }

    /// The setting of `key` with the map's own copy of the key, which evaluation details share.
    #[inline]
    pub(crate) fn get_key_value(&self, key: &str) -> Option<(&SmolStr, &Setting)> {
        self.0.get_key_value(key)
    }

    /// How many settings there are.
    ///
    /// ```
    /// # use configcat_actix::Config;
    /// assert_eq!(Config::parse(r#"{"f":{"a":{"t":0,"v":{"b":true}}}}"#)?.settings().len(), 1);
    /// # Ok::<(), configcat_actix::ParseError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no settings.
    ///
    /// ```
    /// # use configcat_actix::Config;
    /// assert!(Config::parse("{}")?.settings().is_empty());
    /// # Ok::<(), configcat_actix::ParseError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether there is a setting of `key`.
    ///
    /// ```
    /// # use configcat_actix::Config;
    /// let config = Config::parse(r#"{"f":{"a":{"t":0,"v":{"b":true}}}}"#)?;
    /// assert!(config.settings().contains_key("a"));
    /// assert!(!config.settings().contains_key("A"), "keys are case-sensitive");
    /// # Ok::<(), configcat_actix::ParseError>(())
    /// ```
    pub fn contains_key(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// The keys, in no particular order.
    ///
    /// ```
    /// # use configcat_actix::Config;
    /// let config = Config::parse(r#"{"f":{"a":{"t":0,"v":{"b":true}}}}"#)?;
    /// assert_eq!(config.settings().keys().collect::<Vec<_>>(), ["a"]);
    /// # Ok::<(), configcat_actix::ParseError>(())
    /// ```
    pub fn keys(&self) -> std::collections::hash_map::Keys<'_, SmolStr, Setting> {
        self.0.keys()
    }

    /// The keys and settings, in no particular order.
    ///
    /// ```
    /// # use configcat_actix::Config;
    /// let config = Config::parse(r#"{"f":{"a":{"t":0,"v":{"b":true}}}}"#)?;
    /// let (key, setting) = config.settings().iter().next().unwrap();
    /// assert_eq!((key.as_str(), setting.variation_id()), ("a", None));
    /// # Ok::<(), configcat_actix::ParseError>(())
    /// ```
    pub fn iter(&self) -> std::collections::hash_map::Iter<'_, SmolStr, Setting> {
        self.0.iter()
    }

    /// An empty map with room for `capacity` settings, for merging configs.
    pub(crate) fn with_capacity(capacity: usize) -> Settings {
        Settings(HashMap::with_capacity_and_hasher(
            capacity,
            Default::default(),
        ))
    }

    /// Adds or replaces the setting of `key`.
    pub(crate) fn insert(&mut self, key: SmolStr, setting: Setting) {
        self.0.insert(key, setting);
    }
}

/// `settings["key"]`, which panics if the key is missing, like a map's; [`Settings::get`]
/// does not.
impl std::ops::Index<&str> for Settings {
    type Output = Setting;
    fn index(&self, key: &str) -> &Setting {
        &self.0[key]
    }
}

impl<'a> IntoIterator for &'a Settings {
    type Item = (&'a SmolStr, &'a Setting);
    type IntoIter = std::collections::hash_map::Iter<'a, SmolStr, Setting>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl IntoIterator for Settings {
    type Item = (SmolStr, Setting);
    type IntoIter = std::collections::hash_map::IntoIter<SmolStr, Setting>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// Collects settings keyed by anything that converts into a [`SmolStr`]: `String`, `&str`,
/// `SmolStr`.
impl<K: Into<SmolStr>> FromIterator<(K, Setting)> for Settings {
    fn from_iter<I: IntoIterator<Item = (K, Setting)>>(iter: I) -> Settings {
        Settings(iter.into_iter().map(|(k, s)| (k.into(), s)).collect())
    }
}

/// The preferences (`p`) of a config: where the CDN wants to be asked next, and the salt.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Preferences {
    /// `u`: the base URL the CDN redirects to.
    pub base_url: Option<String>,
    /// `r`: how strongly the redirect applies.
    pub redirect_mode: Option<RedirectMode>,
    /// `s`: the config salt used to hash confidential comparison values.
    pub salt: Option<Arc<str>>,
}

/// The redirect mode of the preferences (`p.r`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectMode {
    /// `0`: use this config; ask the new URL next time.
    No,
    /// `1`: the data governance option is out of sync; ask the new URL now.
    Should,
    /// `2`: ask the new URL now, even from a custom base URL.
    Force,
}

/// One feature flag or setting (an entry of `f`).
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub(crate) setting_type: Option<SettingType>,
    pub(crate) type_code: i64,
    /// Boxed twice (a thin pointer): rare, and every setting's size counts twice over in the
    /// settings map, which has up to twice as many slots as settings.
    pub(crate) percentage_attribute: Option<Box<Box<str>>>,
    // Runs of the config's blocks of rules and options (see `shared.rs`).
    pub(crate) targeting_rules: SharedSlice<TargetingRule>,
    pub(crate) percentage_options: SharedSlice<PercentageOption>,
    pub(crate) value: Option<Value>,
    pub(crate) variation_id: Option<SmolStr>,
    /// The salt of the config this setting came from: settings of different configs can be
    /// merged by flag overrides, and each must keep hashing with its own salt. Shared, and
    /// behind a thin pointer, as `percentage_attribute`.
    pub(crate) salt: Option<Arc<Box<str>>>,
}

/// A targeting rule: AND-ed conditions and what to serve when they all hold.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetingRule {
    /// A run of the config's block of conditions.
    pub(crate) conditions: SharedSlice<Condition>,
    pub(crate) then: RuleOutcome,
}

/// The THEN part of a targeting rule.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RuleOutcome {
    Served {
        value: Option<Value>,
        variation_id: Option<SmolStr>,
    },
    PercentageOptions(SharedSlice<PercentageOption>),
    Missing,
}

/// A percentage option: a share of users and the value they get.
#[derive(Debug, Clone, PartialEq)]
pub struct PercentageOption {
    pub(crate) percentage: i64,
    pub(crate) value: Option<Value>,
    pub(crate) variation_id: Option<SmolStr>,
}

/// Why a config_v6 document could not be parsed.
///
/// The message names what was wrong and where, as a path into the document
/// (`f.myFlag.r[0].c[1].u.c`) and a line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    path: String,
    message: String,
    line: usize,
    column: usize,
}

impl ParseError {
    /// The path of the offending element, `.` for the document itself.
    pub fn path(&self) -> &str {
        &self.path
    }
    /// The line (1-based) at which parsing stopped.
    pub fn line(&self) -> usize {
        self.line
    }
    /// The column (1-based) at which parsing stopped.
    pub fn column(&self) -> usize {
        self.column
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid config JSON at `{}` (line {}, column {}): {}",
            self.path, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ParseError {}

impl Config {
    /// Parses a config_v6 JSON document.
    ///
    /// # Errors
    /// A [`ParseError`] naming the path, line and column when the text is not JSON or a field
    /// has the wrong JSON type.
    pub fn parse(json: &str) -> Result<Config, ParseError> {
        let parsed = Config::read(json);
        raw::forget_names();
        parsed
    }

    fn read(json: &str) -> Result<Config, ParseError> {
        // serde would also read a struct from an array; a config is always an object.
        let content = json.trim_start();
        if let Some(other) = content.chars().next().filter(|c| *c != '{') {
            let before = &json[..json.len() - content.len()];
            return Err(ParseError {
                path: ".".to_owned(),
                message: format!("expected a JSON object, found `{other}`"),
                line: before.matches('\n').count() + 1,
                column: before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1,
            });
        }
        // The fast path (module `read`); whatever it does not read, the wire types read, with
        // the same result, or the error and its path.
        if let Ok(config) = read::read(json) {
            return Ok(config);
        }
        match serde_json::from_str::<RawConfig>(json) {
            Ok(raw) => Ok(Config::from_raw(raw)),
            Err(err) => Err(locate_error(json, err)),
        }
    }

    /// The preferences of this config.
    pub fn preferences(&self) -> &Preferences {
        &self.preferences
    }

    /// The settings, by key.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Builds a config from settings, e.g. flag overrides; keys are `String`s, `&str`s or
    /// [`SmolStr`]s.
    pub fn from_settings<K: Into<SmolStr>>(
        settings: impl IntoIterator<Item = (K, Setting)>,
    ) -> Config {
        Config {
            preferences: Preferences::default(),
            settings: settings.into_iter().collect(),
        }
    }

    /// Builds a config from preferences and settings, e.g. a merge of two configs.
    pub fn with_preferences<K: Into<SmolStr>>(
        preferences: Preferences,
        settings: impl IntoIterator<Item = (K, Setting)>,
    ) -> Config {
        Config {
            preferences,
            settings: settings.into_iter().collect(),
        }
    }

    fn from_raw(raw: RawConfig) -> Config {
        let preferences = Preferences::from_raw(raw.preferences);
        let setting_salt = read::setting_salt(&preferences);
        let segments: Vec<Arc<Segment>> = raw
            .segments
            .into_iter()
            .map(|s| Arc::new(Segment::from_raw(s)))
            .collect();
        let mut blocks = Blocks::default();
        let mut settings: Vec<_> = raw
            .settings
            .into_iter()
            .map(|(key, s)| {
                (
                    key,
                    Setting::from_raw(s, &setting_salt, &segments, &mut blocks),
                )
            })
            .collect();
        blocks.attach(settings.iter_mut().map(|(_, setting)| setting));
        Config {
            preferences,
            settings: settings.into_iter().collect(),
        }
    }
}

impl Preferences {
    fn from_raw(raw: Option<RawPreferences>) -> Preferences {
        let raw = raw.unwrap_or_default();
        Preferences {
            base_url: raw.base_url,
            redirect_mode: raw.redirect_mode.and_then(|m| match m {
                0 => Some(RedirectMode::No),
                1 => Some(RedirectMode::Should),
                2 => Some(RedirectMode::Force),
                _ => None,
            }),
            salt: raw.salt.map(Arc::from),
        }
    }
}

/// Re-reads a document that failed to parse to find the path of the failure; this costs
/// nothing on the success path.
fn locate_error(json: &str, err: serde_json::Error) -> ParseError {
    let mut de = serde_json::Deserializer::from_str(json);
    let path = match serde_path_to_error::deserialize::<_, RawConfig>(&mut de) {
        Err(located) => match located.path().to_string() {
            // serde_path_to_error writes `?` when the failure is before the first element.
            unknown if unknown == "?" => ".".to_owned(),
            path => path,
        },
        Ok(_) => ".".to_owned(),
    };
    ParseError {
        path,
        message: strip_position(&err.to_string()),
        line: err.line(),
        column: err.column(),
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

impl Setting {
    fn from_raw(
        raw: RawSetting,
        salt: &Option<Arc<Box<str>>>,
        segments: &[Arc<Segment>],
        blocks: &mut Blocks,
    ) -> Setting {
        let setting_type = SettingType::from_code(raw.setting_type);
        let start = blocks.rules.len();
        for rule in raw.targeting_rules {
            let start = blocks.conditions.len();
            let conditions = rule.conditions.into_iter();
            (blocks.conditions).extend(conditions.map(|c| Condition::from_raw(c, segments)));
            let options = rule.percentage_options.as_deref();
            blocks.push_rule(
                start..blocks.conditions.len(),
                rule.served,
                options,
                setting_type,
            );
        }
        let mut setting = Setting::assemble(
            (raw.setting_type, setting_type),
            raw.percentage_attribute,
            SharedSlice::pending(start..blocks.rules.len()),
            blocks.push_options(&raw.percentage_options, setting_type),
            &raw.value,
            raw.variation_id,
        );
        setting.salt.clone_from(salt);
        setting
    }

    /// A setting of the type `t` (its code and what it means) from its parts, without the
    /// salt: the one way both parse paths build a setting.
    fn assemble(
        (type_code, setting_type): (i64, Option<SettingType>),
        percentage_attribute: Option<String>,
        targeting_rules: SharedSlice<TargetingRule>,
        percentage_options: SharedSlice<PercentageOption>,
        value: &RawValue,
        variation_id: Option<SmolStr>,
    ) -> Setting {
        Setting {
            setting_type,
            type_code,
            percentage_attribute: percentage_attribute.map(|a| Box::new(a.into_boxed_str())),
            targeting_rules,
            percentage_options,
            value: setting_type.and_then(|t| value.typed(t)),
            variation_id,
            salt: None,
        }
    }

    /// Builds a setting with no rules, as the simplified override format and override maps do.
    pub fn from_value(value: Value) -> Setting {
        Setting {
            setting_type: Some(value.setting_type()),
            type_code: value.setting_type() as i64,
            percentage_attribute: None,
            targeting_rules: SharedSlice::default(),
            percentage_options: SharedSlice::default(),
            value: Some(value),
            variation_id: None,
            salt: None,
        }
    }

    /// The setting's type, or `None` when the config gives an unknown type code.
    pub fn setting_type(&self) -> Option<SettingType> {
        self.setting_type
    }

    /// The value served when no targeting rule or percentage option applies.
    pub fn default_value(&self) -> Option<&Value> {
        self.value.as_ref()
    }

    /// The variation id of the default value.
    pub fn variation_id(&self) -> Option<&str> {
        self.variation_id.as_deref()
    }

    /// The targeting rules, in evaluation order.
    pub fn targeting_rules(&self) -> &[TargetingRule] {
        &self.targeting_rules
    }

    /// The top-level percentage options.
    pub fn percentage_options(&self) -> &[PercentageOption] {
        &self.percentage_options
    }
}

/// The rules, conditions and percentage options of a whole config, gathered as its settings
/// are read, then each kind frozen into one block (see `shared.rs` for why) and attached to
/// the runs that point into it: the one way both parse paths build them.
#[derive(Default)]
pub(crate) struct Blocks {
    pub(crate) rules: Vec<TargetingRule>,
    /// In document order; a rule's conditions are one run.
    pub(crate) conditions: Vec<Condition>,
    pub(crate) options: Vec<PercentageOption>,
}

impl Blocks {
    /// Room for what a document of `json_len` bytes usually holds (a rule takes 160 bytes of
    /// JSON or more), so that the blocks seldom grow: each growth copies what was gathered.
    /// Capped, so that a huge document reserves no more than a large config needs.
    pub(crate) fn for_document(json_len: usize) -> Blocks {
        const MAX: usize = 1 << 14;
        Blocks {
            rules: Vec::with_capacity((json_len / 160).min(MAX)),
            conditions: Vec::with_capacity((json_len / 128).min(MAX)),
            options: Vec::with_capacity((json_len / 256).min(MAX)),
        }
    }

    /// Appends percentage options of the type `setting_type`: the run they took.
    pub(crate) fn push_options(
        &mut self,
        raw: &[RawPercentageOption],
        setting_type: Option<SettingType>,
    ) -> SharedSlice<PercentageOption> {
        let start = self.options.len();
        self.options.extend(raw.iter().map(|o| PercentageOption {
            percentage: o.percentage,
            value: setting_type.and_then(|t| o.value.typed(t)),
            variation_id: o.variation_id.clone(),
        }));
        SharedSlice::pending(start..self.options.len())
    }

    /// Appends a rule whose conditions are the run `conditions` and which serves `served` or
    /// `options` (exactly one, or the rule is missing its THEN part).
    pub(crate) fn push_rule(
        &mut self,
        conditions: Range<usize>,
        served: Option<RawServedValue>,
        options: Option<&[RawPercentageOption]>,
        setting_type: Option<SettingType>,
    ) {
        let then = match (served, options) {
            (Some(served), None) => RuleOutcome::Served {
                value: setting_type.and_then(|t| served.value.typed(t)),
                variation_id: served.variation_id,
            },
            (None, Some(options)) => {
                RuleOutcome::PercentageOptions(self.push_options(options, setting_type))
            }
            _ => RuleOutcome::Missing,
        };
        self.rules.push(TargetingRule {
            conditions: SharedSlice::pending(conditions),
            then,
        });
    }

    /// Freezes the blocks and attaches every run of the rules and of `settings` to its block.
    pub(crate) fn attach<'s>(self, settings: impl Iterator<Item = &'s mut Setting>) {
        let conditions = SharedList::from_exact(self.conditions.into_iter());
        let options = SharedList::from_exact(self.options.into_iter());
        let rules = SharedList::from_exact(self.rules.into_iter().map(|mut rule| {
            rule.conditions.attach(&conditions);
            if let RuleOutcome::PercentageOptions(run) = &mut rule.then {
                run.attach(&options);
            }
            rule
        }));
        for setting in settings {
            setting.targeting_rules.attach(&rules);
            setting.percentage_options.attach(&options);
        }
    }
}

impl TargetingRule {
    /// The conditions, all of which must hold for the rule to match.
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// The value served when the rule matches, unless it serves percentage options.
    pub fn served_value(&self) -> Option<&Value> {
        match &self.then {
            RuleOutcome::Served { value, .. } => value.as_ref(),
            _ => None,
        }
    }

    /// The percentage options served when the rule matches, if it serves any.
    pub fn percentage_options(&self) -> &[PercentageOption] {
        match &self.then {
            RuleOutcome::PercentageOptions(options) => options,
            _ => &[],
        }
    }

    /// The variation id of the served value.
    pub fn variation_id(&self) -> Option<&str> {
        match &self.then {
            RuleOutcome::Served { variation_id, .. } => variation_id.as_deref(),
            _ => None,
        }
    }
}

impl PercentageOption {
    /// The share of users, 0 to 100.
    pub fn percentage(&self) -> i64 {
        self.percentage
    }
    /// The value served to this share.
    pub fn value(&self) -> Option<&Value> {
        self.value.as_ref()
    }
    /// The variation id of the value.
    pub fn variation_id(&self) -> Option<&str> {
        self.variation_id.as_deref()
    }
}

impl RawValue {
    /// The value under the key that the setting type dictates (`b`, `s`, `i` or `d`).
    pub(crate) fn typed(&self, setting_type: SettingType) -> Option<Value> {
        match setting_type {
            SettingType::Bool => self.b.map(Value::Bool),
            SettingType::String => self.s.clone().map(Value::String),
            SettingType::Int => self.i.map(Value::Int),
            SettingType::Double => self.d.map(Value::Double),
        }
    }

    /// Whether this comparison value equals a prerequisite flag's value of the same type.
    pub(crate) fn equals(&self, value: &Value) -> bool {
        match value {
            Value::Bool(b) => self.b == Some(*b),
            Value::String(s) => self.s.as_deref() == Some(&**s),
            Value::Int(i) => self.i == Some(*i),
            Value::Double(d) => self.d == Some(*d),
        }
    }
}
