//! The flag builder in words: [`TestConfig`], [`Flag`], [`when`], [`in_segment`],
//! [`prerequisite`], written out as config_v6 JSON.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value as Json, json};
use sha2::{Digest, Sha256};

use crate::model::{Comparator, Config, Value};
use crate::overrides::{FlagOverrides, OverrideBehaviour};

/// A config built in words: flags with their rules, segments, and the salt that confidential
/// comparisons are hashed with. [`build`](Self::build) gives the [`Config`] a client would parse
/// from the CDN, [`to_json`](Self::to_json) the config_v6 text itself.
///
/// ```
/// use configcat_actix::testing::{Flag, TestConfig, in_segment, prerequisite, when};
/// use configcat_actix::{NoLog, User, eval};
///
/// let config = TestConfig::new()
///     .segment("Staff", [when("Email").ends_with_any_of(["@example.com"])])
///     .flag("darkMode", true)
///     .flag(
///         "beta",
///         Flag::new(false)
///             .rule(in_segment("Staff").and(prerequisite("darkMode").equals(true)).then(true))
///             .rule(when("Country").is_one_of(["Hungary"]).then_percentage_options([(50, true), (50, false)])),
///     )
///     .build();
/// let staff = User::new("u1").email("kim@example.com");
/// assert!(eval::evaluate_value(&config, "beta", false, Some(&staff), &NoLog));
/// assert!(!eval::evaluate_value(&config, "beta", false, Some(&User::new("u2")), &NoLog));
/// ```
#[derive(Debug, Clone)]
pub struct TestConfig {
    salt: String,
    segments: Vec<(String, Vec<Check>)>,
    flags: Vec<(String, Flag)>,
}

impl Default for TestConfig {
    fn default() -> TestConfig {
        TestConfig::new()
    }
}

impl TestConfig {
    /// An empty config with the salt `test-salt`.
    pub fn new() -> TestConfig {
        TestConfig {
            salt: "test-salt".to_owned(),
            segments: Vec::new(),
            flags: Vec::new(),
        }
    }

    /// The config salt (`p.s`), which confidential comparison values are hashed with.
    #[must_use]
    pub fn salt(mut self, salt: impl Into<String>) -> TestConfig {
        self.salt = salt.into();
        self
    }

    /// Adds the flag or setting `key`, replacing one of the same key. A plain value (`true`,
    /// `"text"`, `42`, `0.5`) is a setting with no rules.
    #[must_use]
    pub fn flag(mut self, key: impl Into<String>, flag: impl Into<Flag>) -> TestConfig {
        let key = key.into();
        self.flags.retain(|(k, _)| *k != key);
        self.flags.push((key, flag.into()));
        self
    }

    /// Adds the segment `name`: users for whom all `conditions` hold are in it. Rules refer to
    /// it by name with [`in_segment`] and [`not_in_segment`]; a rule naming a segment the config
    /// does not define fails to evaluate (error 1002, the default value), as a config with a
    /// segment index out of range does.
    #[must_use]
    pub fn segment(
        mut self,
        name: impl Into<String>,
        conditions: impl IntoIterator<Item = Check>,
    ) -> TestConfig {
        let name = name.into();
        self.segments.retain(|(n, _)| *n != name);
        self.segments.push((name, conditions.into_iter().collect()));
        self
    }

    /// The config_v6 JSON text of this config, as the CDN would serve it.
    ///
    /// ```
    /// use configcat_actix::testing::{Flag, TestConfig, when};
    /// let json = TestConfig::new()
    ///     .flag("beta", Flag::new(false).rule(when("Email").contains_any_of(["@example.com"]).then(true)))
    ///     .to_json();
    /// // "contains any of" is comparator 2 on the wire.
    /// assert!(json.contains(r#""c":2"#), "{json}");
    /// ```
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    /// The config a client would parse from [`to_json`](Self::to_json).
    pub fn build(&self) -> Config {
        // The text is written here from typed parts (any f64 becomes a number or null), so it
        // always parses; a failure would be a bug of this module.
        Config::parse(&self.to_json()).expect("the test kit writes valid config_v6 JSON")
    }

