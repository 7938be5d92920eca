//! Route inference with no configuration: a prefix tree of path segments whose positions fold
//! into `{id}` placeholders as evidence arrives. The rule is described in the module doc of
//! [`crate::routes`]; this file is its implementation.
//!
//! Memory is bounded by construction: at most [`MAX_NODES`] nodes, at most [`MAX_VALUES`]
//! literal children per node, literals at most [`MAX_LITERAL_LEN`] bytes, paths at most
//! [`MAX_DEPTH`] segments deep. Every cap that bites is counted in [`RouteCounters`].

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

use super::RouteCounters;
use super::recent::{Reached, RecentWalks, Step};
use super::shape::{MAX_LITERAL_LEN, Shape, classify, format_extension};
use crate::keyed_hash::KeyedState;

/// Nodes in the tree, all positions together.
pub(crate) const MAX_NODES: usize = 32_768;
/// Distinct literal values remembered at one position; values past it go to the position's
/// placeholder (counted as `values_forgotten`).
pub(crate) const MAX_VALUES: usize = 128;
/// Segments of a path looked at; the rest become one `{rest}` segment.
pub(crate) const MAX_DEPTH: usize = 16;
/// Word values remembered as identifiers because a position folded them (hashes only).
pub(crate) const MAX_KNOWN_VALUES: usize = 8192;
/// The segment that stands for what a cap cut off.
pub(crate) const REST: &str = "{rest}";
/// The segment that stands for an inferred parameter.
pub(crate) const PLACEHOLDER: &str = "{id}";

/// Distinct values a position needs before its fan-out alone can fold it: the first two
/// segments of a real API hold dozens of literal resources (`/repos`, `/v1/customers`),
/// deeper positions fewer.
const FAN_OUT_FIRST: usize = 48;
const FAN_OUT_DEEPER: usize = 24;
/// The same where identifiers by shape take most of the position's hits.
const FAN_OUT_BESIDE_IDS: usize = 4;
/// A position folds on fan-out when at least this share of its hits went to values seen only
/// once (Good–Turing: the chance that the next value is new).
const NEW_VALUE_SHARE: (u64, u64) = (1, 4);
/// Dates or versions varying at one position: past these counts they are identifiers.
const DATES_TO_FOLD: usize = 3;
const VERSIONS_TO_FOLD: usize = 8;
/// Values whose children are alike: each has at most this many literal children…
const ALIKE_MAX_CHILDREN: usize = 16;
/// …each is alike to this many of its siblings…
const ALIKE_SIBLINGS: usize = 2;
/// …and there are at least this many of them.
const ALIKE_VALUES: usize = 6;

const ROOT: u32 = 0;

type Map = HashMap<Box<str>, u32, KeyedState>;

#[derive(Debug, Clone)]
struct Node {
    /// How this node is written in a route: a literal, `{id}` or `{id}.json`.
    label: Box<str>,
    parent: u32,
    depth: u16,
    alive: bool,
    /// The position below this node is a placeholder: new words go to it, not to literals.
    folded: bool,
    /// Some path ends here.
    terminal: bool,
    /// Paths that went through this node.
    hits: u64,
    /// Runs of those: hits by consecutive paths count once, so a client asking for
    /// `/users/alice` and `/users/alice/repos` back to back has not seen `alice` twice.
    runs: u32,
    /// The path (numbered by the tree's clock) that last went through this node.
    last_seen: u64,
    /// Of those, paths that went on to a literal child.
    literal_hits: u64,
    /// Literal children seen in one run only.
    singletons: u32,
    literals: Map,
    /// Placeholder children, keyed by the format extension they keep (`""`, `".json"`).
    params: Vec<(&'static str, u32)>,
    /// The route of a terminal node, built once.
    template: Option<Box<str>>,
}

impl Node {
    fn new(label: Box<str>, parent: u32, depth: u16, keys: &KeyedState) -> Node {
        Node {
            label,
            parent,
            depth,
            alive: true,
            folded: false,
            terminal: false,
            hits: 0,
            runs: 0,
            last_seen: 0,
            literal_hits: 0,
            singletons: 0,
            literals: Map::with_hasher(keys.clone()),
            params: Vec::new(),
            template: None,
        }
    }

