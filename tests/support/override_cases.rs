//! The official override fixtures of spec §7.3 as cases, shared by `fixtures` (local settings
//! parsed and merged) and `overrides` (the same files through `FlagOverrides`): rust-sdk
//! `prerequisite_flag_overrides` and python-sdk `test_config_salt_segment_override` /
//! rust-sdk `segment_overrides`.

use configcat_actix::overrides::OverrideBehaviour::{
    self, LocalOnly, LocalOverRemote, RemoteOverLocal,
};
use configcat_actix::{Config, EvaluationError, NoLog, User, Value, eval};

/// The remote config of the prerequisite fixture.
pub const PREREQUISITE_SDK_KEY: &str =
    "configcat-sdk-1/JcPbCGl_1E-K9M-fJOyKyQ/JoGwdqJZQ0K2xDy7LnbyOg";
/// The remote config of the segment fixture.
pub const SEGMENT_SDK_KEY: &str = "configcat-sdk-1/JcPbCGl_1E-K9M-fJOyKyQ/h99HYXWWNE2bH8eWyLAVMA";
/// The local file of the prerequisite fixture (under `tests/data`).
pub const PREREQUISITE_FILE: &str = "overrides/test_override_flagdependency_v6.json";
/// The local file of the segment fixture (under `tests/data`).
pub const SEGMENT_FILE: &str = "overrides/test_override_segments_v6.json";

/// The value of `key` for `user`, or the error (no default given).
pub fn evaluate(config: &Config, key: &str, user: Option<&User>) -> Result<Value, EvaluationError> {
    eval::evaluate::<Value>(config, key, None, user, &NoLog).map(|s| s.value.clone())
}

/// What an override case expects.
#[derive(Debug)]
pub enum Expected {
    /// Evaluation returns this value.
    Is(Value),
    /// The flag is not in the (merged) settings.
    KeyMissing,
    /// Evaluation fails with an error containing this text.
    Fails(&'static str),
}

impl Expected {
    /// Whether evaluating `key` gave what is expected.
    pub fn matches(&self, key: &str, actual: &Result<Value, EvaluationError>) -> bool {
        match (self, actual) {
            (Expected::Is(expected), Ok(value)) => value == expected,
            (
                Expected::KeyMissing,
                Err(EvaluationError::SettingKeyMissing { key: missing, .. }),
            ) => missing == key,
            (Expected::Fails(text), Err(EvaluationError::InvalidConfig(reason))) => {
                reason.contains(text)
            }
            _ => false,
        }
    }
}

/// One case: flag key, user identifier, user email, behaviour (`None`: no overrides at all),
/// expected result.
pub type Case = (
    &'static str,
    &'static str,
    &'static str,
    Option<OverrideBehaviour>,
    Expected,
);

/// rust-sdk `prerequisite_flag_overrides` (16 rows; ruby, .NET, Go and PHP agree). The local file
/// overrides `mainStringFlag` with "private" and `stringDependsOnInt` with a rule on
/// `mainIntFlag == 42`; in LocalOnly `mainIntFlag` does not exist. A local setting's
/// prerequisite is looked up in the merged settings, so a local flag can depend on a remote one
/// and the other way round.
pub fn prerequisite_cases() -> Vec<Case> {
    use Expected::*;
    const SENSITIVE: &str = "john@sensitivecompany.com";
    const OTHER: &str = "john@notsensitivecompany.com";
    let dog = || Is("Dog".into());
    let cat = || Is("Cat".into());
    let no_prerequisite = || Fails("Prerequisite flag key is missing or invalid");
    let s_on_s = "stringDependsOnString";
    let s_on_i = "stringDependsOnInt";
    vec![
        (s_on_s, "1", SENSITIVE, None, dog()),
        (s_on_s, "1", SENSITIVE, Some(RemoteOverLocal), dog()),
        (s_on_s, "1", SENSITIVE, Some(LocalOverRemote), dog()),
        (s_on_s, "1", SENSITIVE, Some(LocalOnly), KeyMissing),
        (s_on_s, "2", OTHER, None, cat()),
        (s_on_s, "2", OTHER, Some(RemoteOverLocal), cat()),
        (s_on_s, "2", OTHER, Some(LocalOverRemote), dog()),
        (s_on_s, "2", OTHER, Some(LocalOnly), KeyMissing),
        (s_on_i, "1", SENSITIVE, None, dog()),
        (s_on_i, "1", SENSITIVE, Some(RemoteOverLocal), dog()),
        (s_on_i, "1", SENSITIVE, Some(LocalOverRemote), cat()),
        (s_on_i, "1", SENSITIVE, Some(LocalOnly), no_prerequisite()),
        (s_on_i, "2", OTHER, None, cat()),
        (s_on_i, "2", OTHER, Some(RemoteOverLocal), cat()),
        (s_on_i, "2", OTHER, Some(LocalOverRemote), dog()),
        (s_on_i, "2", OTHER, Some(LocalOnly), no_prerequisite()),
    ]
}

/// python-sdk `test_config_salt_segment_override` and rust-sdk `segment_overrides` (8 rows). The
/// local file has its own salt and redefines the segments "Beta Users" (jane@example.com) and
/// "Developers" (john@example.com); a local flag hashes with the local salt and segments, a
/// remote flag with the remote ones.
pub fn segment_cases() -> Vec<Case> {
    use Expected::*;
    const JOHN: &str = "john@example.com";
    const KATE: &str = "kate@example.com";
    let yes = || Is(true.into());
    let no = || Is(false.into());
    let dev_and_beta = "developerAndBetaUserSegment";
    let neither = "notDeveloperAndNotBetaUserSegment";
    vec![
        (dev_and_beta, "1", JOHN, None, no()),
        (dev_and_beta, "1", JOHN, Some(RemoteOverLocal), no()),
        (dev_and_beta, "1", JOHN, Some(LocalOverRemote), yes()),
        (dev_and_beta, "1", JOHN, Some(LocalOnly), yes()),
        (neither, "2", KATE, None, yes()),
        (neither, "2", KATE, Some(RemoteOverLocal), yes()),
        (neither, "2", KATE, Some(LocalOverRemote), yes()),
        (neither, "2", KATE, Some(LocalOnly), KeyMissing),
    ]
}
