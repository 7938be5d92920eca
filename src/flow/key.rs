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

    /// The key of a segment from `src` to `dst`, and which of its endpoints sent it.
    #[inline]
    pub(super) fn oriented(src: Endpoint, dst: Endpoint) -> (Self, Side) {
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
            (FlowKey { a: src, b: dst }, Side::A)
        } else {
            (FlowKey { a: dst, b: src }, Side::B)
        }
    }
}

/// Which endpoint of a [`FlowKey`] sent a segment: the orientation known from the addresses
/// alone, before anything says which end is the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Sent by `FlowKey::a`.
    A,
    /// Sent by `FlowKey::b`.
    B,
}

impl Side {
    /// Both sides, in index order.
    pub const ALL: [Side; 2] = [Side::A, Side::B];

    /// The position of this side in a per-side `[T; 2]`.
    #[inline]
    pub fn index(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }

    /// The sender of the opposite stream.
    #[inline]
    pub fn other(self) -> Self {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
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
                let want = if s == k.a { Side::A } else { Side::B };
                assert_eq!(dir, want, "{s} {d}");
            }
        }
    }
}
