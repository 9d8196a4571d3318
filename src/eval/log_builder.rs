//! The INFO evaluation log (event 5000), laid out line for line as the official SDKs do.
//!
//! Only created when INFO is enabled; the evaluator holds it as an `Option` and skips every
//! formatting step when it is `None`.

use std::fmt::{self, Write};

use crate::model::{
    Condition, Operand, PrerequisiteCondition, SegmentCondition, SettingType, UserCondition,
};
use crate::text::{JsNumber, iso8601_checked};

/// The most text one INFO evaluation log (event 5000) holds; beyond it the log is cut and
/// [`LOG_TRUNCATED_NOTE`] appended. Nothing past the cap is ever formatted, so a config or a
/// user built to make a huge log costs at most this much memory.
///
/// ```
/// use configcat_actix::{Config, LogLevel, MemoryLog, User, eval};
/// let config = Config::parse(r#"{"f":{"f":{"t":0,"v":{"b":false}}}}"#)?;
/// let log = MemoryLog::new(LogLevel::Info);
/// let user = User::new("x".repeat(1 << 20));
/// eval::evaluate_value(&config, "f", false, Some(&user), &log);
/// let message = &log.take()[0].message;
/// assert!(message.len() <= eval::MAX_EVALUATION_LOG_BYTES + eval::LOG_TRUNCATED_NOTE.len());
/// assert!(message.ends_with(eval::LOG_TRUNCATED_NOTE));
/// # Ok::<(), configcat_actix::ParseError>(())
/// ```
pub const MAX_EVALUATION_LOG_BYTES: usize = 64 * 1024;

/// The last line of an evaluation log cut at [`MAX_EVALUATION_LOG_BYTES`].
pub const LOG_TRUNCATED_NOTE: &str = "\n...[evaluation log truncated at 64 KiB]";

pub(crate) struct LogBuilder {
    text: String,
    indent: usize,
    /// Whether the text reached the cap: every later write is dropped.
    full: bool,
    /// Where each line break written by [`LogBuilder::new_line`] is, so that a block can be
    /// replayed at another indentation without mistaking a line break inside a value for one.
    breaks: Vec<usize>,
}

/// A position in the log, taken before a block is written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogMark {
    start: usize,
    first_break: usize,
    indent: usize,
}

/// A block of the log already written, to write again (a memoized prerequisite's lines).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogSpan {
    mark: LogMark,
    end: usize,
    end_break: usize,
}

impl LogBuilder {
    pub(crate) fn new() -> LogBuilder {
        LogBuilder {
            text: String::with_capacity(256),
            indent: 0,
            full: false,
            breaks: Vec::new(),
        }
    }

    pub(crate) fn append(&mut self, item: impl fmt::Display) -> &mut Self {
        if !self.full {
            // Fails only when the cap is reached, which `full` records.
            let _ = write!(self, "{item}");
        }
        self
    }

    /// Appends `value` as compact JSON, streamed: serialisation stops at the cap.
    pub(crate) fn append_json(&mut self, value: &impl serde::Serialize) -> &mut Self {
        if !self.full {
            let _ = serde_json::to_writer(super::convert::FmtIo(self), value);
        }
        self
    }

    pub(crate) fn new_line(&mut self) -> &mut Self {
        if self.full {
            return self;
        }
        let at = self.text.len();
        if self.write_str("\n").is_ok() {
            self.breaks.push(at);
        }
        for _ in 0..self.indent {
            if self.write_str("  ").is_err() {
                break;
            }
        }
        self
    }

    pub(crate) fn line(&mut self, item: impl fmt::Display) -> &mut Self {
        self.new_line().append(item)
    }

    pub(crate) fn indent(&mut self) -> &mut Self {
        self.indent += 1;
        self
    }

    pub(crate) fn dedent(&mut self) -> &mut Self {
        self.indent = self.indent.saturating_sub(1);
        self
    }

    pub(crate) fn reset_indent(&mut self) -> &mut Self {
        self.indent = 0;
        self
    }

    /// The position a block starts at.
    pub(crate) fn mark(&self) -> LogMark {
        LogMark {
            start: self.text.len(),
            first_break: self.breaks.len(),
            indent: self.indent,
        }
    }

    /// The block written since `mark`.
    pub(crate) fn span_since(&self, mark: LogMark) -> LogSpan {
        LogSpan {
            mark,
            end: self.text.len(),
            end_break: self.breaks.len(),
        }
    }

