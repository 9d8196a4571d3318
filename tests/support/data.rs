//! The official cross-SDK data in `tests/data`: paths, texts and parsed configs.

use std::path::PathBuf;

use configcat_actix::Config;

/// `tests/data/<relative>`.
pub fn data_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(relative)
}

/// The text of `tests/data/<relative>`.
pub fn read_data(relative: &str) -> String {
    let path = data_path(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The local copy of the config the CDN serves for `sdk_key`, parsed (the text is
/// [`super::test_data_config`], which the mock CDN serves).
pub fn config_for_sdk_key(sdk_key: &str) -> Config {
    Config::parse(&super::test_data_config(sdk_key))
        .unwrap_or_else(|e| panic!("parsing the config of {sdk_key}: {e}"))
}

/// `tests/data/<relative>`, parsed as a config.
pub fn parse_config(relative: &str) -> Config {
    Config::parse(&read_data(relative)).unwrap_or_else(|e| panic!("parsing {relative}: {e}"))
}

/// Prints a suite's case count so that it shows in plain `cargo test` output: the test harness
/// captures `println!` of passing tests, but not writes to the stderr handle itself.
pub fn report(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "    {line}");
}
