//! Recent paths and the walks they took through the inference tree, so that a path seen
//! lately is learned again without walking: no segment split, hashed, looked up or classified.
//!
//! A walk is the list of nodes a path went through and how it reached each (a literal child,
//! a placeholder, a placeholder because its position was full). Between two folds the tree
//! only grows: no node is freed, no literal removed, no position folded, no word made an
//! identifier, so the same path takes the same walk and the replay of its steps is exactly
//! what walking would do. Each walk is stamped with the tree's generation and is stale once
//! it moves. Direct-mapped by a keyed hash: a path can only be in the slot its hash picks, so a
//! lookup is one compare; paths that collide (by chance or by design) only cost the walk.

use std::hash::BuildHasher;

use super::infer::MAX_DEPTH;
use crate::keyed_hash::KeyedState;

/// Slots, a power of two: room for the distinct paths of a busy API with few collisions (of
/// 200,000 requests to about a thousand paths over fifty sections with Zipf popularity, 12.5 %
/// missed in 1,024 slots); 512 KB and the paths' bytes when all are used.
pub(crate) const RECENT_WALKS: usize = 4096;
/// Longer paths are walked every time rather than copied.
pub(crate) const RECENT_PATH_MAX: usize = 128;

/// How a walk reached a node from its parent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Reached {
    /// The segment is a literal child.
    #[default]
    Literal,
    /// The segment went to a placeholder (by shape, or its position folded).
    Placeholder,
    /// The segment went to a placeholder because its position remembers all the values it may
    /// (counted as `values_forgotten` each time).
    PlaceholderPastCap,
}

/// One step of a walk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Step {
    pub(crate) node: u32,
    pub(crate) reached: Reached,
}

#[derive(Clone)]
struct Slot {
    hash: u64,
    /// The tree's generation + 1 when the walk was taken; 0 for an empty slot.
    stamp: u64,
    path: String,
    len: u8,
    /// Apart rather than as `Step`s: 80 bytes instead of 128.
    nodes: [u32; MAX_DEPTH],
    reached: [Reached; MAX_DEPTH],
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            hash: 0,
            stamp: 0,
            path: String::new(),
            len: 0,
            nodes: [0; MAX_DEPTH],
            reached: [Reached::Literal; MAX_DEPTH],
        }
    }
}

#[derive(Clone)]
pub(crate) struct RecentWalks {
    /// `slots` of them once anything was put; empty before.
    table: Vec<Slot>,
    slots: usize,
    hasher: KeyedState,
}

/// By hand: paths in the slots are the traffic's.
impl std::fmt::Debug for RecentWalks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecentWalks")
            .field("slots", &self.slots)
            .finish_non_exhaustive()
    }
}

impl Default for RecentWalks {
    fn default() -> Self {
        RecentWalks::with_slots(RECENT_WALKS)
    }
}

impl RecentWalks {
    /// `slots` is rounded up to a power of two; 0 remembers nothing.
    pub(crate) fn with_slots(slots: usize) -> Self {
        RecentWalks {
            table: Vec::new(),
            slots: if slots == 0 {
                0
            } else {
                slots.next_power_of_two()
            },
            hasher: KeyedState::default(),
        }
    }

    /// The key of `path`, or `None` when it is not remembered (too long, or no slots).
    pub(crate) fn key(&self, path: &str) -> Option<u64> {
        (self.slots > 0 && path.len() <= RECENT_PATH_MAX).then(|| self.hasher.hash_one(path))
    }

    fn index(&self, key: u64) -> usize {
        // The high half: foldhash mixes it best.
        (key >> 32) as usize & (self.slots - 1)
    }

    /// The walk `path` took at `generation`, into `walk`; false when not remembered.
    pub(crate) fn get(&self, key: u64, path: &str, generation: u64, walk: &mut Vec<Step>) -> bool {
        let Some(s) = self.table.get(self.index(key)) else {
            return false;
        };
        if s.stamp != generation.wrapping_add(1) || s.hash != key || s.path != path {
            return false;
        }
        walk.clear();
        let len = usize::from(s.len);
        walk.extend(
            s.nodes[..len]
                .iter()
                .zip(&s.reached[..len])
                .map(|(&node, &reached)| Step { node, reached }),
        );
        true
    }

    /// Remembers the walk `path` took at `generation`, in place of its slot's.
    pub(crate) fn put(&mut self, key: u64, path: &str, generation: u64, walk: &[Step]) {
        if walk.len() > MAX_DEPTH {
            return;
        }
        if self.table.is_empty() {
            self.table = vec![Slot::default(); self.slots];
        }
        let i = self.index(key);
        let Some(s) = self.table.get_mut(i) else {
            return;
        };
        s.hash = key;
        s.stamp = generation.wrapping_add(1);
        // Reuses the slot's buffer: no allocation once paths fit.
        s.path.clear();
        s.path.push_str(path);
        for (i, step) in walk.iter().enumerate() {
            s.nodes[i] = step.node;
            s.reached[i] = step.reached;
        }
        s.len = walk.len() as u8;
    }

    /// Bytes held, from the capacities of what it owns.
    pub(crate) fn footprint(&self) -> usize {
        self.table.capacity() * size_of::<Slot>()
            + self.table.iter().map(|s| s.path.capacity()).sum::<usize>()
    }
}
