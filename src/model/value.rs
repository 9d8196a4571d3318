//! Setting types and values.

use std::fmt;
use std::sync::Arc;

use crate::text::write_js_number;

/// The type of a setting, as the `t` field of config_v6 encodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SettingType {
    /// `0`: on/off feature flag.
    Bool,
    /// `1`: text setting.
    String,
    /// `2`: whole number setting.
    Int,
    /// `3`: decimal number setting.
    Double,
}

impl SettingType {
    /// Maps the wire code (`0..=3`) to a type; any other code is unknown.
    pub fn from_code(code: i64) -> Option<SettingType> {
        match code {
            0 => Some(SettingType::Bool),
            1 => Some(SettingType::String),
            2 => Some(SettingType::Int),
            3 => Some(SettingType::Double),
            _ => None,
        }
    }

    /// The name used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            SettingType::Bool => "Boolean",
            SettingType::String => "String",
            SettingType::Int => "Int",
            SettingType::Double => "Double",
        }
    }
}

impl fmt::Display for SettingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A setting value: what a flag evaluates to.
///
/// Text is held in an `Arc<str>` so that returning a value from a shared config is a
/// reference-count increment, not a copy.
///
/// ```
/// use configcat_actix::Value;
/// assert_eq!(Value::from(true).to_string(), "true");
/// assert_eq!(Value::from(1e21).to_string(), "1e+21");
/// assert_eq!(Value::from("text").as_str(), Some("text"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A boolean (setting type 0).
    Bool(bool),
    /// A text (setting type 1).
    String(Arc<str>),
    /// A whole number (setting type 2).
    Int(i64),
    /// A decimal number (setting type 3).
    Double(f64),
}

impl Value {
    /// The setting type this value belongs to.
    pub fn setting_type(&self) -> SettingType {
        match self {
            Value::Bool(_) => SettingType::Bool,
            Value::String(_) => SettingType::String,
            Value::Int(_) => SettingType::Int,
            Value::Double(_) => SettingType::Double,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The text, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The whole number, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The number as a float, for both whole and decimal settings.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Double(d) => Some(*d),
            _ => None,
        }
    }
}

/// Renders the value as the official SDKs do in logs: `true`/`false`, raw text, and numbers in
/// JavaScript's `Number.prototype.toString` format.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::String(s) => f.write_str(s),
            Value::Int(i) => write!(f, "{i}"),
            Value::Double(d) => write_js_number(f, *d),
        }
    }
}

/// A value serialises as the JSON value it is: `true`, `"text"`, `42`, `1.5`. It reads back
/// the same way: a JSON integer is an [`Value::Int`], any other number a [`Value::Double`] (so
/// a whole `Double` such as `2.0` round-trips, as serde_json writes it `2.0`). A non-finite
/// `Double` writes `null`, as JavaScript's `JSON.stringify` does, and `null` does not read back.
///
/// ```
/// use configcat_actix::Value;
/// let values = [Value::from(true), Value::from("on"), Value::from(7), Value::from(2.0)];
/// let json = serde_json::to_string(&values)?;
/// assert_eq!(json, r#"[true,"on",7,2.0]"#);
/// assert_eq!(serde_json::from_str::<Vec<Value>>(&json)?, values);
/// # Ok::<(), serde_json::Error>(())
/// ```
impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::String(s) => serializer.serialize_str(s),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::Double(d) if d.is_finite() => serializer.serialize_f64(*d),
            Value::Double(_) => serializer.serialize_unit(),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean, a string or a number")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
                Ok(Value::Bool(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Value, E> {
                Ok(Value::from(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
                Ok(Value::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
                // Above i64::MAX no setting can hold it as a whole number.
                i64::try_from(v).map(Value::Int).map_err(|_| {
                    E::custom(format_args!("{v} is out of the range of an Int setting"))
                })
            }
            fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
                Ok(Value::Double(v))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.into())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v.into())
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v.into())
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Double(v)
    }
}
