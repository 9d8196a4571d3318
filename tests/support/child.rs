//! Running one test of this test binary again in a child process, for what must not happen in
//! the test's own process (an environment variable, a writer killed with SIGKILL).

use std::process::Command;

/// The harness's name of test `test` in module `module_path` (given as `module_path!()`): the
/// module path without the crate, as `--exact` wants it (`file_cache::processes::<test>`).
pub fn test_name(module_path: &str, test: &str) -> String {
    let module = module_path.split_once("::").map_or("", |(_, rest)| rest);
    if module.is_empty() {
        test.to_owned()
    } else {
        format!("{module}::{test}")
    }
}

/// This test binary, set to run exactly the test `name` (see [`test_name`]).
pub fn rerun(name: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test binary's path"));
    command.args([name, "--exact"]);
    command
}