    /// Writes `span` again at the current indentation: each of its lines keeps its depth
    /// relative to the block. Within the cap: a block cut by the cap is only replayed once the
    /// log is already full, when nothing is written.
    pub(crate) fn replay(&mut self, span: LogSpan) {
        let skip = 2 * span.mark.indent;
        let mut from = span.mark.start;
        for i in span.mark.first_break..span.end_break {
            if self.full {
                return;
            }
            let at = self.breaks[i];
            self.copy(from, at);
            self.new_line();
            // The block's own indentation, which `new_line` has just written anew (counted,
            // not assumed: a cut never drops a character of the line itself).
            let line = &self.text.as_bytes()[at + 1..span.end];
            from = at + 1 + line.iter().take(skip).take_while(|b| **b == b' ').count();
        }
        self.copy(from, span.end);
    }

    /// Appends a copy of `text[from..to]`.
    fn copy(&mut self, from: usize, to: usize) {
        if from >= to || self.full {
            return;
        }
        let piece = self.text[from..to].to_owned();
        let _ = self.write_str(&piece);
    }

    /// The finished text, with [`LOG_TRUNCATED_NOTE`] when it was cut.
    pub(crate) fn finish(&mut self) -> &str {
        if self.full && !self.text.ends_with(LOG_TRUNCATED_NOTE) {
            self.text.push_str(LOG_TRUNCATED_NOTE);
        }
        &self.text
    }
}

/// Writes up to the cap, cutting on a character boundary; past it, refuses (the formatting
/// in progress stops there).
impl Write for LogBuilder {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.full {
            return Err(fmt::Error);
        }
        let room = MAX_EVALUATION_LOG_BYTES - self.text.len();
        if s.len() <= room {
            self.text.push_str(s);
            return Ok(());
        }
        let mut end = room;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.text.push_str(&s[..end]);
        self.full = true;
        Err(fmt::Error)
    }
}

/// A condition as logs and warnings show it, e.g. `User.Email CONTAINS ANY OF ['@example.com']`.
pub(crate) struct ShowUserCondition<'a>(pub &'a UserCondition);

const INVALID_VALUE: &str = "<invalid value>";
const MAX_LISTED_ITEMS: usize = 10;

impl fmt::Display for ShowUserCondition<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::model::Comparator::*;
        let c = self.0;
        let Some(comparator) = c.comparator else {
            return write!(
                f,
                "User.{} <invalid operator> '{INVALID_VALUE}'",
                c.attribute
            );
        };
        write!(f, "User.{} {} ", c.attribute, comparator.text())?;
        match comparator {
            NumberEquals
            | NumberNotEquals
            | NumberLess
            | NumberLessOrEquals
            | NumberGreater
            | NumberGreaterOrEquals => match c.comparison_number() {
                Some(n) => write!(f, "'{}'", JsNumber(n)),
                None => write!(f, "'{INVALID_VALUE}'"),
            },
            DateBefore | DateAfter => match c.comparison_number() {
                Some(n) => match iso8601_checked(n) {
                    Some(date) => write!(f, "'{}' ({date} UTC)", JsNumber(n)),
                    None => write!(f, "'{}'", JsNumber(n)),
                },
                None => write!(f, "'{INVALID_VALUE}'"),
            },
            SemVerLess
            | SemVerLessOrEquals
            | SemVerGreater
            | SemVerGreaterOrEquals
            | TextEquals
            | TextNotEquals => match c.comparison_text() {
                Some(text) => write!(f, "'{text}'"),
                None => write!(f, "'{INVALID_VALUE}'"),
            },
            SensitiveEquals | SensitiveNotEquals => match c.operand {
                Operand::Hash(_) => f.write_str("'<hashed value>'"),
                _ => write!(f, "'{INVALID_VALUE}'"),
            },
            _ if comparator.is_sensitive() => match c.hashed_count() {
                Some(count) => {
                    let noun = if count == 1 { "value" } else { "values" };
                    write!(f, "[<{count} hashed {noun}>]")
                }
                None => write!(f, "'{INVALID_VALUE}'"),
            },
            _ => match c.comparison_list() {
                Some(items) => {
                    f.write_char('[')?;
                    for (i, item) in items.iter().take(MAX_LISTED_ITEMS).enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write!(f, "'{item}'")?;
                    }
                    if items.len() > MAX_LISTED_ITEMS {
                        let more = items.len() - MAX_LISTED_ITEMS;
                        let noun = if more == 1 { "value" } else { "values" };
                        write!(f, ", ... <{more} more {noun}>")?;
                    }
                    f.write_char(']')
                }
                None => write!(f, "'{INVALID_VALUE}'"),
            },
        }
    }
}

