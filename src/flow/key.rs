//! Connection identity.

use crate::decode::Endpoint;

/// A connection, the same for both directions: the lower endpoint first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub a: Endpoint,
    pub b: Endpoint,
}

impl FlowKey {
    pub fn new(src: Endpoint, dst: Endpoint) -> Self {
        if src <= dst {
            FlowKey { a: src, b: dst }
        } else {
            FlowKey { a: dst, b: src }
        }
    }
}