    fn param(&self, suffix: &str) -> Option<u32> {
        self.params
            .iter()
            .find(|(s, _)| *s == suffix)
            .map(|(_, id)| *id)
    }
}

/// Where a walk ended: the node, and whether a cap cut the path short there.
#[derive(Clone, Copy)]
struct End {
    node: u32,
    cut: bool,
}

/// The inference tree.
#[derive(Debug, Clone)]
pub(crate) struct Inference {
    nodes: Vec<Node>,
    free: Vec<u32>,
    live: usize,
    generation: u64,
    /// Paths learned so far: the time of the tree.
    clock: u64,
    counters: RouteCounters,
    /// Nodes whose fold rules are due, found during one walk and run after it.
    pending: Vec<u32>,
    /// The route of a path a cap cut short (`…/{rest}`), rebuilt in place.
    scratch: String,
    /// Hashes of words a fold made identifiers: the same word elsewhere is one too
    /// (`default` folded under one API group's `/namespaces/` is a namespace under the next).
    known_values: HashSet<u64, KeyedState>,
    value_hasher: KeyedState,
    /// The hash keys of every node's literals: one set per tree, so that what the tree does
    /// (folds merge values in the order of their map) depends on its input and these keys only.
    literal_keys: KeyedState,
    /// The walks of recent paths, replayed instead of walked.
    recent: RecentWalks,
    /// The walk of the path being routed: recorded by `learn`, or found in `recent`.
    walk: Vec<Step>,
}

impl Default for Inference {
    fn default() -> Self {
        let literal_keys = KeyedState::default();
        Inference {
            nodes: vec![Node::new(Box::from(""), ROOT, 0, &literal_keys)],
            literal_keys,
            free: Vec::new(),
            live: 1,
            generation: 0,
            clock: 0,
            counters: RouteCounters::default(),
            pending: Vec::new(),
            scratch: String::new(),
            known_values: HashSet::default(),
            value_hasher: KeyedState::default(),
            recent: RecentWalks::default(),
            walk: Vec::with_capacity(MAX_DEPTH),
        }
    }
}

/// The non-empty segments of a path: `//a/b/` is `a`, `b`.
pub(crate) fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

impl Inference {
    #[inline]
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    pub(crate) fn counters(&self) -> RouteCounters {
        let mut c = self.counters.clone();
        c.route_nodes = self.live as u64;
        c
    }

    /// The route of `path` (query already removed), learning from it.
    pub(crate) fn route(&mut self, path: &str) -> &str {
        let generation = self.generation;
        self.pending.clear();
        let key = self.recent.key(path);
        let replayed = key.is_some_and(|k| self.recent.get(k, path, generation, &mut self.walk));
        let mut end = if replayed {
            self.relearn()
        } else {
            self.learn(path)
        };
        self.run_pending();
        if self.generation != generation {
            end = self.resolve(segments(path), false).unwrap_or(End {
                node: ROOT,
                cut: true,
            });
        } else if !replayed
            && !end.cut
            && let Some(key) = key
        {
            // No fold since the walk: its nodes stand until the generation moves.
            self.recent.put(key, path, generation, &self.walk);
        }
        self.template_of(end)
    }

    /// Walks `path`, learning from it, and records the walk in `self.walk`.
    fn learn(&mut self, path: &str) -> End {
        let mut node = ROOT;
        self.clock += 1;
        self.nodes[ROOT as usize].hits += 1;
        self.walk.clear();
        for (depth, segment) in segments(path).enumerate() {
            if depth == MAX_DEPTH {
                self.counters.depth_truncated += 1;
                return End { node, cut: true };
            }
            match self.step(node, segment) {
                Some(step) => {
                    node = step.node;
                    self.walk.push(step);
                }
                None => return End { node, cut: true },
            }
        }
        self.nodes[node as usize].terminal = true;
        End { node, cut: false }
    }

