//! Routes: the counts sections get, per route template (`/users/{id}`), from the same
//! machinery: a Space-Saving [`SectionTable`] capped at `max_routes` names, with evicted
//! routes counted under `(other)`, and the same 10 s and 10 min [`SectionWindow`]s.
//!
//! A route handed out earlier can stand for another later (inference folds `/users/octocat`
//! into `/users/{id}` once it has seen enough users): each time the engine's generation moves,
//! every tracked route is re-keyed through [`Routes::current`], and a route that became one
//! already tracked is merged into it, windows and run totals alike, so a route folded later
//! keeps its counts. Over the whole run each route also keeps its status classes and a latency
//! histogram (for the summary and /metrics), in the same bounded set of ids.

use std::hash::BuildHasher;
use std::time::Duration;

use super::histogram::{LatencyHistogram, bucket_of};
use super::sections::{Answer, OTHER_ID, SectionTable, SectionWindow, same_name};
use crate::routes::Routes;

/// One route's counts over the whole run (or those of `(other)`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteRun {
    /// Requests since the route was admitted to the table (all of them unless it filled).
    pub hits: u64,
    /// Final responses by class: index 0 for anything outside 1xx-5xx, then 1xx..5xx (a
    /// failed gRPC call counts as 5xx, as in the section tables).
    pub status_classes: [u64; 6],
    pub latency: LatencyHistogram,
}

impl RouteRun {
    fn add(&mut self, other: &RouteRun) {
        self.hits += other.hits;
        for (a, b) in self.status_classes.iter_mut().zip(other.status_classes) {
            *a += b;
        }
        self.latency.merge(&other.latency);
    }
}

/// Per-route statistics. One owner (`Stats`); no locks.
pub struct RouteStats {
    routes: Routes,
    /// The engine's generation the tracked names were last re-keyed at.
    generation: u64,
    pub(super) table: SectionTable,
    pub(super) last_10s: SectionWindow,
    pub(super) last_10m: SectionWindow,
    /// Indexed by id, `OTHER_ID` first; grows to the largest id (at most the cap + 1).
    pub(super) run: Vec<RouteRun>,
    /// Routes merged into another after a fold.
    pub(super) merged: u64,
    recent: RecentPaths,
}

/// The route ids of recent requests by path, so that a response finds its request's route
/// without routing the path again: routing costs about a thousand instructions, and would
/// teach the inference the same path twice. Direct-mapped; a miss (a collision, an entry made
/// stale by a takeover or a re-keying) routes the path as before, so it costs speed, never a
/// count.
struct RecentPaths {
    slots: Vec<RecentPath>,
    /// Bumped whenever an id may name another route than when it was remembered.
    stamp: u64,
    hasher: foldhash::fast::FixedState,
}

#[derive(Default)]
struct RecentPath {
    path: String,
    id: u32,
    stamp: u64,
}

const RECENT_PATHS: usize = 256;
/// Paths longer than this are routed again rather than copied.
const RECENT_PATH_MAX: usize = 128;

impl RecentPaths {
    fn new() -> Self {
        RecentPaths {
            slots: (0..RECENT_PATHS).map(|_| RecentPath::default()).collect(),
            // Stamps start at 1: a default slot (stamp 0) never matches.
            stamp: 1,
            hasher: foldhash::fast::FixedState::default(),
        }
    }

    fn slot(&self, path: &str) -> usize {
        (self.hasher.hash_one(path) as usize) % RECENT_PATHS
    }

    fn remember(&mut self, path: &str, id: u32) {
        if path.len() > RECENT_PATH_MAX {
            return;
        }
        let i = self.slot(path);
        if let Some(e) = self.slots.get_mut(i) {
            // A path asked for again is mostly there already: compared, not copied.
            if !same_name(&e.path, path) {
                e.path.clear();
                e.path.push_str(path);
            }
            e.id = id;
            e.stamp = self.stamp;
        }
    }

    fn get(&self, path: &str) -> Option<u32> {
        let e = self.slots.get(self.slot(path))?;
        (e.stamp == self.stamp && same_name(&e.path, path)).then_some(e.id)
    }

    fn forget_all(&mut self) {
        self.stamp += 1;
    }
}

