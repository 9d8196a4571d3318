//! Text renderings and readings shared with the official SDKs: JavaScript number formatting,
//! ISO-8601 dates, Unix seconds and ECMAScript whitespace trimming.
//!
//! A leaf module (it names no other module of the crate), so that the model, the user and the
//! evaluator can all use it without depending on each other.
//!
//! The percentage-option hash and text comparators see numbers through this formatting, so it
//! must match `Number.prototype.toString` digit for digit, or users land in different buckets
//! than with the other SDKs.

use std::fmt::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// A fixed-capacity text buffer on the stack, so number formatting needs no heap.
pub(crate) struct StackText<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> StackText<N> {
    pub(crate) fn new() -> Self {
        StackText {
            bytes: [0; N],
            len: 0,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only whole `&str`s are ever copied in, so the contents are valid UTF-8.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl<const N: usize> Write for StackText<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > N {
            return Err(fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Writes `x` as JavaScript's `Number.prototype.toString()` would: `125`, `0.12345`,
/// `1e+21`, `-1.23456789e-96`, `NaN`, `Infinity`.
pub(crate) fn write_js_number(out: &mut impl Write, x: f64) -> fmt::Result {
    if x.is_nan() {
        return out.write_str("NaN");
    }
    if x.is_infinite() {
        return out.write_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
    }
    if x == 0.0 {
        return out.write_str("0");
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "1.2345e-1", "-1e21".
    let mut sci = StackText::<40>::new();
    write!(sci, "{x:e}")?;
    let sci = sci.as_str();
    let (mantissa, exponent) = sci.split_once('e').ok_or(fmt::Error)?;
    let exponent: i32 = exponent.parse().map_err(|_| fmt::Error)?;
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let mut digits = StackText::<24>::new();
    for part in mantissa.split('.') {
        digits.write_str(part)?;
    }
    let digits = digits.as_str();
    let k = digits.len() as i32;
    // The decimal point sits after `n` digits: x = 0.digits * 10^n.
    let n = exponent + 1;
    if negative {
        out.write_char('-')?;
    }
    if k <= n && n <= 21 {
        out.write_str(digits)?;
        for _ in 0..(n - k) {
            out.write_char('0')?;
        }
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        write!(out, "{int}.{frac}")?;
    } else if -6 < n && n <= 0 {
        out.write_str("0.")?;
        for _ in 0..-n {
            out.write_char('0')?;
        }
        out.write_str(digits)?;
    } else {
        let (first, rest) = digits.split_at(1);
        out.write_str(first)?;
        if !rest.is_empty() {
            write!(out, ".{rest}")?;
        }
        let sign = if n - 1 < 0 { '-' } else { '+' };
        write!(out, "e{sign}{}", (n - 1).abs())?;
    }
    Ok(())
}

/// Seconds since the Unix epoch with millisecond precision, negative before it.
pub(crate) fn unix_seconds(time: SystemTime) -> f64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_millis() as f64 / 1000.0,
        Err(before) => -(before.duration().as_millis() as f64) / 1000.0,
    }
}

/// Whether `c` is white space to ECMAScript's `String.prototype.trim` (WhiteSpace and
/// LineTerminator): Unicode `Zs`, tab, vertical tab, form feed, U+FEFF and the four line
/// terminators. Rust's `char::is_whitespace` differs in two places: it counts U+0085 (NEL) and
/// not U+FEFF, so `"\u{feff}5"` would be invalid here and 5 in the canonical SDK.
fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n'
            | '\u{0b}'
            | '\u{0c}'
            | '\r'
            | ' '
            | '\u{a0}'
            | '\u{feff}'
            | '\u{1680}'
            | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

/// `text` without leading and trailing ECMAScript white space (see [`is_js_whitespace`]).
#[inline]
pub(crate) fn js_trim(text: &str) -> &str {
    // Most texts have no white space at either end: check the bytes before decoding chars.
    let bytes = text.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) if is_plain(*first) && is_plain(*last) => text,
        (None, _) | (_, None) => text,
        _ => text.trim_matches(is_js_whitespace),
    }
}

/// An ASCII byte that is not white space and cannot start or end a multi-byte white space.
#[inline]
fn is_plain(b: u8) -> bool {
    b.is_ascii() && !matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ')
}

/// A number shown the JavaScript way.
pub(crate) struct JsNumber(pub f64);

impl fmt::Display for JsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_js_number(f, self.0)
    }
}

/// The largest time JavaScript's `Date` can hold, in milliseconds either side of the epoch.
const MAX_DATE_MS: f64 = 8.64e15;

