//! Connection identity.

use std::net::IpAddr;

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
