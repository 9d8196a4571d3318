//! A generated config of realistic shape and any size, for the parse and memory benches.

/// A config_v6 document with `flags` flags in a realistic mix, and 8 segments:
/// * i % 6 == 0: bool, no rules (every other one), or one Country IS NOT ONE OF rule;
/// * 1: string, 4 rules (text ENDS WITH ANY OF on Email, number > on Seats, semver >= on
///   Version, IS ONE OF on Plan AND number < on Seats) and a default;
/// * 2: int, an Email CONTAINS ANY OF rule (8 values), then 4 percentage options;
/// * 3: bool, a segment rule, a rule with two AND-ed text conditions serving percentage
///   options, an Email ENDS WITH ANY OF rule;
/// * 4: double, 3 rules (Country IS ONE OF a list, number <= on Seats, semver < on Version);
/// * 5: bool, a prerequisite on the flag 5 before, then a STARTS WITH ANY OF rule on Team, an
///   IS ONE OF rule on the identifier, and number >= on Seats AND Country IS ONE OF.
pub fn big_config_json(flags: usize) -> String {
    let mut out = String::with_capacity(flags * 600 * 2);
    out.push_str(
        r#"{"p":{"u":"https://cdn-global.configcat.com","r":0,"s":"big-salt-0123456789"},"s":["#,
    );
    for s in 0..8 {
        if s > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            r#"{{"n":"Segment {s}","r":[{{"a":"Email","c":2,"l":["@seg{s}.example.com","@seg{s}.example.org"]}},{{"a":"Seats","c":15,"d":{}}}]}}"#,
            s * 10
        ));
    }
    out.push_str(r#"],"f":{"#);
    for i in 0..flags {
        if i > 0 {
            out.push(',');
        }
        let body = match i % 6 {
            0 if i % 12 == 0 => format!(r#""t":0,"v":{{"b":true}},"i":"v{i}-d""#),
            0 => format!(
                r#""t":0,"v":{{"b":false}},"i":"v{i}-d","r":[{{"c":[{{"u":{{"a":"Country","c":1,"l":["Hungary","Germany","Austria","Poland","Czechia","Slovakia","Romania","Croatia"]}}}}],"s":{{"v":{{"b":true}},"i":"v{i}-r1"}}}}]"#
            ),
            1 => format!(
                r#""t":1,"v":{{"s":"default-{i}"}},"i":"v{i}-d","r":[{{"c":[{{"u":{{"a":"Email","c":34,"l":["@team{i}.example.com","@partner{i}.example.org","@qa{i}.example.net","@staging{i}.example.io","@beta{i}.example.dev","@ops{i}.example.co.uk","@dev{i}.example.com","@sec{i}.example.org","@data{i}.example.net","@ml{i}.example.io"]}}}}],"s":{{"v":{{"s":"team-{i}"}},"i":"v{i}-r1"}}}},{{"c":[{{"u":{{"a":"Seats","c":14,"d":{}}}}}],"s":{{"v":{{"s":"big-{i}"}},"i":"v{i}-r2"}}}},{{"c":[{{"u":{{"a":"Version","c":9,"s":"{}.{}.0"}}}}],"s":{{"v":{{"s":"new-{i}"}},"i":"v{i}-r3"}}}},{{"c":[{{"u":{{"a":"Plan","c":0,"l":["enterprise","business","premium"]}}}},{{"u":{{"a":"Seats","c":12,"d":500}}}}],"s":{{"v":{{"s":"plan-{i}"}},"i":"v{i}-r4"}}}}]"#,
                i % 100,
                1 + i % 5,
                i % 10
            ),
            2 => format!(
                r#""t":2,"v":{{"i":0}},"i":"v{i}-d","r":[{{"c":[{{"u":{{"a":"Email","c":2,"l":["@internal{i}.example.com","@staff.example.com","@contractors.example.org","@qa.example.net","@beta-testers.example.io","@partners.example.dev","@support.example.co.uk","@sales.example.de"]}}}}],"s":{{"v":{{"i":99}},"i":"v{i}-r1"}}}}],"p":[{{"p":25,"v":{{"i":1}},"i":"v{i}-p1"}},{{"p":25,"v":{{"i":2}},"i":"v{i}-p2"}},{{"p":25,"v":{{"i":3}},"i":"v{i}-p3"}},{{"p":25,"v":{{"i":4}},"i":"v{i}-p4"}}]"#
            ),
            3 => format!(
                r#""t":0,"v":{{"b":false}},"i":"v{i}-d","a":"Identifier","r":[{{"c":[{{"s":{{"s":{},"c":0}}}}],"s":{{"v":{{"b":true}},"i":"v{i}-seg"}}}},{{"c":[{{"u":{{"a":"Country","c":0,"l":["Hungary","Germany","Austria","Poland","Czechia","Slovakia","Romania","Croatia"]}}}},{{"u":{{"a":"Plan","c":2,"l":["enterprise","business"]}}}}],"p":[{{"p":10,"v":{{"b":true}},"i":"v{i}-p1"}},{{"p":90,"v":{{"b":false}},"i":"v{i}-p2"}}]}},{{"c":[{{"u":{{"a":"Email","c":34,"l":["@a{i}.example.com","@b{i}.example.org","@c{i}.example.net","@d{i}.example.io","@e{i}.example.dev","@f{i}.example.co.uk"]}}}}],"s":{{"v":{{"b":true}},"i":"v{i}-r3"}}}}]"#,
                i % 8
            ),
            4 => format!(
                r#""t":3,"v":{{"d":{}.5}},"i":"v{i}-d","r":[{{"c":[{{"u":{{"a":"Country","c":0,"l":["Hungary","Germany","France","Spain","Italy","Portugal","Netherlands","Belgium","Sweden","Denmark"]}}}}],"s":{{"v":{{"d":1.25}},"i":"v{i}-r1"}}}},{{"c":[{{"u":{{"a":"Seats","c":13,"d":{}}}}}],"s":{{"v":{{"d":2.5}},"i":"v{i}-r2"}}}},{{"c":[{{"u":{{"a":"Version","c":6,"s":"2.{}.0"}}}}],"s":{{"v":{{"d":3.75}},"i":"v{i}-r3"}}}}]"#,
                i % 7,
                i % 50,
                i % 9
            ),
            _ => format!(
                r#""t":0,"v":{{"b":false}},"i":"v{i}-d","r":[{{"c":[{{"p":{{"f":"flag_{:04}","c":0,"v":{{"b":true}}}}}}],"s":{{"v":{{"b":true}},"i":"v{i}-pre"}}}},{{"c":[{{"u":{{"a":"Team","c":32,"l":["platform-{i}","infra-{i}","mobile-{i}","web-{i}"]}}}}],"s":{{"v":{{"b":true}},"i":"v{i}-r2"}}}},{{"c":[{{"u":{{"a":"Identifier","c":0,"l":["user-{i}-a","user-{i}-b","user-{i}-c","user-{i}-d","user-{i}-e","user-{i}-f","user-{i}-g","user-{i}-h","user-{i}-i","user-{i}-j"]}}}}],"s":{{"v":{{"b":true}},"i":"v{i}-r3"}}}},{{"c":[{{"u":{{"a":"Seats","c":15,"d":{i}}}}},{{"u":{{"a":"Country","c":0,"l":["Hungary","Germany","Austria","Poland"]}}}}],"s":{{"v":{{"b":true}},"i":"v{i}-r4"}}}}]"#,
                i - 5
            ),
        };
        out.push_str(&format!(r#""flag_{i:04}":{{{body}}}"#));
    }
    out.push_str("}}");
    out
}