    /// Learns again from a path whose walk, taken in this generation, is in `self.walk`: what
    /// `learn` does for it, step for step, without splitting, looking up or classifying.
    fn relearn(&mut self) -> End {
        let mut node = ROOT;
        self.clock += 1;
        self.nodes[ROOT as usize].hits += 1;
        for i in 0..self.walk.len() {
            let step = self.walk[i];
            match step.reached {
                Reached::Literal => self.touch_literal(node, step.node),
                Reached::Placeholder => self.nodes[step.node as usize].hits += 1,
                Reached::PlaceholderPastCap => {
                    self.counters.values_forgotten += 1;
                    self.nodes[step.node as usize].hits += 1;
                }
            }
            node = step.node;
        }
        self.nodes[node as usize].terminal = true;
        End { node, cut: false }
    }

    /// From `node` to the child `segment` belongs to, creating it if need be.
    fn step(&mut self, node: u32, segment: &str) -> Option<Step> {
        let n = &self.nodes[node as usize];
        if let Some(&child) = n.literals.get(segment) {
            self.touch_literal(node, child);
            return Some(Step {
                node: child,
                reached: Reached::Literal,
            });
        }
        let (shape, suffix) = self.classify(segment);
        let n = &self.nodes[node as usize];
        let step = if shape == Shape::Id || n.folded {
            let suffix = if shape == Shape::Id {
                suffix
            } else {
                word_suffix(segment)
            };
            Step {
                node: self.param_child(node, suffix, false)?,
                reached: Reached::Placeholder,
            }
        } else if n.literals.len() >= MAX_VALUES {
            self.counters.values_forgotten += 1;
            Step {
                node: self.param_child(node, word_suffix(segment), false)?,
                reached: Reached::PlaceholderPastCap,
            }
        } else {
            return self.new_literal(node, segment).map(|child| Step {
                node: child,
                reached: Reached::Literal,
            });
        };
        self.nodes[step.node as usize].hits += 1;
        Some(step)
    }

    /// The shape of a segment, words a fold made identifiers included.
    fn classify(&self, segment: &str) -> (Shape, &'static str) {
        let (shape, suffix) = classify(segment);
        if shape == Shape::Word
            && !self.known_values.is_empty()
            && self
                .known_values
                .contains(&self.value_hasher.hash_one(segment))
        {
            return (Shape::Id, word_suffix(segment));
        }
        (shape, suffix)
    }

    fn touch_literal(&mut self, node: u32, child: u32) {
        let clock = self.clock;
        let c = &mut self.nodes[child as usize];
        let again = c.last_seen + 1 >= clock;
        c.last_seen = clock;
        c.hits += 1;
        if !again {
            c.runs = c.runs.saturating_add(1);
        }
        let repeated = !again && c.runs == 2;
        let n = &mut self.nodes[node as usize];
        n.literal_hits += 1;
        if repeated {
            n.singletons = n.singletons.saturating_sub(1);
            // A child seen twice may now be shared evidence between the node's siblings.
            let parent = n.parent;
            if node != ROOT && parent != ROOT && self.is_literal_child(node) {
                self.pending.push(parent);
            }
        }
    }

    fn new_literal(&mut self, node: u32, segment: &str) -> Option<u32> {
        let depth = self.nodes[node as usize].depth + 1;
        let child = self.alloc(
            Node::new(Box::from(segment), node, depth, &self.literal_keys),
            false,
        )?;
        let c = &mut self.nodes[child as usize];
        c.hits = 1;
        c.runs = 1;
        c.last_seen = self.clock;
        let n = &mut self.nodes[node as usize];
        n.literals.insert(Box::from(segment), child);
        n.literal_hits += 1;
        n.singletons += 1;
        self.pending.push(node);
        Some(child)
    }

    /// The placeholder child of `node` keeping `suffix`, created if need be. Merges may
    /// create past the node cap: they free more nodes than they make.
    fn param_child(&mut self, node: u32, suffix: &'static str, merging: bool) -> Option<u32> {
        if let Some(id) = self.nodes[node as usize].param(suffix) {
            return Some(id);
        }
        let depth = self.nodes[node as usize].depth + 1;
        let label = format!("{PLACEHOLDER}{suffix}").into_boxed_str();
        let child = self.alloc(Node::new(label, node, depth, &self.literal_keys), merging)?;
        self.nodes[node as usize].params.push((suffix, child));
        Some(child)
    }

