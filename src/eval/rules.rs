//! The rule engine: targeting rules, conditions, segments, prerequisites and percentage options
//! (spec §2.2 to §2.8), writing the evaluation log as it goes when one is wanted.

use std::fmt;

use sha1::Sha1;
use sha2::{Digest, Sha256};
use smallvec::SmallVec;

use super::convert;
use super::log_builder::{
    AsCondition, ConditionView, LogBuilder, LogSpan, ShowPrerequisiteCondition,
    ShowPrerequisiteValue, ShowSegmentCondition, ShowUserCondition,
};
use crate::log::{LogLevel, LogSink, event};
use crate::model::{
    Comparator, Operand, PercentageOption, PrerequisiteComparator, PrerequisiteCondition,
    RuleOutcome, Segment, SegmentComparator, SegmentCondition, Setting, Settings, TargetingRule,
    UserCondition, Value,
};
use crate::text::Shortened;
use crate::user::{Attr, AttributeRef, Attributes, User};

/// How deep prerequisite flags may nest: a flag whose evaluation would go deeper returns the
/// default with error 1002 ("Prerequisite flags are nested more than 32 levels deep").
///
/// Evaluation recurses once per level, so this bounds its stack use: about 5 KiB a level in a
/// debug build (measured), some 170 KiB in all, within the stack of an actix arbiter (2 MiB)
/// or even of a 256 KiB thread. Real configs nest a few levels. Each prerequisite flag is
/// evaluated once per evaluation, however many flags depend on it.
///
/// ```
/// use configcat_actix::{Config, EvaluationError, NoLog, eval};
/// // f0 depends on f1, which depends on f2, ... down to f40.
/// let mut flags = Vec::new();
/// for i in 0..40 {
///     flags.push(format!(r#""f{i}":{{"t":0,"v":{{"b":false}},"r":[{{"c":[{{"p":{{"f":"f{}","c":0,"v":{{"b":true}}}}}}],"s":{{"v":{{"b":true}}}}}}]}}"#, i + 1));
/// }
/// flags.push(r#""f40":{"t":0,"v":{"b":true}}"#.to_owned());
/// let config = Config::parse(&format!(r#"{{"f":{{{}}}}}"#, flags.join(",")))?;
/// let too_deep = eval::evaluate_details(&config, "f0", false, None, None, &NoLog);
/// assert!(matches!(too_deep.error, Some(EvaluationError::InvalidConfig(_))));
/// // 40 - 8 = 32 levels below f8: within the limit.
/// assert!(eval::evaluate_value(&config, "f8", false, None, &NoLog));
/// assert_eq!(eval::MAX_PREREQUISITE_DEPTH, 32);
/// # Ok::<(), configcat_actix::ParseError>(())
/// ```
pub const MAX_PREREQUISITE_DEPTH: usize = 32;

/// How many warnings of prerequisite flags one evaluation writes again. The official SDKs
/// evaluate a prerequisite again wherever it appears, repeating its warnings; this crate
/// evaluates it once and writes its warnings again from memory, which for "diamond"
/// dependencies (each flag depending on two that depend on the next two) would be exponential.
pub const MAX_REPLAYED_WARNINGS: usize = 256;

/// What a setting evaluated to, borrowed from the config.
#[derive(Debug, Clone, Copy)]
pub struct Selection<'a> {
    /// The selected value.
    pub value: &'a Value,
    /// Its variation id.
    pub variation_id: Option<&'a str>,
    /// The targeting rule that matched, if any.
    pub matched_targeting_rule: Option<&'a TargetingRule>,
    /// The percentage option that was selected, if any.
    pub matched_percentage_option: Option<&'a PercentageOption>,
}

/// A fatal evaluation error: the config cannot be evaluated for this flag (spec §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fatal(pub String);

impl Fatal {
    fn new(message: impl Into<String>) -> Fatal {
        Fatal(message.into())
    }
}

/// Why a condition could not be evaluated; the rule is skipped, evaluation goes on.
#[derive(Debug, Clone, Copy)]
enum CannotEvaluate<'a> {
    UserMissing,
    AttributeMissing(&'a str),
    AttributeInvalid(&'a str, Invalid<'a>),
}

/// An attribute value its comparator cannot read, kept unformatted until someone logs it.
#[derive(Debug, Clone, Copy)]
struct Invalid<'a> {
    value: Attr<'a>,
    expected: &'static str,
}

impl fmt::Display for Invalid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "'{}' is not a valid {}",
            Shortened(convert::canonical_text(self.value)),
            self.expected
        )
    }
}

impl fmt::Display for CannotEvaluate<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CannotEvaluate::UserMissing => f.write_str("cannot evaluate, User Object is missing"),
            CannotEvaluate::AttributeMissing(attr) => {
                write!(f, "cannot evaluate, the User.{attr} attribute is missing")
            }
            CannotEvaluate::AttributeInvalid(attr, reason) => {
                write!(
                    f,
                    "cannot evaluate, the User.{attr} attribute is invalid ({reason})"
                )
            }
        }
    }
}

/// The tri-state result of a condition or a list of AND-ed conditions.
#[derive(Debug, Clone, Copy)]
enum Outcome<'a> {
    Match(bool),
    Error(CannotEvaluate<'a>),
}

impl Outcome<'_> {
    fn is_match(&self) -> bool {
        matches!(self, Outcome::Match(true))
    }
}

