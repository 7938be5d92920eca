//! Routes: the endpoint template of a request target (`/repos/{owner}/{repo}/pulls/{id}`),
//! from a spec when one is given, inferred from the traffic otherwise. Pure: no clock, no I/O
//! except [`RouteSpec::load`] reading its file.
//!
//! # With a spec
//! [`RouteSpec`] reads an OpenAPI 3 or Swagger 2 document (JSON or YAML) or a list of patterns.
//! A path is matched against its templates with the usual precedence (a literal segment beats
//! a parameter; the more literal, longer match wins; see `matcher`), optionally after one of
//! the spec's prefixes (`basePath`, a server URL's path); the route is the template as the
//! document writes it, parameter names included. A parameter inside a segment
//! (`/files/{name}.json`, `/compare/{base}...{head}`) matches as such. Paths no template
//! matches fall back to inference.
//!
//! # Inferred
//! The rule, in the spirit of Drain's fixed-depth parse tree for log templates (He et al.,
//! "Drain: An Online Log Parsing Approach with Fixed Depth Tree", ICWS 2017), keyed by path
//! segments instead of tokens: each request walks a prefix tree, one node per segment. A
//! segment goes to its position's placeholder `{id}`
//! 1. **by shape**, on sight: numbers, UUIDs, hex hashes, generated tokens (letters and digits
//!    interleaved: `cus_J8a9sD7f6G5h4`, `web-7d9f8c6b5-x2k4p`), anything outside the URL's
//!    unreserved characters (percent-escapes, emails), segments over 48 bytes. An identifier
//!    stem keeps a format extension (`CA…123.json` → `{id}.json`). Versions (`v1`, `v1.56`,
//!    `v1beta1`) and dates (`2010-04-01`) are *weak* shapes: literal where they stand still;
//! 2. **by evidence**, when its position *folds*, which it does, under one prefix, when
//!    - its fan-out is large and still growing: at least 24 distinct values (48 for the first
//!      two segments, where real APIs keep dozens of literal resources: `/repos`,
//!      `/v1/customers`; 4 where identifiers by shape already take most of the position's
//!      hits), and at least a quarter of its hits
//!      went to values seen in one run only (the Good–Turing estimate of the chance that the
//!      next value is new; a run is a stretch of consecutive paths, so one client's burst
//!      `/users/alice`, `/users/alice/repos` counts once). Logins, repository and pod names
//!      fold; a large but fixed literal fan-out (GitHub's top-level resources, Stripe's
//!      `/v1/…`) sees its values again and again, and does not;
//!    - or its values' children are alike: at least six values with a few children each (at
//!      most 16, all literal: a value with a placeholder below is a collection), each sharing at least half of its children (seen in two runs or more,
//!      versions and dates aside) with two siblings, and those are most of the position's
//!      values with children: `/namespaces/default/pods`, `/namespaces/prod/pods`,
//!      `/namespaces/dev/services`… Not at the first segment;
//!    - or it has seen three distinct dates or eight distinct versions;
//! 3. **by vocabulary**: a word a fold made an identifier is one at every other position too
//!    (`default` folded under one API group's `/namespaces/` is a namespace under the next);
//!    the tree remembers up to 8192 such words, as hashes.
//!
//! When a position folds, its values' subtrees merge into the placeholder's (their counts
//! added, so positions below that were split per value can now fold too). A literal stays
//! when it is seen often (2% of the position's hits, at least 3) and has children of its own
//! that are unlike the values' (not shared with them, not themselves placeholders or a
//! growing fan-out); leaves fold with the values, as a hot leaf value cannot be told from a
//! leaf literal. So a route can change as evidence arrives: `/users/octocat` is handed out
//! until `/users/` folds, then `/users/{id}`. [`Routes::generation`] changes on each fold
//! and [`Routes::current`] maps a route handed out earlier to what it stands for now, so
//! callers merge its counts into the folded route: a folded route keeps its counts.
//!
//! What cannot be told without a spec: a parameter with a handful of word-like values
//! (`/v1/{env}` with `prod`, `staging`, `dev`) looks exactly like three literal resources,
//! and stays literal; so does a rarely requested position whose few word-like values never
//! gather evidence. Give a spec (`--routes`) for those.
//!
//! # Targets, bounds and markers
//! A target is origin-form (`/a/b?x`), absolute-form (`http://h/a/b`) or an HTTP/2 `:path`;
//! the query and fragment are ignored, empty segments too (`//a/b/` is `/a/b`: a trailing
//! slash does not make another route). A target that is none of these (`*`, an authority)
//! gets the route [`NON_PATH_ROUTE`]. The tree holds at most 32 768 nodes, 128 literal
//! values per position and 16 segments per path; a path a cap cuts short ends in `/{rest}`.
//! Every cap that bites is counted in [`RouteCounters`]. A known route costs one hash lookup
//! per segment and no allocation: each node where paths end keeps its route string. A path
//! seen lately costs less: the walk it took is remembered (4,096 paths of at most 128 bytes,
//! until the next fold) and its learning replayed node by node, exactly as walking would do
//! it (see `recent`). Inferred routes only ever hold
//! literals made of unreserved URL characters, `/` and placeholders: no bytes to escape.

