//! Sections: what comes before the second `/` of a request's path (`/pages/create` → `/pages`).

/// A section longer than this is cut (on a char boundary); memory per section stays bounded.
pub const MAX_SECTION_LEN: usize = 256;

/// The section of a request target, borrowing from it.
///
/// Query and fragment go first; an absolute-form target (`http://host/a/b`) uses its path;
/// `*` (OPTIONS) is its own section `*`; a CONNECT authority-form target (`host:443`) is
/// reported as `CONNECT` so tunnels do not spread over one section per host.
pub fn section_of<'a>(method: &str, target: &'a str) -> &'a str {
    if method.eq_ignore_ascii_case("CONNECT") {
        return "CONNECT";
    }
    // The usual origin-form target, in one scan that stops at the second `/`.
    if let Some(rest) = target.strip_prefix('/') {
        let end = rest
            .bytes()
            .position(|b| matches!(b, b'/' | b'?' | b'#'))
            .map_or(target.len(), |j| j + 1);
        return cut_at_char_boundary(&target[..end], MAX_SECTION_LEN);
    }
    let mut path = target;
    // A byte scan: `str::find` with a char-set pattern decodes UTF-8 char by char.
    if let Some(i) = path.bytes().position(|b| b == b'?' || b == b'#') {
        path = &path[..i];
    }
    if path == "*" {
        return "*";
    }
    if !path.starts_with('/') {
        // absolute-form: scheme "://" authority path
        if let Some(i) = path.find("://") {
            let after = &path[i + 3..];
            path = match after.find('/') {
                Some(j) => &after[j..],
                None => "/",
            };
        } else if path.is_empty() {
            return "/";
        }
        // Anything else (a relative path, which HTTP/1.1 does not allow) is kept as it is.
    }
    let end = match path
        .get(1..)
        .and_then(|rest| rest.bytes().position(|b| b == b'/'))
    {
        Some(j) => j + 1,
        None => path.len(),
    };
    let section = &path[..end];
    cut_at_char_boundary(section, MAX_SECTION_LEN)
}

fn cut_at_char_boundary(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_follow_the_rule() {
        let cases = [
            ("GET", "/pages/create", "/pages"),
            ("GET", "/report", "/report"),
            ("GET", "/", "/"),
            ("GET", "/search?q=a/b", "/search"),
            ("GET", "/a/b/c#frag/x", "/a"),
            ("GET", "/?x=1", "/"),
            ("GET", "http://example.com/api/v1?x", "/api"),
            ("GET", "http://example.com", "/"),
            ("GET", "https://example.com?q", "/"),
            ("OPTIONS", "*", "*"),
            ("CONNECT", "example.com:443", "CONNECT"),
            ("GET", "//double", "/"),
            ("GET", "", "/"),
        ];
        for (m, t, want) in cases {
            assert_eq!(section_of(m, t), want, "{m} {t}");
        }
    }

    proptest::proptest! {
        /// The one-scan path for `/…` targets against the rule spelled out step by step.
        #[test]
        fn origin_form_matches_the_rule(rest in "[a-z/?#é%.]{0,12}") {
            let target = format!("/{rest}");
            let path = target.split(['?', '#']).next().unwrap_or("");
            let want = match path[1..].find('/') {
                Some(j) => &path[..j + 1],
                None => path,
            };
            proptest::prop_assert_eq!(section_of("GET", &target), want);
        }
    }

    #[test]
    fn long_sections_are_cut_on_a_char_boundary() {
        let t = format!("/{}", "é".repeat(400));
        let s = section_of("GET", &t);
        assert!(s.len() <= MAX_SECTION_LEN);
        assert!(s.len() >= MAX_SECTION_LEN - 1);
    }
}
