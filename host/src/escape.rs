//! Text from a policy or a request, made safe to print.
//!
//! A policy's name, reason, log lines and error messages, and the fields of
//! an ingest request, are written by someone else. Printed raw, they could
//! move the cursor, recolour or clear the screen (ANSI and OSC escapes),
//! overwrite the start of a line (CR), hide text (NUL) or reorder it (bidi
//! overrides such as U+202E), and so forge status or log lines. Everything
//! that reaches a terminal, a status line or a log line goes through
//! [`escape`] first. JSON records keep the exact text: serde escapes control
//! characters there, and the reader sees what the policy sent.

use std::borrow::Cow;
use std::fmt;

/// Whether `c` must not reach a terminal as itself: a control, bidi or
/// invisible formatting character.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control() // C0 (NUL, BEL, BS, TAB, LF, CR, ESC, ...), DEL and C1 (U+0080-U+009F, CSI among them)
        || matches!(c,
            '\u{061C}'                  // Arabic letter mark
            | '\u{200B}'..='\u{200F}'   // zero-width space/joiners, LRM, RLM
            | '\u{2028}' | '\u{2029}'   // line and paragraph separators
            | '\u{202A}'..='\u{202E}'   // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}'   // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}'   // bidi isolates
            | '\u{FEFF}'                // zero-width no-break space (BOM)
            | '\u{FFF9}'..='\u{FFFB}'   // interlinear annotation
        )
}

/// `text` with every control, bidi and invisible formatting character
/// replaced by a visible escape (`\n`, `\r`, `\t`, `\u{1b}`, `\u{202e}`).
/// Borrows when there is nothing to escape, which is almost always.
pub fn escape(text: &str) -> Cow<'_, str> {
    let Some(first) = text.find(is_unsafe_char) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe_char(c) => {
                use std::fmt::Write;
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Like [`escape`], but keeps line breaks: for the host's own multi-line
/// messages (an error with its hint) that may quote a policy's text.
pub fn escape_keeping_lines(text: &str) -> Cow<'_, str> {
    if !text.split('\n').any(|l| l.contains(is_unsafe_char)) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.split('\n').map(escape).collect::<Vec<_>>().join("\n"))
}

/// Displays a string escaped with [`escape`], for `format!` and tracing fields.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let s = "Scale out: 177 sessions need 12 tasks — at 16 per task; ünïcode 👍";
        assert!(matches!(escape(s), Cow::Borrowed(t) if t == s));
    }

    #[test]
    fn terminal_escapes_and_line_breaks_become_visible() {
        assert_eq!(escape("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(
            escape("\x1b]8;;http://x\x07link"),
            "\\u{1b}]8;;http://x\\u{7}link"
        );
        assert_eq!(escape("ok\rFAKE"), "ok\\rFAKE");
        assert_eq!(escape("one\ntwo\tthree"), "one\\ntwo\\tthree");
        assert_eq!(escape("nul\0"), "nul\\u{0}");
        assert_eq!(escape("del\x7f c1\u{9b}"), "del\\u{7f} c1\\u{9b}");
    }

    #[test]
    fn bidi_and_invisible_characters_become_visible() {
        assert_eq!(escape("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(escape("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
        assert_eq!(escape("a\u{200b}b\u{feff}"), "a\\u{200b}b\\u{feff}");
        assert_eq!(escape("line\u{2028}sep"), "line\\u{2028}sep");
    }

    #[test]
    fn nothing_unsafe_survives_any_input() {
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let out = escape(&all);
        assert!(!out.chars().any(is_unsafe_char), "{out}");
        assert_eq!(format!("{}", Escaped("a\rb")), "a\\rb");
    }

    #[test]
    fn line_breaks_can_be_kept_for_the_hosts_own_messages() {
        assert!(matches!(escape_keeping_lines("one\ntwo"), Cow::Borrowed(_)));
        assert_eq!(
            escape_keeping_lines("one\x1b[31m\ntwo\r"),
            "one\\u{1b}[31m\ntwo\\r"
        );
    }
}
