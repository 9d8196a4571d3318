//! Configs and users built to hurt the evaluator: a prerequisite chain far deeper than any stack,
//! "diamond" prerequisites that are exponential when re-evaluated, percentages that overflow,
//! comparison lists of a million values, attribute values and logs of many megabytes. Each must
//! give a bounded, documented answer: the value, or the default with error 1002, never an abort,
//! a panic (these tests run in debug builds, where integer overflow panics), a hang or an
//! unbounded message. See `docs/reliability.md`, "Hostile configs".

use std::fmt::Write as _;

use configcat_actix::eval::{self, EvaluationError, MAX_EVALUATION_LOG_BYTES};
use configcat_actix::{Config, LogLevel, MemoryLog, NoLog, User};

/// `f0 → f1 → … → f{depth}`: each flag serves `true` when the next one is `true`; the last one
/// has no rule and is `true`. Evaluating `f0` walks the whole chain.
fn chain(depth: usize) -> String {
    let mut json = String::from(r#"{"f":{"#);
    for i in 0..depth {
        let _ = write!(
            json,
            r#""f{i}":{{"t":0,"v":{{"b":false}},"i":"off{i}","r":[{{"c":[{{"p":{{"f":"f{}","c":0,"v":{{"b":true}}}}}}],"s":{{"v":{{"b":true}},"i":"on{i}"}}}}]}},"#,
            i + 1
        );
    }
    let _ = write!(
        json,
        r#""f{depth}":{{"t":0,"v":{{"b":true}},"i":"last"}}}}}}"#
    );
    json
}

/// `levels` levels of two flags, `a{k}` and `b{k}`, each serving `true` when both flags of the
/// next level are `true`; a first rule reads a user attribute the test users lack (one warning
/// 3003 per evaluation of the flag). Re-evaluated along every path this is 2^levels work.
fn diamond(levels: usize) -> String {
    let mut json = String::from(r#"{"f":{"#);
    for k in 0..levels {
        for name in ["a", "b"] {
            let _ = write!(
                json,
                r#""{name}{k}":{{"t":0,"v":{{"b":false}},"r":[
                    {{"c":[{{"u":{{"a":"Missing","c":28,"s":"x"}}}}],"s":{{"v":{{"b":false}}}}}},
                    {{"c":[{{"p":{{"f":"a{n}","c":0,"v":{{"b":true}}}}}},{{"p":{{"f":"b{n}","c":0,"v":{{"b":true}}}}}}],"s":{{"v":{{"b":true}}}}}}]}},"#,
                n = k + 1
            );
        }
    }
    let _ = write!(
        json,
        r#""a{levels}":{{"t":0,"v":{{"b":true}}}},"b{levels}":{{"t":0,"v":{{"b":true}}}}}}}}"#
    );
    json
}

/// The INFO evaluation logs (event 5000) among what `log` kept.
fn evaluation_logs(log: &MemoryLog) -> Vec<String> {
    log.take()
        .into_iter()
        .filter(|e| e.event_id == 5000)
        .map(|e| e.message)
        .collect()
}

fn depth_error(config: &Config, key: &str) -> Option<EvaluationError> {
    eval::evaluate_details(config, key, false, None, None, &NoLog).error
}

fn assert_too_deep(error: Option<EvaluationError>) {
    match error {
        Some(EvaluationError::InvalidConfig(message)) => {
            assert!(message.contains("nested more than"), "{message}");
        }
        other => panic!("expected error 1002 for a chain beyond the limit, got {other:?}"),
    }
}

#[test]
fn a_chain_at_the_depth_limit_evaluates_and_one_deeper_is_error_1002() {
    let depth = eval::MAX_PREREQUISITE_DEPTH;
    let config = Config::parse(&chain(depth)).expect("parses");
    let details = eval::evaluate_details(&config, "f0", false, None, None, &NoLog);
    assert_eq!(
        (details.value, details.error),
        (true, None),
        "{depth} nested prerequisites are allowed"
    );
    let config = Config::parse(&chain(depth + 1)).expect("parses");
    assert_too_deep(depth_error(&config, "f0"));
    // The flags lower in the chain are within the limit.
    assert_eq!(depth_error(&config, "f1"), None);
    let log = MemoryLog::new(LogLevel::Error);
    assert!(!eval::evaluate_value(&config, "f0", false, None, &log));
    let events = log.take();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_id, 1002);
    assert!(
        events[0].message.contains("nested more than"),
        "{}",
        events[0].message
    );
}