const RULE_IGNORED: &str =
    "The current targeting rule is ignored and the evaluation continues with the next rule.";
const USER_OBJECT_DOCS: &str = "Read more: https://configcat.com/docs/advanced/user-object/";
const NUMBER: &str = "decimal number";
const SEMVER: &str = "semantic version";
const DATE: &str = "Unix timestamp (number of seconds elapsed since Unix epoch)";
const STRING_ARRAY: &str = "string array";

/// The state of one flag's evaluation; a prerequisite flag gets its own.
struct FlagContext<'a> {
    key: &'a str,
    setting: &'a Setting,
    user_missing_logged: bool,
    attribute_missing_logged: bool,
}

impl<'a> FlagContext<'a> {
    fn new(key: &'a str, setting: &'a Setting) -> FlagContext<'a> {
        FlagContext {
            key,
            setting,
            user_missing_logged: false,
            attribute_missing_logged: false,
        }
    }
}

pub(crate) struct Evaluator<'a, 's> {
    settings: &'a Settings,
    user: Option<&'a Attributes>,
    sink: &'s dyn LogSink,
    warn: bool,
    pub(crate) log: Option<LogBuilder>,
    /// The chain of flags whose prerequisites are being evaluated, to detect cycles; inline,
    /// because chains are short and evaluation should not touch the heap.
    visited: SmallVec<[&'a str; 8]>,
    /// The salted SHA-256 digests computed so far in this evaluation, so that the same
    /// (attribute bytes, config salt, context salt) is never hashed twice: several
    /// confidential conditions on one attribute of one flag or segment are common.
    hashes: HashMemo,
    /// The prerequisite flags and segments evaluated so far: each is evaluated once per
    /// evaluation, so that "diamond" dependencies cost linear, not exponential, time, and a
    /// segment that many rules test costs one evaluation, not one per rule.
    memo: Memo<'a>,
    /// How many memoized evaluations are in progress: their warnings go to the journal.
    recording: usize,
    /// The warnings written while evaluating prerequisites and segments, which a memoized one
    /// writes again (as re-evaluating it would); empty unless WARN is on and one warns.
    journal: Vec<Warning<'a>>,
    /// How many warnings were written again from the journal, up to
    /// [`MAX_REPLAYED_WARNINGS`].
    replayed: usize,
}

/// A warning, kept as references into the config and the user so that it can be written
/// again without having been formatted.
#[derive(Clone, Copy)]
enum Warning<'a> {
    /// 3001.
    UserMissing { key: &'a str },
    /// 3003, for a condition.
    AttributeMissing {
        key: &'a str,
        condition: &'a UserCondition,
    },
    /// 3003, for percentage options.
    OptionsAttributeMissing { key: &'a str, attribute: &'a str },
    /// 3004.
    AttributeInvalid {
        key: &'a str,
        condition: &'a UserCondition,
        reason: Invalid<'a>,
    },
    /// 3005.
    Converted {
        key: &'a str,
        condition: &'a UserCondition,
        text: &'a str,
    },
}

impl Warning<'_> {
    fn write(&self, sink: &dyn LogSink) {
        let log = |id, message: fmt::Arguments<'_>| sink.log(LogLevel::Warn, id, message);
        match *self {
            Warning::UserMissing { key } => log(
                event::USER_OBJECT_MISSING,
                format_args!(
                    "Cannot evaluate targeting rules and % options for setting '{key}' (User Object is missing). You should pass a User Object to the evaluation methods like `get_value()`/`get_value_details()` in order to make targeting work properly. {USER_OBJECT_DOCS}"
                ),
            ),
            Warning::AttributeMissing { key, condition } => {
                let attribute = &condition.attribute;
                log(
                    event::USER_ATTRIBUTE_MISSING,
                    format_args!(
                        "Cannot evaluate condition ({}) for setting '{key}' (the User.{attribute} attribute is missing). You should set the User.{attribute} attribute in order to make targeting work properly. {USER_OBJECT_DOCS}",
                        ShowUserCondition(condition),
                    ),
                );
            }
            Warning::OptionsAttributeMissing { key, attribute } => log(
                event::USER_ATTRIBUTE_MISSING,
                format_args!(
                    "Cannot evaluate % options for setting '{key}' (the User.{attribute} attribute is missing). You should set the User.{attribute} attribute in order to make targeting work properly. {USER_OBJECT_DOCS}"
                ),
            ),
            Warning::AttributeInvalid {
                key,
                condition,
                reason,
            } => log(
                event::USER_ATTRIBUTE_INVALID,
                format_args!(
                    "Cannot evaluate condition ({}) for setting '{key}' ({reason}). Please check the User.{} attribute and make sure that its value corresponds to the comparison operator.",
                    ShowUserCondition(condition),
                    condition.attribute
                ),
            ),
            Warning::Converted {
                key,
                condition,
                text,
            } => log(
                event::USER_ATTRIBUTE_CONVERTED,
                format_args!(
                    "Evaluation of condition ({}) for setting '{key}' may not produce the expected result (the User.{} attribute is not a string value, thus it was automatically converted to the string value '{}'). Please make sure that using a non-string value was intended.",
                    ShowUserCondition(condition),
                    condition.attribute,
                    Shortened(text)
                ),
            ),
        }
    }
}