/// By hand: the route engine need not be `Debug`.
impl std::fmt::Debug for RouteStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteStats")
            .field("generation", &self.generation)
            .field("tracked", &self.table.len())
            .field("merged", &self.merged)
            .finish_non_exhaustive()
    }
}

impl RouteStats {
    pub fn new(routes: Routes, max_routes: usize) -> Self {
        RouteStats {
            generation: routes.generation(),
            routes,
            table: SectionTable::new(max_routes),
            last_10s: SectionWindow::new(1, 10),
            last_10m: SectionWindow::new(10, 60),
            run: Vec::new(),
            merged: 0,
            recent: RecentPaths::new(),
        }
    }

    pub fn routes(&self) -> &Routes {
        &self.routes
    }

    /// Counts one request of `path` at `second`.
    pub fn record_request(&mut self, second: u64, path: &str) {
        self.rekey();
        let route = self.routes.route(path);
        let (id, taken_over) = self.table.record(route);
        if taken_over {
            self.recent.forget_all();
            // The id now names another route: what was kept for the old one is (other)'s.
            self.last_10s.fold_into_other(id);
            self.last_10m.fold_into_other(id);
            self.move_run(id, OTHER_ID);
        }
        self.recent.remember(path, id);
        self.last_10s.record_hit(second, id);
        self.last_10m.record_hit(second, id);
        run_of(&mut self.run, id).hits += 1;
    }

    /// Counts one final response to a request of `path`. `status` is the one the error
    /// columns see (a failed gRPC call as 500).
    pub fn record_response(
        &mut self,
        second: u64,
        path: &str,
        status: u16,
        latency: Option<Duration>,
    ) {
        let answer = Answer::new(status, latency.map(bucket_of));
        self.record_answer(second, path, status, answer);
    }

    /// [`RouteStats::record_response`] of a response worked out once for every table it goes
    /// to; `answer` is of `status`.
    pub fn record_answer(&mut self, second: u64, path: &str, status: u16, answer: Answer) {
        self.rekey();
        let id = match self.recent.get(path) {
            Some(id) => id,
            None => {
                let route = self.routes.route(path);
                self.table.lookup(route).unwrap_or(OTHER_ID)
            }
        };
        self.last_10s.record_answer(second, id, answer);
        self.last_10m.record_answer(second, id, answer);
        let run = run_of(&mut self.run, id);
        let class = match status {
            100..=599 => usize::from(status / 100),
            _ => 0,
        };
        run.status_classes[class] += 1;
        if let Some(b) = answer.latency() {
            run.latency.add_bucket(b, 1);
        }
    }

    pub fn advance(&mut self, second: u64) {
        self.last_10s.advance(second);
        self.last_10m.advance(second);
    }

    /// Re-keys the tracked routes when the engine says what they stand for may have changed.
    /// A `u64` compare per event otherwise, inlined: the work is out of line.
    #[inline]
    fn rekey(&mut self) {
        if self.routes.generation() != self.generation {
            self.rekey_now();
        }
    }

    #[cold]
    #[inline(never)]
    fn rekey_now(&mut self) {
        self.generation = self.routes.generation();
        let moves: Vec<(u32, String)> = self
            .table
            .ids()
            .filter_map(|(id, name)| {
                let now = self.routes.current(name);
                (now != name).then(|| (id, now.into_owned()))
            })
            .collect();
        self.apply_moves(moves);
    }

    /// Gives each id in `moves` its new name: renamed when the name is new, merged (table,
    /// windows, run totals) into the id holding it otherwise.
    pub(super) fn apply_moves(&mut self, moves: Vec<(u32, String)>) {
        if !moves.is_empty() {
            self.recent.forget_all();
        }
        for (id, name) in moves {
            match self.table.get(&name) {
                Some(into) if into == id => {}
                Some(into) => {
                    if self.table.merge(id, into) {
                        self.last_10s.move_into(id, into);
                        self.last_10m.move_into(id, into);
                        self.move_run(id, into);
                        self.merged += 1;
                    }
                }
                None => {
                    self.table.rename(id, &name);
                }
            }
        }
    }

    fn move_run(&mut self, id: u32, into: u32) {
        let Some(from) = self.run.get_mut(id as usize).map(std::mem::take) else {
            return;
        };
        run_of(&mut self.run, into).add(&from);
    }
}

