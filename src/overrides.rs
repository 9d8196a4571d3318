//! Flag overrides: local flag values from a map or a JSON file, served alone or merged with the
//! downloaded config (spec §6.4).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::model::{Config, Setting, Value};

/// How local values combine with downloaded ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OverrideBehaviour {
    /// Only the local values; nothing is downloaded and the SDK key is not checked.
    LocalOnly,
    /// Both; a key defined locally uses the local setting.
    LocalOverRemote,
    /// Both; a key defined remotely uses the remote setting.
    RemoteOverLocal,
}

/// Local flag values, from a map or a JSON file.
///
/// ```
/// use configcat_actix::overrides::{FlagOverrides, OverrideBehaviour};
/// let overrides = FlagOverrides::from_map([("isAwesome", true)], OverrideBehaviour::LocalOnly);
/// let config = overrides.load()?;
/// assert!(config.settings().contains_key("isAwesome"));
/// # Ok::<(), configcat_actix::overrides::OverrideError>(())
/// ```
#[derive(Clone)]
pub struct FlagOverrides {
    source: Source,
    behaviour: OverrideBehaviour,
}

#[derive(Clone)]
enum Source {
    Map(Arc<HashMap<String, Value>>),
    File {
        path: PathBuf,
        /// What the file looked like when last read: to notice changes cheaply.
        seen: Arc<Mutex<Option<FileStamp>>>,
    },
}

/// The metadata that tells whether a file changed: missing, or modified at a time with a size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileStamp {
    Missing,
    Present(Option<SystemTime>, u64),
}

impl fmt::Debug for FlagOverrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("FlagOverrides");
        match &self.source {
            Source::Map(values) => {
                let mut keys: Vec<&String> = values.keys().collect();
                keys.sort();
                out.field("map", &keys)
            }
            Source::File { path, .. } => out.field("file", path),
        };
        out.field("behaviour", &self.behaviour).finish()
    }
}

impl FlagOverrides {
    /// Local values from a map: each becomes a setting of the value's type, with no rules.
    pub fn from_map<K: Into<String>, V: Into<Value>>(
        values: impl IntoIterator<Item = (K, V)>,
        behaviour: OverrideBehaviour,
    ) -> FlagOverrides {
        let values = values
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        FlagOverrides {
            source: Source::Map(Arc::new(values)),
            behaviour,
        }
    }

    /// Local values from a JSON file: a full config_v6 document (rules, segments and
    /// prerequisites work as usual) or the simplified `{"flags": {"key": value}}` form. The
    /// client re-reads the file when it changes.
    pub fn from_file(path: impl Into<PathBuf>, behaviour: OverrideBehaviour) -> FlagOverrides {
        FlagOverrides {
            source: Source::File {
                path: path.into(),
                seen: Arc::new(Mutex::new(None)),
            },
            behaviour,
        }
    }

    /// How the local values combine with downloaded ones.
    pub fn behaviour(&self) -> OverrideBehaviour {
        self.behaviour
    }

    /// Whether the values come from a file.
    pub fn is_file(&self) -> bool {
        matches!(self.source, Source::File { .. })
    }

    /// The local settings as a config.
    ///
    /// # Errors
    /// For a file: [`OverrideError`] when it is missing, unreadable or not a config.
    pub fn load(&self) -> Result<Config, OverrideError> {
        match &self.source {
            Source::Map(values) => Ok(config_from_values(
                values.iter().map(|(k, v)| (k.clone(), v.clone())),
            )),
            Source::File { path, seen } => {
                let stamp = stamp(path);
                if let Ok(mut seen) = seen.lock() {
                    *seen = Some(stamp);
                }
                read_file(path)
            }
        }
    }

    /// For a file that changed since it was last read: the new local config, or why it cannot
    /// be read. `None` when nothing changed, and always for a map. Costs one metadata call.
    pub fn reload_if_changed(&self) -> Option<Result<Config, OverrideError>> {
        let Source::File { path, seen } = &self.source else {
            return None;
        };
        let now = stamp(path);
        {
            let mut seen = seen.lock().ok()?;
            if *seen == Some(now) {
                return None;
            }
            *seen = Some(now);
        }
        Some(read_file(path))
    }
}

fn stamp(path: &Path) -> FileStamp {
    match std::fs::metadata(path) {
        Ok(meta) => FileStamp::Present(meta.modified().ok(), meta.len()),
        Err(_) => FileStamp::Missing,
    }
}