/// What a memo entry is the evaluation of: a prerequisite flag (by the address of its
/// setting), or a segment (by its address) within a flag (by its key, which its warnings name).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum MemoKey<'a> {
    Prerequisite(usize),
    Segment(usize, &'a str),
}

impl<'a> MemoKey<'a> {
    fn prerequisite(setting: &Setting) -> MemoKey<'a> {
        MemoKey::Prerequisite(std::ptr::from_ref(setting) as usize)
    }

    fn segment(segment: &Segment, key: &'a str) -> MemoKey<'a> {
        MemoKey::Segment(std::ptr::from_ref(segment) as usize, key)
    }
}

/// A prerequisite flag's selection or a segment's verdict.
#[derive(Clone, Copy)]
enum MemoValue<'a> {
    Selection(Selection<'a>),
    Segment(Outcome<'a>),
}

/// One memoized evaluation: its result, the log lines and the warnings it wrote.
#[derive(Clone, Copy)]
struct Memoized<'a> {
    key: MemoKey<'a>,
    value: MemoValue<'a>,
    log: Option<LogSpan>,
    journal: (usize, usize),
}

/// The prerequisite flags and segments evaluated in one evaluation. Inline for the few a flag
/// usually has (nothing touches the heap); a hash index beyond, so that a flag with thousands
/// of them is not quadratic.
#[derive(Default)]
struct Memo<'a> {
    entries: SmallVec<[Memoized<'a>; 4]>,
    index: Option<std::collections::HashMap<MemoKey<'a>, usize, foldhash::fast::RandomState>>,
}

impl<'a> Memo<'a> {
    /// Past this many entries lookups go through the index.
    const SCAN: usize = 16;

    fn get(&self, key: MemoKey<'a>) -> Option<Memoized<'a>> {
        match &self.index {
            Some(index) => index.get(&key).map(|&i| self.entries[i]),
            None => self.entries.iter().find(|m| m.key == key).copied(),
        }
    }

    fn insert(&mut self, memoized: Memoized<'a>) {
        self.entries.push(memoized);
        if let Some(index) = &mut self.index {
            index.insert(memoized.key, self.entries.len() - 1);
        } else if self.entries.len() > Self::SCAN {
            let entries = &self.entries;
            self.index = Some(
                entries
                    .iter()
                    .enumerate()
                    .map(|(i, m)| (m.key, i))
                    .collect(),
            );
        }
    }
}

/// Digests by the identity of their inputs: the attribute bytes are borrowed from the user and
/// the salts from the config, both unchanged for the whole evaluation, so equal addresses
/// and lengths mean equal bytes.
#[derive(Default)]
struct HashMemo {
    /// Inline and filled on demand: an evaluation without confidential conditions pays for
    /// neither zeroing nor a heap.
    entries: SmallVec<[(HashKey, [u8; 32]); HashMemo::CAPACITY]>,
    /// The slot the next digest goes to once all are taken (the oldest).
    next: usize,
}

type HashKey = [(usize, usize); 3];

impl HashMemo {
    /// Enough for the confidential conditions of a typical flag and its segments; beyond it
    /// the oldest digest is forgotten, which costs a hash, never a wrong answer, and the
    /// memo never spills to the heap.
    const CAPACITY: usize = 8;

    fn digest(&mut self, bytes: &[u8], salts: Salts<'_>) -> [u8; 32] {
        let key = [
            (bytes.as_ptr() as usize, bytes.len()),
            (salts.config.as_ptr() as usize, salts.config.len()),
            (salts.context.as_ptr() as usize, salts.context.len()),
        ];
        if let Some((_, digest)) = self.entries.iter().find(|(k, _)| *k == key) {
            return *digest;
        }
        let digest = salted_sha256(bytes, salts);
        if self.entries.len() < Self::CAPACITY {
            self.entries.push((key, digest));
        } else {
            self.entries[self.next] = (key, digest);
            self.next = (self.next + 1) % Self::CAPACITY;
        }
        digest
    }
}

impl<'a, 's> Evaluator<'a, 's> {
    pub(crate) fn new(
        settings: &'a Settings,
        user: Option<&'a User>,
        sink: &'s dyn LogSink,
    ) -> Evaluator<'a, 's> {
        Evaluator {
            settings,
            user: user.map(User::attributes),
            sink,
            warn: sink.enabled(LogLevel::Warn),
            log: sink.enabled(LogLevel::Info).then(LogBuilder::new),
            visited: SmallVec::new(),
            hashes: HashMemo::default(),
            memo: Memo::default(),
            recording: 0,
            journal: Vec::new(),
            replayed: 0,
        }
    }

    /// Evaluates one setting: rules first, then percentage options, then the default value.
    pub(crate) fn evaluate(
        &mut self,
        key: &'a str,
        setting: &'a Setting,
    ) -> Result<Selection<'a>, Fatal> {
        self.evaluate_setting(&mut FlagContext::new(key, setting))
    }

