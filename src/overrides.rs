//! Flag overrides: local flag values from a map or a JSON file, served alone or merged with the
//! downloaded config (spec §6.4).
//!
//! A [`FlagOverrides`] is a source of local settings and an [`OverrideBehaviour`] that says how
//! they combine with the downloaded ones; [`merge`] does the combining, whole setting per key.
//!
//! ```
//! use configcat_actix::{Config, NoLog, eval};
//! use configcat_actix::overrides::{FlagOverrides, OverrideBehaviour, merge};
//! let remote = Config::parse(r#"{"f":{"isAwesome":{"t":0,"v":{"b":false}},
//!     "greeting":{"t":1,"v":{"s":"hello"}}}}"#)?;
//! let overrides = FlagOverrides::from_map([("isAwesome", true)], OverrideBehaviour::LocalOverRemote);
//! let config = merge(Some(&remote), &overrides.load()?, overrides.behaviour());
//! assert!(eval::evaluate_value(&config, "isAwesome", false, None, &NoLog));
//! assert_eq!(eval::evaluate_value(&config, "greeting", String::new(), None, &NoLog), "hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use crate::local_file::{self, Links};
use crate::log::event;
use crate::model::{Config, Setting, Settings, Value};

/// How local values combine with downloaded ones.
///
/// ```
/// use configcat_actix::overrides::{FlagOverrides, OverrideBehaviour};
/// let overrides = FlagOverrides::from_map([("isAwesome", true)], OverrideBehaviour::LocalOnly);
/// assert_eq!(overrides.behaviour(), OverrideBehaviour::LocalOnly);
/// ```
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
/// A map becomes settings of the values' types, with no rules. A file is read by
/// [`load`](FlagOverrides::load) and re-read by [`reload_if_changed`](FlagOverrides::reload_if_changed)
/// when it changes. A clone observes the file on its own: a change seen through one clone is
/// still reported by the others.
///
/// ```
/// use configcat_actix::overrides::{FlagOverrides, OverrideBehaviour};
/// let overrides = FlagOverrides::from_map([("isAwesome", true)], OverrideBehaviour::LocalOnly);
/// let config = overrides.load()?;
/// assert!(config.settings().contains_key("isAwesome"));
/// # Ok::<(), configcat_actix::overrides::OverrideError>(())
/// ```
pub struct FlagOverrides {
    source: Source,
    behaviour: OverrideBehaviour,
}

enum Source {
    /// The config built from the map, once.
    Map(Config),
    File {
        path: PathBuf,
        /// What the file looked like when last observed: to notice changes cheaply.
        seen: Mutex<Option<FileStamp>>,
    },
}

/// The metadata that tells whether a file changed: missing, or present with a modification
/// time, a length and (on Unix) an inode, which changes when an editor replaces the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileStamp {
    Missing,
    Present {
        modified: Option<SystemTime>,
        len: u64,
        inode: u64,
    },
}

impl FileStamp {
    /// One metadata call.
    fn of(path: &Path) -> FileStamp {
        match std::fs::metadata(path) {
            Ok(meta) => FileStamp::Present {
                modified: meta.modified().ok(),
                len: meta.len(),
                inode: inode(&meta),
            },
            Err(_) => FileStamp::Missing,
        }
    }
}

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}

impl Clone for FlagOverrides {
    fn clone(&self) -> FlagOverrides {
        let source = match &self.source {
            Source::Map(config) => Source::Map(config.clone()),
            Source::File { path, seen } => Source::File {
                path: path.clone(),
                seen: Mutex::new(*seen.lock().unwrap_or_else(PoisonError::into_inner)),
            },
        };
        FlagOverrides {
            source,
            behaviour: self.behaviour,
        }
    }
}

impl fmt::Debug for FlagOverrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("FlagOverrides");
        match &self.source {
            Source::Map(config) => {
                let mut keys: Vec<&str> =
                    config.settings().keys().map(|key| key.as_str()).collect();
                keys.sort();
                out.field("map", &keys)
            }
            Source::File { path, .. } => out.field("file", path),
        };
        out.field("behaviour", &self.behaviour).finish()
    }
}