fn run_of(run: &mut Vec<RouteRun>, id: u32) -> &mut RouteRun {
    let i = id as usize;
    if i >= run.len() {
        run.resize_with(i + 1, RouteRun::default);
    }
    &mut run[i]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(w: &SectionWindow, t: &SectionTable) -> Vec<(String, u64)> {
        w.top(10)
            .iter()
            .map(|(id, a)| (t.name(*id).to_owned(), a.hits))
            .collect()
    }

    #[test]
    fn requests_and_responses_land_on_their_route() {
        let mut r = RouteStats::new(Routes::inferred(), 100);
        for (i, p) in ["/users/1", "/users/2?x", "/users/2/repos", "/"]
            .iter()
            .enumerate()
        {
            r.record_request(100, p);
            r.record_response(
                100,
                p,
                [200, 503, 404, 200][i],
                Some(Duration::from_millis(2)),
            );
        }
        let w = hits(&r.last_10s, &r.table);
        assert_eq!(
            w,
            [
                ("/users/{id}".into(), 2),
                ("/users/{id}/repos".into(), 1),
                ("/".into(), 1)
            ]
        );
        let id = r.table.get("/users/{id}").unwrap_or(0);
        let run = &r.run[id as usize];
        assert_eq!((run.hits, run.status_classes), (2, [0, 0, 1, 0, 0, 1]));
        assert_eq!(run.latency.count(), 2);
    }

    #[test]
    fn a_route_folded_later_keeps_its_counts() {
        let mut r = RouteStats::new(Routes::inferred(), 100);
        for p in [
            "/users/octocat",
            "/users/octocat",
            "/users/7",
            "/users/torvalds",
        ] {
            r.record_request(100, p);
            r.record_response(101, p, 500, Some(Duration::from_millis(1)));
        }
        r.record_request(105, "/orgs/rust-lang");
        let id = |r: &RouteStats, n: &str| r.table.get(n).unwrap_or(0);
        let (octo, torvalds) = (id(&r, "/users/octocat"), id(&r, "/users/torvalds"));
        // The engine folds both logins into the template it has, and the org into a new one.
        r.apply_moves(vec![
            (octo, "/users/{id}".into()),
            (torvalds, "/users/{id}".into()),
            (id(&r, "/orgs/rust-lang"), "/orgs/{org}".into()),
        ]);
        assert_eq!(r.merged, 2);
        assert_eq!(r.table.get("/users/octocat"), None);
        let counts: Vec<(&str, u64)> = r.table.counts().map(|c| (c.name, c.count)).collect();
        assert_eq!(counts, [("/users/{id}", 4), ("/orgs/{org}", 1)]);
        for w in [&r.last_10s, &r.last_10m] {
            let top = w.top(10);
            let users = top.iter().find(|(i, _)| *i == id(&r, "/users/{id}"));
            let a = users.map(|(_, a)| (a.hits, a.server_errors, a.latency.count()));
            assert_eq!(a, Some((4, 4, 4)));
            assert_eq!(w.total_hits(), 5);
        }
        let run = &r.run[id(&r, "/users/{id}") as usize];
        assert_eq!((run.hits, run.status_classes[5]), (4, 4));
        // The slots given up are reused by new routes, which start from zero.
        r.record_request(106, "/teams/x");
        let t = id(&r, "/teams/x");
        assert!(t == octo || t == torvalds);
        assert_eq!(r.run[t as usize].hits, 1);
        assert_eq!(
            r.last_10s
                .top(10)
                .iter()
                .find(|(i, _)| *i == t)
                .map(|x| x.1.hits),
            Some(1)
        );
    }

    #[test]
    fn evicted_routes_count_under_other() {
        let mut r = RouteStats::new(Routes::inferred(), 2);
        for p in ["/a", "/a", "/b", "/c"] {
            r.record_request(100, p);
            r.record_response(100, p, 200, None);
        }
        // /c took /b's slot: /b's request and response are (other)'s now.
        assert_eq!(r.table.get("/b"), None);
        assert_eq!(r.run[OTHER_ID as usize].hits, 1);
        assert_eq!(r.run[OTHER_ID as usize].status_classes[2], 1);
        let total: u64 = r.run.iter().map(|x| x.hits).sum();
        assert_eq!(total, 4);
        assert_eq!(r.last_10s.total_hits(), 4);
    }
}