    fn evaluate_setting(&mut self, ctx: &mut FlagContext<'a>) -> Result<Selection<'a>, Fatal> {
        let setting = ctx.setting;
        if !setting.targeting_rules.is_empty()
            && let Some(selection) = self.evaluate_rules(ctx)?
        {
            return Ok(selection);
        }
        if !setting.percentage_options.is_empty()
            && let Some(selection) =
                self.evaluate_percentage_options(&setting.percentage_options, None, ctx)?
        {
            return Ok(selection);
        }
        Ok(Selection {
            value: valid_value(setting.value.as_ref())?,
            variation_id: setting.variation_id.as_deref(),
            matched_targeting_rule: None,
            matched_percentage_option: None,
        })
    }

    fn log(&mut self, write: impl FnOnce(&mut LogBuilder)) {
        if let Some(log) = self.log.as_mut() {
            write(log);
        }
    }

    /// Writes a warning, and keeps it while a prerequisite or a segment is evaluated, whose
    /// warnings are written again wherever it appears again.
    fn warning(&mut self, warning: Warning<'a>) {
        if self.warn {
            warning.write(self.sink);
            if self.recording > 0 {
                self.journal.push(warning);
            }
        }
    }

    /// Evaluates what `key` names once per evaluation: the first time through `evaluate`,
    /// remembering its result, log lines and warnings; later, writing those again (as the
    /// official SDKs, which evaluate it again, would write them).
    fn memoized(
        &mut self,
        key: MemoKey<'a>,
        evaluate: impl FnOnce(&mut Self) -> Result<MemoValue<'a>, Fatal>,
    ) -> Result<MemoValue<'a>, Fatal> {
        if let Some(memoized) = self.memo.get(key) {
            self.replay(&memoized);
            return Ok(memoized.value);
        }
        let mark = self.log.as_ref().map(LogBuilder::mark);
        let journal_start = self.journal.len();
        self.recording += 1;
        let value = evaluate(self);
        self.recording -= 1;
        let value = value?;
        self.memo.insert(Memoized {
            key,
            value,
            log: self.log.as_ref().zip(mark).map(|(l, m)| l.span_since(m)),
            journal: (journal_start, self.journal.len()),
        });
        Ok(value)
    }

    /// Writes again what a memoized evaluation wrote: its log lines (within the log's cap)
    /// and its warnings (within [`MAX_REPLAYED_WARNINGS`]).
    fn replay(&mut self, memoized: &Memoized<'a>) {
        if let (Some(log), Some(span)) = (self.log.as_mut(), memoized.log) {
            log.replay(span);
        }
        let (from, to) = memoized.journal;
        for i in from..to {
            if self.replayed >= MAX_REPLAYED_WARNINGS {
                break;
            }
            self.replayed += 1;
            let warning = self.journal[i];
            warning.write(self.sink);
            self.journal.push(warning);
        }
    }

