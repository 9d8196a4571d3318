//! A seeded generator of config_v6 documents and users shaped like real ones, for the mixed
//! evaluation benches (benches/evaluate.rs and benches/compare). Included with `#[path]`.
//!
//! Every run generates the same [`Mixed`] set: [`CONFIGS`] documents of 2–8 flags each, with
//! 0–4 targeting rules of 1–3 AND-ed conditions drawn from all comparator families (the
//! confidential, hashed ones included, with the config salt and the right context salt, so that
//! they can match), segments, prerequisite flags, and percentage options on the identifier or
//! on a custom attribute; and [`USERS`] users with 0–6 custom attributes of every kind: text,
//! integers, floats, date-times, string lists, list-like text (valid and not), semantic versions,
//! version-like text (valid and not), and number-like text.
//!
//! Attribute and comparison values are drawn from small pools, so conditions match often
//! enough to exercise every path. The generator stays clear of the few places where the
//! official Rust crate is known to deviate from the canonical SDKs (spec §8: empty attribute
//! texts, non-ASCII cuts of hashed prefixes, numbers of 1e21 and more, white space other than
//! ASCII), so that the comparison bench can require both crates to agree on every evaluation.

use sha2::{Digest, Sha256};

/// How many config documents the set has.
pub const CONFIGS: usize = 300;
/// How many users the set has.
pub const USERS: usize = 300;

/// A user attribute value, independent of either crate's user type.
#[derive(Debug, Clone)]
pub enum AttrSpec {
    Text(String),
    Int(i64),
    Float(f64),
    /// Milliseconds since the Unix epoch.
    DateMillis(i64),
    List(Vec<String>),
    /// Valid `MAJOR.MINOR.PATCH[-pre]` text, held as a version value by the users.
    SemVer(String),
}

/// A user, independent of either crate's user type.
#[derive(Debug, Clone)]
pub struct UserSpec {
    pub identifier: String,
    pub email: Option<String>,
    pub country: Option<String>,
    pub custom: Vec<(&'static str, AttrSpec)>,
}

/// One generated config document and the keys of its flags.
#[derive(Debug, Clone)]
pub struct MixedConfig {
    pub json: String,
    pub keys: Vec<String>,
}

/// The whole generated set.
pub struct Mixed {
    pub configs: Vec<MixedConfig>,
    pub users: Vec<UserSpec>,
}

impl Mixed {
    /// The timed workload: each user is evaluated for every flag of three configs (a request
    /// that reads 6–24 flags), 300 users in all. `(config index, user index, key)`.
    pub fn requests(&self) -> Vec<(usize, usize, &str)> {
        let mut out = Vec::new();
        for u in 0..self.users.len() {
            for offset in [0, 101, 202] {
                let c = (u + offset) % self.configs.len();
                for key in &self.configs[c].keys {
                    out.push((c, u, key.as_str()));
                }
            }
        }
        out
    }
}

/// xorshift64*: small, seeded, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'p, T>(&mut self, pool: &'p [T]) -> &'p T {
        &pool[self.range(0, pool.len() - 1)]
    }
    fn name(&mut self, pool: &[&'static str]) -> &'static str {
        pool[self.range(0, pool.len() - 1)]
    }
}

const DOMAINS: &[&str] = &["example.com", "test.org", "corp.net", "mail.io"];
const NAMES: &[&str] = &["jane", "joe", "ann", "bob", "eve", "max", "ida", "tom"];
const COUNTRIES: &[&str] = &["Hungary", "Germany", "France", "USA", "Japan", "Brazil"];
const PLANS: &[&str] = &["free", "pro", "enterprise", "business"];
const ROLES: &[&str] = &["admin", "billing", "dev", "ops", "viewer"];
const TEAMS: &[&str] = &["platform", "mobile", "web", "data"];
const VERSIONS: &[&str] = &["1.0.0", "1.4.2", "2.0.0-beta.1", "2.1.0", "3.0.0", "0.9.12"];
const BAD_VERSIONS: &[&str] = &["1.4", "v2.0.0", "2.0", "latest"];
/// Unix seconds around 2023–2024.
const DATES: &[i64] = &[1_672_531_200, 1_688_169_600, 1_704_067_200, 1_719_792_000];

/// Custom attribute names and what family they are meant for.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Number,
    Date,
    List,
    Version,
}

const CUSTOM: &[(&str, Kind)] = &[
    ("Plan", Kind::Text),
    ("Team", Kind::Text),
    ("Seats", Kind::Number),
    ("Rating", Kind::Number),
    ("Age", Kind::Number),
    ("SignupDate", Kind::Date),
    ("Roles", Kind::List),
    ("AppVersion", Kind::Version),
];

