//! HTTP/2 cleartext (h2c), as seen by a passive observer.
//!
//! Only [`hpack`], the header decompression, lives here so far; frames, streams and SETTINGS
//! belong to the frame layer that will sit beside it. Nothing here reads the clock or the
//! network.

pub mod hpack;