    fn evaluate_rules(
        &mut self,
        ctx: &mut FlagContext<'a>,
    ) -> Result<Option<Selection<'a>>, Fatal> {
        self.log(|l| {
            l.line("Evaluating targeting rules and applying the first match if any:");
        });
        for rule in ctx.setting.targeting_rules.as_slice() {
            match self.evaluate_conditions(&rule.conditions, Some(rule), ctx.key, ctx)? {
                Outcome::Match(true) => {}
                Outcome::Match(false) => continue,
                Outcome::Error(_) => {
                    self.log(|l| {
                        l.indent().line(RULE_IGNORED).dedent();
                    });
                    continue;
                }
            }
            match &rule.then {
                RuleOutcome::Served {
                    value,
                    variation_id,
                } => {
                    return Ok(Some(Selection {
                        value: valid_value(value.as_ref())?,
                        variation_id: variation_id.as_deref(),
                        matched_targeting_rule: Some(rule),
                        matched_percentage_option: None,
                    }));
                }
                RuleOutcome::PercentageOptions(options) => {
                    self.log(|l| {
                        l.indent();
                    });
                    if let Some(selection) =
                        self.evaluate_percentage_options(options, Some(rule), ctx)?
                    {
                        self.log(|l| {
                            l.dedent();
                        });
                        return Ok(Some(selection));
                    }
                    self.log(|l| {
                        l.line(RULE_IGNORED).dedent();
                    });
                }
                RuleOutcome::Missing => {
                    return Err(Fatal::new(
                        "Targeting rule THEN part is missing or invalid.",
                    ));
                }
            }
        }
        Ok(None)
    }

    /// Evaluates AND-ed conditions, of a targeting rule (`rule` given) or of a segment.
    fn evaluate_conditions<C: AsCondition>(
        &mut self,
        conditions: &'a [C],
        rule: Option<&'a TargetingRule>,
        context_salt: &'a str,
        ctx: &mut FlagContext<'a>,
    ) -> Result<Outcome<'a>, Fatal> {
        let mut outcome = Outcome::Match(true);
        let mut then_on_new_line = false;
        self.log(|l| {
            l.line("- ");
        });
        for (i, condition) in conditions.iter().enumerate() {
            self.log(|l| {
                if i == 0 {
                    l.append("IF ").indent();
                } else {
                    l.indent().line("AND ");
                }
            });
            match condition.view() {
                ConditionView::User(c) => {
                    outcome = self.evaluate_user_condition(c, context_salt, ctx)?;
                    then_on_new_line = conditions.len() > 1;
                }
                ConditionView::Segment(c) => {
                    outcome = self.evaluate_segment_condition(c, ctx)?;
                    then_on_new_line = conditions.len() > 1
                        || !matches!(outcome, Outcome::Error(CannotEvaluate::UserMissing));
                }
                ConditionView::Prerequisite(c) => {
                    outcome = self.evaluate_prerequisite_condition(c, ctx)?;
                    then_on_new_line = true;
                }
                ConditionView::Unknown => {
                    return Err(Fatal::new("Condition is missing or invalid."));
                }
            }
            let matched = outcome.is_match();
            self.log(|l| {
                if rule.is_none() || conditions.len() > 1 {
                    l.append(" => ").append(matched);
                    if !matched {
                        l.append(", skipping the remaining AND conditions");
                    }
                }
                l.dedent();
            });
            if !matched {
                break;
            }
        }
        if let Some(rule) = rule {
            self.log(|l| log_rule_consequence(l, rule, &outcome, then_on_new_line));
        }
        Ok(outcome)
    }

    fn user_missing(&mut self, ctx: &mut FlagContext<'a>) -> Outcome<'a> {
        if !ctx.user_missing_logged {
            ctx.user_missing_logged = true;
            self.warning(Warning::UserMissing { key: ctx.key });
        }
        Outcome::Error(CannotEvaluate::UserMissing)
    }

    fn evaluate_user_condition(
        &mut self,
        condition: &'a UserCondition,
        context_salt: &'a str,
        ctx: &mut FlagContext<'a>,
    ) -> Result<Outcome<'a>, Fatal> {
        self.log(|l| {
            l.append(ShowUserCondition(condition));
        });
        let Some(user) = self.user else {
            return Ok(self.user_missing(ctx));
        };
        let attribute: &str = &condition.attribute;
        let value = match user.attribute(attribute) {
            None
            | Some(Attr {
                value: AttributeRef::Text(""),
                ..
            }) => {
                self.warning(Warning::AttributeMissing {
                    key: ctx.key,
                    condition,
                });
                return Ok(Outcome::Error(CannotEvaluate::AttributeMissing(attribute)));
            }
            Some(value) => value,
        };
        let comparator = condition
            .comparator
            .ok_or_else(|| Fatal::new("Comparison operator is invalid."))?;
        let outcome = self.compare(condition, comparator, value, context_salt, ctx)?;
        if let Outcome::Error(CannotEvaluate::AttributeInvalid(_, reason)) = outcome {
            self.warning(Warning::AttributeInvalid {
                key: ctx.key,
                condition,
                reason,
            });
        }
        Ok(outcome)
    }

    /// Applies a comparator to an attribute value that is present.
    fn compare(
        &mut self,
        condition: &'a UserCondition,
        comparator: Comparator,
        value: Attr<'a>,
        context_salt: &'a str,
        ctx: &FlagContext<'a>,
    ) -> Result<Outcome<'a>, Fatal> {
        use Comparator::*;
        let invalid = |expected| {
            Ok(Outcome::Error(CannotEvaluate::AttributeInvalid(
                &condition.attribute,
                Invalid { value, expected },
            )))
        };
        let operand = &condition.operand;
        let matched = match comparator {
            SemVerIsOneOf
            | SemVerIsNotOneOf
            | SemVerLess
            | SemVerLessOrEquals
            | SemVerGreater
            | SemVerGreaterOrEquals => {
                let Some(version) = convert::as_semver(value) else {
                    return invalid(SEMVER);
                };
                compare_semver(comparator, version, operand)?
            }
            NumberEquals
            | NumberNotEquals
            | NumberLess
            | NumberLessOrEquals
            | NumberGreater
            | NumberGreaterOrEquals => {
                let Some(number) = convert::as_number(value) else {
                    return invalid(NUMBER);
                };
                let Operand::Number(expected) = *operand else {
                    return Err(invalid_operand());
                };
                match comparator {
                    NumberEquals => number == expected,
                    NumberNotEquals => number != expected,
                    NumberLess => number < expected,
                    NumberLessOrEquals => number <= expected,
                    NumberGreater => number > expected,
                    _ => number >= expected,
                }
            }
            DateBefore | DateAfter => {
                let Some(seconds) = convert::as_unix_seconds(value) else {
                    return invalid(DATE);
                };
                let Operand::Number(expected) = *operand else {
                    return Err(invalid_operand());
                };
                if comparator == DateBefore {
                    seconds < expected
                } else {
                    seconds > expected
                }
            }
            ArrayContainsAnyOf
            | ArrayNotContainsAnyOf
            | SensitiveArrayContainsAnyOf
            | SensitiveArrayNotContainsAnyOf => {
                let Some(items) = convert::as_string_list(value) else {
                    return invalid(STRING_ARRAY);
                };
                self.compare_list(comparator, items, operand, context_salt, ctx)?
            }
            _ => {
                let (text, converted) = convert::as_text(value);
                if converted {
                    self.warning(Warning::Converted {
                        key: ctx.key,
                        condition,
                        text,
                    });
                }
                self.compare_text(comparator, text, operand, salts(ctx, context_salt))?
            }
        };
        Ok(Outcome::Match(matched))
    }

    fn compare_text(
        &mut self,
        comparator: Comparator,
        text: &str,
        operand: &Operand,
        salts: Option<Salts<'_>>,
    ) -> Result<bool, Fatal> {
        use Comparator::*;
        let memo = &mut self.hashes;
        let mut hashed = |bytes: &[u8]| -> Result<Option<[u8; 32]>, Fatal> {
            Ok(Some(memo.digest(bytes, require(salts)?)))
        };
        Ok(match (comparator, operand) {
            (IsOneOf, Operand::TextList(list)) => list.contains(text),
            (IsOneOf, Operand::IndexedTextList(list)) => list.contains(text),
            (IsNotOneOf, Operand::TextList(list)) => !list.contains(text),
            (IsNotOneOf, Operand::IndexedTextList(list)) => !list.contains(text),
            (ContainsAnyOf, Operand::TextList(list)) => list.iter().any(|i| text.contains(i)),
            (NotContainsAnyOf, Operand::TextList(list)) => !list.iter().any(|i| text.contains(i)),
            (TextStartsWithAnyOf, Operand::TextList(list)) => {
                list.iter().any(|i| text.starts_with(i))
            }
            (TextNotStartsWithAnyOf, Operand::TextList(list)) => {
                !list.iter().any(|i| text.starts_with(i))
            }
            (TextEndsWithAnyOf, Operand::TextList(list)) => list.iter().any(|i| text.ends_with(i)),
            (TextNotEndsWithAnyOf, Operand::TextList(list)) => {
                !list.iter().any(|i| text.ends_with(i))
            }
            (TextEquals, Operand::Text(expected)) => text == &**expected,
            (TextNotEquals, Operand::Text(expected)) => text != &**expected,
            (SensitiveIsOneOf | SensitiveIsNotOneOf, Operand::HashList(list)) => {
                let digest = hashed(text.as_bytes())?.unwrap_or_default();
                list.contains(&digest) == (comparator == SensitiveIsOneOf)
            }
            (SensitiveEquals, Operand::Hash(expected)) => {
                expected.as_deref() == hashed(text.as_bytes())?.as_ref()
            }
            (SensitiveNotEquals, Operand::Hash(expected)) => {
                expected.as_deref() != hashed(text.as_bytes())?.as_ref()
            }
            (
                SensitiveStartsWithAnyOf
                | SensitiveNotStartsWithAnyOf
                | SensitiveEndsWithAnyOf
                | SensitiveNotEndsWithAnyOf,
                Operand::HashAffixList(list),
            ) => {
                let starts = matches!(
                    comparator,
                    SensitiveStartsWithAnyOf | SensitiveNotStartsWithAnyOf
                );
                let positive = matches!(
                    comparator,
                    SensitiveStartsWithAnyOf | SensitiveEndsWithAnyOf
                );
                let bytes = text.as_bytes();
                let mut found = false;
                // Shortest first: past the text's length no item can match.
                for (length, digests) in list.groups() {
                    if bytes.len() < length {
                        break;
                    }
                    // Raw bytes, even where the cut splits a character, as the other SDKs do.
                    let affix = if starts {
                        &bytes[..length]
                    } else {
                        &bytes[bytes.len() - length..]
                    };
                    if digests.contains(&hashed(affix)?.unwrap_or_default()) {
                        found = true;
                        break;
                    }
                }
                found == positive
            }
            _ => return Err(invalid_operand()),
        })
    }

    fn compare_list(
        &mut self,
        comparator: Comparator,
        items: &[String],
        operand: &Operand,
        context_salt: &str,
        ctx: &FlagContext<'a>,
    ) -> Result<bool, Fatal> {
        use Comparator::*;
        Ok(match (comparator, operand) {
            (ArrayContainsAnyOf, Operand::TextList(list)) => items.iter().any(|i| list.contains(i)),
            (ArrayContainsAnyOf, Operand::IndexedTextList(list)) => {
                items.iter().any(|i| list.contains(i))
            }
            (ArrayNotContainsAnyOf, Operand::IndexedTextList(list)) => {
                !items.iter().any(|i| list.contains(i))
            }
            (ArrayNotContainsAnyOf, Operand::TextList(list)) => {
                !items.iter().any(|i| list.contains(i))
            }
            (
                SensitiveArrayContainsAnyOf | SensitiveArrayNotContainsAnyOf,
                Operand::HashList(list),
            ) => {
                let salts = require(salts(ctx, context_salt))?;
                let found = items
                    .iter()
                    .any(|i| list.contains(&self.hashes.digest(i.as_bytes(), salts)));
                found == (comparator == SensitiveArrayContainsAnyOf)
            }
            _ => return Err(invalid_operand()),
        })
    }

    fn evaluate_segment_condition(
        &mut self,
        condition: &'a SegmentCondition,
        ctx: &mut FlagContext<'a>,
    ) -> Result<Outcome<'a>, Fatal> {
        self.log(|l| {
            l.append(ShowSegmentCondition(condition));
        });
        if self.user.is_none() {
            return Ok(self.user_missing(ctx));
        }
        let segment = condition
            .segment
            .as_ref()
            .ok_or_else(|| Fatal::new("Segment reference is invalid."))?;
        let comparator = condition
            .comparator
            .ok_or_else(|| Fatal::new("Segment comparison operator is invalid."))?;
        self.log(|l| {
            l.line("(")
                .indent()
                .line(format_args!("Evaluating segment '{}':", segment.name));
        });
        let in_segment = self.evaluate_segment(segment, ctx)?;
        let outcome = match in_segment {
            Outcome::Match(is_in) => {
                Outcome::Match(is_in == (comparator == SegmentComparator::IsIn))
            }
            error => error,
        };
        self.log(|l| {
            l.line("Segment evaluation result: ");
            match (in_segment, outcome) {
                (Outcome::Match(is_in), _) => {
                    let verdict = if is_in {
                        SegmentComparator::IsIn
                    } else {
                        SegmentComparator::IsNotIn
                    };
                    l.append(format_args!("User {}.", verdict.text()));
                }
                (Outcome::Error(error), _) => {
                    l.append(format_args!("{error}."));
                }
            }
            l.line(format_args!(
                "Condition ({})",
                ShowSegmentCondition(condition)
            ));
            match outcome {
                Outcome::Match(result) => l.append(format_args!(" evaluates to {result}.")),
                Outcome::Error(_) => l.append(" failed to evaluate."),
            };
            l.dedent().line(")");
        });
        Ok(outcome)
    }

    /// Evaluates a segment's conditions, once per flag and evaluation.
    fn evaluate_segment(
        &mut self,
        segment: &'a Segment,
        ctx: &mut FlagContext<'a>,
    ) -> Result<Outcome<'a>, Fatal> {
        let value = self.memoized(MemoKey::segment(segment, ctx.key), |this| {
            this.evaluate_conditions(&segment.conditions, None, &segment.name, ctx)
                .map(MemoValue::Segment)
        })?;
        match value {
            MemoValue::Segment(outcome) => Ok(outcome),
            // A segment key only ever holds a verdict.
            MemoValue::Selection(_) => Err(Fatal::new("Segment evaluation failed.")),
        }
    }

    fn evaluate_prerequisite_condition(
        &mut self,
        condition: &'a PrerequisiteCondition,
        ctx: &mut FlagContext<'a>,
    ) -> Result<Outcome<'a>, Fatal> {
        let key: &str = &condition.key;
        let prerequisite = self.settings.get(key);
        self.log(|l| {
            l.append(ShowPrerequisiteCondition(
                condition,
                prerequisite.and_then(|p| p.setting_type),
            ));
        });
        let prerequisite = prerequisite
            .ok_or_else(|| Fatal::new("Prerequisite flag key is missing or invalid."))?;
        let comparator = condition
            .comparator
            .ok_or_else(|| Fatal::new("Prerequisite flag comparison operator is invalid."))?;
        if prerequisite
            .setting_type
            .and_then(|t| condition.value_for(t))
            .is_none()
        {
            return Err(Fatal(format!(
                "Type mismatch between comparison value '{}' and prerequisite flag '{key}'.",
                ShowPrerequisiteValue(condition)
            )));
        }

        self.visited.push(ctx.key);
        if self.visited.contains(&key) {
            self.visited.push(key);
            let cycle: Vec<String> = self.visited.iter().map(|k| format!("'{k}'")).collect();
            return Err(Fatal(format!(
                "Circular dependency detected between the following depending flags: {}.",
                cycle.join(" -> ")
            )));
        }
        self.log(|l| {
            l.line("(")
                .indent()
                .line(format_args!("Evaluating prerequisite flag '{key}':"));
        });
        let selection = self.evaluate_prerequisite(key, prerequisite)?;
        self.visited.pop();

        let equal = condition.value.equals(selection.value);
        let result = equal == (comparator == PrerequisiteComparator::Equals);
        self.log(|l| {
            l.line(format_args!(
                "Prerequisite flag evaluation result: '{}'.",
                selection.value
            ))
            .line(format_args!(
                "Condition ({}) evaluates to {result}.",
                ShowPrerequisiteCondition(condition, prerequisite.setting_type)
            ))
            .dedent()
            .line(")");
        });
        Ok(Outcome::Match(result))
    }

    /// Evaluates a prerequisite flag, once per evaluation and within the depth limit.
    fn evaluate_prerequisite(
        &mut self,
        key: &'a str,
        prerequisite: &'a Setting,
    ) -> Result<Selection<'a>, Fatal> {
        let value = self.memoized(MemoKey::prerequisite(prerequisite), |this| {
            if this.visited.len() > MAX_PREREQUISITE_DEPTH {
                return Err(Fatal(format!(
                    "Prerequisite flags are nested more than {MAX_PREREQUISITE_DEPTH} levels deep (at '{key}'), which this SDK does not evaluate."
                )));
            }
            this.evaluate_setting(&mut FlagContext::new(key, prerequisite))
                .map(MemoValue::Selection)
        })?;
        match value {
            MemoValue::Selection(selection) => Ok(selection),
            // A prerequisite key only ever holds a selection.
            MemoValue::Segment(_) => Err(Fatal::new("Prerequisite flag evaluation failed.")),
        }
    }

    fn evaluate_percentage_options(
        &mut self,
        options: &'a [PercentageOption],
        rule: Option<&'a TargetingRule>,
        ctx: &mut FlagContext<'a>,
    ) -> Result<Option<Selection<'a>>, Fatal> {
        let Some(user) = self.user else {
            self.log(|l| {
                l.line("Skipping % options because the User Object is missing.");
            });
            self.user_missing(ctx);
            return Ok(None);
        };
        let attribute = ctx
            .setting
            .percentage_attribute
            .as_deref()
            .map_or("Identifier", |a| a);
        let Some(value) = user.attribute(attribute) else {
            self.log(|l| {
                l.line(format_args!(
                    "Skipping % options because the User.{attribute} attribute is missing."
                ));
            });
            if !ctx.attribute_missing_logged {
                ctx.attribute_missing_logged = true;
                self.warning(Warning::OptionsAttributeMissing {
                    key: ctx.key,
                    attribute,
                });
            }
            return Ok(None);
        };
        let hash = percentage_hash(ctx.key, convert::canonical_text(value));
        self.log(|l| {
            l.line(format_args!(
                "Evaluating % options based on the User.{attribute} attribute:"
            ))
            .line(format_args!(
                "- Computing hash in the [0..99] range from User.{attribute} => {hash} (this value is sticky and consistent across all SDKs)"
            ));
        });
        let mut bucket: i64 = 0;
        for (i, option) in options.iter().enumerate() {
            // Percentages come from the config: a sum that overflows is a broken config.
            bucket = bucket.checked_add(option.percentage).ok_or_else(|| {
                Fatal::new("Sum of percentage option percentages is out of range.")
            })?;
            if hash >= bucket {
                continue;
            }
            let value = valid_value(option.value.as_ref())?;
            self.log(|l| {
                l.line(format_args!(
                    "- Hash value {hash} selects % option {} ({}%), '{value}'.",
                    i + 1,
                    option.percentage
                ));
            });
            return Ok(Some(Selection {
                value,
                variation_id: option.variation_id.as_deref(),
                matched_targeting_rule: rule,
                matched_percentage_option: Some(option),
            }));
        }
        Err(Fatal::new(
            "Sum of percentage option percentages is less than 100.",
        ))
    }
}

