//! HPACK primitive types (RFC 7541 §5): prefixed integers and string literals.
//!
//! Both read from a header block at a position and say how far they got; neither allocates
//! except to append a Huffman-decoded string to the caller's scratch buffer. What the
//! integers and strings mean (indices, sizes, names, values) is `decoder.rs`.

use std::ops::Range;

use super::HpackError;
use super::huffman;

/// At most this many continuation bytes after the prefix. Five carry 35 bits, enough for any
/// value up to `u32::MAX` with some leading zero groups; more is an attack, not an encoder.
const MAX_CONTINUATION_BYTES: usize = 5;

/// Reads an integer with an `prefix_bits`-bit prefix (§5.1) starting at `block[pos]`; the
/// bits above the prefix in the first byte are the caller's. Returns the value and the
/// position after it. Values above `u32::MAX` are rejected (§5.1 lets a decoder bound them).
pub fn integer(block: &[u8], pos: usize, prefix_bits: u32) -> Result<(u32, usize), HpackError> {
    let mask = (1u32 << prefix_bits) - 1;
    let first = *block.get(pos).ok_or(HpackError::Truncated)?;
    let mut value = u64::from(u32::from(first) & mask);
    if value < u64::from(mask) {
        return Ok((value as u32, pos + 1));
    }
    let mut shift = 0u32;
    for i in 1..=MAX_CONTINUATION_BYTES {
        let b = *block.get(pos + i).ok_or(HpackError::Truncated)?;
        value += u64::from(b & 0x7f) << shift;
        if value > u64::from(u32::MAX) {
            return Err(HpackError::BadInteger);
        }
        if b & 0x80 == 0 {
            return Ok((value as u32, pos + i + 1));
        }
        shift += 7;
    }
    Err(HpackError::BadInteger)
}

/// Where a decoded string is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Str {
    /// Raw octets, borrowed from the block.
    Block(Range<usize>),
    /// Huffman-decoded into the scratch buffer.
    Scratch(Range<usize>),
    /// Huffman-decoded, but longer than we keep: only its length.
    NotHeld(usize),
}

impl Str {
    /// The decoded length.
    pub fn len(&self) -> usize {
        match self {
            Str::Block(r) | Str::Scratch(r) => r.len(),
            Str::NotHeld(n) => *n,
        }
    }

    /// The bytes, if held.
    pub fn get<'a>(&self, block: &'a [u8], scratch: &'a [u8]) -> Option<&'a [u8]> {
        match self {
            Str::Block(r) => block.get(r.clone()),
            Str::Scratch(r) => scratch.get(r.clone()),
            Str::NotHeld(_) => None,
        }
    }
}

/// Reads a string literal (§5.2) at `block[pos]`. A Huffman string is decoded onto the end of
/// `scratch`, which grows by at most `keep` bytes; a longer one is validated and measured but
/// not held. Returns the string and the position after it.
pub fn string(
    block: &[u8],
    pos: usize,
    scratch: &mut Vec<u8>,
    keep: usize,
) -> Result<(Str, usize), HpackError> {
    let huffman_coded = block.get(pos).ok_or(HpackError::Truncated)? & 0x80 != 0;
    let (len, start) = integer(block, pos, 7)?;
    let end = start
        .checked_add(len as usize)
        .filter(|&e| e <= block.len())
        .ok_or(HpackError::Truncated)?;
    if !huffman_coded {
        return Ok((Str::Block(start..end), end));
    }
    let from = scratch.len();
    let src = block.get(start..end).ok_or(HpackError::Truncated)?;
    let decoded = huffman::decode(src, scratch, keep).map_err(|_| HpackError::BadHuffman)?;
    if decoded > keep {
        scratch.truncate(from);
        return Ok((Str::NotHeld(decoded), end));
    }
    Ok((Str::Scratch(from..scratch.len()), end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_from_appendix_c1() {
        // C.1.1: 10 in a 5-bit prefix; C.1.2: 1337; C.1.3: 42 at an octet boundary.
        assert_eq!(integer(&[0b0000_1010], 0, 5), Ok((10, 1)));
        assert_eq!(
            integer(&[0b0001_1111, 0b1001_1010, 0b0000_1010], 0, 5),
            Ok((1337, 3))
        );
        assert_eq!(integer(&[42], 0, 8), Ok((42, 1)));
        // The bits above the prefix are not the integer's.
        assert_eq!(integer(&[0b1110_1010], 0, 5), Ok((10, 1)));
        // At a position.
        assert_eq!(integer(&[0, 0, 0x7e], 2, 7), Ok((126, 3)));
    }

    #[test]
    fn integer_edges() {
        // Exactly the prefix maximum needs one more byte, even a zero one.
        assert_eq!(integer(&[0x1f, 0x00], 0, 5), Ok((31, 2)));
        assert_eq!(integer(&[0x1f], 0, 5), Err(HpackError::Truncated));
        assert_eq!(integer(&[0x1f, 0x80], 0, 5), Err(HpackError::Truncated));
        assert_eq!(integer(&[], 0, 5), Err(HpackError::Truncated));
        // u32::MAX = 255 + 0xffff_ff00: the largest accepted.
        let max = [0xff, 0x80, 0xfe, 0xff, 0xff, 0x0f];
        assert_eq!(integer(&max, 0, 8), Ok((u32::MAX, 6)));
        let over = [0xff, 0x81, 0xfe, 0xff, 0xff, 0x0f];
        assert_eq!(integer(&over, 0, 8), Err(HpackError::BadInteger));
        // Too many continuation bytes, even if they only carry zeros.
        let long = [0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
        assert_eq!(integer(&long, 0, 5), Err(HpackError::BadInteger));
        let five = [0x1f, 0x80, 0x80, 0x80, 0x80, 0x00];
        assert_eq!(integer(&five, 0, 5), Ok((31, 6)));
        // A huge shift never overflows.
        assert_eq!(integer(&[0xff; 20], 0, 7), Err(HpackError::BadInteger));
    }

    #[test]
    fn strings_raw_and_huffman() {
        let mut scratch = Vec::new();
        let block = b"\x0acustom-key\x88\x25\xa8\x49\xe9\x5b\xa9\x7d\x7f";
        let (s, next) = string(block, 0, &mut scratch, 100).unwrap();
        assert_eq!(s.get(block, &scratch), Some(&b"custom-key"[..]));
        assert_eq!(next, 11);
        let (s, next) = string(block, next, &mut scratch, 100).unwrap();
        // C.4.3's Huffman "custom-key".
        assert_eq!(s.get(block, &scratch), Some(&b"custom-key"[..]));
        assert_eq!(next, block.len());
        // Too long to keep: measured, not held.
        let (s, _) = string(block, 11, &mut scratch, 5).unwrap();
        assert_eq!(s, Str::NotHeld(10));
        assert_eq!(scratch.len(), 10);
        // A length past the block, and bad Huffman.
        assert_eq!(
            string(b"\x05abc", 0, &mut scratch, 100),
            Err(HpackError::Truncated)
        );
        assert_eq!(
            string(b"\x81\xff", 0, &mut scratch, 100),
            Err(HpackError::BadHuffman)
        );
        assert_eq!(
            string(b"\x7f\x80\x01abc", 0, &mut scratch, 100),
            Err(HpackError::Truncated)
        );
    }
}
