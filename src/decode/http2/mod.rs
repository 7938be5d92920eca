//! HTTP/2 cleartext (h2c), as seen by a passive observer: [`frame`] reads frame headers and the
//! few payloads an observer needs, [`hpack`] decompresses header blocks per direction. Streams,
//! SETTINGS and pairing belong to `flow::h2`. Nothing here reads the clock or the network.

pub mod frame;
pub mod hpack;