fn log_rule_consequence(
    l: &mut LogBuilder,
    rule: &TargetingRule,
    outcome: &Outcome<'_>,
    on_new_line: bool,
) {
    l.indent();
    if on_new_line {
        l.new_line();
    } else {
        l.append(" ");
    }
    match &rule.then {
        RuleOutcome::PercentageOptions(_) => l.append("THEN % options => "),
        RuleOutcome::Served {
            value: Some(value), ..
        } => l.append(format_args!("THEN '{value}' => ")),
        _ => l.append("THEN '<invalid value>' => "),
    };
    match outcome {
        Outcome::Match(true) => l.append("MATCH, applying rule"),
        Outcome::Match(false) => l.append("no match"),
        Outcome::Error(error) => l.append(error),
    };
    l.dedent();
}

fn valid_value(value: Option<&Value>) -> Result<&Value, Fatal> {
    value.ok_or_else(|| Fatal::new("Setting value is missing or invalid."))
}

fn invalid_operand() -> Fatal {
    Fatal::new("Comparison value is missing or invalid.")
}

/// The config salt and the context salt (setting key or segment name) of hashed comparisons.
#[derive(Clone, Copy)]
struct Salts<'s> {
    config: &'s str,
    context: &'s str,
}

/// The salts, if the config has one; only hashed comparators [`require`] it.
fn salts<'s>(ctx: &FlagContext<'s>, context: &'s str) -> Option<Salts<'s>> {
    ctx.setting.salt.as_deref().map(|config| Salts {
        config: config.as_ref(),
        context,
    })
}