mod infer;
mod matcher;
mod recent;
mod shape;
mod spec;

#[cfg(any(test, feature = "route-eval"))]
pub mod eval;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::HashSet;

pub use spec::{RouteSpec, RouteSpecError};

use infer::Inference;
use matcher::Matcher;

/// The route of a target that is not a path (`*`, `host:port`, empty).
pub const NON_PATH_ROUTE: &str = "*";

/// Caps that bit, for the health counters, and the size of the tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteCounters {
    /// New tree nodes refused because the tree was full; the path's route ends in `/{rest}`.
    pub nodes_refused: u64,
    /// New values at a position that already remembered its maximum; they went to `{id}`.
    pub values_forgotten: u64,
    /// Paths deeper than the segments looked at; their routes end in `/{rest}`.
    pub depth_truncated: u64,
    /// Words a fold made identifiers that could not be remembered for other positions.
    pub known_values_forgotten: u64,
    /// Positions folded into a placeholder.
    pub folds: u64,
    /// Nodes in the tree now (not a cap; its size).
    pub route_nodes: u64,
}

/// The route engine: a spec's templates if given, inference for the rest.
#[derive(Debug)]
pub struct Routes {
    spec: Option<(Matcher, HashSet<Box<str>>)>,
    inference: Inference,
}

impl Routes {
    /// No configuration: every route inferred.
    pub fn inferred() -> Routes {
        Routes {
            spec: None,
            inference: Inference::default(),
        }
    }

    /// Templates from a spec first; paths it does not match fall back to inference.
    pub fn with_spec(spec: RouteSpec) -> Routes {
        let templates = spec
            .templates
            .iter()
            .map(|t| Box::from(t.as_str()))
            .collect();
        Routes {
            spec: Some((Matcher::new(&spec), templates)),
            inference: Inference::default(),
        }
    }

    /// The route of one request target as it stands now: origin-form (`/a/b?x`), absolute-form
    /// (`http://h/a/b`) or an HTTP/2 `:path`; query and fragment ignored. Never panics; returns
    /// a string starting with `/`, or [`NON_PATH_ROUTE`] for a target that is no path.
    pub fn route(&mut self, target: &str) -> &str {
        let Some(path) = path_of(target) else {
            return NON_PATH_ROUTE;
        };
        if let Some((matcher, _)) = &self.spec
            && let Some(template) = matcher.find(path)
        {
            return template;
        }
        self.inference.route(path)
    }

    /// What a route handed out earlier stands for now: inference may have folded a position
    /// into a placeholder since (`/users/octocat` → `/users/{id}`). Identity when nothing
    /// changed, for spec templates and for strings this engine never handed out.
    pub fn current<'a>(&'a self, route: &'a str) -> Cow<'a, str> {
        if route == NON_PATH_ROUTE || self.spec.as_ref().is_some_and(|(_, t)| t.contains(route)) {
            return Cow::Borrowed(route);
        }
        self.inference.current(route)
    }

    /// Bumped each time a fold may have changed what `current` returns, so a caller holding
    /// per-route counts re-keys (merging counts) only when it changes.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.inference.generation()
    }

    /// Caps that bit (tree nodes refused, values forgotten, …), for the health counters.
    pub fn counters(&self) -> RouteCounters {
        self.inference.counters()
    }

    /// Bytes held by the inference tree, from its own accounting of what it allocated.
    pub fn footprint(&self) -> usize {
        self.inference.footprint()
    }
}

/// The path of a target, without query or fragment; `None` for targets that are no path.
fn path_of(target: &str) -> Option<&str> {
    let end = query_start(target.as_bytes());
    let target = &target[..end];
    if target.starts_with('/') {
        return Some(target);
    }
    let scheme_end = target.find("://")?;
    let scheme = &target[..scheme_end];
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let rest = &target[scheme_end + 3..];
    Some(rest.find('/').map_or("/", |slash| &rest[slash..]))
}

/// Where the query or fragment of a target starts (its length when it has neither): the
/// first `?` or `#`, eight bytes per step. Both are ASCII, never inside a multi-byte
/// character, so the index is a character boundary.
fn query_start(target: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const QUESTION: u64 = u64::from_ne_bytes([b'?'; 8]);
    const HASH: u64 = u64::from_ne_bytes([b'#'; 8]);
    // A byte of `x` is zero where the byte matched; the lowest flag of the classic zero-byte
    // test is always a true one (false flags only sit above a true zero), so the lowest flag
    // of either test is the first match.
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let chunks = target.chunks_exact(8);
    let tail = chunks.remainder();
    for (n, chunk) in chunks.enumerate() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        let w = u64::from_le_bytes(bytes);
        let found = zero_bytes(w ^ QUESTION) | zero_bytes(w ^ HASH);
        if found != 0 {
            return n * 8 + (found.trailing_zeros() / 8) as usize;
        }
    }
    let done = target.len() - tail.len();
    tail.iter()
        .position(|&b| b == b'?' || b == b'#')
        .map_or(target.len(), |i| done + i)
}
