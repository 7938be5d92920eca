//! Connection identity, and the hasher of the tables keyed by it.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::OnceLock;

use foldhash::SharedSeed;
use foldhash::fast::{FoldHasher, SeedableRandomState};

use crate::decode::Endpoint;

/// A connection, the same for both directions: the lower endpoint first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub a: Endpoint,
    pub b: Endpoint,
}

impl FlowKey {
    pub fn new(src: Endpoint, dst: Endpoint) -> Self {
        Self::oriented(src, dst).0
    }

    /// The key of a segment from `src` to `dst`, and its direction: 0 when `src` is `a`, 1
    /// when it is `b`.
    #[inline]
    pub(super) fn oriented(src: Endpoint, dst: Endpoint) -> (Self, usize) {
        let src_first = match (src.ip, dst.ip) {
            // The usual case, compared as two integers. Same order as the derived `Ord`
            // (address bits, then port), which still decides every other case.
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let packed = |ip: std::net::Ipv4Addr, port: u16| {
                    (u64::from(ip.to_bits()) << 16) | u64::from(port)
                };
                packed(s, src.port) <= packed(d, dst.port)
            }
            _ => src <= dst,
        };
        if src_first {
            (FlowKey { a: src, b: dst }, 0)
        } else {
            (FlowKey { a: dst, b: src }, 1)
        }
    }
}

/// The hasher of the connection table: foldhash, a folded-multiply hash several times cheaper
/// than std's SipHash on a packed 4-tuple (one lookup per packet), keyed with std's OS-seeded
/// random keys rather than foldhash's own seed (address layout and the clock). Keyed, so which
/// 4-tuples collide cannot be worked out offline, and a chosen-key flood cannot be aimed at
/// one bucket; foldhash does not claim to resist an attacker who recovers its keys by timing
/// the process, which is SipHash's margin over it.
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

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    #[test]
    fn orientation_matches_the_derived_order() {
        let v4 = |a: u32, port| Endpoint {
            ip: IpAddr::V4(Ipv4Addr::from_bits(a)),
            port,
        };
        let v6 = |a: u128, port| Endpoint {
            ip: IpAddr::V6(Ipv6Addr::from_bits(a)),
            port,
        };
        let ends = [
            v4(0, 0),
            v4(1, 80),
            v4(1, 81),
            v4(0x0100_0000, 1),
            v4(u32::MAX, 0),
            v4(u32::MAX, u16::MAX),
            v6(0, 0),
            v6(1, 80),
            v6(u128::MAX, 1),
        ];
        for s in ends {
            for d in ends {
                let (k, dir) = FlowKey::oriented(s, d);
                let want = if s <= d { (s, d) } else { (d, s) };
                assert_eq!((k.a, k.b), want, "{s} {d}");
                assert_eq!(dir, usize::from(s != k.a), "{s} {d}");
            }
        }
    }
}
