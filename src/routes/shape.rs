//! What one path segment looks like on its own, before any evidence from its neighbours:
//! an identifier by shape (numbers, UUIDs, hashes, tokens, emails, anything escaped), a weak
//! shape that is an identifier only where it varies (versions, dates), or a word.
//!
//! Pure and allocation-free; called on every segment the route tree has not seen before.

/// Longest segment kept as a literal; longer ones are identifiers (keys, tokens, paths): real
/// API resource names are short, and the cap bounds the memory of every tree node.
pub(crate) const MAX_LITERAL_LEN: usize = 48;

/// Extensions a segment may end with and still be an identifier in its stem
/// (`/Calls/CA0123….json` → `/Calls/{id}.json`): formats an API answers in, not file types.
const FORMAT_EXTENSIONS: [&str; 7] = ["json", "xml", "csv", "yaml", "yml", "atom", "rss"];

/// The shape of a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A word: a literal until its position's fan-out says otherwise.
    Word,
    /// `v1`, `v1.56`, `v1beta1`, `2.0`: a literal at a fixed position, an identifier where many vary.
    Version,
    /// `2010-04-01`: Twilio's API version is a date at a fixed position.
    Date,
    /// An identifier on sight.
    Id,
}

/// The shape of `segment`, and the format extension it keeps when it is an identifier
/// (`""` or e.g. `".json"`).
pub(crate) fn classify(segment: &str) -> (Shape, &'static str) {
    if let Some((stem, ext)) = format_extension(segment)
        && shape_of(stem) == Shape::Id
    {
        return (Shape::Id, ext);
    }
    (shape_of(segment), "")
}

/// The format extension of `segment` (`".json"`) and the stem before it, when it has one.
pub(crate) fn format_extension(segment: &str) -> Option<(&str, &'static str)> {
    let dot = segment.rfind('.')?;
    let (stem, ext) = (&segment[..dot], &segment[dot + 1..]);
    if stem.is_empty() {
        return None;
    }
    let known = FORMAT_EXTENSIONS
        .iter()
        .find(|e| e.eq_ignore_ascii_case(ext))?;
    // The table's entries are static; hand back the one with the leading dot.
    Some((stem, dotted(known)))
}

fn dotted(ext: &str) -> &'static str {
    match ext {
        "json" => ".json",
        "xml" => ".xml",
        "csv" => ".csv",
        "yaml" => ".yaml",
        "yml" => ".yml",
        "atom" => ".atom",
        _ => ".rss",
    }
}

fn shape_of(s: &str) -> Shape {
    let b = s.as_bytes();
    if b.is_empty() {
        return Shape::Word;
    }
    if b.len() > MAX_LITERAL_LEN {
        return Shape::Id;
    }
    // Outside RFC 3986's unreserved set: percent-escapes, `@`, `:`, `+`, `=`, … API resource
    // names never carry them; values (emails, escaped file paths, label names) do.
    if !b
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~'))
    {
        return Shape::Id;
    }
    if is_date(b) {
        return Shape::Date;
    }
    if is_version(b) {
        return Shape::Version;
    }
    if b.iter().all(u8::is_ascii_digit) || is_uuid(b) || is_hex_hash(b) || is_dotted_quad(b) {
        return Shape::Id;
    }
    if digit_runs(b) >= 3 {
        // `ip-10-0-1-23`, `2024-01-05T10`, `build-7-3-1`
        return Shape::Id;
    }
    for part in s.split(['-', '_', '.', '~']) {
        if looks_random(part.as_bytes()) {
            return Shape::Id;
        }
    }
    Shape::Word
}

/// `2010-04-01`, `2024-01`.
fn is_date(b: &[u8]) -> bool {
    let digits = |r: &[u8]| r.iter().all(u8::is_ascii_digit);
    let century = b.starts_with(b"19") || b.starts_with(b"20");
    century
        && match b.len() {
            10 => {
                digits(&b[..4])
                    && b[4] == b'-'
                    && digits(&b[5..7])
                    && b[7] == b'-'
                    && digits(&b[8..])
            }
            7 => digits(&b[..4]) && b[4] == b'-' && digits(&b[5..]),
            _ => false,
        }
}

