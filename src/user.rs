//! The user object: who a flag is evaluated for.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use smol_str::SmolStr;

use crate::text;

/// The user a flag is evaluated for, with the attributes targeting rules compare.
///
/// `Identifier`, `Email` and `Country` are the well-known attributes; anything else is a custom
/// attribute. Attribute names are case-sensitive.
///
/// ```
/// use configcat_actix::User;
/// let user = User::new("user-42")
///     .email("a@example.com")
///     .country("Hungary")
///     .custom("Plan", "enterprise")
///     .custom("Seats", 25)
///     .custom("Roles", vec!["admin", "billing"]);
/// assert_eq!(user.identifier(), "user-42");
/// ```
///
/// Cloning a `User` is cheap (it shares its attributes): a message such as
/// [`GetValue`](crate::GetValue) owns its user, so one user is typically cloned into each.
/// The builder methods copy the attributes only when the user is shared.
#[derive(Clone, PartialEq, Default)]
pub struct User(Arc<Attributes>);

/// A user's attributes, behind the `Arc` of [`User`]. The evaluator holds this, not the
/// `User`, so that each attribute lookup of a rule is one pointer away, not two.
///
/// Each attribute carries its [`Forms`]: the attributes never change once the `Arc` is shared,
/// so what a comparator converts them to is computed once per user and reused by every
/// condition and every flag evaluated for it.
#[derive(Clone, PartialEq, Default)]
pub(crate) struct Attributes {
    identifier: String,
    email: Option<String>,
    country: Option<String>,
    identifier_forms: Forms,
    email_forms: Forms,
    country_forms: Forms,
    /// A short list beats a map here: users carry a handful of attributes, and a linear scan
    /// over them is faster than hashing the name.
    /// Names inline up to 23 bytes: a condition's lookup compares them without another read.
    custom: Vec<(SmolStr, UserValue, Forms)>,
}

/// The forms of one attribute value that comparators read, each computed at most once, on
/// first use, and then read without a lock (a `OnceLock` read is one atomic load).
///
/// Only forms that cost something are kept: a number or a date-time value is its own number,
/// a list or a version value its own list or version; text is parsed once per form.
#[derive(Default)]
pub(crate) struct Forms {
    /// The text parsed as a number (number and date comparators).
    pub(crate) number: OnceLock<Option<f64>>,
    /// The trimmed text parsed as a semantic version.
    pub(crate) semver: OnceLock<Option<semver::Version>>,
    /// The text parsed as a JSON array of strings.
    pub(crate) list: OnceLock<Option<Box<[String]>>>,
    /// The canonical text of a value that is not text (text comparators, percentage hash).
    pub(crate) text: OnceLock<Box<str>>,
}

/// A copy is only ever made to be changed (`Arc::make_mut`), so it starts with no forms
/// rather than copying ones that may be about to go stale.
impl Clone for Forms {
    fn clone(&self) -> Self {
        Forms::default()
    }
}

/// Forms are derived from the value: two users are equal when their values are.
impl PartialEq for Forms {
    fn eq(&self, _: &Forms) -> bool {
        true
    }
}

/// The value of a custom user attribute.
///
/// Comparators convert it as the official SDKs do: text comparators use its canonical text
/// (numbers in JavaScript format, date-times as Unix seconds, lists as compact JSON), number
/// and date comparators parse text, and list comparators accept JSON array text.
#[derive(Debug, Clone, PartialEq)]
pub enum UserValue {
    /// Text.
    String(String),
    /// A whole number.
    Int(i64),
    /// A decimal number.
    Float(f64),
    /// A point in time, compared as seconds since the Unix epoch.
    DateTime(SystemTime),
    /// A list of texts.
    StringList(Vec<String>),
    /// A semantic version.
    SemVer(semver::Version),
}

/// A borrowed view of an attribute value, well-known or custom. Text is always `Text`, never
/// `Value(UserValue::String)`: the conversions rely on it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AttributeRef<'u> {
    Text(&'u str),
    Value(&'u UserValue),
}

/// An attribute value with its once-computed forms.
#[derive(Clone, Copy)]
pub(crate) struct Attr<'u> {
    pub(crate) value: AttributeRef<'u>,
    pub(crate) forms: &'u Forms,
}