    /// These flags as [`FlagOverrides`]: with [`OverrideBehaviour::LocalOnly`] a client serves
    /// them alone and never downloads; with the other behaviours they are merged with the
    /// downloaded config.
    pub fn overrides(&self, behaviour: OverrideBehaviour) -> FlagOverrides {
        FlagOverrides::from_config(self.build(), behaviour)
    }

    fn to_value(&self) -> Json {
        let segments: Vec<Json> = self
            .segments
            .iter()
            .map(|(name, checks)| {
                let conditions: Vec<Json> =
                    checks.iter().map(|c| c.to_json(&self.salt, name)).collect();
                json!({ "n": name, "r": conditions })
            })
            .collect();
        let flags: Map<String, Json> = self
            .flags
            .iter()
            .map(|(key, flag)| (key.clone(), flag.to_json(key, self)))
            .collect();
        json!({ "p": { "s": self.salt }, "s": segments, "f": flags })
    }

    fn segment_index(&self, name: &str) -> usize {
        // Out of range for an unknown name: the condition then fails as documented above.
        self.segments
            .iter()
            .position(|(n, _)| n == name)
            .unwrap_or(self.segments.len())
    }
}

/// A flag or setting: its default value, targeting rules, percentage options.
///
/// Its type is its default value's: `bool`, text, whole number (`i64`, `i32`) or decimal
/// (`f64`). Each value served gets the variation id `<key>:<value>` (`beta:true`,
/// `plan:premium`), as the dashboard gives each value of a flag one id. Every value a rule or an option serves should be of that type; one that is not is
/// written as it is and fails to evaluate (error 1002), as it would from the CDN.
///
/// ```
/// use configcat_actix::testing::{Flag, TestConfig, when};
/// use configcat_actix::{NoLog, User, eval};
/// let config = TestConfig::new()
///     .flag("plan", Flag::new("free")
///         .rule(when("Plan").is_one_of(["gold", "platinum"]).then("premium"))
///         .percentage_attribute("Country")
///         .percentage_options([(100, "trial"), (0, "free")]))
///     .build();
/// let gold = User::new("u1").custom("Plan", "gold");
/// assert_eq!(eval::evaluate_value(&config, "plan", String::new(), Some(&gold), &NoLog), "premium");
/// let other = User::new("u2").country("Hungary");
/// assert_eq!(eval::evaluate_value(&config, "plan", String::new(), Some(&other), &NoLog), "trial");
/// ```
#[derive(Debug, Clone)]
pub struct Flag {
    default: Value,
    rules: Vec<Rule>,
    percentage_options: Vec<(i64, Value)>,
    percentage_attribute: Option<String>,
}

impl Flag {
    /// A flag serving `default` when no rule matches and it has no percentage options.
    pub fn new(default: impl Into<Value>) -> Flag {
        Flag {
            default: default.into(),
            rules: Vec::new(),
            percentage_options: Vec::new(),
            percentage_attribute: None,
        }
    }

    /// Adds a targeting rule, evaluated after the ones added before it.
    #[must_use]
    pub fn rule(mut self, rule: Rule) -> Flag {
        self.rules.push(rule);
        self
    }

    /// The percentage options served when no rule matches: `(percent, value)` pairs that
    /// should add up to 100. Users are put in a bucket by their identifier, or by
    /// [`percentage_attribute`](Self::percentage_attribute).
    #[must_use]
    pub fn percentage_options<V: Into<Value>>(
        mut self,
        options: impl IntoIterator<Item = (i64, V)>,
    ) -> Flag {
        self.percentage_options = options.into_iter().map(|(p, v)| (p, v.into())).collect();
        self
    }

    /// The user attribute percentage options are based on (the identifier by default).
    #[must_use]
    pub fn percentage_attribute(mut self, attribute: impl Into<String>) -> Flag {
        self.percentage_attribute = Some(attribute.into());
        self
    }

    fn to_json(&self, key: &str, config: &TestConfig) -> Json {
        let rules: Vec<Json> = self.rules.iter().map(|r| r.to_json(key, config)).collect();
        let mut flag = json!({
            "t": self.default.setting_type() as i64,
            "v": value_json(&self.default),
            "i": variation_id(key, &self.default),
            "r": rules,
            "p": options_json(key, &self.percentage_options),
        });
        if let Some(attribute) = &self.percentage_attribute {
            flag["a"] = json!(attribute);
        }
        flag
    }
}