/// `User IS IN SEGMENT 'Beta users'`.
pub(crate) struct ShowSegmentCondition<'a>(pub &'a SegmentCondition);

impl fmt::Display for ShowSegmentCondition<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        let op = c.comparator.map_or("<invalid operator>", |c| c.text());
        match &c.segment {
            Some(segment) => write!(f, "User {op} '{}'", segment.name),
            None => write!(f, "User {op} '<invalid reference>'"),
        }
    }
}

/// `Flag 'mainFeature' EQUALS 'target'`; the comparison value is shown in the type of the
/// prerequisite flag when known.
pub(crate) struct ShowPrerequisiteCondition<'a>(
    pub &'a PrerequisiteCondition,
    pub Option<SettingType>,
);

impl fmt::Display for ShowPrerequisiteCondition<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        let op = c.comparator.map_or("<invalid operator>", |c| c.text());
        write!(f, "Flag '{}' {op} '", c.key)?;
        match self.1.and_then(|t| c.value_for(t)) {
            Some(typed) => write!(f, "{typed}")?,
            None => write!(f, "{}", ShowPrerequisiteValue(c))?,
        }
        f.write_char('\'')
    }
}

/// The comparison value of a prerequisite condition, whichever field it has, when the
/// prerequisite flag's type does not say which one counts.
pub(crate) struct ShowPrerequisiteValue<'a>(pub &'a PrerequisiteCondition);

impl fmt::Display for ShowPrerequisiteValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let raw = &self.0.value;
        match (raw.b, &raw.s, raw.i, raw.d) {
            (Some(b), ..) => write!(f, "{b}"),
            (_, Some(s), ..) => f.write_str(s),
            (_, _, Some(i), _) => write!(f, "{i}"),
            (.., Some(d)) => write!(f, "{}", JsNumber(d)),
            _ => f.write_str(INVALID_VALUE),
        }
    }
}

/// The condition kinds a condition list can hold: rules hold any, segments only user ones.
pub(crate) enum ConditionView<'a> {
    User(&'a UserCondition),
    Segment(&'a SegmentCondition),
    Prerequisite(&'a PrerequisiteCondition),
    Unknown,
}

pub(crate) trait AsCondition {
    fn view(&self) -> ConditionView<'_>;
}

impl AsCondition for Condition {
    fn view(&self) -> ConditionView<'_> {
        match self {
            Condition::User(c) => ConditionView::User(c),
            Condition::Segment(c) => ConditionView::Segment(c),
            Condition::Prerequisite(c) => ConditionView::Prerequisite(c),
            Condition::Unknown => ConditionView::Unknown,
        }
    }
}

impl AsCondition for UserCondition {
    fn view(&self) -> ConditionView<'_> {
        ConditionView::User(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_replays_at_another_indentation_keeping_line_breaks_inside_values() {
        let mut log = LogBuilder::new();
        log.append("root").indent();
        let mark = log.mark();
        log.line("a value with\n  a line break")
            .indent()
            .line("deeper")
            .dedent();
        let span = log.span_since(mark);
        log.indent().indent().line("again:");
        log.replay(span);
        assert_eq!(
            log.finish(),
            "root\n  a value with\n  a line break\n    deeper\n      again:\n      a value with\n  a line break\n        deeper"
        );
    }

    #[test]
    fn the_log_is_cut_on_a_character_boundary_with_a_note() {
        let mut log = LogBuilder::new();
        log.append("x".repeat(MAX_EVALUATION_LOG_BYTES - 1))
            .append("éé");
        log.line("never written");
        let text = log.finish().to_owned();
        assert_eq!(
            text,
            format!(
                "{}{LOG_TRUNCATED_NOTE}",
                "x".repeat(MAX_EVALUATION_LOG_BYTES - 1)
            )
        );
        assert_eq!(log.finish(), text, "the note is added once");
    }
}