fn read_file(path: &Path) -> Result<Config, OverrideError> {
    let text = std::fs::read_to_string(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => OverrideError::FileNotFound {
            path: path.to_owned(),
        },
        _ => OverrideError::ReadFailed {
            path: path.to_owned(),
            reason: error.to_string(),
        },
    })?;
    parse_overrides(&text).map_err(|reason| OverrideError::Invalid {
        path: path.to_owned(),
        reason,
    })
}

/// Reads either override file format.
fn parse_overrides(text: &str) -> Result<Config, String> {
    #[derive(serde::Deserialize)]
    struct Simplified {
        flags: HashMap<String, serde_json::Value>,
    }
    let looks_simplified = serde_json::from_str::<serde_json::Value>(text)
        .map_err(|e| e.to_string())?
        .get("flags")
        .is_some();
    if !looks_simplified {
        return Config::parse(text).map_err(|e| e.to_string());
    }
    let simplified: Simplified = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let values = simplified
        .flags
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                serde_json::Value::Bool(b) => Value::Bool(b),
                serde_json::Value::String(s) => Value::from(s),
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(i) => Value::Int(i),
                    None => Value::Double(n.as_f64().unwrap_or(f64::NAN)),
                },
                other => return Err(format!("flag '{key}' has an unsupported value: {other}")),
            };
            Ok((key, value))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(config_from_values(values))
}

fn config_from_values(values: impl IntoIterator<Item = (String, Value)>) -> Config {
    Config::from_settings(
        values
            .into_iter()
            .map(|(key, value)| (key, Setting::from_value(value)))
            .collect(),
    )
}

/// Why local flag values could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverrideError {
    /// The file does not exist (event 1300).
    FileNotFound {
        /// The file.
        path: PathBuf,
    },
    /// The file could not be read (event 1302).
    ReadFailed {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// The file is not an override document (event 1302).
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl OverrideError {
    /// The ConfigCat event id this error is logged with.
    pub fn event_id(&self) -> u32 {
        match self {
            OverrideError::FileNotFound { .. } => 1300,
            _ => 1302,
        }
    }
}

impl fmt::Display for OverrideError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OverrideError::FileNotFound { path } => write!(
                f,
                "Cannot find the local config file '{}'. This is a path that your application provided to the ConfigCat SDK by passing it to `FlagOverrides::from_file()`. Read more: https://configcat.com/docs/sdk-reference/rust/#json-file",
                path.display()
            ),
            OverrideError::ReadFailed { path, reason }
            | OverrideError::Invalid { path, reason } => {
                write!(
                    f,
                    "Failed to read the local config file '{}'. ({reason})",
                    path.display()
                )
            }
        }
    }
}

impl std::error::Error for OverrideError {}

/// Merges local settings with remote ones, whole setting per key, as `behaviour` says. Each
/// setting keeps the salt and segments of the config it came from.
///
/// ```
/// use configcat_actix::Config;
/// use configcat_actix::overrides::{OverrideBehaviour, merge};
/// let remote = Config::parse(r#"{"f":{"a":{"t":1,"v":{"s":"remote"}},"b":{"t":1,"v":{"s":"remote"}}}}"#)?;
/// let local = Config::parse(r#"{"f":{"b":{"t":1,"v":{"s":"local"}}}}"#)?;
/// let merged = merge(Some(&remote), &local, OverrideBehaviour::LocalOverRemote);
/// assert_eq!(merged.settings()["b"].default_value().unwrap().as_str(), Some("local"));
/// assert_eq!(merged.settings()["a"].default_value().unwrap().as_str(), Some("remote"));
/// # Ok::<(), configcat_actix::ParseError>(())
/// ```
pub fn merge(remote: Option<&Config>, local: &Config, behaviour: OverrideBehaviour) -> Config {
    let Some(remote) = remote else {
        return local.clone();
    };
    let (base, winner) = match behaviour {
        OverrideBehaviour::LocalOnly => return local.clone(),
        OverrideBehaviour::LocalOverRemote => (remote, local),
        OverrideBehaviour::RemoteOverLocal => (local, remote),
    };
    let mut settings = base.settings().clone();
    settings.extend(
        winner
            .settings()
            .iter()
            .map(|(k, s)| (k.clone(), s.clone())),
    );
    Config::with_preferences(remote.preferences().clone(), settings)
}