fn require(salts: Option<Salts<'_>>) -> Result<Salts<'_>, Fatal> {
    salts.ok_or_else(|| Fatal::new("Config JSON salt is missing."))
}

fn salted_sha256(bytes: &[u8], salts: Salts<'_>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(bytes);
    hasher.update(salts.config.as_bytes());
    hasher.update(salts.context.as_bytes());
    hasher.finalize().into()
}

fn compare_semver(
    comparator: Comparator,
    version: &semver::Version,
    operand: &Operand,
) -> Result<bool, Fatal> {
    use Comparator::*;
    use std::cmp::Ordering;
    Ok(match (comparator, operand) {
        // An invalid comparison value makes both the positive and the negated form false.
        (SemVerIsOneOf | SemVerIsNotOneOf, Operand::SemVerList(list)) => match &list.parsed {
            None => false,
            Some(list) => {
                let found = list
                    .iter()
                    .any(|v| convert::semver_precedence(version, v) == Ordering::Equal);
                found == (comparator == SemVerIsOneOf)
            }
        },
        (_, Operand::SemVer(expected)) => match &expected.parsed {
            None => false,
            Some(expected) => {
                let order = convert::semver_precedence(version, expected);
                match comparator {
                    SemVerLess => order == Ordering::Less,
                    SemVerLessOrEquals => order != Ordering::Greater,
                    SemVerGreater => order == Ordering::Greater,
                    SemVerGreaterOrEquals => order != Ordering::Less,
                    _ => return Err(invalid_operand()),
                }
            }
        },
        _ => return Err(invalid_operand()),
    })
}

/// The percentage-option bucket: the first 28 bits of SHA-1(key ++ canonical text), mod 100.
/// Both parts go to the hasher as they are: nothing is concatenated on the heap.
fn percentage_hash(key: &str, text: &str) -> i64 {
    let mut hasher = Sha1::new();
    hasher.update(key.as_bytes());
    hasher.update(text.as_bytes());
    let digest = hasher.finalize();
    let first_seven_hex = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) >> 4;
    i64::from(first_seven_hex % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hash_vectors_match_the_official_sdks() {
        let salts = Salts {
            config: "salt",
            context: "ctx_salt",
        };
        assert_eq!(
            hex(&salted_sha256(b"test_payload", salts)),
            "5ee9b44b3b90bedd9441b256c429f862ceb2ea847a58a8e33d8052da141e47aa"
        );
        assert_eq!(
            hex(&Sha1::digest(b"test_payload")),
            "683231cec21572ae3afd898a1b1487f6b9193ebb"
        );
    }
}
