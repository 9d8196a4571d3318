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
