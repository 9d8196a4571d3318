//! Which keys a config change affects: the settings that differ, and every flag that depends on
//! one of them through a prerequisite condition, transitively.

use std::collections::HashSet;

use super::{Condition, Config, Setting};

/// The keys whose value may differ between `old` and `new`, sorted: settings added, removed or
/// changed (a change of a segment a setting uses changes the setting: its conditions hold the
/// segment itself), and the flags whose prerequisite flags are among those, transitively.
/// Everything is a change when there was no `old` config.
pub(crate) fn changed_keys(old: Option<&Config>, new: &Config) -> Vec<String> {
    let Some(old) = old else {
        let mut keys: Vec<String> = new.settings().keys().map(|k| k.to_string()).collect();
        keys.sort_unstable();
        return keys;
    };
    let mut changed: HashSet<&str> = new
        .settings()
        .iter()
        .filter(|(key, setting)| old.settings().get(key) != Some(*setting))
        .map(|(key, _)| key.as_str())
        .chain(
            old.settings()
                .keys()
                .filter(|key| !new.settings().contains_key(key))
                .map(|key| key.as_str()),
        )
        .collect();
    // Each pass adds the flags one step further down a prerequisite chain; a pass that adds
    // nothing ends it (so a cycle ends too: a key is added once).
    loop {
        let dependents: Vec<&str> = new
            .settings()
            .iter()
            .filter(|(key, setting)| {
                !changed.contains(key.as_str())
                    && prerequisites(setting).any(|p| changed.contains(p))
            })
            .map(|(key, _)| key.as_str())
            .collect();
        if dependents.is_empty() {
            break;
        }
        changed.extend(dependents);
    }
    let mut keys: Vec<String> = changed.into_iter().map(str::to_owned).collect();
    keys.sort_unstable();
    keys
}

/// The keys of the flags `setting`'s targeting rules test as prerequisites.
fn prerequisites(setting: &Setting) -> impl Iterator<Item = &str> {
    setting
        .targeting_rules
        .iter()
        .flat_map(|rule| rule.conditions())
        .filter_map(|condition| match condition {
            Condition::Prerequisite(p) => Some(&*p.key),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::changed_keys;
    use crate::model::Config;

    fn config(json: &str) -> Config {
        Config::parse(json).unwrap()
    }

    /// `a` <- `b` <- `c` (each tests the one before as a prerequisite), `d` alone.
    fn chain(a: bool) -> Config {
        config(&format!(
            r#"{{"f":{{
            "a":{{"t":0,"v":{{"b":{a}}}}},
            "b":{{"t":0,"v":{{"b":false}},"r":[{{"c":[{{"p":{{"f":"a","c":0,"v":{{"b":true}}}}}}],"s":{{"v":{{"b":true}}}}}}]}},
            "c":{{"t":0,"v":{{"b":false}},"r":[{{"c":[{{"p":{{"f":"b","c":0,"v":{{"b":true}}}}}}],"s":{{"v":{{"b":true}}}}}}]}},
            "d":{{"t":0,"v":{{"b":true}}}}}}}}"#
        ))
    }

    #[test]
    fn a_changed_prerequisite_changes_its_dependents_transitively() {
        assert_eq!(
            changed_keys(Some(&chain(false)), &chain(true)),
            ["a", "b", "c"]
        );
        assert!(changed_keys(Some(&chain(true)), &chain(true)).is_empty());
        assert_eq!(changed_keys(None, &chain(true)), ["a", "b", "c", "d"]);
    }

    #[test]
    fn a_removed_prerequisite_changes_its_dependents() {
        let without_a = config(
            r#"{"f":{"b":{"t":0,"v":{"b":false},"r":[{"c":[{"p":{"f":"a","c":0,"v":{"b":true}}}],"s":{"v":{"b":true}}}]}}}"#,
        );
        let with_a = config(
            r#"{"f":{"a":{"t":0,"v":{"b":true}},"b":{"t":0,"v":{"b":false},"r":[{"c":[{"p":{"f":"a","c":0,"v":{"b":true}}}],"s":{"v":{"b":true}}}]}}}"#,
        );
        assert_eq!(changed_keys(Some(&with_a), &without_a), ["a", "b"]);
    }

    #[test]
    fn a_changed_segment_changes_the_flags_using_it_and_their_dependents() {
        let segmented = |domain: &str| {
            config(&format!(
                r#"{{"p":{{"s":"salt"}},"s":[{{"n":"Staff","r":[{{"a":"Email","c":2,"l":["{domain}"]}}]}}],"f":{{
                "staffOnly":{{"t":0,"v":{{"b":false}},"r":[{{"c":[{{"s":{{"s":0,"c":0}}}}],"s":{{"v":{{"b":true}}}}}}]}},
                "dependsOnStaffOnly":{{"t":0,"v":{{"b":false}},"r":[{{"c":[{{"p":{{"f":"staffOnly","c":0,"v":{{"b":true}}}}}}],"s":{{"v":{{"b":true}}}}}}]}},
                "other":{{"t":0,"v":{{"b":true}}}}}}}}"#
            ))
        };
        assert_eq!(
            changed_keys(Some(&segmented("@a.com")), &segmented("@b.com")),
            ["dependsOnStaffOnly", "staffOnly"]
        );
    }

    #[test]
    fn a_prerequisite_cycle_ends() {
        let cycle = |v: bool| {
            config(&format!(
                r#"{{"f":{{
                "x":{{"t":0,"v":{{"b":{v}}},"r":[{{"c":[{{"p":{{"f":"y","c":0,"v":{{"b":true}}}}}}],"s":{{"v":{{"b":true}}}}}}]}},
                "y":{{"t":0,"v":{{"b":false}},"r":[{{"c":[{{"p":{{"f":"x","c":0,"v":{{"b":true}}}}}}],"s":{{"v":{{"b":true}}}}}}]}}}}}}"#
            ))
        };
        assert_eq!(changed_keys(Some(&cycle(false)), &cycle(true)), ["x", "y"]);
    }
}
