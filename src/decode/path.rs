//! Paths: a request target without its query, fragment, scheme and authority, for routes
//! (`/users/42/repos?tab=1` → `/users/42/repos`).

/// A path longer than this is cut (on a char boundary) and marked: a connection's pending
/// requests (at most 100) hold at most 50 KiB of paths, less than its head and out-of-order
/// buffers, and a route template needs far fewer bytes.
pub const MAX_PATH_LEN: usize = 512;

/// Ends a path that was cut, so a cut path is never taken for a whole one.
pub const CUT_MARK: char = '\u{2026}';

/// The path of a request target, borrowing from it, and whether it was cut at
/// [`MAX_PATH_LEN`] bytes.
///
/// Query and fragment go first; an absolute-form target (`http://host/a/b`) uses its path
/// (`/` when it has none); `*` stays `*`; a CONNECT target is `CONNECT`, as its section is.
pub fn path_of<'a>(method: &str, target: &'a str) -> (&'a str, bool) {
    if method.eq_ignore_ascii_case("CONNECT") {
        return ("CONNECT", false);
    }
    let end = query_start(target.as_bytes()).unwrap_or(target.len());
    let mut path = &target[..end];
    if !path.starts_with('/')
        && path != "*"
        && let Some(i) = path.find("://")
    {
        let after = &path[i + 3..];
        path = after.find('/').map_or("/", |j| &after[j..]);
    }
    if path.is_empty() {
        return ("/", false);
    }
    if path.len() <= MAX_PATH_LEN {
        return (path, false);
    }
    // Room for the mark, which the caller adds.
    let mut cut = MAX_PATH_LEN - CUT_MARK.len_utf8();
    while !path.is_char_boundary(cut) {
        cut -= 1;
    }
    (&path[..cut], true)
}

/// The index of the first `?` or `#` (where the query or the fragment starts), eight bytes per
/// step: `str::find` with a char-set pattern decodes UTF-8 char by char, and a byte loop costs
/// several instructions a byte on every request.
fn query_start(target: &[u8]) -> Option<usize> {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Flags exactly the zero bytes of `t`: no carry crosses a lane once each is cut to 7 bits.
    let zeros = |t: u64| !(((t & (LOW * 0x7f)) + LOW * 0x7f) | t) & HIGH;
    let mut chunks = target.chunks_exact(8);
    let mut done = 0;
    for chunk in chunks.by_ref() {
        let Some(w) = chunk.first_chunk::<8>() else {
            break;
        };
        let x = u64::from_le_bytes(*w);
        let hits = zeros(x ^ (LOW * u64::from(b'?'))) | zeros(x ^ (LOW * u64::from(b'#')));
        if hits != 0 {
            return Some(done + (hits.trailing_zeros() / 8) as usize);
        }
        done += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|b| *b == b'?' || *b == b'#')
        .map(|p| done + p)
}

/// The path a request carries: [`path_of`], marked when it was cut at [`MAX_PATH_LEN`] or when
/// the head was cut (`head_cut`) before the target's end was seen. Allocates only when marked.
/// The second value says whether the length cap bit (a head cut is counted elsewhere).
pub fn request_path<'a>(
    method: &str,
    target: &'a str,
    head_cut: bool,
) -> (std::borrow::Cow<'a, str>, bool) {
    let (path, too_long) = path_of(method, target);
    // A target cut in its path (no query seen) may be cut anywhere: say so.
    let cut_here =
        head_cut && path.len() > 1 && path != "CONNECT" && query_start(target.as_bytes()).is_none();
    if too_long || cut_here {
        // A path cut by the head within the cap's last bytes: room for the mark too.
        let mut end = path.len().min(MAX_PATH_LEN - CUT_MARK.len_utf8());
        while !path.is_char_boundary(end) {
            end -= 1;
        }
        let path = &path[..end];
        let mut out = String::with_capacity(path.len() + CUT_MARK.len_utf8());
        push_path(&mut out, (path, true));
        return (std::borrow::Cow::Owned(out), too_long);
    }
    (std::borrow::Cow::Borrowed(path), false)
}

/// Appends `path` to `out`, with the cut mark when it was cut: what a request carries.
pub fn push_path(out: &mut String, (path, cut): (&str, bool)) {
    out.push_str(path);
    if cut {
        out.push(CUT_MARK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_start_finds_the_first_mark_like_a_byte_scan() {
        // Every byte value at every offset of targets long enough to cross the eight-byte
        // steps, before and after a mark.
        for len in 0..24 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut t = vec![b'a'; len];
                    t[at] = b;
                    if len > 3 {
                        t[len - 2] = if b % 2 == 0 { b'#' } else { b'?' };
                    }
                    let want = t.iter().position(|c| *c == b'?' || *c == b'#');
                    assert_eq!(query_start(&t), want, "{t:?}");
                }
            }
        }
    }

    #[test]
    fn a_path_cut_by_the_head_near_the_cap_keeps_the_mark_within_it() {
        for len in [MAX_PATH_LEN - 3, MAX_PATH_LEN - 1, MAX_PATH_LEN] {
            let target = format!("/{}", "é".repeat(len / 2));
            let target = &target[..target.floor_char_boundary(len)];
            let (path, too_long) = request_path("GET", target, true);
            assert!(path.len() <= MAX_PATH_LEN, "{len}: {}", path.len());
            assert!(path.ends_with(CUT_MARK), "{len}");
            assert!(!too_long, "{len}");
        }
    }

    #[test]
    fn paths_follow_the_rule() {
        let cases = [
            ("GET", "/users/42/repos?tab=1", "/users/42/repos"),
            ("GET", "/a/b#frag", "/a/b"),
            ("GET", "/", "/"),
            ("GET", "?x", "/"),
            ("GET", "http://example.com/api/v1?x", "/api/v1"),
            ("GET", "http://example.com", "/"),
            ("OPTIONS", "*", "*"),
            ("CONNECT", "example.com:443", "CONNECT"),
            ("GET", "/caf\u{e9}/x", "/caf\u{e9}/x"),
        ];
        for (method, target, want) in cases {
            assert_eq!(path_of(method, target), (want, false), "{target}");
        }
    }

    #[test]
    fn a_long_path_is_cut_on_a_char_boundary_and_marked() {
        let long = format!("/{}", "\u{e9}".repeat(MAX_PATH_LEN));
        let (path, cut) = path_of("GET", &long);
        assert!(cut);
        let mut out = String::new();
        push_path(&mut out, (path, cut));
        assert!(out.len() <= MAX_PATH_LEN, "{}", out.len());
        assert!(out.ends_with(CUT_MARK));
        let (marked, too_long) = request_path("GET", &long, false);
        assert_eq!((marked.as_ref(), too_long), (out.as_str(), true));
        let (marked, too_long) = request_path("GET", "/users/4", true);
        assert_eq!((marked.as_ref(), too_long), ("/users/4\u{2026}", false));
        assert_eq!(request_path("GET", "/users?q", true).0, "/users");
        let exact = format!("/{}", "a".repeat(MAX_PATH_LEN - 1));
        assert_eq!(path_of("GET", &exact), (exact.as_str(), false));
    }
}
