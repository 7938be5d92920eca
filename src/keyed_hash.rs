//! The hasher of every map whose keys come from the traffic: the connection table (4-tuples),
//! and the statistics' section names, client addresses and section ids.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::OnceLock;

use foldhash::SharedSeed;
use foldhash::fast::{FoldHasher, SeedableRandomState};

/// foldhash, keyed with std's OS-seeded random keys rather than foldhash's own seed (address
/// layout and the clock): a few instructions per key where SipHash spends well over a hundred,
/// on every packet, request and response. Keyed, so which 4-tuples, names or addresses collide
/// cannot be worked out offline and a chosen-key flood cannot be aimed at one bucket; foldhash
/// does not claim to resist an attacker who recovers its keys by timing the process, which is
/// SipHash's margin over it.
#[derive(Clone)]
pub(crate) struct KeyedState(SeedableRandomState);

impl Default for KeyedState {
    fn default() -> Self {
        static SHARED: OnceLock<SharedSeed> = OnceLock::new();
        let shared = SHARED.get_or_init(|| SharedSeed::from_u64(os_random(0)));
        KeyedState(SeedableRandomState::with_seed(os_random(1), shared))
    }
}

impl BuildHasher for KeyedState {
    type Hasher = FoldHasher<'static>;

    fn build_hasher(&self) -> Self::Hasher {
        self.0.build_hasher()
    }
}

/// Keeps the keys out of `{:?}` output (foldhash's own `Debug` prints them).
impl std::fmt::Debug for KeyedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyedState { .. }")
    }
}

/// 64 random bits: std's per-process keys (from the OS), varied per call.
fn os_random(salt: u64) -> u64 {
    RandomState::new().hash_one(salt)
}