macro_rules! flag_from {
    ($($t:ty),*) => {$(
        /// A setting of this value with no rules.
        impl From<$t> for Flag {
            fn from(value: $t) -> Flag {
                Flag::new(value)
            }
        }
    )*};
}
flag_from!(bool, &str, String, i64, i32, f64, Value);

/// A targeting rule: conditions that must all hold, and what to serve then. Built with
/// [`Check::then`] or [`Conditions::then`] (or their `then_percentage_options`).
#[derive(Debug, Clone)]
pub struct Rule {
    conditions: Conditions,
    then: Then,
}

#[derive(Debug, Clone)]
enum Then {
    Value(Value),
    PercentageOptions(Vec<(i64, Value)>),
}

impl Rule {
    fn to_json(&self, key: &str, config: &TestConfig) -> Json {
        let conditions: Vec<Json> = self
            .conditions
            .0
            .iter()
            .map(|c| c.to_json(key, config))
            .collect();
        match &self.then {
            Then::Value(value) => json!({
                "c": conditions,
                "s": { "v": value_json(value), "i": variation_id(key, value) }
            }),
            Then::PercentageOptions(options) => {
                json!({ "c": conditions, "p": options_json(key, options) })
            }
        }
    }
}

/// Conditions that must all hold (AND): one or more [`Check`]s, segment conditions
/// ([`in_segment`], [`not_in_segment`]) and prerequisite conditions ([`prerequisite`]).
#[derive(Debug, Clone)]
pub struct Conditions(Vec<Condition>);

#[derive(Debug, Clone)]
enum Condition {
    User(Check),
    Segment {
        name: String,
        is_in: bool,
    },
    Prerequisite {
        key: String,
        equals: bool,
        value: Value,
    },
}

impl Condition {
    fn to_json(&self, key: &str, config: &TestConfig) -> Json {
        match self {
            Condition::User(check) => json!({ "u": check.to_json(&config.salt, key) }),
            Condition::Segment { name, is_in } => {
                json!({ "s": { "s": config.segment_index(name), "c": i64::from(!is_in) } })
            }
            Condition::Prerequisite { key, equals, value } => json!({
                "p": { "f": key, "c": i64::from(!equals), "v": value_json(value) }
            }),
        }
    }
}

impl Conditions {
    /// These conditions and `more`.
    #[must_use]
    pub fn and(mut self, more: impl Into<Conditions>) -> Conditions {
        self.0.extend(more.into().0);
        self
    }

    /// A rule serving `value` when all the conditions hold.
    pub fn then(self, value: impl Into<Value>) -> Rule {
        Rule {
            conditions: self,
            then: Then::Value(value.into()),
        }
    }

    /// A rule serving percentage options (`(percent, value)` pairs) when all the conditions
    /// hold.
    pub fn then_percentage_options<V: Into<Value>>(
        self,
        options: impl IntoIterator<Item = (i64, V)>,
    ) -> Rule {
        Rule {
            conditions: self,
            then: Then::PercentageOptions(
                options.into_iter().map(|(p, v)| (p, v.into())).collect(),
            ),
        }
    }
}

impl From<Check> for Conditions {
    fn from(check: Check) -> Conditions {
        Conditions(vec![Condition::User(check)])
    }
}

/// The user is in the segment `name` (defined with [`TestConfig::segment`]).
pub fn in_segment(name: impl Into<String>) -> Conditions {
    Conditions(vec![Condition::Segment {
        name: name.into(),
        is_in: true,
    }])
}

/// The user is not in the segment `name`.
pub fn not_in_segment(name: impl Into<String>) -> Conditions {
    Conditions(vec![Condition::Segment {
        name: name.into(),
        is_in: false,
    }])
}

/// A condition on the value of another flag, the prerequisite `key`: finish it with
/// [`equals`](Prerequisite::equals) or [`not_equals`](Prerequisite::not_equals).
pub fn prerequisite(key: impl Into<String>) -> Prerequisite {
    Prerequisite(key.into())
}