/// 100,000 nested prerequisites on a thread with a 256 KiB stack, in a debug build, where
/// frames are largest: no stack overflow, error 1002.
#[test]
fn a_chain_100000_deep_on_a_small_stack_is_error_1002() {
    let config = Config::parse(&chain(100_000)).expect("parses");
    let config = std::sync::Arc::new(config);
    let shared = config.clone();
    let error = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let log = MemoryLog::new(LogLevel::Info);
            let error = depth_error(&shared, "f0");
            // At INFO too, where the log is built as evaluation goes.
            assert!(!eval::evaluate_value(&shared, "f0", false, None, &log));
            error
        })
        .expect("spawns")
        .join()
        .expect("no panic, no overflow");
    assert_too_deep(error);
}

/// The same chain on an actix arbiter (a 2 MiB stack).
#[test]
fn a_chain_100000_deep_on_an_arbiter_is_error_1002() {
    let config = std::sync::Arc::new(Config::parse(&chain(100_000)).expect("parses"));
    let system = actix::System::new();
    let error = system.block_on(async move {
        let arbiter = actix::Arbiter::new();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let shared = config.clone();
        assert!(arbiter.spawn(async move {
            let _ = tx.send(depth_error(&shared, "f0"));
        }));
        let error = rx.await.expect("the arbiter answers");
        arbiter.stop();
        error
    });
    assert_too_deep(error);
}

