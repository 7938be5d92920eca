//! Pure, zero-copy decoding of one captured frame down to a TCP segment, and of HTTP/1.x heads.
//!
//! `decode_frame` peels the link layer (Ethernet, Linux cooked SLL/SLL2, BSD NULL/LOOP, raw IP),
//! any 802.1Q/QinQ tags, IPv4/IPv6 (with extension headers) and TCP, and returns a [`TcpSegment`]
//! that borrows the frame. Anything else is an [`Error`] whose kind is counted by the caller,
//! never logged per packet and never a panic: every byte here is hostile. Checksums are not
//! verified on purpose: loopback captures carry checksums left to an offload that never happens.
//! A packet cut short by the capture's snap length is still decoded when its IP and TCP headers
//! are whole; the segment then says how many payload bytes the capture did not keep.
//! Nothing here knows about connections; that is `flow`. [`http2`] reads HTTP/2 frames and
//! decodes header blocks with HPACK, including for a connection whose start the capture missed.

mod http;
pub mod http2;
mod ip;
mod link;
mod part;
mod path;
mod section;
mod tls;

pub use http::chunked::{ChunkDecoder, Decoded};
pub use http::lenient::{
    LenientRequest, LenientResponse, LineShape, Malformed, read_request as read_request_lenient,
    read_response as read_response_lenient, request_line_shape as lenient_request_line_shape,
};
/// The head parsers on top of httparse, the reference ours are tested and benchmarked against.
#[doc(hidden)]
pub use http::reference as http_reference;
pub use http::{
    BodyLength, COMMON_METHODS, MAX_HEADERS, RequestHead, ResponseHead, common_method_name,
    looks_like_request_start, looks_like_response_start, parse_request_head, parse_response_head,
};
pub use ip::{Endpoint, TcpFlags, TcpSegment, decode_ip};
pub use link::{LinkType, strip_link};
pub use part::part_of;
pub use path::{CUT_MARK, MAX_PATH_LEN, path_of, push_path, request_path};
pub use section::{MAX_SECTION_LEN, section_of};
pub use tls::{MAX_TLS_RECORD, tls_sni};

/// Why a frame was not decoded to a TCP segment. Each kind is counted, not logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Error {
    /// The frame ended before the link-layer header did.
    TruncatedLink,
    /// The capture's link type is not one we read.
    UnsupportedLinkType,
    /// The frame carries something other than IPv4/IPv6 (ARP, LLDP, …).
    NotIp,
    /// The IP header (or an IPv6 extension header) is truncated or malformed.
    BadIp,
    /// An IP fragment: TCP inside fragments is not reassembled (rare for TCP, which uses PMTU).
    IpFragment,
    /// IP carrying something other than TCP (UDP, ICMP, …).
    NotTcp,
    /// The TCP header is truncated or its data offset is wrong.
    BadTcp,
    /// The capture kept fewer bytes than the IP length says, and the cut falls inside the IP
    /// or TCP headers (a snap length shorter than the headers). A cut after the headers is not
    /// an error: the segment is decoded with [`TcpSegment::missing`] set.
    TruncatedHeaders,
}

impl Error {
    /// Every kind, in a stable order for reports.
    pub const ALL: [Error; 8] = [
        Error::TruncatedLink,
        Error::UnsupportedLinkType,
        Error::NotIp,
        Error::BadIp,
        Error::IpFragment,
        Error::NotTcp,
        Error::BadTcp,
        Error::TruncatedHeaders,
    ];

    /// A short snake_case name, used as a JSON key and a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Error::TruncatedLink => "truncated_link",
            Error::UnsupportedLinkType => "unsupported_link_type",
            Error::NotIp => "not_ip",
            Error::BadIp => "bad_ip",
            Error::IpFragment => "ip_fragment",
            Error::NotTcp => "not_tcp",
            Error::BadTcp => "bad_tcp",
            Error::TruncatedHeaders => "truncated_headers",
        }
    }

    pub fn index(self) -> usize {
        Error::ALL.iter().position(|e| *e == self).unwrap_or(0)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Decodes one captured frame of the given link type down to its TCP segment.
#[inline]
pub fn decode_frame(link: LinkType, frame: &[u8]) -> Result<TcpSegment<'_>> {
    let ip = strip_link(link, frame)?;
    decode_ip(ip)
}