/// A prerequisite flag, waiting for its comparison.
#[derive(Debug, Clone)]
pub struct Prerequisite(String);

impl Prerequisite {
    /// The prerequisite flag's value (for the same user) equals `value`, which must be of the
    /// prerequisite's type.
    pub fn equals(self, value: impl Into<Value>) -> Conditions {
        self.compare(true, value.into())
    }

    /// The prerequisite flag's value differs from `value`.
    pub fn not_equals(self, value: impl Into<Value>) -> Conditions {
        self.compare(false, value.into())
    }

    fn compare(self, equals: bool, value: Value) -> Conditions {
        Conditions(vec![Condition::Prerequisite {
            key: self.0,
            equals,
            value,
        }])
    }
}

/// A user attribute to test: `when("Email").contains_any_of(["@example.com"])`. Each method
/// names a comparator of the ConfigCat dashboard. The attribute is one of the
/// [`User`](crate::User)'s: `Identifier`, `Email`, `Country` or a custom attribute's name.
pub fn when(attribute: impl Into<String>) -> Attribute {
    Attribute(attribute.into())
}

/// A user attribute waiting for its comparator (from [`when`]).
#[derive(Debug, Clone)]
pub struct Attribute(String);

/// One comparison of a user attribute: a condition of a rule or of a segment.
#[derive(Debug, Clone)]
pub struct Check {
    attribute: String,
    comparator: Comparator,
    operand: Operand,
}

#[derive(Debug, Clone)]
enum Operand {
    Text(String),
    List(Vec<String>),
    Number(f64),
}

fn list(items: impl IntoIterator<Item = impl Into<String>>) -> Operand {
    Operand::List(items.into_iter().map(Into::into).collect())
}

macro_rules! comparisons {
    ($($(#[$doc:meta])* $name:ident($arg:ident: $ty:ty) => $comparator:ident, $operand:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(self, $arg: $ty) -> Check {
                self.check(Comparator::$comparator, $operand)
            }
        )*
    };
}

impl Attribute {
    fn check(self, comparator: Comparator, operand: Operand) -> Check {
        Check {
            attribute: self.0,
            comparator,
            operand,
        }
    }