impl FlagOverrides {
    /// Local values from a map: each becomes a setting of the value's type (bool, string,
    /// integer or decimal), with no rules.
    ///
    /// ```
    /// use configcat_actix::{NoLog, eval};
    /// use configcat_actix::overrides::{FlagOverrides, OverrideBehaviour};
    /// let overrides = FlagOverrides::from_map(
    ///     [("enabled", configcat_actix::Value::from(true)), ("limit", 10.into())],
    ///     OverrideBehaviour::LocalOnly,
    /// );
    /// let config = overrides.load()?;
    /// assert_eq!(eval::evaluate_value(&config, "limit", 0_i64, None, &NoLog), 10);
    /// # Ok::<(), configcat_actix::overrides::OverrideError>(())
    /// ```
    pub fn from_map<K: Into<String>, V: Into<Value>>(
        values: impl IntoIterator<Item = (K, V)>,
        behaviour: OverrideBehaviour,
    ) -> FlagOverrides {
        let config = config_from_values(values.into_iter().map(|(k, v)| (k.into(), v.into())));
        FlagOverrides {
            source: Source::Map(config),
            behaviour,
        }
    }

    /// Local settings from a parsed config (rules, segments and prerequisites included), for
    /// the test kit.
    #[cfg(feature = "testing")]
    pub(crate) fn from_config(config: Config, behaviour: OverrideBehaviour) -> FlagOverrides {
        FlagOverrides {
            source: Source::Map(config),
            behaviour,
        }
    }

    /// Local values from a JSON file: a full config_v6 document (`p`, `s`, `f`: rules,
    /// segments, prerequisites and the salt work as usual) or the simplified
    /// `{"flags": {"key": value}}` form. Nothing is read until [`load`](FlagOverrides::load).
    ///
    /// ```
    /// use configcat_actix::overrides::{FlagOverrides, OverrideBehaviour};
    /// let overrides = FlagOverrides::from_file("flags.json", OverrideBehaviour::LocalOverRemote);
    /// assert!(overrides.is_file());
    /// ```
    pub fn from_file(path: impl Into<PathBuf>, behaviour: OverrideBehaviour) -> FlagOverrides {
        FlagOverrides {
            source: Source::File {
                path: path.into(),
                seen: Mutex::new(None),
            },
            behaviour,
        }
    }

    /// How the local values combine with downloaded ones.
    ///
    /// ```
    /// use configcat_actix::overrides::{FlagOverrides, OverrideBehaviour};
    /// let overrides = FlagOverrides::from_file("flags.json", OverrideBehaviour::RemoteOverLocal);
    /// assert_eq!(overrides.behaviour(), OverrideBehaviour::RemoteOverLocal);
    /// ```
    pub fn behaviour(&self) -> OverrideBehaviour {
        self.behaviour
    }

    /// Whether the values come from a file (which may change) rather than a map.
    ///
    /// ```
    /// use configcat_actix::overrides::{FlagOverrides, OverrideBehaviour};
    /// assert!(!FlagOverrides::from_map([("a", 1)], OverrideBehaviour::LocalOnly).is_file());
    /// ```
    pub fn is_file(&self) -> bool {
        matches!(self.source, Source::File { .. })
    }