/// A config nested 100,000 levels deep in a field the model ignores: serde_json skips ignored
/// values without recursing, and the model's own types nest a fixed few levels (serde_json's
/// recursion limit of 128 would stop anything else), so parsing never recurses on the data,
/// on a small stack either, whether the document is valid or not (a failure is parsed again
/// to find its path).
#[test]
fn deeply_nested_json_parses_without_recursing_on_a_small_stack() {
    let nested = |tail: &str| {
        format!(
            r#"{{"x":{}{},"f":{{"a":{{"t":0,"v":{{"b":true}}}}}}{tail}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        )
    };
    let valid = nested("");
    let invalid = nested(r#","s":[{"n":"x","r":[{"a":"b","c":"not a number"}]}]"#);
    let (valid, invalid) = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            (
                Config::parse(&valid).map(|c| c.settings().len()),
                Config::parse(&invalid),
            )
        })
        .expect("spawns")
        .join()
        .expect("no overflow");
    assert_eq!(valid, Ok(1));
    assert_eq!(
        invalid.expect_err("a string comparator").path(),
        "s[0].r[0].c"
    );
    // Nesting where the model expects a value is a type error at the first bracket.
    let deep_value = format!(r#"{{"f":{{"a":{{"t":{}}}}}}}"#, "[".repeat(100_000));
    let error = Config::parse(&deep_value).expect_err("not a number");
    assert_eq!(error.path(), "f.a.t");
}

/// Diamonds as deep as allowed: 2^32 evaluations if each prerequisite were evaluated along
/// every path. Each is evaluated once per evaluation, so this finishes, with the right value.
/// A 64-level diamond is beyond the depth limit: error 1002 at once.
#[test]
fn a_diamond_evaluates_each_prerequisite_once() {
    let levels = eval::MAX_PREREQUISITE_DEPTH;
    let config = Config::parse(&diamond(levels)).expect("parses");
    let user = User::new("u");
    assert!(eval::evaluate_value(
        &config,
        "a0",
        false,
        Some(&user),
        &NoLog
    ));
    assert!(eval::evaluate_value(&config, "b0", false, None, &NoLog));
    let config = Config::parse(&diamond(64)).expect("parses");
    assert_too_deep(depth_error(&config, "a0"));
}

/// The work is linear: the warnings of a 16-level diamond (2^17 if re-evaluated) are one per
/// flag plus at most the replay budget.
#[test]
fn a_diamond_warns_linearly() {
    let levels = 16;
    let config = Config::parse(&diamond(levels)).expect("parses");
    let user = User::new("u");
    let log = MemoryLog::new(LogLevel::Warn);
    assert!(eval::evaluate_value(
        &config,
        "a0",
        false,
        Some(&user),
        &log
    ));
    let warnings = log.take();
    assert!(warnings.iter().all(|w| w.event_id == 3003));
    let flags = 2 * levels + 1;
    assert!(
        warnings.len() <= flags + eval::MAX_REPLAYED_WARNINGS,
        "{} warnings for {flags} flags",
        warnings.len()
    );
    // Each flag's own warning is there once at least, as re-evaluation would show it.
    for k in 0..levels {
        for name in ["a", "b"] {
            let key = format!("'{name}{k}'");
            assert!(
                warnings.iter().any(|w| w.message.contains(&key)) || (k == 0 && name == "b"),
                "no warning for {key}"
            );
        }
    }
}

/// At INFO the deepest diamond's log (which the official SDKs print along every path) is cut
/// at the cap, with a note.
#[test]
fn a_diamond_log_is_capped() {
    let config = Config::parse(&diamond(eval::MAX_PREREQUISITE_DEPTH)).expect("parses");
    let log = MemoryLog::new(LogLevel::Info);
    assert!(eval::evaluate_value(&config, "a0", false, None, &log));
    let events = evaluation_logs(&log);
    assert_eq!(events.len(), 1);
    let message = &events[0];
    assert!(
        message.len() <= MAX_EVALUATION_LOG_BYTES + 100,
        "{}",
        message.len()
    );
    assert!(
        message.ends_with(eval::LOG_TRUNCATED_NOTE),
        "{}",
        &message[message.len() - 200..]
    );
}

/// A shallow diamond's log is complete: the second occurrence of a prerequisite prints the
/// same lines as the first, indented for where it appears, as the official SDKs do.
#[test]
fn a_memoized_prerequisite_logs_as_if_evaluated_again() {
    let config = Config::parse(&diamond(2)).expect("parses");
    let log = MemoryLog::new(LogLevel::Info);
    assert!(eval::evaluate_value(&config, "a0", false, None, &log));
    let events = evaluation_logs(&log);
    let message = &events[0];
    assert_eq!(
        message
            .matches("Evaluating prerequisite flag 'a2':")
            .count(),
        2
    );
    assert_eq!(
        message
            .matches("Evaluating prerequisite flag 'b2':")
            .count(),
        2
    );
    let first = message.find("Evaluating prerequisite flag 'a1':").unwrap();
    let second = message.find("Evaluating prerequisite flag 'b1':").unwrap();
    // The blocks of a1 and b1 are alike but for the flag's name.
    let block = |from: usize| {
        let text = &message[from..];
        let end = text.find("Prerequisite flag evaluation result").unwrap();
        text[..end].to_owned()
    };
    assert_eq!(
        block(first).replace("'a1'", "'X'"),
        block(second).replace("'b1'", "'X'")
    );
    assert!(!message.ends_with(eval::LOG_TRUNCATED_NOTE));
}

/// Percentage options of `[1, i64::MAX]` overflow a 64-bit running sum: error 1002 for users
/// past the first bucket, never a panic.
#[test]
fn overflowing_percentages_are_error_1002() {
    let json = format!(
        r#"{{"f":{{"p":{{"t":0,"v":{{"b":false}},"p":[{{"p":1,"v":{{"b":true}}}},{{"p":{},"v":{{"b":true}}}}]}},
              "q":{{"t":0,"v":{{"b":false}},"r":[{{"c":[{{"u":{{"a":"Identifier","c":28,"s":"x"}}}}],"s":{{"v":{{"b":false}}}}}},
                  {{"c":[{{"u":{{"a":"Identifier","c":29,"s":"x"}}}}],"p":[{{"p":{},"v":{{"b":true}}}},{{"p":{},"v":{{"b":true}}}}]}}]}}}}}}"#,
        i64::MAX,
        i64::MIN,
        i64::MIN
    );
    let config = Config::parse(&json).expect("parses");
    let mut errors = 0;
    for id in 0..20 {
        let user = User::new(id.to_string());
        for key in ["p", "q"] {
            let details = eval::evaluate_details(&config, key, false, Some(&user), None, &NoLog);
            match details.error {
                None => assert!(details.value),
                Some(EvaluationError::InvalidConfig(message)) => {
                    assert!(message.contains("percentage"), "{message}");
                    assert!(!details.value);
                    errors += 1;
                }
                Some(other) => panic!("{other:?}"),
            }
        }
    }
    assert!(errors >= 20, "only {errors} evaluations overflowed");
}

