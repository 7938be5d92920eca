//! Undoing what servers do to bytes they log, before a target becomes a section. Each server
//! escapes its own way: nginx writes `\x22` (uppercase hex), Apache `\"`, `\\` and `\xc3`,
//! lighttpd C-style `\n` and `\xHH`, HAProxy `#22`. The decoded bytes may hold anything,
//! control bytes included; the output layer escapes them again for the terminal.

use std::borrow::Cow;

/// How a layout escapes the bytes of a logged field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Escapes {
    /// Backslash escapes: `\xHH` (either case), `\"`, `\\`, `\n`, `\r`, `\t`, `\v`, `\f`, `\b`.
    #[default]
    Backslash,
    /// HAProxy's `#HH`.
    Hash,
    /// A JSON string's: `\"`, `\\`, `\/`, `\n`…, `\uXXXX` (a lone surrogate becomes U+FFFD).
    Json,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `field` with its escapes decoded; borrowed when it has none. An escape that is not one
/// (a lone `\` or `#` at the end, `\q`) is kept as written.
pub fn unescape(field: &[u8], how: Escapes) -> Cow<'_, [u8]> {
    let mark = match how {
        Escapes::Backslash | Escapes::Json => b'\\',
        Escapes::Hash => b'#',
    };
    let Some(first) = field.iter().position(|&b| b == mark) else {
        return Cow::Borrowed(field);
    };
    let mut out = Vec::with_capacity(field.len());
    out.extend_from_slice(field.get(..first).unwrap_or_default());
    let mut i = first;
    while let Some(&b) = field.get(i) {
        if b != mark {
            out.push(b);
            i += 1;
            continue;
        }
        let next = field.get(i + 1).copied();
        let hex_pair = |at: usize| Some(hex(*field.get(at)?)? << 4 | hex(*field.get(at + 1)?)?);
        if how == Escapes::Json {
            i = json_escape(field, i, &mut out);
            continue;
        }
        let decoded = match (how, next) {
            (Escapes::Hash, _) => hex_pair(i + 1).map(|v| (v, 3)),
            (Escapes::Backslash, Some(b'x' | b'X')) => hex_pair(i + 2).map(|v| (v, 4)),
            (Escapes::Backslash, Some(c)) => match c {
                b'"' | b'\\' | b'\'' => Some((c, 2)),
                b'n' => Some((b'\n', 2)),
                b'r' => Some((b'\r', 2)),
                b't' => Some((b'\t', 2)),
                b'v' => Some((0x0b, 2)),
                b'f' => Some((0x0c, 2)),
                b'b' => Some((0x08, 2)),
                _ => None,
            },
            (Escapes::Backslash, None) | (Escapes::Json, _) => None,
        };
        match decoded {
            Some((v, len)) => {
                out.push(v);
                i += len;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// The JSON escape at `field[i]` (a backslash) onto `out`; returns where the next byte is.
fn json_escape(field: &[u8], i: usize, out: &mut Vec<u8>) -> usize {
    let simple = match field.get(i + 1) {
        Some(b'"') => Some(b'"'),
        Some(b'\\') => Some(b'\\'),
        Some(b'/') => Some(b'/'),
        Some(b'b') => Some(0x08),
        Some(b'f') => Some(0x0c),
        Some(b'n') => Some(b'\n'),
        Some(b'r') => Some(b'\r'),
        Some(b't') => Some(b'\t'),
        _ => None,
    };
    if let Some(v) = simple {
        out.push(v);
        return i + 2;
    }
    let unit = |at: usize| -> Option<u32> {
        if field.get(at) != Some(&b'\\') || field.get(at + 1) != Some(&b'u') {
            return None;
        }
        (0..4).try_fold(0u32, |n, k| {
            Some(n << 4 | u32::from(hex(*field.get(at + 2 + k)?)?))
        })
    };
    let Some(u) = unit(i) else {
        out.push(b'\\');
        return i + 1;
    };
    let (c, len) = match u {
        0xd800..=0xdbff => match unit(i + 6) {
            Some(lo @ 0xdc00..=0xdfff) => (
                char::from_u32(0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00)),
                12,
            ),
            _ => (None, 6),
        },
        _ => (char::from_u32(u), 6),
    };
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.unwrap_or('\u{fffd}').encode_utf8(&mut buf).as_bytes());
    i + len
}

/// `line` without ANSI colour and cursor sequences (`ESC [ … final`), as morgan's `dev`
/// format writes them; borrowed when there are none.
pub fn strip_ansi(line: &[u8]) -> Cow<'_, [u8]> {
    if !line.contains(&0x1b) {
        return Cow::Borrowed(line);
    }
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while let Some(&b) = line.get(i) {
        if b == 0x1b && line.get(i + 1) == Some(&b'[') {
            i += 2;
            // Parameters and intermediates, then one final byte in 0x40..=0x7e.
            while let Some(&c) = line.get(i) {
                i += 1;
                if (0x40..=0x7e).contains(&c) {
                    break;
                }
            }
        } else {
            out.push(b);
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// Bytes as UTF-8, borrowed when they are, with replacement characters where they are not.
pub fn lossy(bytes: Cow<'_, [u8]>) -> Cow<'_, str> {
    match bytes {
        Cow::Borrowed(b) => String::from_utf8_lossy(b),
        Cow::Owned(v) => match String::from_utf8(v) {
            Ok(s) => Cow::Owned(s),
            Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_servers_escapes_decode() {
        assert_eq!(
            &*unescape(b"/a\\x22b\\x1B", Escapes::Backslash),
            b"/a\"b\x1b"
        );
        assert_eq!(
            &*unescape(b"/caf\\xc3\\xa9 \\\"q\\\"", Escapes::Backslash),
            "/café \"q\"".as_bytes()
        );
        assert_eq!(&*unescape(b"/l\\n\\t\\\\", Escapes::Backslash), b"/l\n\t\\");
        assert_eq!(&*unescape(b"/h#22x#7f", Escapes::Hash), b"/h\"x\x7f");
        assert!(matches!(
            unescape(b"/plain", Escapes::Backslash),
            Cow::Borrowed(_)
        ));
        // Not escapes: kept as written.
        for odd in [&b"/a\\"[..], b"/a\\q", b"/a\\x2", b"/a\\xZZ"] {
            assert_eq!(&*unescape(odd, Escapes::Backslash), odd);
        }
        assert_eq!(&*unescape(b"/a#", Escapes::Hash), b"/a#");
        assert_eq!(&*unescape(b"/a#4", Escapes::Hash), b"/a#4");
    }

    #[test]
    fn json_escapes_decode() {
        assert_eq!(
            &*unescape(
                br#"/a\"b\\c\/\u0022\u00e9\ud83d\ude00\ud800x\u12"#,
                Escapes::Json
            ),
            "/a\"b\\c/\"é😀\u{fffd}x\\u12".as_bytes()
        );
        // nginx escape=json passes bytes >= 0x80 as they are.
        assert_eq!(&*unescape(b"/caf\xe9", Escapes::Json), b"/caf\xe9");
    }

    #[test]
    fn ansi_sequences_are_removed() {
        assert_eq!(
            &*strip_ansi(b"\x1b[0mGET /x \x1b[32m200\x1b[0m 1.2 ms - 2\x1b[0m"),
            b"GET /x 200 1.2 ms - 2"
        );
        assert_eq!(&*strip_ansi(b"\x1b["), b"");
    }
}