    /// The local settings as a config. For a file, reads and parses it (either format) and
    /// remembers what the file looked like, for [`reload_if_changed`](FlagOverrides::reload_if_changed);
    /// for a map, a copy of the config built from it.
    ///
    /// Only a regular file is read (a symbolic link to one is followed), up to 16 MiB + 64 KiB;
    /// a FIFO or a device is refused at once, never waited on.
    ///
    /// # Errors
    /// For a file: [`OverrideError::FileNotFound`] when it does not exist,
    /// [`OverrideError::ReadFailed`] when it cannot be read (or is not a regular file, or is
    /// larger than the bound), [`OverrideError::Invalid`] when it is neither format.
    ///
    /// ```
    /// use configcat_actix::{NoLog, eval};
    /// use configcat_actix::overrides::{FlagOverrides, OverrideBehaviour};
    /// let path = std::env::temp_dir().join(format!("configcat-doc-load-{}.json", std::process::id()));
    /// std::fs::write(&path, r#"{"flags": {"isAwesome": true, "limit": 5, "ratio": 0.5}}"#)?;
    /// let config = FlagOverrides::from_file(&path, OverrideBehaviour::LocalOnly).load()?;
    /// std::fs::remove_file(&path)?;
    /// assert!(eval::evaluate_value(&config, "isAwesome", false, None, &NoLog));
    /// assert_eq!(eval::evaluate_value(&config, "ratio", 0.0, None, &NoLog), 0.5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load(&self) -> Result<Config, OverrideError> {
        match &self.source {
            Source::Map(config) => Ok(config.clone()),
            Source::File { path, seen } => {
                // Observed before reading: a change during the read is seen by the next check.
                *seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(FileStamp::of(path));
                read_file(path)
            }
        }
    }

    /// For a file that changed since it was last observed (by this method or
    /// [`load`](FlagOverrides::load)): the new local config, or why it cannot be read. A change
    /// is a different modification time, length or (on Unix) inode, or the file appearing or
    /// disappearing; the first call without a previous `load` always reads.
    /// `None` when nothing changed, and always for a map. Costs one metadata call when nothing
    /// changed.
    ///
    /// ```
    /// use configcat_actix::overrides::{FlagOverrides, OverrideBehaviour, OverrideError};
    /// let path = std::env::temp_dir().join(format!("configcat-doc-reload-{}.json", std::process::id()));
    /// std::fs::write(&path, r#"{"flags": {"limit": 5}}"#)?;
    /// let overrides = FlagOverrides::from_file(&path, OverrideBehaviour::LocalOnly);
    /// overrides.load()?;
    /// assert!(overrides.reload_if_changed().is_none());
    /// std::fs::write(&path, r#"{"flags": {"limit": 500}}"#)?;
    /// let config = overrides.reload_if_changed().expect("changed")?;
    /// assert_eq!(config.settings()["limit"].default_value().unwrap().as_int(), Some(500));
    /// std::fs::remove_file(&path)?;
    /// assert!(matches!(overrides.reload_if_changed(), Some(Err(OverrideError::FileNotFound { .. }))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reload_if_changed(&self) -> Option<Result<Config, OverrideError>> {
        let Source::File { path, seen } = &self.source else {
            return None;
        };
        let now = FileStamp::of(path);
        {
            let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
            if *seen == Some(now) {
                return None;
            }
            *seen = Some(now);
        }
        Some(read_file(path))
    }
}

fn read_file(path: &Path) -> Result<Config, OverrideError> {
    // A regular file only (a link to one is followed), bounded as a downloaded config is, and
    // never waited on: a FIFO or a device there is an error at once.
    let text = local_file::read_text(path, Links::Follow, local_file::MAX_FILE_BYTES).map_err(
        |error| match error.kind() {
            std::io::ErrorKind::NotFound => OverrideError::FileNotFound {
                path: path.to_owned(),
            },
            _ => OverrideError::ReadFailed {
                path: path.to_owned(),
                reason: error.to_string(),
            },
        },
    )?;
    parse_overrides(&text).map_err(|reason| OverrideError::Invalid {
        path: path.to_owned(),
        reason,
    })
}

/// Reads either override file format: an object with `flags` (and no `f`) is the simplified
/// one; anything else is parsed as a config_v6 document, whose errors name the path, line and
/// column.
fn parse_overrides(text: &str) -> Result<Config, String> {
    let simplified = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(mut root)) if !root.contains_key("f") => root.remove("flags"),
        Ok(_) => None,
        Err(error) => {
            // Not JSON to serde_json: the config parser's error names the path, so it goes
            // first. But that parser skips unknown fields without reading them closely, and a
            // document it accepts here (nested too deeply or with a number out of range where
            // no config field is, such as in `flags`) must not pass for a config without
            // settings.
            Config::parse(text).map_err(|e| e.to_string())?;
            return Err(error.to_string());
        }
    };
    let Some(flags) = simplified else {
        return Config::parse(text).map_err(|e| e.to_string());
    };
    let serde_json::Value::Object(flags) = flags else {
        return Err(format!("`flags` must be an object, found {flags}"));
    };
    let values = flags
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                serde_json::Value::Bool(b) => Value::Bool(b),
                serde_json::Value::String(s) => Value::from(s),
                serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                    (Some(whole), _) => Value::Int(whole),
                    (None, Some(decimal)) if n.is_f64() => Value::Double(decimal),
                    _ => {
                        return Err(format!(
                            "flag '{key}': the whole number {n} does not fit in 64 bits"
                        ));
                    }
                },
                other => {
                    return Err(format!(
                        "flag '{key}' has an unsupported value: {other} (expected a boolean, a string or a number)"
                    ));
                }
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
            .map(|(key, value)| (key, Setting::from_value(value))),
    )
}