/// `v1`, `V2`, `v1.56`, `v1beta1`, `v2alpha`, `1.0`, `2.1.3`: at most three numeric parts.
fn is_version(b: &[u8]) -> bool {
    let rest = match b.first() {
        Some(b'v' | b'V') => &b[1..],
        _ => {
            // Bare numbers with dots: `1.0`, `2.1.3` (four parts is an IPv4 address).
            let parts = b.split(|&c| c == b'.').count();
            return (2..=3).contains(&parts)
                && b.split(|&c| c == b'.')
                    .all(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit))
                && b.len() <= 12;
        }
    };
    let numeric_end = rest
        .iter()
        .position(|c| !c.is_ascii_digit() && *c != b'.')
        .unwrap_or(rest.len());
    let (numeric, tail) = rest.split_at(numeric_end);
    if numeric.is_empty() || !numeric[0].is_ascii_digit() || numeric.ends_with(b".") {
        return false;
    }
    if numeric.split(|&c| c == b'.').count() > 3 || numeric.windows(2).any(|w| w == b"..") {
        return false;
    }
    if tail.is_empty() {
        return true;
    }
    let word_end = tail
        .iter()
        .position(|c| !c.is_ascii_alphabetic())
        .unwrap_or(tail.len());
    let (word, number) = tail.split_at(word_end);
    matches!(word, b"alpha" | b"beta" | b"rc" | b"preview" | b"dev")
        && number.iter().all(u8::is_ascii_digit)
        && number.len() <= 3
}

fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// A git object name, a digest, a short sha: hex digits only, at least 7, at least one digit
/// (`deadbeef`-like words stay words until their position varies).
fn is_hex_hash(b: &[u8]) -> bool {
    b.len() >= 7 && b.iter().all(u8::is_ascii_hexdigit) && b.iter().any(u8::is_ascii_digit)
}

fn is_dotted_quad(b: &[u8]) -> bool {
    b.split(|&c| c == b'.').count() >= 4
        && b.split(|&c| c == b'.')
            .all(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit))
}

fn digit_runs(b: &[u8]) -> usize {
    let mut runs = 0;
    let mut previous_digit = false;
    for c in b {
        let digit = c.is_ascii_digit();
        if digit && !previous_digit {
            runs += 1;
        }
        previous_digit = digit;
    }
    runs
}

/// A generated token rather than a word: letters and digits interleaved (`7d9f8c6b5`, `x2k4p`,
/// `J8a9sD7f6`), a long letters-and-digits run, or a run of three or more digits in a
/// compound (`fix-1234`). Words with a digit (`oauth2`, `sha256`, `x509`, `k8s`, `i18n`) stay
/// words: they change class at most twice.
fn looks_random(part: &[u8]) -> bool {
    let digits = part.iter().filter(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return false;
    }
    if digits == part.len() {
        return digits >= 3;
    }
    let changes = part
        .windows(2)
        .filter(|w| w[0].is_ascii_digit() != w[1].is_ascii_digit())
        .count();
    changes >= 3 || part.len() >= 12
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_by_shape() {
        for id in [
            "42",
            "0",
            "123e4567-e89b-12d3-a456-426614174000",
            "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
            "a1b2c3d",
            "cus_J8a9sD7f6G5h4",
            "web-7d9f8c6b5-x2k4p",
            "ip-10-0-1-23.ec2.internal",
            "10.0.0.1",
            "alice@example.com",
            "docs%2Fintro.md",
            "fix-1234",
            "01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "good first issue",
            &"x".repeat(MAX_LITERAL_LEN + 1),
        ] {
            assert_eq!(classify(id).0, Shape::Id, "{id}");
        }
    }

    #[test]
    fn words_stay_words() {
        for word in [
            "users",
            "repos",
            "check-suites",
            "oauth2",
            "sha256",
            "x509",
            "k8s",
            "i18n",
            "admissionregistration.k8s.io",
            "Balance.json",
            "IncomingPhoneNumbers",
            "deadbeef",
            "octocat",
            "kube-system",
            "README.md",
        ] {
            assert_eq!(classify(word).0, Shape::Word, "{word}");
        }
    }

    #[test]
    fn versions_and_dates_are_weak() {
        for v in ["v1", "V2", "v1.56", "v1beta1", "v2alpha1", "1.0", "2.1.3"] {
            assert_eq!(classify(v).0, Shape::Version, "{v}");
        }
        for d in ["2010-04-01", "2024-01"] {
            assert_eq!(classify(d).0, Shape::Date, "{d}");
        }
        assert_eq!(classify("v1..2").0, Shape::Word);
        assert_eq!(classify("vendor").0, Shape::Word);
    }

    #[test]
    fn identifier_stems_keep_their_format_extension() {
        assert_eq!(
            classify("CA0123456789abcdef0123456789abcdef.json"),
            (Shape::Id, ".json")
        );
        assert_eq!(classify("42.XML"), (Shape::Id, ".xml"));
        assert_eq!(classify("Calls.json"), (Shape::Word, ""));
        assert_eq!(classify("alice@example.com"), (Shape::Id, ""));
        assert_eq!(classify(".json"), (Shape::Word, ""));
    }
}