impl fmt::Debug for Attr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &*self.0;
        f.debug_struct("User")
            .field("identifier", &a.identifier)
            .field("email", &a.email)
            .field("country", &a.country)
            .field(
                "custom",
                &a.custom.iter().map(|(n, v, _)| (n, v)).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl User {
    /// A user with this identifier and no other attributes.
    pub fn new(identifier: impl Into<String>) -> User {
        User(Arc::new(Attributes {
            identifier: identifier.into(),
            ..Attributes::default()
        }))
    }

    /// The attributes to change: this user's own, copied first if another clone shares them.
    fn edit(&mut self) -> &mut Attributes {
        Arc::make_mut(&mut self.0)
    }

    /// Sets the `Email` attribute.
    #[must_use]
    pub fn email(mut self, email: impl Into<String>) -> User {
        let a = self.edit();
        a.email = Some(email.into());
        a.email_forms = Forms::default();
        self
    }

    /// Sets the `Country` attribute.
    #[must_use]
    pub fn country(mut self, country: impl Into<String>) -> User {
        let a = self.edit();
        a.country = Some(country.into());
        a.country_forms = Forms::default();
        self
    }

    /// Sets a custom attribute, replacing an earlier value of the same name.
    ///
    /// A custom attribute named `Identifier`, `Email` or `Country` is ignored by evaluation:
    /// those names always mean the well-known attributes.
    #[must_use]
    pub fn custom(mut self, name: impl Into<String>, value: impl Into<UserValue>) -> User {
        let name = SmolStr::from(name.into());
        let value = value.into();
        let custom = &mut self.edit().custom;
        match custom.iter_mut().find(|(n, _, _)| *n == name) {
            Some(slot) => {
                slot.1 = value;
                slot.2 = Forms::default();
            }
            None => custom.push((name, value, Forms::default())),
        }
        self
    }

    /// The `Identifier` attribute.
    pub fn identifier(&self) -> &str {
        &self.0.identifier
    }

    /// The `Email` attribute, if set.
    pub fn get_email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }

    /// The `Country` attribute, if set.
    pub fn get_country(&self) -> Option<&str> {
        self.0.country.as_deref()
    }

    /// A custom attribute, if set.
    pub fn get_custom(&self, name: &str) -> Option<&UserValue> {
        self.0.custom(name)
    }

    /// The custom attributes in the order given, except those named like a well-known one
    /// (which evaluation ignores): for conversions to other user types.
    #[cfg(feature = "openfeature")]
    pub(crate) fn custom_attributes(&self) -> impl Iterator<Item = (&str, &UserValue)> {
        self.0
            .custom
            .iter()
            .filter(|(n, _, _)| !matches!(n.as_str(), "Identifier" | "Email" | "Country"))
            .map(|(n, v, _)| (n.as_str(), v))
    }

    /// The shared attributes, for the evaluator.
    #[inline]
    pub(crate) fn attributes(&self) -> &Attributes {
        &self.0
    }

    /// The user as the evaluation log shows it: a compact JSON object with `Identifier` first,
    /// then `Email` and `Country` when set, then the custom attributes in the order given.
    pub fn to_json(&self) -> String {
        // Written pair by pair: a serde_json map would sort the keys.
        let a = &*self.0;
        let mut pairs: Vec<(&str, serde_json::Value)> =
            vec![("Identifier", a.identifier.as_str().into())];
        if let Some(email) = &a.email {
            pairs.push(("Email", email.as_str().into()));
        }
        if let Some(country) = &a.country {
            pairs.push(("Country", country.as_str().into()));
        }
        for (name, value, _) in &a.custom {
            if !matches!(name.as_str(), "Identifier" | "Email" | "Country") {
                pairs.push((name, value.to_json()));
            }
        }
        let mut json = String::from("{");
        for (i, (name, value)) in pairs.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json.push_str(&serde_json::Value::from(*name).to_string());
            json.push(':');
            json.push_str(&value.to_string());
        }
        json.push('}');
        json
    }
}