    fn alloc(&mut self, node: Node, merging: bool) -> Option<u32> {
        if self.live >= MAX_NODES && !merging {
            self.counters.nodes_refused += 1;
            return None;
        }
        self.live += 1;
        if let Some(id) = self.free.pop() {
            self.nodes[id as usize] = node;
            Some(id)
        } else {
            self.nodes.push(node);
            u32::try_from(self.nodes.len() - 1).ok()
        }
    }

    fn is_literal_child(&self, node: u32) -> bool {
        let n = &self.nodes[node as usize];
        self.nodes[n.parent as usize].literals.get(&*n.label) == Some(&node)
    }

    fn run_pending(&mut self) {
        let mut i = 0;
        while i < self.pending.len() {
            let node = self.pending[i];
            i += 1;
            if self.should_fold(node) {
                self.fold(node);
            }
        }
        self.pending.clear();
    }

    /// The fold rules of the module doc, for the position below `node`.
    fn should_fold(&self, node: u32) -> bool {
        let n = &self.nodes[node as usize];
        if !n.alive || n.folded || n.literals.is_empty() {
            return false;
        }
        let distinct = n.literals.len();
        // Identifiers by shape already take most of this position's hits: the words beside
        // them are more likely identifiers too, and less evidence is asked.
        let shaped = n
            .param("")
            .is_some_and(|p| self.nodes[p as usize].hits >= n.literal_hits);
        let fan_out = match (n.depth, shaped) {
            (0, _) => FAN_OUT_FIRST,
            (_, true) => FAN_OUT_BESIDE_IDS,
            (1, false) => FAN_OUT_FIRST,
            _ => FAN_OUT_DEEPER,
        };
        if distinct >= fan_out
            && u64::from(n.singletons) * NEW_VALUE_SHARE.1 >= n.literal_hits * NEW_VALUE_SHARE.0
        {
            return true;
        }
        let (mut dates, mut versions) = (0, 0);
        for key in n.literals.keys() {
            match classify(key).0 {
                Shape::Date => dates += 1,
                Shape::Version => versions += 1,
                _ => {}
            }
        }
        if dates >= DATES_TO_FOLD || versions >= VERSIONS_TO_FOLD {
            return true;
        }
        node != ROOT && self.has_alike_values(node)
    }

    /// Most of the literal children of `node` that have a few children of their own (at most
    /// [`ALIKE_MAX_CHILDREN`]), and at least [`ALIKE_VALUES`] of them, have children alike
    /// to [`ALIKE_SIBLINGS`] of their siblings': `/namespaces/default/pods`,
    /// `/namespaces/prod/pods`, `/namespaces/prod/services`…
    fn has_alike_values(&self, node: u32) -> bool {
        let n = &self.nodes[node as usize];
        let candidates: Vec<u32> = n
            .literals
            .values()
            .copied()
            .filter(|&c| {
                // A value with placeholders below is a collection (`/v1/customers/{id}` beside
                // `/v1/customers/search`), not an identifier.
                let c = &self.nodes[c as usize];
                c.params.is_empty() && (1..=ALIKE_MAX_CHILDREN).contains(&c.literals.len())
            })
            .take(MAX_VALUES)
            .collect();
        if candidates.len() < ALIKE_VALUES {
            return false;
        }
        let alike = candidates
            .iter()
            .filter(|&&a| {
                candidates
                    .iter()
                    .filter(|&&b| b != a && self.alike(a, b))
                    .take(ALIKE_SIBLINGS)
                    .count()
                    >= ALIKE_SIBLINGS
            })
            .count();
        alike >= ALIKE_VALUES && 2 * alike >= candidates.len()
    }

