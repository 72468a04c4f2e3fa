//! Cutting text that came out of a policy down to a limit, on a char boundary.

/// The longest prefix of `s` of at most `limit` bytes that ends on a char boundary.
pub(crate) fn prefix(s: &str, limit: usize) -> &str {
    if s.len() <= limit {
        return s;
    }
    let mut cut = limit;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

/// `s` cut to at most `limit` bytes, marked "... (N bytes cut)" when cut.
pub(crate) fn cap(s: String, limit: usize) -> String {
    if s.len() <= limit {
        return s;
    }
    let kept = prefix(&s, limit);
    marked(kept, s.len())
}

/// `kept`, the prefix of a `full_len`-byte text, marked with what was cut.
pub(crate) fn marked(kept: &str, full_len: usize) -> String {
    let cut = full_len - kept.len();
    if cut == 0 {
        return kept.to_string();
    }
    format!("{kept}... ({cut} bytes cut)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_text_cap_cuts_on_a_char_boundary_and_says_how_much() {
        // "é" is two bytes: a cut at 3 falls inside the second one.
        assert_eq!(cap("éé".repeat(2), 3), "é... (6 bytes cut)");
        assert_eq!(cap("short".into(), 5), "short");
        assert_eq!(prefix("aé", 2), "a");
        assert_eq!(cap("x".repeat(10), 0), "... (10 bytes cut)");
    }
}
