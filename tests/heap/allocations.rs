//! Counts heap allocations of evaluation, to prove the hot paths allocate nothing.
//!
//! The binary's counting global allocator (`tests/heap/main.rs`) counts, per thread, every
//! `alloc`, `alloc_zeroed` and `realloc`; the tests run in parallel threads, so each measurement only
//! sees its own thread. Each measurement warms up with one call, then counts one call.
//! Evaluation details are measured too: they share the config's strings and `Arc`s.

#[path = "../../benches/support/bench_config.rs"]
mod bench_config;

use std::hint::black_box;
use std::time::SystemTime;

use configcat_actix::{Config, LogLevel, LogSink, MemoryLog, NoLog, Snapshot, User, eval};

/// How many allocations `f` makes on this thread, after one warm-up call.
fn allocations_of<R>(mut f: impl FnMut() -> R) -> usize {
    black_box(f());
    let before = crate::thread_allocations();
    black_box(f());
    crate::thread_allocations() - before
}

/// The flags of `benches/evaluate.rs` (the shared `benches/support/bench_config.rs`).
fn config() -> Config {
    Config::parse(&bench_config::bench_config_json()).expect("the test config parses")
}

/// Identifier, email, country and three custom attributes.
fn user() -> User {
    User::new("user-4217")
        .email("jane@example.com")
        .country("Hungary")
        .custom("Plan", "enterprise")
        .custom("Seats", 25)
        .custom("Team", "platform")
}

/// The variation id selected, to make sure each measured call takes the intended path.
fn variation_id(config: &Config, key: &str, user: Option<&User>) -> String {
    let selection = eval::evaluate(config, key, Some(&false), user, &NoLog)
        .unwrap_or_else(|e| panic!("evaluating {key}: {e}"));
    selection.variation_id.unwrap_or_default().to_owned()
}

/// Allocations of one `evaluate_value::<bool>` call.
fn count(config: &Config, key: &str, user: Option<&User>, sink: &dyn LogSink) -> usize {
    allocations_of(|| eval::evaluate_value(black_box(config), black_box(key), false, user, sink))
}

#[test]
fn the_counter_counts_allocations() {
    assert_eq!(allocations_of(|| Box::new(black_box(7_u64))), 1);
    assert_eq!(allocations_of(|| black_box(7_u64)), 0);
}

#[test]
fn a_flag_without_rules_allocates_nothing() {
    let config = config();
    let user = user();
    let warn = MemoryLog::new(LogLevel::Warn);
    assert_eq!(variation_id(&config, "noRules", None), "v-norules");

    assert_eq!(count(&config, "noRules", None, &NoLog), 0);
    assert_eq!(count(&config, "noRules", Some(&user), &NoLog), 0);
    assert_eq!(count(&config, "noRules", None, &warn), 0);
    assert_eq!(count(&config, "noRules", Some(&user), &warn), 0);
    assert!(warn.take().is_empty());
}

#[test]
fn percentage_options_with_a_user_allocate_nothing() {
    let config = config();
    let user = user();
    let warn = MemoryLog::new(LogLevel::Warn);
    assert_eq!(variation_id(&config, "percentage", Some(&user)), "p-off");

    assert_eq!(count(&config, "percentage", Some(&user), &NoLog), 0);
    assert_eq!(count(&config, "percentage", Some(&user), &warn), 0);
    assert!(warn.take().is_empty());
}

#[test]
fn ten_text_rules_with_a_user_allocate_nothing() {
    let config = config();
    let user = user();
    let warn = MemoryLog::new(LogLevel::Warn);
    assert_eq!(variation_id(&config, "tenRules", Some(&user)), "rule10");

    assert_eq!(count(&config, "tenRules", Some(&user), &NoLog), 0);
    assert_eq!(count(&config, "tenRules", Some(&user), &warn), 0);
    assert!(warn.take().is_empty());
}

#[test]
fn without_a_user_rules_allocate_only_for_the_warning() {
    let config = config();
    let warn = MemoryLog::new(LogLevel::Warn);
    assert_eq!(variation_id(&config, "tenRules", None), "v-default");
    assert_eq!(variation_id(&config, "percentage", None), "v-default");

    assert_eq!(count(&config, "tenRules", None, &NoLog), 0);
    assert_eq!(count(&config, "percentage", None, &NoLog), 0);
    // Warning 3001 (User Object missing) is formatted into a String by the sink: one
    // allocation for the message; the event Vec keeps its capacity between calls.
    assert_eq!(count(&config, "tenRules", None, &warn), 1);
    assert_eq!(count(&config, "percentage", None, &warn), 1);
    assert_eq!(warn.take().len(), 4);
    // Above WARN the warning text is never written: nothing is allocated, nothing logged.
    let error = MemoryLog::new(LogLevel::Error);
    assert_eq!(count(&config, "tenRules", None, &error), 0);
    assert_eq!(count(&config, "percentage", None, &error), 0);
    assert!(error.take().is_empty());
}