    /// Two nodes share at least half of the smaller one's literal children, each seen twice
    /// or more in both, versions and dates aside.
    fn alike(&self, a: u32, b: u32) -> bool {
        let (a, b) = (&self.nodes[a as usize], &self.nodes[b as usize]);
        let repeated = |n: &Node, key: &str| {
            n.literals
                .get(key)
                .is_some_and(|&c| self.nodes[c as usize].runs >= 2)
        };
        let shared = a
            .literals
            .iter()
            .filter(|(key, child)| {
                self.nodes[**child as usize].runs >= 2
                    && repeated(b, key)
                    && !matches!(classify(key).0, Shape::Version | Shape::Date)
            })
            .count();
        shared >= 1 && 2 * shared >= a.literals.len().min(b.literals.len())
    }

    /// Turns the position below `node` into a placeholder. Its values merge into the
    /// placeholder's subtree, counts added; literals that are seen often and do not share
    /// the values' children (`/containers/json` beside `/containers/{id}/json`) stay.
    fn fold(&mut self, node: u32) {
        let n = &self.nodes[node as usize];
        let mut shared: HashMap<&str, u32, KeyedState> = HashMap::default();
        for &child in n.literals.values() {
            let c = &self.nodes[child as usize];
            for key in c
                .literals
                .keys()
                .map(|k| &**k)
                .chain(c.params.iter().map(|p| p.0))
            {
                *shared.entry(key).or_default() += 1;
            }
        }
        let keep_hits = (n.literal_hits / 50).max(3);
        let values: Vec<(Box<str>, u32)> = n
            .literals
            .iter()
            .filter(|(key, child)| {
                let c = &self.nodes[**child as usize];
                c.hits < keep_hits
                    || classify(key).0 != Shape::Word
                    || (c.literals.is_empty() && c.params.is_empty())
                    || c.folded
                    || !c.params.is_empty()
                    || 2 * c.singletons as usize >= c.literals.len()
                    || c.literals
                        .keys()
                        .map(|k| &**k)
                        .chain(c.params.iter().map(|p| p.0))
                        .any(|k| shared.get(k).is_some_and(|&s| s >= 2))
            })
            .map(|(key, child)| (key.clone(), *child))
            .collect();
        self.nodes[node as usize].folded = true;
        self.generation += 1;
        self.counters.folds += 1;
        for (key, child) in values {
            if classify(&key).0 == Shape::Word {
                if self.known_values.len() < MAX_KNOWN_VALUES {
                    self.known_values.insert(self.value_hasher.hash_one(&*key));
                } else {
                    self.counters.known_values_forgotten += 1;
                }
            }
            self.nodes[node as usize].literals.remove(&key);
            if let Some(param) = self.param_child(node, word_suffix(&key), true) {
                self.merge(param, child);
            }
        }
        self.recount(node);
        let params: Vec<u32> = self.nodes[node as usize]
            .params
            .iter()
            .map(|p| p.1)
            .collect();
        for param in params {
            self.rebuild_templates(param);
        }
    }

    /// Adds the subtree `src` into `dst` (same depth) and frees `src`.
    fn merge(&mut self, dst: u32, src: u32) {
        if dst == src {
            return;
        }
        let s = &mut self.nodes[src as usize];
        let literals = std::mem::take(&mut s.literals);
        let params = std::mem::take(&mut s.params);
        let (hits, runs, terminal) = (s.hits, s.runs, s.terminal);
        s.alive = false;
        s.template = None;
        s.label = Box::from("");
        self.free.push(src);
        self.live -= 1;
        let d = &mut self.nodes[dst as usize];
        d.hits += hits;
        d.runs = d.runs.saturating_add(runs);
        d.terminal |= terminal;
        for (key, child) in literals {
            let d = &self.nodes[dst as usize];
            if let Some(&existing) = d.literals.get(&key) {
                self.merge(existing, child);
            } else if d.folded || d.literals.len() >= MAX_VALUES {
                if !d.folded {
                    self.counters.values_forgotten += 1;
                }
                if let Some(param) = self.param_child(dst, word_suffix(&key), true) {
                    self.merge(param, child);
                }
            } else {
                self.nodes[child as usize].parent = dst;
                self.nodes[dst as usize].literals.insert(key, child);
            }
        }
        for (suffix, child) in params {
            if let Some(existing) = self.nodes[dst as usize].param(suffix) {
                self.merge(existing, child);
            } else {
                self.nodes[child as usize].parent = dst;
                self.nodes[dst as usize].params.push((suffix, child));
            }
        }
        self.recount(dst);
        // Values merged from many parents may now fold where each parent alone could not.
        self.pending.push(dst);
    }