/// Why local flag values could not be loaded.
///
/// ```
/// use configcat_actix::overrides::{FlagOverrides, OverrideBehaviour, OverrideError};
/// let overrides = FlagOverrides::from_file("/no/such/flags.json", OverrideBehaviour::LocalOnly);
/// let error = overrides.load().unwrap_err();
/// assert!(matches!(error, OverrideError::FileNotFound { .. }));
/// assert_eq!(error.event_id(), 1300);
/// assert!(error.to_string().starts_with("Cannot find the local config file '/no/such/flags.json'."));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OverrideError {
    /// The file does not exist (event 1300).
    FileNotFound {
        /// The file.
        path: PathBuf,
    },
    /// The file could not be read, e.g. it is a directory or not UTF-8 (event 1302).
    ReadFailed {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// The file is neither override format (event 1302).
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl OverrideError {
    /// The ConfigCat event id this error is logged with: 1300 for a missing file, 1302
    /// otherwise.
    ///
    /// ```
    /// use configcat_actix::overrides::OverrideError;
    /// let error = OverrideError::Invalid { path: "flags.json".into(), reason: "not JSON".into() };
    /// assert_eq!(error.event_id(), 1302);
    /// assert_eq!(error.to_string(), "Failed to read the local config file 'flags.json'. (not JSON)");
    /// ```
    pub fn event_id(&self) -> u32 {
        match self {
            OverrideError::FileNotFound { .. } => event::OVERRIDE_FILE_NOT_FOUND,
            OverrideError::ReadFailed { .. } | OverrideError::Invalid { .. } => {
                event::OVERRIDE_FILE_INVALID
            }
        }
    }

    /// The file the error is about.
    ///
    /// ```
    /// use configcat_actix::overrides::OverrideError;
    /// let error = OverrideError::FileNotFound { path: "flags.json".into() };
    /// assert_eq!(error.path(), std::path::Path::new("flags.json"));
    /// ```
    pub fn path(&self) -> &Path {
        match self {
            OverrideError::FileNotFound { path }
            | OverrideError::ReadFailed { path, .. }
            | OverrideError::Invalid { path, .. } => path,
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
            | OverrideError::Invalid { path, reason } => write!(
                f,
                "Failed to read the local config file '{}'. ({reason})",
                path.display()
            ),
        }
    }
}

impl std::error::Error for OverrideError {}

/// Merges local settings with remote ones as `behaviour` says, whole setting per key:
/// `LocalOnly` gives the local settings alone; `LocalOverRemote` the remote ones with the local
/// ones replacing same keys; `RemoteOverLocal` the local ones with the remote ones replacing
/// same keys. Each setting keeps the salt and segments of the config it came from; prerequisite
/// flags are looked up in the merged settings. The preferences (redirect URL and mode) are the
/// remote ones when there is a remote config, else the local ones.
///
/// ```
/// use configcat_actix::Config;
/// use configcat_actix::overrides::{OverrideBehaviour, merge};
/// let remote = Config::parse(r#"{"f":{"a":{"t":1,"v":{"s":"remote"}},"b":{"t":1,"v":{"s":"remote"}}}}"#)?;
/// let local = Config::parse(r#"{"f":{"b":{"t":1,"v":{"s":"local"}}}}"#)?;
/// let merged = merge(Some(&remote), &local, OverrideBehaviour::LocalOverRemote);
/// assert_eq!(merged.settings()["b"].default_value().unwrap().as_str(), Some("local"));
/// assert_eq!(merged.settings()["a"].default_value().unwrap().as_str(), Some("remote"));
/// let merged = merge(Some(&remote), &local, OverrideBehaviour::RemoteOverLocal);
/// assert_eq!(merged.settings()["b"].default_value().unwrap().as_str(), Some("remote"));
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
    let mut settings = Settings::with_capacity(base.settings().len() + winner.settings().len());
    for (key, setting) in base.settings().iter().chain(winner.settings()) {
        settings.insert(key.clone(), setting.clone());
    }
    Config::with_preferences(remote.preferences().clone(), settings)
}

/// Two sources are the same when they serve the same flags: the same file, or maps that give
/// every key the same setting (for the one-client-per-key rule, warning 3000).
impl PartialEq for FlagOverrides {
    fn eq(&self, other: &FlagOverrides) -> bool {
        if self.behaviour != other.behaviour {
            return false;
        }
        match (&self.source, &other.source) {
            (Source::File { path: a, .. }, Source::File { path: b, .. }) => a == b,
            (Source::Map(a), Source::Map(b)) => {
                a.settings().len() == b.settings().len()
                    && a.settings()
                        .iter()
                        .all(|(key, setting)| b.settings().get(key) == Some(setting))
            }
            _ => false,
        }
    }
}