    comparisons! {
        /// Text: IS ONE OF.
        is_one_of(items: impl IntoIterator<Item = impl Into<String>>) => IsOneOf, list(items);
        /// Text: IS NOT ONE OF.
        is_not_one_of(items: impl IntoIterator<Item = impl Into<String>>) => IsNotOneOf, list(items);
        /// Text: CONTAINS ANY OF.
        contains_any_of(items: impl IntoIterator<Item = impl Into<String>>) => ContainsAnyOf, list(items);
        /// Text: NOT CONTAINS ANY OF.
        not_contains_any_of(items: impl IntoIterator<Item = impl Into<String>>) => NotContainsAnyOf, list(items);
        /// Text: EQUALS.
        equals(text: impl Into<String>) => TextEquals, Operand::Text(text.into());
        /// Text: NOT EQUALS.
        not_equals(text: impl Into<String>) => TextNotEquals, Operand::Text(text.into());
        /// Text: STARTS WITH ANY OF.
        starts_with_any_of(items: impl IntoIterator<Item = impl Into<String>>) => TextStartsWithAnyOf, list(items);
        /// Text: NOT STARTS WITH ANY OF.
        not_starts_with_any_of(items: impl IntoIterator<Item = impl Into<String>>) => TextNotStartsWithAnyOf, list(items);
        /// Text: ENDS WITH ANY OF.
        ends_with_any_of(items: impl IntoIterator<Item = impl Into<String>>) => TextEndsWithAnyOf, list(items);
        /// Text: NOT ENDS WITH ANY OF.
        not_ends_with_any_of(items: impl IntoIterator<Item = impl Into<String>>) => TextNotEndsWithAnyOf, list(items);
        /// Semantic version: IS ONE OF.
        version_is_one_of(versions: impl IntoIterator<Item = impl Into<String>>) => SemVerIsOneOf, list(versions);
        /// Semantic version: IS NOT ONE OF.
        version_is_not_one_of(versions: impl IntoIterator<Item = impl Into<String>>) => SemVerIsNotOneOf, list(versions);
        /// Semantic version: `<`.
        version_less_than(version: impl Into<String>) => SemVerLess, Operand::Text(version.into());
        /// Semantic version: `<=`.
        version_less_than_or_equal(version: impl Into<String>) => SemVerLessOrEquals, Operand::Text(version.into());
        /// Semantic version: `>`.
        version_greater_than(version: impl Into<String>) => SemVerGreater, Operand::Text(version.into());
        /// Semantic version: `>=`.
        version_greater_than_or_equal(version: impl Into<String>) => SemVerGreaterOrEquals, Operand::Text(version.into());
        /// Number: `=`.
        number_equals(number: impl Into<f64>) => NumberEquals, Operand::Number(number.into());
        /// Number: `!=`.
        number_not_equals(number: impl Into<f64>) => NumberNotEquals, Operand::Number(number.into());
        /// Number: `<`.
        number_less_than(number: impl Into<f64>) => NumberLess, Operand::Number(number.into());
        /// Number: `<=`.
        number_less_than_or_equal(number: impl Into<f64>) => NumberLessOrEquals, Operand::Number(number.into());
        /// Number: `>`.
        number_greater_than(number: impl Into<f64>) => NumberGreater, Operand::Number(number.into());
        /// Number: `>=`.
        number_greater_than_or_equal(number: impl Into<f64>) => NumberGreaterOrEquals, Operand::Number(number.into());
        /// Date: BEFORE (the attribute is a `SystemTime` or Unix seconds).
        before(time: SystemTime) => DateBefore, Operand::Number(unix_seconds(time));
        /// Date: AFTER.
        after(time: SystemTime) => DateAfter, Operand::Number(unix_seconds(time));
        /// Array (the attribute is a list of texts): ARRAY CONTAINS ANY OF.
        array_contains_any_of(items: impl IntoIterator<Item = impl Into<String>>) => ArrayContainsAnyOf, list(items);
        /// Array: ARRAY NOT CONTAINS ANY OF.
        array_not_contains_any_of(items: impl IntoIterator<Item = impl Into<String>>) => ArrayNotContainsAnyOf, list(items);
    }

    /// The confidential (hashed) comparators: the comparison values are written as salted
    /// SHA-256 hashes, as the dashboard does for confidential text.
    pub fn confidential(self) -> Confidential {
        Confidential(self)
    }
}

/// A user attribute compared with confidential (hashed) comparators (from
/// [`Attribute::confidential`]).
#[derive(Debug, Clone)]
pub struct Confidential(Attribute);

macro_rules! confidential_comparisons {
    ($($(#[$doc:meta])* $name:ident($arg:ident: $ty:ty) => $comparator:ident, $operand:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(self, $arg: $ty) -> Check {
                self.0.check(Comparator::$comparator, $operand)
            }
        )*
    };
}

impl Confidential {
    confidential_comparisons! {
        /// Confidential text: IS ONE OF.
        is_one_of(items: impl IntoIterator<Item = impl Into<String>>) => SensitiveIsOneOf, list(items);
        /// Confidential text: IS NOT ONE OF.
        is_not_one_of(items: impl IntoIterator<Item = impl Into<String>>) => SensitiveIsNotOneOf, list(items);
        /// Confidential text: EQUALS.
        equals(text: impl Into<String>) => SensitiveEquals, Operand::Text(text.into());
        /// Confidential text: NOT EQUALS.
        not_equals(text: impl Into<String>) => SensitiveNotEquals, Operand::Text(text.into());
        /// Confidential text: STARTS WITH ANY OF.
        starts_with_any_of(items: impl IntoIterator<Item = impl Into<String>>) => SensitiveStartsWithAnyOf, list(items);
        /// Confidential text: NOT STARTS WITH ANY OF.
        not_starts_with_any_of(items: impl IntoIterator<Item = impl Into<String>>) => SensitiveNotStartsWithAnyOf, list(items);
        /// Confidential text: ENDS WITH ANY OF.
        ends_with_any_of(items: impl IntoIterator<Item = impl Into<String>>) => SensitiveEndsWithAnyOf, list(items);
        /// Confidential text: NOT ENDS WITH ANY OF.
        not_ends_with_any_of(items: impl IntoIterator<Item = impl Into<String>>) => SensitiveNotEndsWithAnyOf, list(items);
        /// Confidential array: ARRAY CONTAINS ANY OF.
        array_contains_any_of(items: impl IntoIterator<Item = impl Into<String>>) => SensitiveArrayContainsAnyOf, list(items);
        /// Confidential array: ARRAY NOT CONTAINS ANY OF.
        array_not_contains_any_of(items: impl IntoIterator<Item = impl Into<String>>) => SensitiveArrayNotContainsAnyOf, list(items);
    }
}