    fn recount(&mut self, node: u32) {
        let n = &self.nodes[node as usize];
        let (mut hits, mut singletons) = (0u64, 0u32);
        for &child in n.literals.values() {
            let c = &self.nodes[child as usize];
            hits += c.hits;
            singletons += u32::from(c.runs == 1);
        }
        let n = &mut self.nodes[node as usize];
        n.literal_hits = hits;
        n.singletons = singletons;
    }

    fn rebuild_templates(&mut self, top: u32) {
        let mut stack = vec![top];
        while let Some(node) = stack.pop() {
            let n = &self.nodes[node as usize];
            stack.extend(n.literals.values().copied());
            stack.extend(n.params.iter().map(|p| p.1));
            let template = n.terminal.then(|| self.build_template(node));
            self.nodes[node as usize].template = template;
        }
    }

    fn build_template(&self, node: u32) -> Box<str> {
        let mut labels = Vec::new();
        let mut at = node;
        while at != ROOT {
            let n = &self.nodes[at as usize];
            labels.push(&*n.label);
            at = n.parent;
        }
        if labels.is_empty() {
            return Box::from("/");
        }
        let mut out = String::new();
        for label in labels.iter().rev() {
            out.push('/');
            out.push_str(label);
        }
        out.into_boxed_str()
    }

    fn template_of(&mut self, end: End) -> &str {
        let node = end.node as usize;
        if end.cut {
            self.scratch.clear();
            let n = &self.nodes[node];
            if end.node != ROOT {
                match &n.template {
                    Some(t) => self.scratch.push_str(t),
                    None => self.scratch.push_str(&self.build_template(end.node)),
                }
            }
            self.scratch.push('/');
            self.scratch.push_str(REST);
            return &self.scratch;
        }
        if self.nodes[node].template.is_none() {
            let template = self.build_template(end.node);
            self.nodes[node].template = Some(template);
        }
        self.nodes[node].template.as_deref().unwrap_or("/")
    }

    /// Follows `segments` without learning. `labels` also accepts the labels of routes handed
    /// out (`{id}`, `{id}.json`, `{rest}`).
    fn resolve<'s>(&self, segments: impl Iterator<Item = &'s str>, labels: bool) -> Option<End> {
        let mut node = ROOT;
        for (depth, segment) in segments.enumerate() {
            if depth == MAX_DEPTH || (labels && segment == REST) {
                return Some(End { node, cut: true });
            }
            let n = &self.nodes[node as usize];
            if let Some(&child) = n.literals.get(segment) {
                node = child;
                continue;
            }
            if labels && let Some(suffix) = segment.strip_prefix(PLACEHOLDER) {
                node = n.params.iter().find(|p| p.0 == suffix)?.1;
                continue;
            }
            let (shape, suffix) = self.classify(segment);
            let suffix = if shape == Shape::Id {
                suffix
            } else {
                word_suffix(segment)
            };
            if (shape == Shape::Id || n.folded || n.literals.len() >= MAX_VALUES)
                && let Some(child) = n.param(suffix)
            {
                node = child;
                continue;
            }
            // Not in the tree: a route never handed out, or a path a cap cut short.
            return if labels {
                None
            } else {
                Some(End { node, cut: true })
            };
        }
        Some(End { node, cut: false })
    }