fn user(rng: &mut Rng, n: usize) -> UserSpec {
    let email = rng
        .chance(70)
        .then(|| format!("{}{}@{}", rng.pick(NAMES), n % 7, rng.pick(DOMAINS)));
    let country = rng.chance(60).then(|| rng.pick(COUNTRIES).to_string());
    let mut names: Vec<usize> = (0..CUSTOM.len()).collect();
    let count = rng.range(0, 6);
    let mut custom = Vec::new();
    for _ in 0..count {
        let i = names.remove(rng.range(0, names.len() - 1));
        let (name, kind) = CUSTOM[i];
        let value = match (kind, rng.range(0, 3)) {
            (Kind::Text, _) if name == "Plan" => AttrSpec::Text(rng.pick(PLANS).to_string()),
            (Kind::Text, _) => AttrSpec::Text(rng.pick(TEAMS).to_string()),
            (Kind::Number, 0) => AttrSpec::Int(rng.range(0, 1000) as i64),
            (Kind::Number, 1) => AttrSpec::Float(rng.range(0, 400) as f64 * 0.25),
            (Kind::Number, 2) => AttrSpec::Text(format!("{}", rng.range(0, 99))),
            (Kind::Number, _) => AttrSpec::Text(format!(" {},5 ", rng.range(0, 99))),
            (Kind::Date, 0) => AttrSpec::DateMillis(*rng.pick(DATES) * 1000 + 250),
            (Kind::Date, 1) => AttrSpec::Int(*rng.pick(DATES) + 3600),
            (Kind::Date, 2) => AttrSpec::Text(format!("{}.5", rng.pick(DATES))),
            (Kind::Date, _) => AttrSpec::Text("yesterday".to_owned()),
            (Kind::List, 0 | 1) => AttrSpec::List(
                (0..rng.range(0, 3))
                    .map(|_| rng.pick(ROLES).to_string())
                    .collect(),
            ),
            (Kind::List, 2) => {
                AttrSpec::Text(format!(r#"["{}","{}"]"#, rng.pick(ROLES), rng.pick(ROLES)))
            }
            (Kind::List, _) => AttrSpec::Text(format!("{}, {}", rng.pick(ROLES), rng.pick(ROLES))),
            (Kind::Version, 0 | 1) => AttrSpec::SemVer(rng.pick(VERSIONS).to_string()),
            (Kind::Version, 2) => AttrSpec::Text(format!(" {} ", rng.pick(VERSIONS))),
            (Kind::Version, _) => AttrSpec::Text(rng.pick(BAD_VERSIONS).to_string()),
        };
        custom.push((name, value));
    }
    UserSpec {
        identifier: format!("user-{n}"),
        email,
        country,
        custom,
    }
}

fn sha256_hex(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).expect("a list of strings serialises")
}

/// A text an attribute of `kind` may hold, for text comparators' comparison values.
fn sample_text(rng: &mut Rng, attribute: &str) -> String {
    match attribute {
        "Email" => format!(
            "{}{}@{}",
            rng.pick(NAMES),
            rng.range(0, 6),
            rng.pick(DOMAINS)
        ),
        "Country" => rng.pick(COUNTRIES).to_string(),
        "Identifier" => format!("user-{}", rng.range(0, USERS - 1)),
        "Plan" => rng.pick(PLANS).to_string(),
        "Team" => rng.pick(TEAMS).to_string(),
        "Roles" => rng.pick(ROLES).to_string(),
        "AppVersion" => rng.pick(VERSIONS).to_string(),
        "Seats" => rng.range(0, 1000).to_string(),
        _ => rng.range(0, 99).to_string(),
    }
}

/// An affix of a sample text: what STARTS/ENDS WITH comparators compare.
fn affix(rng: &mut Rng, attribute: &str, starts: bool) -> String {
    match (attribute, starts) {
        ("Email", false) => format!("@{}", rng.pick(DOMAINS)),
        ("Email", true) => rng.pick(NAMES).to_string(),
        ("Identifier", true) => "user-".to_owned(),
        ("Identifier", false) => rng.range(0, 9).to_string(),
        _ => {
            let text = sample_text(rng, attribute);
            let n = rng.range(1, text.len().min(3));
            if starts {
                text[..n].to_owned()
            } else {
                text[text.len() - n..].to_owned()
            }
        }
    }
}

/// Mostly the attribute a comparator is made for; sometimes another, to exercise the
/// conversion warnings (3004, 3005) as real configs do.
fn attribute_for(rng: &mut Rng, kind: Kind) -> &'static str {
    if rng.chance(15) {
        return rng.name(&["Email", "Country", "Identifier", "Seats", "Roles", "Plan"]);
    }
    match kind {
        Kind::Text => rng.name(&["Email", "Country", "Identifier", "Plan", "Team"]),
        Kind::Number => rng.name(&["Seats", "Rating", "Age"]),
        Kind::Date => "SignupDate",
        Kind::List => "Roles",
        Kind::Version => "AppVersion",
    }
}

