//! The official cross-SDK rollout matrices (tests/data/matrix): every row, every setting column.
//!
//! Each matrix runs against the local copy of the config its SDK key serves; the matrices whose
//! config exists under both the legacy and the `configcat-sdk-1/` key run against both.

use crate::support;
use configcat_actix::{NoLog, User, Value, eval};

#[derive(Clone, Copy, PartialEq)]
enum Expect {
    Value,
    VariationId,
}

/// Runs one matrix file against each config, returning the number of evaluations checked.
fn run_matrix(file: &str, sdk_keys: &[&str], expect: Expect) -> usize {
    let text = support::read_data(&format!("matrix/{file}"));
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
    let header: Vec<&str> = lines.next().expect("header").split(';').collect();
    let custom_attribute = header[3];
    let keys = &header[4..];
    let mut checked = 0;
    let mut failures = Vec::new();
    for sdk_key in sdk_keys {
        let config = support::config_for_sdk_key(sdk_key);
        for (row, line) in lines.clone().enumerate() {
            if line.is_empty() {
                continue;
            }
            let cells: Vec<&str> = line.split(';').collect();
            let user = user_from_row(&cells, custom_attribute);
            for (column, key) in keys.iter().enumerate() {
                let expected = cells[4 + column];
                let selection = eval::evaluate::<Value>(&config, key, None, user.as_ref(), &NoLog)
                    .unwrap_or_else(|e| panic!("{file} row {} key {key}: {e}", row + 2));
                let actual = match expect {
                    Expect::Value => selection.value.to_string(),
                    Expect::VariationId => selection.variation_id.unwrap_or("").to_owned(),
                };
                let matches = match selection.value {
                    Value::Bool(_) if expect == Expect::Value => {
                        actual.eq_ignore_ascii_case(expected)
                    }
                    _ => actual == expected,
                };
                if !matches {
                    failures.push(format!(
                        "{file} (config {sdk_key}) line {} key {key}: expected {expected:?}, got {actual:?}",
                        row + 2
                    ));
                }
                checked += 1;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} evaluations failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    support::report(format_args!(
        "{file}: {checked} evaluations checked against {} config(s)",
        sdk_keys.len()
    ));
    checked
}

/// `##null##` identifier: no user; empty or `##null##` cells: attribute not set.
fn user_from_row(cells: &[&str], custom_attribute: &str) -> Option<User> {
    if cells[0] == "##null##" {
        return None;
    }
    let set = |cell: &str| !cell.is_empty() && cell != "##null##";
    let mut user = User::new(cells[0]);
    if set(cells[1]) {
        user = user.email(cells[1]);
    }
    if set(cells[2]) {
        user = user.country(cells[2]);
    }
    if set(cells[3]) {
        user = user.custom(custom_attribute, cells[3]);
    }
    Some(user)
}

const V1: &str = "PKDVCLf-Hq-h-kCzMp-L7Q";

macro_rules! matrix_test {
    ($name:ident, $file:literal, $expect:expr, $($key:expr),+) => {
        #[test]
        fn $name() {
            let keys = [$($key),+];
            let checked = run_matrix($file, &keys, $expect);
            assert!(checked > 0, "no case checked");
        }
    };
}

matrix_test!(
    testmatrix,
    "testmatrix.csv",
    Expect::Value,
    &format!("{V1}/psuH7BGHoUmdONrzzUOY7A"),
    "configcat-sdk-1/PKDVCLf-Hq-h-kCzMp-L7Q/AG6C1ngVb0CvM07un6JisQ"
);
matrix_test!(
    testmatrix_semantic,
    "testmatrix_semantic.csv",
    Expect::Value,
    &format!("{V1}/BAr3KgLTP0ObzKnBTo5nhA"),
    "configcat-sdk-1/PKDVCLf-Hq-h-kCzMp-L7Q/iV8vH2MBakKxkFZylxHmTg"
);
matrix_test!(
    testmatrix_semantic_2,
    "testmatrix_semantic_2.csv",
    Expect::Value,
    &format!("{V1}/q6jMCFIp-EmuAfnmZhPY7w"),
    "configcat-sdk-1/PKDVCLf-Hq-h-kCzMp-L7Q/U8nt3zEhDEO5S2ulubCopA"
);
matrix_test!(
    testmatrix_number,
    "testmatrix_number.csv",
    Expect::Value,
    &format!("{V1}/uGyK3q9_ckmdxRyI7vjwCw"),
    "configcat-sdk-1/PKDVCLf-Hq-h-kCzMp-L7Q/FCWN-k1dV0iBf8QZrDgjdw"
);
matrix_test!(
    testmatrix_sensitive,
    "testmatrix_sensitive.csv",
    Expect::Value,
    &format!("{V1}/qX3TP2dTj06ZpCCT1h_SPA"),
    "configcat-sdk-1/PKDVCLf-Hq-h-kCzMp-L7Q/-0YmVOUNgEGKkgRF-rU65g"
);
matrix_test!(
    testmatrix_segments_old,
    "testmatrix_segments_old.csv",
    Expect::Value,
    &format!("{V1}/LcYz135LE0qbcacz2mgXnA"),
    "configcat-sdk-1/PKDVCLf-Hq-h-kCzMp-L7Q/y_ZB7o-Xb0Swxth-ZlMSeA"
);
matrix_test!(
    testmatrix_variationid,
    "testmatrix_variationid.csv",
    Expect::VariationId,
    &format!("{V1}/nQ5qkhRAUEa6beEyyrVLBA"),
    "configcat-sdk-1/PKDVCLf-Hq-h-kCzMp-L7Q/spQnkRTIPEWVivZkWM84lQ"
);
matrix_test!(
    testmatrix_and_or,
    "testmatrix_and_or.csv",
    Expect::Value,
    "configcat-sdk-1/JcPbCGl_1E-K9M-fJOyKyQ/ByMO9yZNn02kXcm72lnY1A"
);
matrix_test!(
    testmatrix_comparators_v6,
    "testmatrix_comparators_v6.csv",
    Expect::Value,
    "configcat-sdk-1/JcPbCGl_1E-K9M-fJOyKyQ/OfQqcTjfFUGBwMKqtyEOrQ"
);
matrix_test!(
    testmatrix_prerequisite_flag,
    "testmatrix_prerequisite_flag.csv",
    Expect::Value,
    "configcat-sdk-1/JcPbCGl_1E-K9M-fJOyKyQ/JoGwdqJZQ0K2xDy7LnbyOg"
);
matrix_test!(
    testmatrix_segments,
    "testmatrix_segments.csv",
    Expect::Value,
    "configcat-sdk-1/JcPbCGl_1E-K9M-fJOyKyQ/h99HYXWWNE2bH8eWyLAVMA"
);
matrix_test!(
    testmatrix_unicode,
    "testmatrix_unicode.csv",
    Expect::Value,
    "configcat-sdk-1/JcPbCGl_1E-K9M-fJOyKyQ/Da6w8dBbmUeMUBhh0iEeQQ"
);