/// A 10 MB attribute value is quoted shortened in warnings 3004 and 3005.
#[test]
fn huge_attribute_values_are_shortened_in_warnings() {
    let json = r#"{"f":{"v":{"t":0,"v":{"b":false},"r":[
        {"c":[{"u":{"a":"Version","c":8,"s":"1.0.0"}}],"s":{"v":{"b":true}}},
        {"c":[{"u":{"a":"Roles","c":28,"s":"x"}}],"s":{"v":{"b":true}}}]}}}"#;
    let config = Config::parse(json).expect("parses");
    let huge = "x".repeat(10 << 20);
    let user = User::new("u")
        .custom("Version", huge.as_str())
        .custom("Roles", vec![huge.clone()]);
    let log = MemoryLog::new(LogLevel::Warn);
    assert!(!eval::evaluate_value(
        &config,
        "v",
        false,
        Some(&user),
        &log
    ));
    let events = log.take();
    assert_eq!(
        events.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        [3004, 3005]
    );
    for event in &events {
        assert!(event.message.len() < 2048, "{} bytes", event.message.len());
        assert!(event.message.contains("[truncated,"), "{}", event.message);
    }
}

/// The INFO log of a flag with 5,000 rules, for a user with a 10 MB attribute, is cut at the
/// cap with a note.
#[test]
fn a_huge_evaluation_log_is_capped() {
    let mut json = String::from(r#"{"f":{"big":{"t":0,"v":{"b":false},"r":["#);
    for i in 0..5_000 {
        if i > 0 {
            json.push(',');
        }
        let _ = write!(
            json,
            r#"{{"c":[{{"u":{{"a":"Email","c":28,"s":"nobody-{i}@example.com"}}}}],"s":{{"v":{{"b":true}}}}}}"#
        );
    }
    json.push_str("]}}}");
    let config = Config::parse(&json).expect("parses");
    for user in [
        User::new("u").email("a@example.com"),
        User::new("x".repeat(10 << 20)),
    ] {
        let log = MemoryLog::new(LogLevel::Info);
        assert!(!eval::evaluate_value(
            &config,
            "big",
            false,
            Some(&user),
            &log
        ));
        let events = evaluation_logs(&log);
        assert_eq!(events.len(), 1);
        let message = &events[0];
        assert!(
            message.len() <= MAX_EVALUATION_LOG_BYTES + 100,
            "{}",
            message.len()
        );
        assert!(message.ends_with(eval::LOG_TRUNCATED_NOTE));
    }
}

/// The lowercase hex SHA-256 of `value ++ salt ++ key`, as confidential comparison values are.
fn confidential(value: &str, salt: &str, key: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(format!("{value}{salt}{key}"))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Long comparison lists (looked up through their index) give the answers short ones (scanned)
/// give, for each comparator that looks whole values up.
#[test]
fn long_comparison_lists_match_as_short_ones() {
    let salt = "salt";
    for len in [3, 10_000] {
        let texts: Vec<String> = (0..len).map(|i| format!("v{i}")).collect();
        let list = |key: &str, hashed: bool| -> String {
            let items: Vec<String> = texts
                .iter()
                .map(|t| {
                    if hashed {
                        confidential(t, salt, key)
                    } else {
                        t.clone()
                    }
                })
                .collect();
            serde_json::to_string(&items).unwrap()
        };
        let flag = |key: &str, attribute: &str, comparator: u32, hashed: bool| {
            format!(
                r#""{key}":{{"t":0,"v":{{"b":false}},"r":[{{"c":[{{"u":{{"a":"{attribute}","c":{comparator},"l":{}}}}}],"s":{{"v":{{"b":true}}}}}}]}}"#,
                list(key, hashed)
            )
        };
        let json = format!(
            r#"{{"p":{{"s":"{salt}"}},"f":{{{},{},{},{},{},{},{},{}}}}}"#,
            flag("oneOf", "Email", 0, false),
            flag("notOneOf", "Email", 1, false),
            flag("arrayAny", "Roles", 34, false),
            flag("arrayNone", "Roles", 35, false),
            flag("hashedOneOf", "Email", 16, true),
            flag("hashedNotOneOf", "Email", 17, true),
            flag("hashedArrayAny", "Roles", 26, true),
            flag("hashedArrayNone", "Roles", 27, true),
        );
        let config = Config::parse(&json).expect("parses");
        let last = texts.last().unwrap().clone();
        let member = User::new("u")
            .email(last.as_str())
            .custom("Roles", vec!["nobody".to_owned(), last.clone()]);
        let stranger = User::new("u")
            .email("nobody")
            .custom("Roles", vec!["nobody".to_owned(), "else".to_owned()]);
        for (key, member_gets) in [
            ("oneOf", true),
            ("notOneOf", false),
            ("arrayAny", true),
            ("arrayNone", false),
            ("hashedOneOf", true),
            ("hashedNotOneOf", false),
            ("hashedArrayAny", true),
            ("hashedArrayNone", false),
        ] {
            let value = |user: &User| eval::evaluate_value(&config, key, false, Some(user), &NoLog);
            assert_eq!(value(&member), member_gets, "{key}, {len} items, member");
            assert_eq!(
                value(&stranger),
                !member_gets,
                "{key}, {len} items, stranger"
            );
        }
    }
}

/// A segment with two conditions, the second on an attribute the users lack, tested by
/// `rules` rules of one flag.
fn segment_tested_by(rules: usize) -> Config {
    let rule = r#"{"c":[{"s":{"s":0,"c":0}}],"s":{"v":{"b":true}}}"#;
    let json = format!(
        r#"{{"s":[{{"n":"beta","r":[{{"a":"Email","c":2,"l":["example"]}},{{"a":"Missing","c":28,"s":"x"}}]}}],
            "f":{{"f":{{"t":0,"v":{{"b":false}},"r":[{}]}}}}}}"#,
        vec![rule; rules].join(",")
    );
    Config::parse(&json).expect("parses")
}

