//! Header names: the few the head parsers act on ([`Name`]), and the names most messages carry,
//! recognised at the start of a line in one to three eight-byte compares instead of a scan of
//! every byte of the name.
//!
//! A name found here is, by construction, exactly what the byte-by-byte path would have found:
//! each pattern's letters match either case and nothing else (OR-ing 0x20 only in letter lanes),
//! its other bytes (`-`) match only themselves, and the colon must follow. Every pattern is a
//! token, so the name scan would have stopped at that same colon. A line this does not match
//! (an uncommon name, or too few bytes buffered to compare) takes the byte-by-byte path.

use super::token_is;

/// The headers whose values the parsers read; every other name is [`Name::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Name {
    Host,
    ContentLength,
    TransferEncoding,
    Expect,
    Upgrade,
    Other,
}

impl Name {
    /// The name a header line's name bytes (a token) stand for, ignoring ASCII case. Only the
    /// lengths of the names we read get compared at all.
    pub(super) fn of(name: &[u8]) -> Name {
        match name.len() {
            4 if token_is(name, b"host") => Name::Host,
            6 if token_is(name, b"expect") => Name::Expect,
            7 if token_is(name, b"upgrade") => Name::Upgrade,
            14 if token_is(name, b"content-length") => Name::ContentLength,
            17 if token_is(name, b"transfer-encoding") => Name::TransferEncoding,
            _ => Name::Other,
        }
    }
}

/// Eight bytes of a line compared at once: `(bytes | fold) & keep == want`.
#[derive(Debug, Clone, Copy)]
struct Word {
    at: usize,
    fold: u64,
    keep: u64,
    want: u64,
}

/// A lowercase name and its colon as up to three (overlapping) words.
#[derive(Debug, Clone, Copy)]
struct Pattern {
    name: Name,
    /// The name's length, without the colon.
    len: usize,
    words: [Word; 3],
    count: usize,
}

impl Pattern {
    /// Bytes a line must have buffered for the compare: every word is a whole eight-byte load.
    const fn needs(&self) -> usize {
        if self.len + 1 > 8 { self.len + 1 } else { 8 }
    }

    /// Always inlined on a constant pattern, so each word's masks are immediates and the
    /// first word (`first`, the line's first eight bytes) is loaded once for a whole group.
    #[inline(always)]
    fn matches(&self, line: &[u8], first: u64) -> bool {
        let word_at = |w: &Word| {
            line.get(w.at..)
                .and_then(|r| r.first_chunk::<8>())
                .is_some_and(|b| (u64::from_le_bytes(*b) | w.fold) & w.keep == w.want)
        };
        let [w0, w1, w2] = &self.words;
        line.len() >= self.needs()
            && (first | w0.fold) & w0.keep == w0.want
            && (self.count < 2 || word_at(w1))
            && (self.count < 3 || word_at(w2))
    }
}

/// One word of `lower` + `:` starting at `at`, covering at most the pattern's own bytes.
const fn word(lower: &[u8], at: usize) -> Word {
    let total = lower.len() + 1;
    let (mut fold, mut keep, mut want) = (0u64, 0u64, 0u64);
    let mut k = 0;
    while k < 8 && at + k < total {
        let b = if at + k < lower.len() {
            lower[at + k]
        } else {
            b':'
        };
        let shift = 8 * k;
        if b.is_ascii_lowercase() {
            fold |= 0x20 << shift;
        }
        keep |= 0xff << shift;
        want |= (b as u64) << shift;
        k += 1;
    }
    Word {
        at,
        fold,
        keep,
        want,
    }
}

/// `lower` (a lowercase token of at most 23 bytes) and its colon: one word when they fit in
/// eight bytes, else words at 0 (and 8) and one that ends exactly at the colon.
const fn pattern(name: Name, lower: &[u8]) -> Pattern {
    let total = lower.len() + 1;
    assert!(total <= 24);
    let first = word(lower, 0);
    let (words, count) = if total <= 8 {
        ([first; 3], 1)
    } else if total <= 16 {
        ([first, word(lower, total - 8), first], 2)
    } else {
        ([first, word(lower, 8), word(lower, total - 8)], 3)
    };
    Pattern {
        name,
        len: lower.len(),
        words,
        count,
    }
}