/// Unix seconds as JavaScript's `Date.prototype.toISOString()` writes them
/// (`2023-08-31T16:00:00.000Z`), or `None` where JavaScript has an invalid date.
pub(crate) fn iso8601_checked(seconds: f64) -> Option<String> {
    let millis = (seconds * 1000.0).trunc();
    if !millis.is_finite() || millis.abs() > MAX_DATE_MS {
        return None;
    }
    let millis = millis as i64;
    let days = millis.div_euclid(86_400_000);
    let ms_of_day = millis.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{}{:06}", if year < 0 { '-' } else { '+' }, year.abs())
    };
    Some(format!(
        "{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000
    ))
}

/// Like [`iso8601_checked`], with JavaScript's `Invalid Date` outside its range.
pub(crate) fn iso8601(seconds: f64) -> String {
    iso8601_checked(seconds).unwrap_or_else(|| "Invalid Date".to_owned())
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// At most this many characters of a value from outside (a user attribute) are quoted in a
/// message; the rest is summarised, so a value of many megabytes never reaches a log whole.
const MAX_QUOTED_CHARS: usize = 256;

/// Text as a message quotes it: whole up to [`MAX_QUOTED_CHARS`] characters, else that many
/// and `...[truncated, N bytes in total]`.
pub(crate) struct Shortened<'a>(pub &'a str);

impl fmt::Display for Shortened<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0;
        // A char is at most 4 bytes: shorter texts cannot be too long.
        if text.len() <= MAX_QUOTED_CHARS {
            return f.write_str(text);
        }
        match text.char_indices().nth(MAX_QUOTED_CHARS) {
            Some((cut, _)) => write!(
                f,
                "{}...[truncated, {} bytes in total]",
                &text[..cut],
                text.len()
            ),
            None => f.write_str(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(x: f64) -> String {
        JsNumber(x).to_string()
    }

    #[test]
    fn numbers_format_like_javascript() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.0, "-1"),
            (125.0, "125"),
            (0.12345, "0.12345"),
            (1.61803, "1.61803"),
            (1680307199.999, "1680307199.999"),
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (1e20, "100000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (0.000001, "0.000001"),
            (0.0000001, "1e-7"),
            (1.2e-7, "1.2e-7"),
            (-1.23456789e96, "-1.23456789e+96"),
            (-12345.6789e-100, "-1.23456789e-96"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
        ];
        for (x, expected) in cases {
            assert_eq!(js(*x), *expected, "formatting {x:e}");
        }
    }

    #[test]
    fn trims_the_ecmascript_white_space_set() {
        assert_eq!(js_trim("\u{feff} 5\t"), "5");
        assert_eq!(
            js_trim("\u{85}5"),
            "\u{85}5",
            "NEL is not ECMAScript white space"
        );
        assert_eq!(js_trim("\u{3000}\u{2028}x\u{a0}"), "x");
        assert_eq!(js_trim(" "), "");
        assert_eq!(js_trim(""), "");
        assert_eq!(js_trim("a b"), "a b");
        for c in ['\u{200b}', '\u{180e}', '\u{85}'] {
            assert!(!is_js_whitespace(c), "{c:?}");
        }
        // Every char Rust and ECMAScript agree on, and the two they differ on.
        for c in (0..=0x3000u32).filter_map(char::from_u32) {
            let expected = (c.is_whitespace() && c != '\u{85}') || c == '\u{feff}';
            assert_eq!(is_js_whitespace(c), expected, "{:#x}", c as u32);
        }
    }

    #[test]
    fn dates_convert_to_unix_seconds_with_milliseconds() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_680_307_199_999);
        assert_eq!(unix_seconds(t), 1680307199.999);
        let before = UNIX_EPOCH - std::time::Duration::from_millis(1500);
        assert_eq!(unix_seconds(before), -1.5);
    }

    #[test]
    fn long_texts_are_shortened_on_a_character_boundary() {
        assert_eq!(Shortened("short").to_string(), "short");
        let exact = "é".repeat(MAX_QUOTED_CHARS);
        assert_eq!(Shortened(&exact).to_string(), exact);
        let long = format!("{exact}é");
        assert_eq!(
            Shortened(&long).to_string(),
            format!("{exact}...[truncated, {} bytes in total]", long.len())
        );
    }

    #[test]
    fn dates_format_like_javascript() {
        assert_eq!(iso8601(1693497600.0), "2023-08-31T16:00:00.000Z");
        assert_eq!(iso8601(1680307200.0), "2023-04-01T00:00:00.000Z");
        assert_eq!(iso8601(0.001), "1970-01-01T00:00:00.001Z");
        assert_eq!(iso8601(-1.0), "1969-12-31T23:59:59.000Z");
        assert_eq!(iso8601(951782400.0), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(253402300800.0), "+010000-01-01T00:00:00.000Z");
        assert_eq!(iso8601_checked(8.64e12 + 1.0), None);
        assert_eq!(iso8601_checked(f64::NAN), None);
    }
}