/// A segment that many rules test is evaluated once per flag and evaluation: its warning is
/// written once plus at most the replay budget, where re-evaluation wrote one per rule.
#[test]
fn a_segment_tested_by_many_rules_is_evaluated_once() {
    let config = segment_tested_by(1_000);
    let user = User::new("u").email("jane@example.com");
    let log = MemoryLog::new(LogLevel::Warn);
    assert!(!eval::evaluate_value(
        &config,
        "f",
        false,
        Some(&user),
        &log
    ));
    let warnings = log.take();
    assert!(warnings.iter().all(|w| w.event_id == 3003));
    assert!(
        (1..=1 + eval::MAX_REPLAYED_WARNINGS).contains(&warnings.len()),
        "{} warnings",
        warnings.len()
    );
}

/// Its log reads as if it were evaluated for each rule.
#[test]
fn a_memoized_segment_logs_as_if_evaluated_again() {
    let config = segment_tested_by(20);
    let user = User::new("u").email("jane@example.com");
    let log = MemoryLog::new(LogLevel::Info);
    assert!(!eval::evaluate_value(
        &config,
        "f",
        false,
        Some(&user),
        &log
    ));
    let logs = evaluation_logs(&log);
    let block = "      Evaluating segment 'beta':\n      - IF User.Email CONTAINS ANY OF ['example'] => true\n        AND User.Missing EQUALS 'x' => false, skipping the remaining AND conditions\n      Segment evaluation result: cannot evaluate, the User.Missing attribute is missing.\n";
    assert_eq!(logs[0].matches(block).count(), 20, "{}", logs[0]);
}

/// Confidential STARTS/ENDS WITH ANY OF lists of many items of many lengths: grouped by
/// length at parse time, they give the answers one item at a time gives.
#[test]
fn long_confidential_affix_lists_match_as_short_ones() {
    let salt = "salt";
    let text = "jane.doe@example.com";
    for (comparator, key, affix) in [
        (22, "starts", &text[..9]),
        (24, "ends", &text[text.len() - 11..]),
    ] {
        let mut items: Vec<String> = (0..10_000)
            .map(|i| {
                let length = 1 + i % 40;
                format!(
                    "{length}_{}",
                    confidential(&format!("{i:0>40}")[..length], salt, key)
                )
            })
            .collect();
        items.push(format!(
            "{}_{}",
            affix.len(),
            confidential(affix, salt, key)
        ));
        let json = format!(
            r#"{{"p":{{"s":"{salt}"}},"f":{{"{key}":{{"t":0,"v":{{"b":false}},"r":[{{"c":[{{"u":{{"a":"Email","c":{comparator},"l":{}}}}}],"s":{{"v":{{"b":true}}}}}}]}}}}}}"#,
            serde_json::to_string(&items).unwrap()
        );
        let config = Config::parse(&json).expect("parses");
        let value = |email: &str| {
            let user = User::new("u").email(email);
            eval::evaluate_value(&config, key, false, Some(&user), &NoLog)
        };
        assert!(value(text), "{key}");
        assert!(!value("john.roe@example.org"), "{key}");
        assert!(!value(""), "{key}");
    }
}
