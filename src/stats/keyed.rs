//! The hasher of every map here whose keys come from the traffic (section names, client
//! addresses, section ids).

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::OnceLock;

use foldhash::SharedSeed;
use foldhash::fast::{FoldHasher, SeedableRandomState};

/// foldhash, keyed with std's OS-seeded random keys: a few instructions per key where SipHash
/// spends well over a hundred, on every request and response. Keyed so that which names or
/// addresses collide cannot be worked out offline (a chosen-key flood); foldhash does not claim
/// to resist an attacker who recovers its keys by timing the process, which is SipHash's margin
/// over it. The same choice as the flow table's (`flow::key`).
#[derive(Clone)]
pub(super) struct KeyedState(SeedableRandomState);

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
