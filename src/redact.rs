//! Keeping secrets and unbounded text out of log lines and error texts.
//!
//! A leaf module (it names no other module of the crate): the log sink wrapper, the fetcher and
//! the errors use it.
//!
//! * The SDK key is masked as the newest official SDKs mask it: every character but `/` and the
//!   last six becomes `*`
//!   (`configcat-sdk-1/XXXXXXXXXXXXXXXXXXXXXX/YYYYYYYYYYYYYYYYYYYYYY` is shown as
//!   `***************/**********************/****************YYYYYY`).
//! * Text that can carry outside input (a server's error, a parse error quoting a body) is cut
//!   to a bound, on a character boundary, with a note that it was cut.

use std::fmt;

/// The characters of an SDK key left readable when it is masked (as the official SDKs keep).
const KEPT_CHARACTERS: usize = 6;

/// The shortest part of an SDK key masked wherever it appears alone: the secret parts are 22
/// characters long; masking shorter ones would garble unrelated words of a message.
const MIN_SECRET_PART: usize = 8;

/// The longest error text built from outside input (a network error, a parse error).
pub(crate) const MAX_ERROR_TEXT: usize = 4 * 1024;

/// `sdk_key` with every character but `/` and the last six replaced by `*`, as the official
/// SDKs write it in their logs.
pub(crate) fn mask_sdk_key(sdk_key: &str) -> String {
    let visible_from = sdk_key.chars().count().saturating_sub(KEPT_CHARACTERS);
    sdk_key
        .chars()
        .enumerate()
        .map(|(i, c)| if i < visible_from && c != '/' { '*' } else { c })
        .collect()
}

/// The SDK key and its secret parts, each with its masked form, to be replaced in any text.
#[derive(Debug, Clone, Default)]
pub(crate) struct SecretMask {
    /// (secret, replacement), the whole key first.
    pairs: Vec<(String, String)>,
}

impl SecretMask {
    /// Masks `sdk_key` and each of its parts of 8 characters or more (`configcat-sdk-1` and
    /// `configcat-proxy` are not secret).
    pub(crate) fn for_sdk_key(sdk_key: &str) -> SecretMask {
        if sdk_key.is_empty() {
            return SecretMask::default();
        }
        let masked = mask_sdk_key(sdk_key);
        let mut pairs = vec![(sdk_key.to_owned(), masked.clone())];
        // Masking keeps `/` and each part's length, so the parts line up.
        for (part, masked_part) in sdk_key.split('/').zip(masked.split('/')) {
            let secret = part.chars().count() >= MIN_SECRET_PART
                && part != sdk_key
                && !matches!(part, "configcat-sdk-1" | "configcat-proxy")
                && pairs.iter().all(|(known, _)| known != part);
            if secret {
                pairs.push((part.to_owned(), masked_part.to_owned()));
            }
        }
        SecretMask { pairs }
    }

    /// Replaces every secret in `text` by its masked form; a text without one is left as it is
    /// (and not copied).
    pub(crate) fn apply(&self, text: &mut String) {
        for (secret, masked) in &self.pairs {
            if text.contains(secret.as_str()) {
                *text = text.replace(secret.as_str(), masked);
            }
        }
    }

    /// [`SecretMask::apply`] on a copy of `text`.
    pub(crate) fn masked(&self, text: &str) -> String {
        let mut text = text.to_owned();
        self.apply(&mut text);
        text
    }
}

/// Formats `message` into `out` (which it clears), keeping at most `limit` bytes; a longer
/// message is cut on a character boundary and ends with a note saying so. Formatting stops at
/// the limit: a huge message costs no more than `limit` bytes.
pub(crate) fn format_bounded(out: &mut String, message: fmt::Arguments<'_>, limit: usize) {
    out.clear();
    let mut writer = Bounded {
        out,
        limit,
        cut: false,
    };
    // An error is either the cut (the writer refuses the rest) or a `Display` of the message
    // that failed on its own; either way what was written stays.
    let _ = fmt::write(&mut writer, message);
    if writer.cut {
        out.push_str(&cut_note(limit));
    }
}