impl Attributes {
    fn custom(&self, name: &str) -> Option<&UserValue> {
        self.custom
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, v, _)| v)
    }

    /// Looks an attribute up by the name a condition uses. Always inlined: returned through
    /// the stack, its result costs a store-to-load round trip per condition (the 10-rule flag
    /// took 20 % longer when the compiler chose a call).
    #[inline(always)]
    pub(crate) fn attribute(&self, name: &str) -> Option<Attr<'_>> {
        fn text<'u>(value: &'u str, forms: &'u Forms) -> Attr<'u> {
            Attr {
                value: AttributeRef::Text(value),
                forms,
            }
        }
        match name {
            "Identifier" => Some(text(&self.identifier, &self.identifier_forms)),
            "Email" => self.email.as_deref().map(|e| text(e, &self.email_forms)),
            "Country" => self
                .country
                .as_deref()
                .map(|c| text(c, &self.country_forms)),
            _ => self
                .custom
                .iter()
                .find(|(n, _, _)| n == name)
                .map(|(_, v, forms)| Attr {
                    value: match v {
                        UserValue::String(s) => AttributeRef::Text(s),
                        other => AttributeRef::Value(other),
                    },
                    forms,
                }),
        }
    }
}

/// A value serialises as the evaluation log shows it: text, a number (a non-finite float as
/// `null`), a date-time as ISO-8601 text, a list as an array, a version as its text.
///
/// ```
/// use configcat_actix::UserValue;
/// use std::time::{Duration, UNIX_EPOCH};
/// let date = UserValue::from(UNIX_EPOCH + Duration::from_millis(1_693_497_600_000));
/// assert_eq!(serde_json::to_string(&date)?, r#""2023-08-31T16:00:00.000Z""#);
/// assert_eq!(serde_json::to_string(&UserValue::from(vec!["a", "b"]))?, r#"["a","b"]"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
impl serde::Serialize for UserValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&self.to_json(), serializer)
    }
}

/// A user serialises as the JSON object the evaluation log shows: `Identifier` first, then
/// `Email` and `Country` when set, then the custom attributes in the order given.
///
/// ```
/// use configcat_actix::User;
/// let user = User::new("42").email("a@example.com").custom("Seats", 25);
/// assert_eq!(
///     serde_json::to_string(&user)?,
///     r#"{"Identifier":"42","Email":"a@example.com","Seats":25}"#
/// );
/// assert_eq!(serde_json::to_string(&user)?, user.to_json());
/// # Ok::<(), serde_json::Error>(())
/// ```
impl serde::Serialize for User {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let a = &*self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("Identifier", &a.identifier)?;
        if let Some(email) = &a.email {
            map.serialize_entry("Email", email)?;
        }
        if let Some(country) = &a.country {
            map.serialize_entry("Country", country)?;
        }
        for (name, value, _) in &a.custom {
            if !matches!(name.as_str(), "Identifier" | "Email" | "Country") {
                map.serialize_entry(name, value)?;
            }
        }
        map.end()
    }
}

impl UserValue {
    fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            UserValue::String(s) => J::from(s.as_str()),
            UserValue::Int(i) => J::from(*i),
            // JSON has no NaN or infinity; JavaScript's JSON.stringify writes null for them.
            UserValue::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            UserValue::DateTime(t) => J::from(text::iso8601(text::unix_seconds(*t))),
            UserValue::StringList(items) => J::from(items.clone()),
            UserValue::SemVer(v) => J::from(v.to_string()),
        }
    }
}

impl From<&str> for UserValue {
    fn from(v: &str) -> Self {
        UserValue::String(v.to_owned())
    }
}
impl From<String> for UserValue {
    fn from(v: String) -> Self {
        UserValue::String(v)
    }
}
impl From<&String> for UserValue {
    fn from(v: &String) -> Self {
        UserValue::String(v.clone())
    }
}
macro_rules! int_user_value {
    ($($t:ty),*) => {$(
        impl From<$t> for UserValue {
            fn from(v: $t) -> Self {
                UserValue::Int(v.into())
            }
        }
    )*};
}
int_user_value!(i8, i16, i32, i64, u8, u16, u32);

