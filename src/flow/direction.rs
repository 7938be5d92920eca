//! Which way bytes travel on a connection, by role.

/// The two byte streams of a connection, named by who sends them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Requests: the stream the client sends.
    Client,
    /// Responses: the stream the server sends.
    Server,
}

impl Direction {
    /// Both directions, in index order.
    pub const ALL: [Direction; 2] = [Direction::Client, Direction::Server];

    /// A short lower-case name, for reports and labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Client => "client",
            Direction::Server => "server",
        }
    }

    /// The position of this direction in a per-direction `[T; 2]`.
    #[inline]
    pub fn index(self) -> usize {
        match self {
            Direction::Client => 0,
            Direction::Server => 1,
        }
    }

    /// The direction that answers this one.
    #[inline]
    pub fn other(self) -> Self {
        match self {
            Direction::Client => Direction::Server,
            Direction::Server => Direction::Client,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_index_their_position_in_all() {
        for (i, d) in Direction::ALL.into_iter().enumerate() {
            assert_eq!(d.index(), i);
            assert_eq!(d.other().other(), d);
            assert_ne!(d.other(), d);
        }
        assert_eq!(Direction::Client.as_str(), "client");
        assert_eq!(Direction::Server.as_str(), "server");
    }
}