/// `text` cut to at most `limit` bytes (on a character boundary) with a note when it was
/// longer.
pub(crate) fn bounded(text: String, limit: usize) -> String {
    if text.len() <= limit {
        return text;
    }
    let mut cut = text;
    cut.truncate(floor_char_boundary(&cut, limit));
    cut.push_str(&cut_note(limit));
    cut
}

fn cut_note(limit: usize) -> String {
    format!(" […] (cut: longer than {limit} bytes)")
}

/// The largest index ≤ `index` that is a character boundary of `text`.
fn floor_char_boundary(text: &str, index: usize) -> usize {
    if index >= text.len() {
        return text.len();
    }
    (0..=index)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0)
}

/// A `fmt::Write` that keeps the first `limit` bytes and then refuses the rest.
struct Bounded<'a> {
    out: &'a mut String,
    limit: usize,
    cut: bool,
}

impl fmt::Write for Bounded<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.limit.saturating_sub(self.out.len());
        if s.len() <= room {
            self.out.push_str(s);
            return Ok(());
        }
        self.out.push_str(&s[..floor_char_boundary(s, room)]);
        self.cut = true;
        Err(fmt::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "configcat-sdk-1/PKDVCLf-Hq-h-kCzMp-L7Q/y_ZB7o-Xb0Swxth-ZlMSeA";

    #[test]
    fn the_sdk_key_is_masked_as_the_official_sdks_mask_it() {
        assert_eq!(
            mask_sdk_key(KEY),
            "***************/**********************/****************ZlMSeA"
        );
        assert_eq!(mask_sdk_key("abc"), "abc");
        assert_eq!(mask_sdk_key(""), "");
        assert_eq!(mask_sdk_key("éééééééé"), "**éééééé");
    }

    #[test]
    fn the_key_and_its_secret_parts_are_masked_anywhere_in_a_text() {
        let mask = SecretMask::for_sdk_key(KEY);
        let text = format!(
            "GET https://cdn/configuration-files/{KEY}/config_v6.json, \
             part PKDVCLf-Hq-h-kCzMp-L7Q, part y_ZB7o-Xb0Swxth-ZlMSeA, configcat-sdk-1 stays"
        );
        let masked = mask.masked(&text);
        assert!(!masked.contains("PKDVCLf-Hq-h-kCzMp-L7Q"), "{masked}");
        assert!(!masked.contains("y_ZB7o-Xb0Swxth"), "{masked}");
        assert!(masked.contains(&mask_sdk_key(KEY)), "{masked}");
        assert!(masked.contains("part **********************,"), "{masked}");
        assert!(masked.contains("configcat-sdk-1 stays"), "{masked}");
        // Short parts are not masked on their own (they would garble other words).
        let short = SecretMask::for_sdk_key("configcat-proxy/abc");
        assert_eq!(short.masked("abc abc"), "abc abc");
        assert_eq!(
            short.masked("key configcat-proxy/abc"),
            "key *************xy/abc"
        );
        assert_eq!(SecretMask::default().masked("anything"), "anything");
    }

    #[test]
    fn a_long_message_is_cut_on_a_character_boundary_with_a_note() {
        let mut out = String::from("left over");
        format_bounded(&mut out, format_args!("{}", "é".repeat(100)), 11);
        assert_eq!(out, format!("ééééé […] (cut: longer than 11 bytes)"));
        format_bounded(&mut out, format_args!("short {}", 1), 11);
        assert_eq!(out, "short 1");
        assert_eq!(bounded("abcdef".to_owned(), 6), "abcdef");
        assert_eq!(
            bounded("abcdefg".to_owned(), 6),
            "abcdef […] (cut: longer than 6 bytes)"
        );
    }

    #[test]
    fn formatting_stops_at_the_limit() {
        /// A value that would write forever, and counts how much it was let write.
        struct Endless(std::cell::Cell<usize>);
        impl fmt::Display for Endless {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                loop {
                    f.write_str("0123456789")?;
                    self.0.set(self.0.get() + 10);
                }
            }
        }
        let endless = Endless(std::cell::Cell::new(0));
        let mut out = String::new();
        format_bounded(&mut out, format_args!("{endless}"), 1000);
        assert!(
            out.starts_with("0123456789") && out.contains("cut"),
            "{out}"
        );
        assert!(out.len() < 1100);
        assert_eq!(endless.0.get(), 1000);
    }
}