/// Whole numbers that may not fit an `i64` become an `Int` when they fit and a `Float`
/// otherwise: a `u64` above `i64::MAX` loses its last digits (f64 holds 53 bits), exactly as
/// the number comparators of the other SDKs, which read every number as a double, see it.
///
/// ```
/// use configcat_actix::UserValue;
/// assert_eq!(UserValue::from(25_u64), UserValue::Int(25));
/// assert_eq!(UserValue::from(7_usize), UserValue::Int(7));
/// assert_eq!(UserValue::from(-7_isize), UserValue::Int(-7));
/// assert_eq!(UserValue::from(u64::MAX), UserValue::Float(18446744073709551615.0));
/// assert_eq!(UserValue::from(1.5_f32), UserValue::Float(1.5));
/// ```
macro_rules! wide_int_user_value {
    ($($t:ty),*) => {$(
        impl From<$t> for UserValue {
            fn from(v: $t) -> Self {
                match i64::try_from(v) {
                    Ok(i) => UserValue::Int(i),
                    Err(_) => UserValue::Float(v as f64),
                }
            }
        }
    )*};
}
wide_int_user_value!(u64, usize, isize);
/// `f32` widens to `f64` exactly: `0.1_f32` becomes `0.10000000149011612`, the `f32`'s own
/// value, which is what a number comparator then compares.
impl From<f32> for UserValue {
    fn from(v: f32) -> Self {
        UserValue::Float(v.into())
    }
}
impl From<f64> for UserValue {
    fn from(v: f64) -> Self {
        UserValue::Float(v)
    }
}
impl From<SystemTime> for UserValue {
    fn from(v: SystemTime) -> Self {
        UserValue::DateTime(v)
    }
}
impl From<Vec<String>> for UserValue {
    fn from(v: Vec<String>) -> Self {
        UserValue::StringList(v)
    }
}
impl From<Vec<&str>> for UserValue {
    fn from(v: Vec<&str>) -> Self {
        UserValue::StringList(v.into_iter().map(str::to_owned).collect())
    }
}
impl From<&[&str]> for UserValue {
    fn from(v: &[&str]) -> Self {
        UserValue::StringList(v.iter().map(|s| (*s).to_owned()).collect())
    }
}
impl From<semver::Version> for UserValue {
    fn from(v: semver::Version) -> Self {
        UserValue::SemVer(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_attributes_until_one_is_changed() {
        let user = User::new("user-42")
            .email("a@example.com")
            .custom("Plan", "gold");
        let clone = user.clone();
        assert!(Arc::ptr_eq(&user.0, &clone.0), "a clone copies nothing");
        assert_eq!(clone, user);

        let changed = clone.country("Hungary").custom("Plan", "silver");
        assert!(!Arc::ptr_eq(&user.0, &changed.0));
        assert_eq!(user.get_country(), None, "the original is untouched");
        assert_eq!(user.get_custom("Plan"), Some(&UserValue::from("gold")));
        assert_eq!(changed.get_country(), Some("Hungary"));
        assert_eq!(changed.get_custom("Plan"), Some(&UserValue::from("silver")));
        assert_eq!(changed.get_email(), Some("a@example.com"));
        assert_ne!(changed, user);
    }

    /// A form computed for one value must never answer for another: a changed copy starts
    /// without forms, and replacing an attribute clears its own.
    #[test]
    fn forms_follow_the_value() {
        use crate::eval;
        use crate::log::NoLog;
        use crate::model::Config;
        let config = Config::parse(
            r#"{"f":{"big":{"t":0,"v":{"b":false},"r":[{"c":[{"u":{"a":"N","c":14,"d":10}}],"s":{"v":{"b":true}}}]},
                "admin":{"t":0,"v":{"b":false},"r":[{"c":[{"u":{"a":"Email","c":34,"l":["admin"]}}],"s":{"v":{"b":true}}}]}}}"#,
        )
        .expect("parses");
        let big = |u: &User| eval::evaluate_value(&config, "big", false, Some(u), &NoLog);
        let admin = |u: &User| eval::evaluate_value(&config, "admin", false, Some(u), &NoLog);
        let small = User::new("u").custom("N", "5").email(r#"["admin"]"#);
        assert!(!big(&small));
        assert!(admin(&small));
        let shared = small.clone();
        let large = shared.custom("N", "50").email(r#"["dev"]"#);
        assert!(big(&large), "the copy parsed its own number");
        assert!(!admin(&large), "and its own list");
        assert!(
            !big(&small) && admin(&small),
            "the original keeps its forms"
        );
        let mut edited = User::new("u").custom("N", "5");
        assert!(!big(&edited));
        edited = edited.custom("N", "11");
        assert!(
            big(&edited),
            "replacing the attribute cleared its number form"
        );
    }

    #[test]
    fn debug_shows_the_attributes() {
        let user = User::new("u").email("e@x");
        let shown = format!("{user:?}");
        assert!(
            shown.starts_with(r#"User { identifier: "u", email: Some("e@x"), country: None"#),
            "{shown}"
        );
    }
}