    /// What `route` (handed out earlier) stands for now.
    pub(crate) fn current<'a>(&'a self, route: &'a str) -> Cow<'a, str> {
        let Some(end) = self.resolve(segments(route), true) else {
            return Cow::Borrowed(route);
        };
        let n = &self.nodes[end.node as usize];
        if end.cut {
            let mut out = if end.node == ROOT {
                String::new()
            } else {
                self.build_template(end.node).into()
            };
            out.push('/');
            out.push_str(REST);
            return if out == route {
                Cow::Borrowed(route)
            } else {
                Cow::Owned(out)
            };
        }
        match &n.template {
            Some(t) if **t == *route => Cow::Borrowed(route),
            Some(t) => Cow::Owned(t.to_string()),
            None => Cow::Borrowed(route),
        }
    }

    /// Bytes held by the tree, counted from the capacities of everything it owns.
    pub(crate) fn footprint(&self) -> usize {
        let mut bytes = self.nodes.capacity() * size_of::<Node>()
            + self.known_values.capacity() * (size_of::<u64>() + 1)
            + self.free.capacity() * size_of::<u32>()
            + self.pending.capacity() * size_of::<u32>()
            + self.scratch.capacity()
            + self.walk.capacity() * size_of::<Step>()
            + self.recent.footprint();
        for n in self.nodes.iter().filter(|n| n.alive) {
            // A hashbrown table: one control byte and one slot per bucket.
            bytes += n.literals.capacity() * (size_of::<(Box<str>, u32)>() + 1);
            bytes += n.literals.keys().map(|k| k.len()).sum::<usize>();
            bytes += n.params.capacity() * size_of::<(&str, u32)>();
            bytes += n.label.len() + n.template.as_ref().map_or(0, |t| t.len());
        }
        bytes
    }
}

/// Everything the tree has learned, to compare two trees fed the same paths. Nodes are named
/// by their path from the root, not by number: each node's map has its own hash keys, so two
/// trees fold values in different orders and free and reuse node numbers differently.
#[cfg(test)]
#[derive(Debug, PartialEq)]
pub(crate) struct Learned {
    tree: Vec<String>,
    live: usize,
    generation: u64,
    clock: u64,
    counters: RouteCounters,
    known_values: Vec<u64>,
}

#[cfg(test)]
impl Inference {
    /// A tree that remembers the walks of `slots` recent paths (0: walks every path).
    pub(crate) fn with_recent_slots(slots: usize) -> Inference {
        Inference {
            recent: RecentWalks::with_slots(slots),
            ..Inference::default()
        }
    }

    /// The same tree with the same hash keys (so it numbers its nodes alike), remembering
    /// the walks of `slots` recent paths.
    pub(crate) fn twin(&self, slots: usize) -> Inference {
        Inference {
            recent: RecentWalks::with_slots(slots),
            ..self.clone()
        }
    }

    pub(crate) fn learned(&self) -> Learned {
        let mut tree = Vec::new();
        let mut stack = vec![(ROOT, String::new())];
        while let Some((node, path)) = stack.pop() {
            let n = &self.nodes[node as usize];
            tree.push(format!(
                "{path}/ depth {} folded {} terminal {} hits {} runs {} last_seen {} \
                 literal_hits {} singletons {} params {:?} template {:?}",
                n.depth,
                n.folded,
                n.terminal,
                n.hits,
                n.runs,
                n.last_seen,
                n.literal_hits,
                n.singletons,
                n.params.iter().map(|p| p.0).collect::<Vec<_>>(),
                n.template,
            ));
            for (key, &child) in &n.literals {
                stack.push((child, format!("{path}/{key}")));
            }
            for &(suffix, child) in &n.params {
                stack.push((child, format!("{path}/{PLACEHOLDER}{suffix}")));
            }
        }
        tree.sort();
        let mut known_values: Vec<u64> = self.known_values.iter().copied().collect();
        known_values.sort_unstable();
        Learned {
            tree,
            live: self.live,
            generation: self.generation,
            clock: self.clock,
            counters: self.counters.clone(),
            known_values,
        }
    }
}

/// The format extension a word value keeps when its position folds (`Balance.json` would
/// give `{id}.json`).
fn word_suffix(segment: &str) -> &'static str {
    format_extension(segment).map_or("", |(_, ext)| ext)
}

const _: () = assert!(MAX_LITERAL_LEN < 64);