#[test]
fn a_segment_condition_allocates_nothing() {
    let config = config();
    let user = user();
    assert_eq!(variation_id(&config, "segment", Some(&user)), "in-beta");

    assert_eq!(count(&config, "segment", Some(&user), &NoLog), 0);
    assert_eq!(count(&config, "segment", None, &NoLog), 0);
}

/// A prerequisite chain allocates nothing either: the cycle-detection stack lives inline.
#[test]
fn a_prerequisite_chain_allocates_nothing() {
    let config = config();
    let user = user();
    assert_eq!(variation_id(&config, "chainA", Some(&user)), "a-on");
    assert_eq!(variation_id(&config, "chainA", None), "a-off");

    assert_eq!(count(&config, "chainA", Some(&user), &NoLog), 0);
    assert_eq!(count(&config, "chainA", None, &NoLog), 0);
}

#[test]
fn the_info_evaluation_log_is_built_only_at_info_level() {
    let config = config();
    let user = user();
    let info = MemoryLog::new(LogLevel::Info);

    let at_info = count(&config, "noRules", Some(&user), &info);
    assert!(
        at_info > 0,
        "the INFO evaluation log should allocate, counted {at_info}"
    );
    let events = info.take();
    assert_eq!(events.len(), 2, "one evaluation log per call");
    assert!(events.iter().all(|e| e.event_id == 5000));
    assert!(
        events[1]
            .message
            .starts_with("Evaluating 'noRules' for User '{")
    );

    // The same call, the same user: nothing once INFO is off.
    let warn = MemoryLog::new(LogLevel::Warn);
    assert_eq!(count(&config, "noRules", Some(&user), &warn), 0);
}

/// Attributes that need converting (list-like text, number-like text, version text, an
/// integer under a text comparator) are converted once per user: the first evaluation may
/// allocate for the parsed list and the canonical text, every later one, of this flag or of
/// another that reads the same attributes, allocates nothing. Confidential conditions hash
/// on the stack.
#[test]
fn converted_attributes_allocate_only_on_first_use() {
    let json = r#"{"p":{"s":"salt"},"f":{
        "mixed":{"t":0,"v":{"b":false},"r":[
            {"c":[{"u":{"a":"Roles","c":34,"l":["ops"]}}],"s":{"v":{"b":true}}},
            {"c":[{"u":{"a":"Age","c":14,"d":100}}],"s":{"v":{"b":true}}},
            {"c":[{"u":{"a":"Version","c":8,"s":"9.0.0"}}],"s":{"v":{"b":true}}},
            {"c":[{"u":{"a":"Seats","c":28,"s":"26"}}],"s":{"v":{"b":true}}},
            {"c":[{"u":{"a":"Email","c":16,"l":["0000000000000000000000000000000000000000000000000000000000000000"]}}],"s":{"v":{"b":true}}}
        ]},
        "again":{"t":0,"v":{"b":false},"r":[
            {"c":[{"u":{"a":"Roles","c":35,"l":["dev"]}}],"s":{"v":{"b":true}}}
        ]}
    }}"#;
    let config = Config::parse(json).expect("parses");
    let user = User::new("u")
        .email("jane@example.com")
        .custom("Roles", r#"["admin","dev"]"#)
        .custom("Age", " 42 ")
        .custom("Version", "1.2.3")
        .custom("Seats", 25);
    let user = black_box(user);
    let sink = MemoryLog::new(LogLevel::Error);
    // No rule matches the first flag; the second one's negated list rule does not either.
    assert!(!eval::evaluate_value(
        &config,
        "mixed",
        false,
        Some(&user),
        &NoLog
    ));
    assert!(!eval::evaluate_value(
        &config,
        "again",
        false,
        Some(&user),
        &NoLog
    ));
    assert_eq!(count(&config, "mixed", Some(&user), &NoLog), 0);
    assert_eq!(count(&config, "again", Some(&user), &NoLog), 0);
    assert_eq!(count(&config, "mixed", Some(&user), &sink), 0);
}

/// Allocations of one `evaluate_details::<bool>` call and of one
/// `Snapshot::get_value_details::<bool>` call, as a pair.
fn count_details(config: &Config, key: &str, user: Option<&User>) -> (usize, usize) {
    let fetch_time = Some(SystemTime::now());
    let pure = allocations_of(|| {
        eval::evaluate_details(
            black_box(config),
            black_box(key),
            false,
            user,
            fetch_time,
            &NoLog,
        )
    });
    let snapshot = Snapshot::from_config(config.clone());
    let by_snapshot =
        allocations_of(|| black_box(&snapshot).get_value_details(black_box(key), false, user));
    (pure, by_snapshot)
}