impl Check {
    /// This condition and `more`.
    #[must_use]
    pub fn and(self, more: impl Into<Conditions>) -> Conditions {
        Conditions::from(self).and(more)
    }

    /// A rule serving `value` when this condition holds.
    pub fn then(self, value: impl Into<Value>) -> Rule {
        Conditions::from(self).then(value)
    }

    /// A rule serving percentage options (`(percent, value)` pairs) when this condition holds.
    pub fn then_percentage_options<V: Into<Value>>(
        self,
        options: impl IntoIterator<Item = (i64, V)>,
    ) -> Rule {
        Conditions::from(self).then_percentage_options(options)
    }

    /// The comparator this check uses (its wire code is what the JSON carries).
    pub fn comparator(&self) -> Comparator {
        self.comparator
    }

    /// The user condition (`u`); `context` is the flag key or segment name that salts hashes.
    fn to_json(&self, salt: &str, context: &str) -> Json {
        let mut condition = json!({ "a": self.attribute, "c": code(self.comparator) });
        let hashed = self.comparator.is_sensitive();
        let affixes = matches!(
            self.comparator,
            Comparator::SensitiveStartsWithAnyOf
                | Comparator::SensitiveNotStartsWithAnyOf
                | Comparator::SensitiveEndsWithAnyOf
                | Comparator::SensitiveNotEndsWithAnyOf
        );
        let hash = |text: &str| {
            let digest = salted_sha256(text, salt, context);
            if affixes {
                format!("{}_{digest}", text.len())
            } else {
                digest
            }
        };
        match &self.operand {
            Operand::Text(text) if hashed => condition["s"] = json!(hash(text)),
            Operand::Text(text) => condition["s"] = json!(text),
            Operand::List(items) if hashed => {
                condition["l"] = json!(items.iter().map(|i| hash(i)).collect::<Vec<_>>());
            }
            Operand::List(items) => condition["l"] = json!(items),
            Operand::Number(number) => condition["d"] = json!(number),
        }
        condition
    }
}

/// The wire code of a comparator: the inverse of [`Comparator::from_code`].
fn code(comparator: Comparator) -> i64 {
    (0..=35)
        .find(|c| Comparator::from_code(*c) == Some(comparator))
        .unwrap_or(-1)
}

/// The lower-case hex SHA-256 of `text ++ config salt ++ context salt` (spec §2.4).
fn salted_sha256(text: &str, salt: &str, context: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(text.as_bytes());
    hasher.update(salt.as_bytes());
    hasher.update(context.as_bytes());
    super::hex(&hasher.finalize())
}

fn unix_seconds(time: SystemTime) -> f64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

fn value_json(value: &Value) -> Json {
    match value {
        Value::Bool(b) => json!({ "b": b }),
        Value::String(s) => json!({ "s": &**s }),
        Value::Int(i) => json!({ "i": i }),
        Value::Double(d) => json!({ "d": d }),
    }
}

fn options_json(key: &str, options: &[(i64, Value)]) -> Json {
    options
        .iter()
        .map(|(percentage, value)| {
            json!({ "p": percentage, "v": value_json(value), "i": variation_id(key, value) })
        })
        .collect()
}

/// The variation id of a value: `<key>:<value>`, one per value of a flag, as the dashboard
/// gives one id to each value.
fn variation_id(key: &str, value: &Value) -> String {
    format!("{key}:{value}")
}
