//! HTTP status classes (RFC 9110 §15): the first digit of a status code.

/// The class of a response status. Counters by class are `[u64; StatusClass::ALL.len()]`,
/// indexed by [`StatusClass::index`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusClass {
    /// Outside 100-599: a status no server should send, counted rather than dropped.
    Other,
    /// 1xx.
    Informational,
    /// 2xx.
    Successful,
    /// 3xx.
    Redirection,
    /// 4xx.
    ClientError,
    /// 5xx.
    ServerError,
}

impl StatusClass {
    /// Every class, in index order.
    pub const ALL: [StatusClass; 6] = [
        StatusClass::Other,
        StatusClass::Informational,
        StatusClass::Successful,
        StatusClass::Redirection,
        StatusClass::ClientError,
        StatusClass::ServerError,
    ];

    /// The classes of real statuses in reading order (1xx first), then `Other`: the order
    /// reports list them in.
    pub const REPORT_ORDER: [StatusClass; 6] = [
        StatusClass::Informational,
        StatusClass::Successful,
        StatusClass::Redirection,
        StatusClass::ClientError,
        StatusClass::ServerError,
        StatusClass::Other,
    ];

    /// The class of a status code.
    #[inline]
    pub fn of(status: u16) -> Self {
        match status {
            100..=199 => StatusClass::Informational,
            200..=299 => StatusClass::Successful,
            300..=399 => StatusClass::Redirection,
            400..=499 => StatusClass::ClientError,
            500..=599 => StatusClass::ServerError,
            _ => StatusClass::Other,
        }
    }

    /// The name used as a JSON key and a metric label (`2xx`, …, `other`).
    pub fn as_str(self) -> &'static str {
        match self {
            StatusClass::Other => "other",
            StatusClass::Informational => "1xx",
            StatusClass::Successful => "2xx",
            StatusClass::Redirection => "3xx",
            StatusClass::ClientError => "4xx",
            StatusClass::ServerError => "5xx",
        }
    }

    /// The position of this class in a per-class counter array.
    #[inline]
    pub fn index(self) -> usize {
        match self {
            StatusClass::Other => 0,
            StatusClass::Informational => 1,
            StatusClass::Successful => 2,
            StatusClass::Redirection => 3,
            StatusClass::ClientError => 4,
            StatusClass::ServerError => 5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_index_their_position_and_cover_every_status() {
        for (i, c) in StatusClass::ALL.into_iter().enumerate() {
            assert_eq!(c.index(), i);
            assert!(StatusClass::REPORT_ORDER.contains(&c));
        }
        assert_eq!(StatusClass::of(99), StatusClass::Other);
        assert_eq!(StatusClass::of(100), StatusClass::Informational);
        assert_eq!(StatusClass::of(204), StatusClass::Successful);
        assert_eq!(StatusClass::of(399), StatusClass::Redirection);
        assert_eq!(StatusClass::of(404), StatusClass::ClientError);
        assert_eq!(StatusClass::of(599), StatusClass::ServerError);
        assert_eq!(StatusClass::of(600), StatusClass::Other);
        assert_eq!(StatusClass::ServerError.as_str(), "5xx");
    }
}