/// A user condition (`{"a":..,"c":..,...}`) with a random comparator, its comparison value
/// hashed with `salt` and `context` where the comparator is confidential.
fn user_condition(rng: &mut Rng, salt: &str, context: &str) -> String {
    let comparator = rng.range(0, 35);
    let hash = |text: &str| sha256_hex(&[text, salt, context]);
    let (attribute, value) = match comparator {
        // Cleartext IS (NOT) ONE OF, CONTAINS.
        0..=3 => {
            let a = attribute_for(rng, Kind::Text);
            let list: Vec<String> = (0..rng.range(1, 4))
                .map(|_| {
                    if comparator >= 2 {
                        let starts = rng.chance(50);
                        affix(rng, a, starts)
                    } else {
                        sample_text(rng, a)
                    }
                })
                .collect();
            (a, format!(r#""l":{}"#, json_list(&list)))
        }
        4 | 5 => {
            let list: Vec<String> = (0..rng.range(1, 3))
                .map(|_| rng.pick(VERSIONS).to_string())
                .collect();
            (
                attribute_for(rng, Kind::Version),
                format!(r#""l":{}"#, json_list(&list)),
            )
        }
        6..=9 => (
            attribute_for(rng, Kind::Version),
            format!(r#""s":"{}""#, rng.pick(VERSIONS)),
        ),
        10..=15 => (
            attribute_for(rng, Kind::Number),
            format!(r#""d":{}"#, rng.range(0, 200) as f64 * 2.5),
        ),
        18 | 19 => (
            attribute_for(rng, Kind::Date),
            format!(r#""d":{}"#, rng.pick(DATES) + 86_400),
        ),
        // Confidential IS (NOT) ONE OF.
        16 | 17 => {
            let a = attribute_for(rng, Kind::Text);
            let list: Vec<String> = (0..rng.range(1, 4))
                .map(|_| hash(&sample_text(rng, a)))
                .collect();
            (a, format!(r#""l":{}"#, json_list(&list)))
        }
        20 | 21 => {
            let a = attribute_for(rng, Kind::Text);
            (a, format!(r#""s":"{}""#, hash(&sample_text(rng, a))))
        }
        // Confidential STARTS/ENDS WITH: "<byte length>_<hash of the affix>".
        22..=25 => {
            let a = attribute_for(rng, Kind::Text);
            let starts = comparator <= 23;
            let list: Vec<String> = (0..rng.range(1, 3))
                .map(|_| {
                    let affix = affix(rng, a, starts);
                    format!("{}_{}", affix.len(), hash(&affix))
                })
                .collect();
            (a, format!(r#""l":{}"#, json_list(&list)))
        }
        26 | 27 => {
            let list: Vec<String> = (0..rng.range(1, 3))
                .map(|_| hash(rng.name(ROLES)))
                .collect();
            (
                attribute_for(rng, Kind::List),
                format!(r#""l":{}"#, json_list(&list)),
            )
        }
        28 | 29 => {
            let a = attribute_for(rng, Kind::Text);
            (a, format!(r#""s":"{}""#, sample_text(rng, a)))
        }
        30..=33 => {
            let a = attribute_for(rng, Kind::Text);
            let starts = comparator <= 31;
            let list: Vec<String> = (0..rng.range(1, 3))
                .map(|_| affix(rng, a, starts))
                .collect();
            (a, format!(r#""l":{}"#, json_list(&list)))
        }
        _ => {
            let list: Vec<String> = (0..rng.range(1, 3))
                .map(|_| rng.pick(ROLES).to_string())
                .collect();
            (
                attribute_for(rng, Kind::List),
                format!(r#""l":{}"#, json_list(&list)),
            )
        }
    };
    format!(r#"{{"a":"{attribute}","c":{comparator},{value}}}"#)
}

/// A value of setting type `t` as `{"b"|"s"|"i"|"d": ..}`.
fn value(rng: &mut Rng, t: usize) -> String {
    match t {
        0 => format!(r#"{{"b":{}}}"#, rng.chance(50)),
        1 => format!(
            r#"{{"s":"{}"}}"#,
            rng.pick(&["red", "green", "blue", "off"])
        ),
        2 => format!(r#"{{"i":{}}}"#, rng.range(0, 9)),
        _ => format!(r#"{{"d":{}}}"#, rng.range(0, 9) as f64 + 0.5),
    }
}

fn percentage_options(rng: &mut Rng, t: usize, id: &str) -> String {
    let count = rng.range(2, 4);
    let mut left = 100;
    let options: Vec<String> = (0..count)
        .map(|i| {
            let p = if i + 1 == count {
                left
            } else {
                rng.range(0, left)
            };
            left -= p;
            format!(r#"{{"p":{p},"v":{},"i":"{id}-p{i}"}}"#, value(rng, t))
        })
        .collect();
    format!("[{}]", options.join(","))
}

fn config(rng: &mut Rng, n: usize) -> MixedConfig {
    let salt = format!("salt-{n}");
    let segment_count = rng.range(0, 3);
    let segments: Vec<String> = (0..segment_count)
        .map(|s| {
            let name = format!("Segment {n}.{s}");
            let conditions: Vec<String> = (0..rng.range(1, 2))
                .map(|_| user_condition(rng, &salt, &name))
                .collect();
            format!(r#"{{"n":"{name}","r":[{}]}}"#, conditions.join(","))
        })
        .collect();
    let flag_count = rng.range(2, 8);
    let mut types = Vec::new();
    let mut flags = Vec::new();
    let mut keys = Vec::new();
    for f in 0..flag_count {
        let key = format!("flag{f}");
        let t = rng.range(0, 3);
        types.push(t);
        let rules: Vec<String> = (0..rng.range(0, 4))
            .map(|r| {
                let conditions: Vec<String> = (0..rng.range(1, 3))
                    .map(|_| match rng.range(0, 9) {
                        0 if segment_count > 0 => format!(
                            r#"{{"s":{{"s":{},"c":{}}}}}"#,
                            rng.range(0, segment_count - 1),
                            rng.range(0, 1)
                        ),
                        1 if f > 0 => {
                            let p = rng.range(0, f - 1);
                            format!(
                                r#"{{"p":{{"f":"flag{p}","c":{},"v":{}}}}}"#,
                                rng.range(0, 1),
                                value(rng, types[p])
                            )
                        }
                        _ => format!(r#"{{"u":{}}}"#, user_condition(rng, &salt, &key)),
                    })
                    .collect();
                let id = format!("{key}-r{r}");
                let then = if rng.chance(25) {
                    format!(r#""p":{}"#, percentage_options(rng, t, &id))
                } else {
                    format!(r#""s":{{"v":{},"i":"{id}"}}"#, value(rng, t))
                };
                format!(r#"{{"c":[{}],{then}}}"#, conditions.join(","))
            })
            .collect();
        let mut body = format!(
            r#""t":{t},"v":{},"i":"{key}-d","r":[{}]"#,
            value(rng, t),
            rules.join(",")
        );
        if rng.chance(35) {
            if rng.chance(40) {
                let attribute = rng.name(&["Plan", "Seats", "Country", "Roles", "SignupDate"]);
                body.push_str(&format!(r#","a":"{attribute}""#));
            }
            body.push_str(&format!(r#","p":{}"#, percentage_options(rng, t, &key)));
        }
        flags.push(format!(r#""{key}":{{{body}}}"#));
        keys.push(key);
    }
    MixedConfig {
        json: format!(
            r#"{{"p":{{"s":"{salt}"}},"s":[{}],"f":{{{}}}}}"#,
            segments.join(","),
            flags.join(",")
        ),
        keys,
    }
}

/// The generated set: the same on every run.
pub fn mixed() -> Mixed {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let configs = (0..CONFIGS).map(|n| config(&mut rng, n)).collect();
    let users = (0..USERS).map(|n| user(&mut rng, n)).collect();
    Mixed { configs, users }
}

/// The user in configcat-actix's type.
pub fn our_user(spec: &UserSpec) -> configcat_actix::User {
    use configcat_actix::UserValue;
    let mut user = configcat_actix::User::new(spec.identifier.as_str());
    if let Some(email) = &spec.email {
        user = user.email(email.as_str());
    }
    if let Some(country) = &spec.country {
        user = user.country(country.as_str());
    }
    for (name, value) in &spec.custom {
        let value = match value {
            AttrSpec::Text(t) => UserValue::String(t.clone()),
            AttrSpec::Int(i) => UserValue::Int(*i),
            AttrSpec::Float(x) => UserValue::Float(*x),
            AttrSpec::DateMillis(ms) => UserValue::DateTime(
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(*ms as u64),
            ),
            AttrSpec::List(items) => UserValue::StringList(items.clone()),
            AttrSpec::SemVer(v) => {
                UserValue::SemVer(semver::Version::parse(v).expect("generated versions are valid"))
            }
        };
        user = user.custom(*name, value);
    }
    user
}
