//! Converting user attribute values for the comparator families (spec §2.4, §2.5).

use std::fmt::{self, Write};

use crate::text::{StackText, js_trim, unix_seconds, write_js_number};
use crate::user::{Attr, AttributeRef, UserValue};

/// The canonical text of an attribute: what text comparators and the percentage-option hash see.
pub(crate) struct Canonical<'u>(pub AttributeRef<'u>);

impl fmt::Display for Canonical<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            AttributeRef::Text(s) => f.write_str(s),
            AttributeRef::Value(v) => write_canonical(f, v),
        }
    }
}

fn write_canonical(out: &mut impl Write, value: &UserValue) -> fmt::Result {
    match value {
        UserValue::String(s) => out.write_str(s),
        UserValue::Int(i) => write!(out, "{i}"),
        UserValue::Float(x) => write_js_number(out, *x),
        UserValue::DateTime(t) => write_js_number(out, unix_seconds(*t)),
        UserValue::SemVer(v) => write!(out, "{v}"),
        UserValue::StringList(items) => {
            // Compact JSON, non-ASCII unescaped, exactly as JavaScript's JSON.stringify.
            let mut sink = FmtIo(out);
            serde_json::to_writer(&mut sink, items).map_err(|_| fmt::Error)
        }
    }
}

/// Lets serde_json write JSON straight into a `fmt::Write`.
pub(crate) struct FmtIo<'w, W: Write>(pub(crate) &'w mut W);

impl<W: Write> std::io::Write for FmtIo<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = std::str::from_utf8(buf).map_err(std::io::Error::other)?;
        self.0.write_str(text).map_err(std::io::Error::other)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The attribute as text, and whether it had to be converted (which warning 3005 reports).
/// A converted text is formatted once per user and kept in its forms.
#[inline]
pub(crate) fn as_text(attr: Attr<'_>) -> (&str, bool) {
    match attr.value {
        AttributeRef::Text(s) => (s, false),
        AttributeRef::Value(_) => (canonical_text(attr), true),
    }
}

/// The canonical text of any attribute, converted at most once per user.
#[inline]
pub(crate) fn canonical_text(attr: Attr<'_>) -> &str {
    match attr.value {
        AttributeRef::Text(s) => s,
        AttributeRef::Value(_) => attr
            .forms
            .text
            .get_or_init(|| Canonical(attr.value).to_string().into_boxed_str()),
    }
}

/// Parses a number as the official SDKs do: trimmed, `,` accepted as the decimal separator,
/// `NaN` and (signed) `Infinity` accepted, hex and trailing garbage rejected.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let text = js_trim(text);
    match text {
        "NaN" => return Some(f64::NAN),
        "Infinity" | "+Infinity" => return Some(f64::INFINITY),
        "-Infinity" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    // Rust's parser also takes "inf" and "nan" in any case; the other SDKs do not.
    if text.is_empty()
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b',' | b'e' | b'E'))
    {
        return None;
    }
    if !text.contains(',') {
        return text.parse().ok();
    }
    // Only ASCII is left here. Short texts are rewritten on the stack; a longer one is as much a
    // number and gets a heap copy rather than a refusal.
    const STACK: usize = 64;
    if text.len() > STACK {
        return text.replace(',', ".").parse().ok();
    }
    let mut buffer = StackText::<STACK>::new();
    for c in text.chars() {
        buffer.write_char(if c == ',' { '.' } else { c }).ok()?;
    }
    buffer.as_str().parse().ok()
}

/// The attribute as a number for the number comparators; text is parsed once per user.
#[inline]
pub(crate) fn as_number(attr: Attr<'_>) -> Option<f64> {
    match attr.value {
        AttributeRef::Text(s) => *attr.forms.number.get_or_init(|| parse_number(s)),
        AttributeRef::Value(UserValue::Int(i)) => Some(*i as f64),
        AttributeRef::Value(UserValue::Float(x)) => Some(*x),
        AttributeRef::Value(_) => None,
    }
}

/// The attribute as Unix seconds for the date comparators.
#[inline]
pub(crate) fn as_unix_seconds(attr: Attr<'_>) -> Option<f64> {
    match attr.value {
        AttributeRef::Value(UserValue::DateTime(t)) => Some(unix_seconds(*t)),
        _ => as_number(attr),
    }
}

/// The attribute as a semantic version (trimmed text, parsed once per user, or a version
/// value).
#[inline]
pub(crate) fn as_semver(attr: Attr<'_>) -> Option<&semver::Version> {
    match attr.value {
        AttributeRef::Text(s) => attr
            .forms
            .semver
            .get_or_init(|| semver::Version::parse(js_trim(s)).ok())
            .as_ref(),
        AttributeRef::Value(UserValue::SemVer(v)) => Some(v),
        AttributeRef::Value(_) => None,
    }
}

/// The attribute as a list of texts: a list value, or text holding a JSON array of strings,
/// parsed once per user.
#[inline]
pub(crate) fn as_string_list(attr: Attr<'_>) -> Option<&[String]> {
    match attr.value {
        AttributeRef::Value(UserValue::StringList(items)) => Some(items),
        AttributeRef::Text(s) => attr
            .forms
            .list
            .get_or_init(|| parse_string_list(s))
            .as_deref(),
        AttributeRef::Value(_) => None,
    }
}

/// A JSON array of strings, or `None`.
fn parse_string_list(text: &str) -> Option<Box<[String]>> {
    // Most texts are plainly not arrays; serde_json would build an error value to say so.
    let first = text
        .bytes()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))?;
    if first != b'[' {
        return None;
    }
    serde_json::from_str::<Vec<String>>(text)
        .ok()
        .map(Vec::into_boxed_slice)
}

/// Orders two versions by SemVer 2.0 precedence: build metadata does not count.
pub(crate) fn semver_precedence(a: &semver::Version, b: &semver::Version) -> std::cmp::Ordering {
    (a.major, a.minor, a.patch, &a.pre).cmp(&(b.major, b.minor, b.patch, &b.pre))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_like_the_other_sdks() {
        assert_eq!(parse_number(" 3 "), Some(3.0));
        assert_eq!(parse_number("0,2"), Some(0.2));
        assert_eq!(parse_number("-1.5e3"), Some(-1500.0));
        assert_eq!(parse_number(".5"), Some(0.5));
        assert_eq!(parse_number("+Infinity"), Some(f64::INFINITY));
        // Longer than the stack buffer used for the comma rewrite.
        let zeros = "0".repeat(100);
        assert_eq!(parse_number(&format!("0,5{zeros}")), Some(0.5));
        assert_eq!(parse_number(&format!("{zeros}1,25")), Some(1.25));
        assert_eq!(parse_number(&format!("1,2,{zeros}")), None);
        assert!(parse_number("NaN").is_some_and(f64::is_nan));
        for bad in [
            "", "  ", "0x10", "1a", "inf", "nan", "infinity", "1,2,3", "abc", "e5",
        ] {
            assert_eq!(parse_number(bad), None, "{bad:?} must be rejected");
        }
    }

    #[test]
    fn lists_render_as_compact_json() {
        let list = UserValue::StringList(vec!["read".into(), "Write".into(), " eXecute ".into()]);
        assert_eq!(
            Canonical(AttributeRef::Value(&list)).to_string(),
            r#"["read","Write"," eXecute "]"#
        );
        let unicode = UserValue::StringList(vec!["ʄǟռƈʏ".into(), "\"q\"".into()]);
        assert_eq!(
            Canonical(AttributeRef::Value(&unicode)).to_string(),
            r#"["ʄǟռƈʏ","\"q\""]"#
        );
    }
}
