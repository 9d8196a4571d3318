//! The config the evaluation benches and the allocation test share: one flag per measured case.
//! Included with `#[path]` by benches/evaluate.rs, tests/heap/allocations.rs and
//! benches/compare/benches/compare.rs, so all three measure the same flags.

/// Ten targeting rules on `Email`, alternating CONTAINS ANY OF (2) and IS ONE OF (0), each
/// with three comparison values; only the tenth matches `jane@example.com`.
pub fn ten_text_rules() -> String {
    let rules: Vec<String> = (1..=10)
        .map(|i| {
            let (comparator, list) = if i == 10 {
                (2, r#"["@nomatch10.com","@other10.org","@example.com"]"#.to_owned())
            } else if i % 2 == 1 {
                (
                    2,
                    format!(r#"["@nomatch{i}.com","@other{i}.org","@third{i}.net"]"#),
                )
            } else {
                (
                    0,
                    format!(r#"["a{i}@nomatch.com","b{i}@nomatch.com","c{i}@nomatch.com"]"#),
                )
            };
            format!(
                r#"{{"c":[{{"u":{{"a":"Email","c":{comparator},"l":{list}}}}}],"s":{{"v":{{"b":true}},"i":"rule{i}"}}}}"#
            )
        })
        .collect();
    rules.join(",")
}

/// A config_v6 document with one flag per benchmarked case.
///
/// - `noRules`: a bool flag with only a default value.
/// - `tenRules`: [`ten_text_rules`], default `false`.
/// - `percentage`: 30 % / 70 % options on the identifier, default `false`.
/// - `segment`: one rule `IS IN SEGMENT 'Beta'`; Beta holds `Email CONTAINS ANY OF` and
///   `Country IS ONE OF`.
/// - `chainA` -> `chainB` -> `chainC`: each of A and B has a rule "prerequisite == true";
///   `chainC` has a rule `Country IS ONE OF ['Hungary']` serving `true`, default `false`.
pub fn bench_config_json() -> String {
    format!(
        r#"{{
  "p": {{"s": "bench-salt"}},
  "s": [{{"n": "Beta", "r": [
    {{"a": "Email", "c": 2, "l": ["@nomatch.com", "@example.com"]}},
    {{"a": "Country", "c": 0, "l": ["Germany", "Hungary"]}}
  ]}}],
  "f": {{
    "noRules": {{"t": 0, "v": {{"b": true}}, "i": "v-norules"}},
    "tenRules": {{"t": 0, "v": {{"b": false}}, "i": "v-default", "r": [{rules}]}},
    "percentage": {{"t": 0, "v": {{"b": false}}, "i": "v-default",
      "p": [{{"p": 30, "v": {{"b": true}}, "i": "p-on"}}, {{"p": 70, "v": {{"b": false}}, "i": "p-off"}}]}},
    "segment": {{"t": 0, "v": {{"b": false}}, "i": "v-default",
      "r": [{{"c": [{{"s": {{"s": 0, "c": 0}}}}], "s": {{"v": {{"b": true}}, "i": "in-beta"}}}}]}},
    "chainA": {{"t": 0, "v": {{"b": false}}, "i": "a-off",
      "r": [{{"c": [{{"p": {{"f": "chainB", "c": 0, "v": {{"b": true}}}}}}], "s": {{"v": {{"b": true}}, "i": "a-on"}}}}]}},
    "chainB": {{"t": 0, "v": {{"b": false}}, "i": "b-off",
      "r": [{{"c": [{{"p": {{"f": "chainC", "c": 0, "v": {{"b": true}}}}}}], "s": {{"v": {{"b": true}}, "i": "b-on"}}}}]}},
    "chainC": {{"t": 0, "v": {{"b": false}}, "i": "c-off",
      "r": [{{"c": [{{"u": {{"a": "Country", "c": 0, "l": ["Hungary"]}}}}], "s": {{"v": {{"b": true}}, "i": "c-on"}}}}]}}
  }}
}}"#,
        rules = ten_text_rules()
    )
}