/// Details share everything with the config: the key and the variation id are the config's
/// `SmolStr`s (inline when this short), the matched rule and option its `Arc`s, the user an
/// `Arc` inside. With `String` fields each call would allocate twice (key and id).
#[test]
fn details_of_a_matched_rule_allocate_nothing() {
    let config = config();
    let user = user();
    let details = eval::evaluate_details(&config, "tenRules", false, Some(&user), None, &NoLog);
    assert!(details.value && details.error.is_none());
    assert_eq!(details.variation_id.as_deref(), Some("rule10"));
    assert!(details.matched_targeting_rule.is_some());
    let details = eval::evaluate_details(&config, "percentage", true, Some(&user), None, &NoLog);
    assert_eq!(details.variation_id.as_deref(), Some("p-off"));
    assert!(details.matched_percentage_option.is_some());

    assert_eq!(count_details(&config, "tenRules", Some(&user)), (0, 0));
    assert_eq!(count_details(&config, "percentage", Some(&user)), (0, 0));
    assert_eq!(count_details(&config, "noRules", None), (0, 0));
    assert_eq!(count_details(&config, "segment", Some(&user)), (0, 0));
    assert_eq!(count_details(&config, "chainA", Some(&user)), (0, 0));
}

/// A key and variation ids longer than SmolStr's 23 inline bytes: the details point into the
/// config's own strings (a reference count each), nothing is copied.
#[test]
fn details_with_long_key_and_variation_id_share_the_configs_strings() {
    const KEY: &str = "aFeatureFlagWithAVeryLongKeyThatIsNotInline";
    const RULE_ID: &str = "variation-id-of-the-matched-rule-longer-than-23";
    const OPTION_ID: &str = "variation-id-of-the-selected-percentage-option";
    let json = format!(
        r#"{{"f":{{"{KEY}":{{"t":0,"v":{{"b":false}},"i":"variation-id-of-the-default-value-00",
            "r":[{{"c":[{{"u":{{"a":"Email","c":2,"l":["@example.com"]}}}}],"s":{{"v":{{"b":true}},"i":"{RULE_ID}"}}}}],
            "p":[{{"p":100,"v":{{"b":true}},"i":"{OPTION_ID}"}}]}}}}}}"#
    );
    let config = Config::parse(&json).expect("parses");
    let (config_key, setting) = config.settings().iter().next().unwrap();
    let rule_id = setting.targeting_rules()[0].variation_id().unwrap();
    let option_id = setting.percentage_options()[0].variation_id().unwrap();
    let matching = User::new("42").email("jane@example.com");
    let other = User::new("43").email("joe@elsewhere.org");

    let details = eval::evaluate_details(&config, KEY, false, Some(&matching), None, &NoLog);
    assert_eq!(
        (details.key.as_str(), details.variation_id.as_deref()),
        (KEY, Some(RULE_ID))
    );
    assert!(details.key.len() > 23 && RULE_ID.len() > 23 && OPTION_ID.len() > 23);
    // The same bytes, not a copy of them.
    assert_eq!(details.key.as_ptr(), config_key.as_ptr());
    assert_eq!(
        details.variation_id.as_deref().unwrap().as_ptr(),
        rule_id.as_ptr()
    );
    let details = eval::evaluate_details(&config, KEY, false, Some(&other), None, &NoLog);
    assert_eq!(details.variation_id.as_deref(), Some(OPTION_ID));
    assert_eq!(
        details.variation_id.as_deref().unwrap().as_ptr(),
        option_id.as_ptr()
    );
    let snapshot = Snapshot::from_config(config.clone());
    let details = snapshot.get_value_details(KEY, false, Some(&matching));
    assert_eq!(
        details.key.as_ptr(),
        snapshot
            .config()
            .unwrap()
            .settings()
            .iter()
            .next()
            .unwrap()
            .0
            .as_ptr()
    );

    assert_eq!(count_details(&config, KEY, Some(&matching)), (0, 0));
    assert_eq!(count_details(&config, KEY, Some(&other)), (0, 0));
    assert_eq!(count_details(&config, KEY, None), (0, 0));
}

/// A prerequisite that several rules depend on is evaluated once and its result remembered
/// for the evaluation: the memo lives inline, so the second lookup allocates nothing either.
#[test]
fn a_prerequisite_used_twice_is_remembered_without_allocating() {
    let json = r#"{"f":{
        "main":{"t":0,"v":{"b":false},"r":[
            {"c":[{"u":{"a":"Email","c":28,"s":"x"}}],"s":{"v":{"b":true}}}]},
        "twice":{"t":0,"v":{"b":false},"i":"none","r":[
            {"c":[{"p":{"f":"main","c":0,"v":{"b":true}}}],"s":{"v":{"b":true},"i":"first"}},
            {"c":[{"p":{"f":"main","c":1,"v":{"b":true}}}],"s":{"v":{"b":true},"i":"second"}}]}
    }}"#;
    let config = Config::parse(json).expect("parses");
    let user = user();
    assert_eq!(variation_id(&config, "twice", Some(&user)), "second");
    assert_eq!(count(&config, "twice", Some(&user), &NoLog), 0);
    assert_eq!(count(&config, "twice", None, &NoLog), 0);
}
