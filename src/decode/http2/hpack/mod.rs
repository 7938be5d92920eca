//! HPACK (RFC 7541), the header compression of HTTP/2, decoded as a passive observer must.
//!
//! What is here: the static table and Huffman code of the RFC's appendices, prefixed integers
//! and string literals, the dynamic table, and [`Decoder`], which takes whole header blocks
//! of one direction of one connection and hands out each field. Every byte is hostile: no
//! input makes it panic, the dynamic table is bounded by [`TABLE_MEMORY_CAP`] whatever the
//! peer announces, and what one block hands out is bounded by [`MAX_FIELDS_PER_BLOCK`] and
//! [`MAX_DECODED_BYTES_PER_BLOCK`].
//!
//! What is particular to an observer: a capture may start in the middle of a connection, when
//! the dynamic table already holds entries we never saw. [`Decoder::mid_stream`] reports
//! references to them as [`Field::Unknown`], never a guess, and learns the table again as
//! evictions and size updates prove the old entries gone (`table.rs` has the reasoning).
//!
//! What is not here: frames, CONTINUATION joining, SETTINGS, streams (the frame layer), and
//! any encoder (only the tests encode).

mod decoder;
mod huffman;
mod primitive;
mod static_table;
mod table;

#[cfg(test)]
mod test_encoder;
#[cfg(test)]
mod tests;

pub use decoder::{
    Counters, DEFAULT_TABLE_SIZE, DecodeStats, Decoder, Field, MAX_DECODED_BYTES_PER_BLOCK,
    MAX_FIELDS_PER_BLOCK, TABLE_MEMORY_CAP,
};
pub use static_table::STATIC_TABLE;

/// Why a header block could not be decoded: each is a compression error (RFC 9113 §4.3),
/// fatal to the direction's decoder. Each kind is counted by the caller, never logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum HpackError {
    /// An integer above `u32::MAX`, or with too many continuation bytes (§5.1).
    BadInteger,
    /// A Huffman string holding EOS, or with bad padding (§5.2).
    BadHuffman,
    /// Index 0, or an index past the end of a table we fully know (§2.3.3).
    BadIndex,
    /// A dynamic table size update above what the peer's SETTINGS allow (§6.3).
    SizeUpdateOutOfBounds,
    /// The block ends inside a representation.
    Truncated,
    /// The decoder failed on an earlier block; the connection is over for HPACK.
    Failed,
}

impl HpackError {
    /// Every kind, in a stable order for reports.
    pub const ALL: [HpackError; 6] = [
        HpackError::BadInteger,
        HpackError::BadHuffman,
        HpackError::BadIndex,
        HpackError::SizeUpdateOutOfBounds,
        HpackError::Truncated,
        HpackError::Failed,
    ];

    /// A short snake_case name, used as a JSON key and a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            HpackError::BadInteger => "bad_integer",
            HpackError::BadHuffman => "bad_huffman",
            HpackError::BadIndex => "bad_index",
            HpackError::SizeUpdateOutOfBounds => "size_update_out_of_bounds",
            HpackError::Truncated => "truncated",
            HpackError::Failed => "failed_before",
        }
    }
}

impl std::fmt::Display for HpackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for HpackError {}
