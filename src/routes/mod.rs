//! Routes: the template of a request path (`/users/42/repos` → `/users/{id}/repos`).
//!
//! A deliberately small stand-in with the route engine's interface: a segment made only of
//! digits, a UUID, or 16 or more hex digits becomes `{id}`; a pattern list (`--routes FILE`,
//! one `/a/{b}` per line) maps a path segment by segment, literals beating parameters. It
//! never folds a route later, so [`Routes::current`] is the identity and
//! [`Routes::generation`] stays 0.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

/// Maps request targets to routes.
#[derive(Debug, Default)]
pub struct Routes {
    spec: Option<RouteSpec>,
    /// The last route handed out (reused: no allocation per request once it is large enough).
    buf: String,
    counters: RouteCounters,
}

/// What the route engine counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteCounters {
    /// Paths mapped by the spec.
    pub spec_matches: u64,
    /// Paths mapped by inference (no spec, or no pattern matched).
    pub inferred: u64,
}

impl Routes {
    /// Routes inferred from the paths alone.
    pub fn inferred() -> Routes {
        Routes::default()
    }

    /// Routes from a spec, inferred where no pattern matches.
    pub fn with_spec(spec: RouteSpec) -> Routes {
        Routes {
            spec: Some(spec),
            ..Routes::default()
        }
    }

    /// The route of one request target (origin-form, absolute-form or h2 :path; query ignored).
    pub fn route(&mut self, target: &str) -> &str {
        let path = path_of(target);
        self.buf.clear();
        if let Some(p) = self.spec.as_ref().and_then(|s| s.best(path)) {
            self.counters.spec_matches += 1;
            self.buf.push_str(p);
            return &self.buf;
        }
        self.counters.inferred += 1;
        for (i, seg) in path.split('/').enumerate() {
            if i > 0 {
                self.buf.push('/');
            }
            self.buf.push_str(if is_id(seg) { "{id}" } else { seg });
        }
        &self.buf
    }

    /// What a route handed out earlier stands for now. Identity when nothing changed.
    pub fn current<'a>(&'a self, route: &'a str) -> Cow<'a, str> {
        Cow::Borrowed(route)
    }

    /// Bumped each time `current` may have changed.
    pub fn generation(&self) -> u64 {
        0
    }

    pub fn counters(&self) -> RouteCounters {
        self.counters.clone()
    }
}

/// The path of a target: query and fragment gone, absolute-form's scheme and authority too.
fn path_of(target: &str) -> &str {
    let end = target
        .bytes()
        .position(|b| b == b'?' || b == b'#')
        .unwrap_or(target.len());
    let mut path = &target[..end];
    if !path.starts_with('/')
        && let Some(i) = path.find("://")
    {
        let after = &path[i + 3..];
        path = after.find('/').map_or("/", |j| &after[j..]);
    }
    if path.is_empty() { "/" } else { path }
}

fn is_id(seg: &str) -> bool {
    let b = seg.as_bytes();
    if b.is_empty() {
        return false;
    }
    if b.iter().all(u8::is_ascii_digit) {
        return true;
    }
    if b.len() >= 16 && b.iter().all(u8::is_ascii_hexdigit) {
        return true;
    }
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A list of route patterns.
#[derive(Debug, Clone, Default)]
pub struct RouteSpec {
    patterns: Vec<String>,
}

/// A route spec that could not be read: one line naming the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpecError {
    file: String,
    what: String,
}

impl fmt::Display for RouteSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read routes from '{}': {}", self.file, self.what)
    }
}

impl std::error::Error for RouteSpecError {}

impl RouteSpec {
    pub fn load(path: &Path) -> Result<RouteSpec, RouteSpecError> {
        let name = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => RouteSpec::parse(&name, &text),
            Err(e) => Err(RouteSpecError {
                file: name,
                what: e.to_string(),
            }),
        }
    }

    /// One pattern (`/users/{id}/repos`) per line; blank lines and `#` comments skipped.
    pub fn parse(name: &str, text: &str) -> Result<RouteSpec, RouteSpecError> {
        let mut patterns = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if !line.starts_with('/') || line.contains(char::is_whitespace) {
                let shown: String = line.chars().take(40).collect();
                return Err(RouteSpecError {
                    file: name.to_owned(),
                    what: format!(
                        "line {}: '{}' is not a path pattern",
                        n + 1,
                        shown.escape_debug()
                    ),
                });
            }
            patterns.push(line.to_owned());
        }
        if patterns.is_empty() {
            return Err(RouteSpecError {
                file: name.to_owned(),
                what: "no path patterns".to_owned(),
            });
        }
        Ok(RouteSpec { patterns })
    }

    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The matching pattern whose first differing segment is a literal, if any matches.
    fn best(&self, path: &str) -> Option<&str> {
        let mut best: Option<(&str, Vec<bool>)> = None;
        for p in &self.patterns {
            let Some(literals) = matches(p, path) else {
                continue;
            };
            if best.as_ref().is_none_or(|(_, b)| literals > *b) {
                best = Some((p, literals));
            }
        }
        best.map(|(p, _)| p)
    }
}

/// Whether `pattern` matches `path` segment by segment, and which segments were literals.
fn matches(pattern: &str, path: &str) -> Option<Vec<bool>> {
    let mut literals = Vec::new();
    let mut ps = pattern.split('/');
    let mut xs = path.split('/');
    loop {
        match (ps.next(), xs.next()) {
            (None, None) => return Some(literals),
            (Some(p), Some(x)) => {
                let param = p.starts_with('{') && p.ends_with('}');
                if param && !x.is_empty() {
                    literals.push(false);
                } else if p == x {
                    literals.push(true);
                } else {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_placeholders() {
        let mut r = Routes::inferred();
        assert_eq!(r.route("/users/42/repos?x=1"), "/users/{id}/repos");
        assert_eq!(
            r.route("http://h/orders/123e4567-e89b-12d3-a456-426614174000"),
            "/orders/{id}"
        );
        assert_eq!(r.route("/blob/0123456789abcdef0"), "/blob/{id}");
        assert_eq!(r.route("/v1/users/"), "/v1/users/");
        assert_eq!(r.route(""), "/");
    }

    #[test]
    fn literals_beat_parameters() {
        let spec = RouteSpec::parse("t", "/users/{name}\n/users/me\n# c\n\n/users/{name}/repos")
            .unwrap_or_default();
        assert_eq!(spec.len(), 3);
        let mut r = Routes::with_spec(spec);
        assert_eq!(r.route("/users/me"), "/users/me");
        assert_eq!(r.route("/users/octocat"), "/users/{name}");
        assert_eq!(r.route("/users/octocat/repos"), "/users/{name}/repos");
        assert_eq!(r.route("/teams/7"), "/teams/{id}");
        assert_eq!(r.counters().spec_matches, 3);
    }

    #[test]
    fn a_bad_line_is_one_line_naming_the_file() {
        let e = RouteSpec::parse("r.txt", "/a\nusers {id}\n").err();
        assert_eq!(
            e.map(|e| e.to_string()).as_deref(),
            Some("cannot read routes from 'r.txt': line 2: 'users {id}' is not a path pattern")
        );
    }
}
