//! The one escaping function for text that came off the network (paths, sections, Host, TLS
//! names) before it reaches a terminal, a log line, JSON or a metric label. Printable ASCII
//! passes; control bytes, DEL, C1 controls, bidi overrides and zero-width characters become
//! visible `\x..`/`\u{..}` escapes. Nothing is percent-decoded: `%1b` stays `%1b`.

/// Longest escaped string we print; the rest becomes `…`.
pub const MAX_PRINTED: usize = 512;

fn is_dangerous(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{200b}'..='\u{200f}' // zero-width space/joiners, LRM, RLM
        | '\u{202a}'..='\u{202e}' // bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' // word joiner, bidi isolates
        | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
}

/// Escapes `s` for display, capped at [`MAX_PRINTED`] characters of output.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_PRINTED));
    for c in s.chars() {
        if out.len() >= MAX_PRINTED {
            out.push('…');
            break;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x100 && is_dangerous(c) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if is_dangerous(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Escapes bytes that may not be UTF-8: invalid sequences become `\x..` too.
pub fn escape_bytes(b: &[u8]) -> String {
    let mut out = String::new();
    for chunk in b.utf8_chunks() {
        out.push_str(&escape(chunk.valid()));
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
        if out.len() >= MAX_PRINTED {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_made_visible() {
        assert_eq!(escape("/pages"), "/pages");
        assert_eq!(escape("/a\u{1b}[2J"), "/a\\x1b[2J");
        assert_eq!(escape("\u{1b}]52;c;aGk=\u{7}"), "\\x1b]52;c;aGk=\\x07");
        assert_eq!(escape("x\u{9b}y"), "x\\x9by");
        assert_eq!(escape("\u{202e}txt"), "\\u{202e}txt");
        assert_eq!(escape("a\u{200b}b"), "a\\u{200b}b");
        assert_eq!(escape("%1b"), "%1b");
        assert_eq!(
            escape("a\\x1b"),
            "a\\\\x1b",
            "a literal backslash cannot fake an escape"
        );
        assert_eq!(escape("/café"), "/café");
        assert_eq!(escape_bytes(b"a\xff\x1b"), "a\\xff\\x1b");
    }

    #[test]
    fn long_text_is_capped() {
        let s = "/".repeat(10_000);
        let e = escape(&s);
        assert!(e.chars().count() <= MAX_PRINTED + 1);
        assert!(e.ends_with('…'));
    }
}