/// The groups of common names by first letter (the same names that open HPACK's static
/// table, RFC 7541 Appendix A: those nearly every request or response carries), most frequent
/// first in each group. Expands to `known` (each pattern compared inline) and, for the tests,
/// the list of every pattern.
macro_rules! groups {
    ($($letter:literal => [$($name:ident $lower:literal),* $(,)?]),* $(,)?) => {
        /// The common name that `line` starts with, followed by its colon: the name and its
        /// length. `None` when there is none (or too few bytes to tell): the caller scans the
        /// name itself.
        #[inline(always)]
        pub(super) fn known(line: &[u8]) -> Option<(Name, usize)> {
            let first = u64::from_le_bytes(*line.first_chunk::<8>()?);
            match line[0] | 0x20 {
                $($letter => {
                    $({
                        const P: Pattern = pattern(Name::$name, $lower);
                        if P.matches(line, first) {
                            return Some((P.name, P.len));
                        }
                    })*
                    None
                })*
                _ => None,
            }
        }

        #[cfg(test)]
        const ALL: &[Pattern] = &[$($(pattern(Name::$name, $lower)),*),*];
    };
}

groups! {
    b'a' => [
        Other b"accept",
        Other b"accept-encoding",
        Other b"accept-language",
        Other b"accept-ranges",
        Other b"authorization",
        Other b"age",
    ],
    b'c' => [
        ContentLength b"content-length",
        Other b"content-type",
        Other b"connection",
        Other b"cache-control",
        Other b"cookie",
        Other b"content-encoding",
    ],
    b'd' => [Other b"date"],
    b'e' => [Other b"etag", Expect b"expect", Other b"expires"],
    b'h' => [Host b"host"],
    b'k' => [Other b"keep-alive"],
    b'l' => [Other b"last-modified", Other b"location"],
    b'o' => [Other b"origin"],
    b'r' => [Other b"referer"],
    b's' => [Other b"server", Other b"set-cookie"],
    b't' => [TransferEncoding b"transfer-encoding"],
    b'u' => [Other b"user-agent", Upgrade b"upgrade"],
    b'v' => [Other b"vary"],
}

#[cfg(test)]
mod tests {
    use super::super::{TOKEN, token_len};
    use super::*;

    fn lower_of(p: &Pattern) -> Vec<u8> {
        // The pattern's bytes back from its words, each byte from the word that covers it.
        let mut out = vec![0u8; p.len + 1];
        for w in &p.words[..p.count] {
            for (k, b) in w.want.to_le_bytes().iter().enumerate() {
                if (w.keep >> (8 * k)) & 0xff != 0 {
                    out[w.at + k] = *b;
                }
            }
        }
        assert_eq!(out.pop(), Some(b':'));
        out
    }

    #[test]
    fn every_pattern_is_a_lowercase_token_found_in_any_case() {
        for p in ALL {
            let lower = lower_of(p);
            assert!(lower.iter().all(|b| TOKEN[usize::from(*b)]), "{lower:?}");
            assert!(!lower.iter().any(u8::is_ascii_uppercase));
            assert_eq!(Name::of(&lower), p.name, "{lower:?}");
            let mut line = lower.to_ascii_uppercase();
            line.extend_from_slice(b":\r\n\r\n\r\n");
            assert_eq!(known(&line), Some((p.name, p.len)), "{lower:?}");
        }
    }

    /// Every pattern against lines made from it: every prefix, and each byte up to the colon
    /// replaced by every value; `known` finds a name exactly when the byte-by-byte
    /// path would find that same name with its colon.
    #[test]
    fn known_names_are_exactly_what_the_name_scan_finds() {
        for p in ALL {
            let mut line = lower_of(p);
            line.extend_from_slice(b": some value here\r\n\r\n");
            let upper: Vec<u8> = line.to_ascii_uppercase();
            for base in [line.clone(), upper] {
                for n in 0..=base.len() {
                    check(&base[..n]);
                }
                for i in 0..=p.len {
                    for b in 0..=255u8 {
                        let mut v = base.clone();
                        v[i] = b;
                        check(&v);
                        check(&v[..p.len + 1]);
                    }
                }
            }
        }
    }

    fn check(line: &[u8]) {
        let scanned = token_len(line)
            .filter(|n| *n > 0 && line[*n] == b':')
            .map(|n| (Name::of(&line[..n]), n));
        if let Some(found) = known(line) {
            assert_eq!(Some(found), scanned, "{:?}", String::from_utf8_lossy(line));
        } else if line.len() >= 24 {
            // With enough bytes buffered, a common name in any case is always recognised.
            let name = scanned.map(|(_, n)| line[..n].to_ascii_lowercase());
            let common = ALL.iter().any(|p| Some(lower_of(p)) == name);
            assert!(!common, "{:?}", String::from_utf8_lossy(line));
        }
    }
}
