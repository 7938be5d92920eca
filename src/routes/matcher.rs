//! Matching request paths against the templates of a [`RouteSpec`]: a prefix tree of template
//! segments, searched depth first with the usual precedence. At each segment a literal beats a
//! segment with a parameter inside it (`{name}.json`, `{base}...{head}`; more literal bytes
//! first), which beats a whole-segment parameter (`{id}`); the first template that consumes
//! the whole path wins, so the more literal (longer literal) match always wins. A path may
//! also carry one of the spec's prefixes (`basePath`, a server URL's path) before the template.
//!
//! Inside a segment a parameter matches one or more bytes up to the first occurrence of the
//! literal after it (the last one runs to the segment's literal end). The search is bounded
//! in steps, so no path can make it slow; a path that runs out of steps matches nothing.

use std::collections::HashMap;

use super::RouteSpec;
use super::infer::{MAX_DEPTH, segments};
use crate::keyed_hash::KeyedState;

/// Steps one path may take through the tree before giving up.
const MAX_STEPS: u32 = 4096;

#[derive(Debug, PartialEq, Eq)]
enum Piece {
    Literal(Box<str>),
    Param,
}

#[derive(Debug, Default)]
struct Node {
    literals: HashMap<Box<str>, usize, KeyedState>,
    /// Segments with parameters inside, most literal bytes first.
    patterns: Vec<(Vec<Piece>, usize, usize)>,
    param: Option<usize>,
    template: Option<usize>,
}

/// The compiled templates of a spec.
#[derive(Debug)]
pub(crate) struct Matcher {
    nodes: Vec<Node>,
    templates: Vec<Box<str>>,
    /// Prefixes, as template-segment lists.
    prefixes: Vec<Vec<Vec<Piece>>>,
}

/// A template segment: `{x}` alone is a whole-segment parameter, no braces a literal.
fn pieces(segment: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut rest = segment;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            out.push(Piece::Literal(Box::from(&rest[..open])));
        }
        out.push(Piece::Param);
        rest = rest[open..]
            .find('}')
            .map_or("", |close| &rest[open + close + 1..]);
    }
    if !rest.is_empty() {
        out.push(Piece::Literal(Box::from(rest)));
    }
    out
}

fn literal_bytes(pieces: &[Piece]) -> usize {
    pieces
        .iter()
        .map(|p| {
            if let Piece::Literal(l) = p {
                l.len()
            } else {
                0
            }
        })
        .sum()
}

impl Matcher {
    pub(crate) fn new(spec: &RouteSpec) -> Matcher {
        let mut m = Matcher {
            nodes: vec![Node::default()],
            templates: Vec::new(),
            prefixes: Vec::new(),
        };
        for template in &spec.templates {
            let index = m.templates.len();
            m.templates.push(Box::from(template.as_str()));
            let mut node = 0;
            for segment in segments(template) {
                node = m.child(node, segment);
            }
            // The first of two templates that differ only in parameter names or a trailing
            // slash wins.
            m.nodes[node].template.get_or_insert(index);
        }
        for prefix in &spec.prefixes {
            m.prefixes.push(segments(prefix).map(pieces).collect());
        }
        m
    }

    fn child(&mut self, node: usize, segment: &str) -> usize {
        let next = self.nodes.len();
        let p = pieces(segment);
        let n = &mut self.nodes[node];
        let child = match p.as_slice() {
            [] | [Piece::Literal(_)] => *n.literals.entry(Box::from(segment)).or_insert(next),
            [Piece::Param] => *n.param.get_or_insert(next),
            _ => {
                let key = literal_bytes(&p);
                match n.patterns.iter().position(|(q, _, _)| *q == p) {
                    Some(i) => n.patterns[i].1,
                    None => {
                        let at = n.patterns.partition_point(|(_, _, k)| *k >= key);
                        n.patterns.insert(at, (p, next, key));
                        next
                    }
                }
            }
        };
        if child == next {
            self.nodes.push(Node::default());
        }
        child
    }

    /// The template `path` (query already removed) matches, if any.
    pub(crate) fn find(&self, path: &str) -> Option<&str> {
        let mut buffer = [""; MAX_DEPTH];
        let mut len = 0;
        for segment in segments(path) {
            if len == MAX_DEPTH {
                return None;
            }
            buffer[len] = segment;
            len += 1;
        }
        let segs = &buffer[..len];
        let mut steps = MAX_STEPS;
        if let Some(t) = self.walk(0, segs, &mut steps) {
            return Some(&self.templates[t]);
        }
        for prefix in &self.prefixes {
            if prefix.len() <= segs.len()
                && prefix.iter().zip(segs).all(|(p, s)| segment_matches(p, s))
                && let Some(t) = self.walk(0, &segs[prefix.len()..], &mut steps)
            {
                return Some(&self.templates[t]);
            }
        }
        None
    }

    fn walk(&self, node: usize, segs: &[&str], steps: &mut u32) -> Option<usize> {
        if *steps == 0 {
            return None;
        }
        *steps -= 1;
        let n = &self.nodes[node];
        let Some((first, rest)) = segs.split_first() else {
            return n.template;
        };
        if let Some(&child) = n.literals.get(*first)
            && let Some(t) = self.walk(child, rest, steps)
        {
            return Some(t);
        }
        for (pattern, child, _) in &n.patterns {
            if segment_matches(pattern, first)
                && let Some(t) = self.walk(*child, rest, steps)
            {
                return Some(t);
            }
        }
        n.param.and_then(|child| self.walk(child, rest, steps))
    }
}

/// Whether `segment` fits the pieces of one template segment.
fn segment_matches(pieces: &[Piece], segment: &str) -> bool {
    let mut rest = segment;
    let mut i = 0;
    while i < pieces.len() {
        match &pieces[i] {
            Piece::Literal(l) => match rest.strip_prefix(&**l) {
                Some(r) => rest = r,
                None => return false,
            },
            Piece::Param => match pieces.get(i + 1) {
                None => return !rest.is_empty(),
                Some(Piece::Param) => return false,
                Some(Piece::Literal(next)) => {
                    let last = i + 2 == pieces.len();
                    let at = if last {
                        // The literal ends the segment: the parameter takes everything before it.
                        match rest.strip_suffix(&**next) {
                            Some(before) if !before.is_empty() => return true,
                            _ => return false,
                        }
                    } else {
                        // The parameter takes at least one character.
                        let skip = rest.chars().next().map_or(0, char::len_utf8);
                        match rest[skip..].find(&**next) {
                            Some(at) if skip > 0 => at + skip,
                            _ => return false,
                        }
                    };
                    rest = &rest[at..];
                }
            },
        }
        i += 1;
    }
    rest.is_empty()
}
