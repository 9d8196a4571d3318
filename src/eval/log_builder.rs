//! The INFO evaluation log (event 5000), laid out line for line as the official SDKs do.
//!
//! Only created when INFO is enabled; the evaluator holds it as an `Option` and skips every
//! formatting step when it is `None`.

use std::fmt::{self, Write};

use crate::model::{
    Condition, PrerequisiteCondition, SegmentCondition, SettingType, UserCondition,
};
use crate::text::{JsNumber, iso8601_checked};

pub(crate) struct LogBuilder {
    text: String,
    indent: usize,
}

impl LogBuilder {
    pub(crate) fn new() -> LogBuilder {
        LogBuilder {
            text: String::with_capacity(256),
            indent: 0,
        }
    }

    pub(crate) fn append(&mut self, item: impl fmt::Display) -> &mut Self {
        // Writing to a String cannot fail.
        let _ = write!(self.text, "{item}");
        self
    }

    pub(crate) fn new_line(&mut self) -> &mut Self {
        self.text.push('\n');
        for _ in 0..self.indent {
            self.text.push_str("  ");
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

    pub(crate) fn as_str(&self) -> &str {
        &self.text
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
            | NumberGreaterOrEquals => match c.number {
                Some(n) => write!(f, "'{}'", JsNumber(n)),
                None => write!(f, "'{INVALID_VALUE}'"),
            },
            DateBefore | DateAfter => match c.number {
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
            SensitiveEquals | SensitiveNotEquals => match c.comparison_text() {
                Some(_) => f.write_str("'<hashed value>'"),
                None => write!(f, "'{INVALID_VALUE}'"),
            },
            _ if comparator.is_sensitive() => match c.comparison_list() {
                Some(items) => {
                    let noun = if items.len() == 1 { "value" } else { "values" };
                    write!(f, "[<{} hashed {noun}>]", items.len())
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
