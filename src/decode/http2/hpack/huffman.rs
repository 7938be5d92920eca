//! The HPACK Huffman code (RFC 7541 Appendix B) and its decoder.
//!
//! The code is canonical: codes of one length are consecutive and ordered by symbol, and a
//! longer code, left-aligned, sorts after every shorter one. So the decoder needs no tree: it
//! reads a 32-bit window and finds the shortest length whose left-aligned codes bound it
//! (`LIMIT`), then the symbol by rank within that length. The tables are built at compile
//! time from the code lengths of Appendix B; a test checks that they rebuild every code the
//! RFC lists.
//!
//! Decoding rejects what §5.2 calls errors: the EOS symbol inside a string, padding longer
//! than 7 bits, and padding that is not the most significant bits of EOS (all ones). There is
//! no encoder here (only the tests have one).

/// Why a Huffman string was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HuffmanError {
    /// The string holds the EOS symbol (§5.2: a decoding error).
    Eos,
    /// The string ends in more than 7 bits of padding, or padding that is not all ones.
    BadPadding,
}

/// RFC 7541 Appendix B, one `(code aligned to LSB, length in bits)` per symbol, 0..=255 then
/// EOS (256), as the RFC's "code as hex" and "len" columns.
pub(crate) const CODES: [(u32, u8); 257] = [
    /*   0 */ (0x1ff8, 13),
    (0x7fffd8, 23),
    (0xfffffe2, 28),
    (0xfffffe3, 28),
    /*   4 */ (0xfffffe4, 28),
    (0xfffffe5, 28),
    (0xfffffe6, 28),
    (0xfffffe7, 28),
    /*   8 */ (0xfffffe8, 28),
    (0xffffea, 24),
    (0x3ffffffc, 30),
    (0xfffffe9, 28),
    /*  12 */ (0xfffffea, 28),
    (0x3ffffffd, 30),
    (0xfffffeb, 28),
    (0xfffffec, 28),
    /*  16 */ (0xfffffed, 28),
    (0xfffffee, 28),
    (0xfffffef, 28),
    (0xffffff0, 28),
    /*  20 */ (0xffffff1, 28),
    (0xffffff2, 28),
    (0x3ffffffe, 30),
    (0xffffff3, 28),
    /*  24 */ (0xffffff4, 28),
    (0xffffff5, 28),
    (0xffffff6, 28),
    (0xffffff7, 28),
    /*  28 */ (0xffffff8, 28),
    (0xffffff9, 28),
    (0xffffffa, 28),
    (0xffffffb, 28),
    /*  32 */ (0x14, 6),
    (0x3f8, 10),
    (0x3f9, 10),
    (0xffa, 12),
    /*  36 */ (0x1ff9, 13),
    (0x15, 6),
    (0xf8, 8),
    (0x7fa, 11),
    /*  40 */ (0x3fa, 10),
    (0x3fb, 10),
    (0xf9, 8),
    (0x7fb, 11),
    /*  44 */ (0xfa, 8),
    (0x16, 6),
    (0x17, 6),
    (0x18, 6),
    /*  48 */ (0x0, 5),
    (0x1, 5),
    (0x2, 5),
    (0x19, 6),
    /*  52 */ (0x1a, 6),
    (0x1b, 6),
    (0x1c, 6),
    (0x1d, 6),
    /*  56 */ (0x1e, 6),
    (0x1f, 6),
    (0x5c, 7),
    (0xfb, 8),
    /*  60 */ (0x7ffc, 15),
    (0x20, 6),
    (0xffb, 12),
    (0x3fc, 10),
    /*  64 */ (0x1ffa, 13),
    (0x21, 6),
    (0x5d, 7),
    (0x5e, 7),
    /*  68 */ (0x5f, 7),
    (0x60, 7),
    (0x61, 7),
    (0x62, 7),
    /*  72 */ (0x63, 7),
    (0x64, 7),
    (0x65, 7),
    (0x66, 7),
    /*  76 */ (0x67, 7),
    (0x68, 7),
    (0x69, 7),
    (0x6a, 7),
    /*  80 */ (0x6b, 7),
    (0x6c, 7),
    (0x6d, 7),
    (0x6e, 7),
    /*  84 */ (0x6f, 7),
    (0x70, 7),
    (0x71, 7),
    (0x72, 7),
    /*  88 */ (0xfc, 8),
    (0x73, 7),
    (0xfd, 8),
    (0x1ffb, 13),
    /*  92 */ (0x7fff0, 19),
    (0x1ffc, 13),
    (0x3ffc, 14),
    (0x22, 6),
    /*  96 */ (0x7ffd, 15),
    (0x3, 5),
    (0x23, 6),
    (0x4, 5),
    /* 100 */ (0x24, 6),
    (0x5, 5),
    (0x25, 6),
    (0x26, 6),
    /* 104 */ (0x27, 6),
    (0x6, 5),
    (0x74, 7),
    (0x75, 7),
    /* 108 */ (0x28, 6),
    (0x29, 6),
    (0x2a, 6),
    (0x7, 5),
    /* 112 */ (0x2b, 6),
    (0x76, 7),
    (0x2c, 6),
    (0x8, 5),
    /* 116 */ (0x9, 5),
    (0x2d, 6),
    (0x77, 7),
    (0x78, 7),
    /* 120 */ (0x79, 7),
    (0x7a, 7),
    (0x7b, 7),
    (0x7ffe, 15),
    /* 124 */ (0x7fc, 11),
    (0x3ffd, 14),
    (0x1ffd, 13),
    (0xffffffc, 28),
    /* 128 */ (0xfffe6, 20),
    (0x3fffd2, 22),
    (0xfffe7, 20),
    (0xfffe8, 20),
    /* 132 */ (0x3fffd3, 22),
    (0x3fffd4, 22),
    (0x3fffd5, 22),
    (0x7fffd9, 23),
    /* 136 */ (0x3fffd6, 22),
    (0x7fffda, 23),
    (0x7fffdb, 23),
    (0x7fffdc, 23),
    /* 140 */ (0x7fffdd, 23),
    (0x7fffde, 23),
    (0xffffeb, 24),
    (0x7fffdf, 23),
    /* 144 */ (0xffffec, 24),
    (0xffffed, 24),
    (0x3fffd7, 22),
    (0x7fffe0, 23),
    /* 148 */ (0xffffee, 24),
    (0x7fffe1, 23),
    (0x7fffe2, 23),
    (0x7fffe3, 23),
    /* 152 */ (0x7fffe4, 23),
    (0x1fffdc, 21),
    (0x3fffd8, 22),
    (0x7fffe5, 23),
    /* 156 */ (0x3fffd9, 22),
    (0x7fffe6, 23),
    (0x7fffe7, 23),
    (0xffffef, 24),
    /* 160 */ (0x3fffda, 22),
    (0x1fffdd, 21),
    (0xfffe9, 20),
    (0x3fffdb, 22),
    /* 164 */ (0x3fffdc, 22),
    (0x7fffe8, 23),
    (0x7fffe9, 23),
    (0x1fffde, 21),
    /* 168 */ (0x7fffea, 23),
    (0x3fffdd, 22),
    (0x3fffde, 22),
    (0xfffff0, 24),
    /* 172 */ (0x1fffdf, 21),
    (0x3fffdf, 22),
    (0x7fffeb, 23),
    (0x7fffec, 23),
    /* 176 */ (0x1fffe0, 21),
    (0x1fffe1, 21),
    (0x3fffe0, 22),
    (0x1fffe2, 21),
    /* 180 */ (0x7fffed, 23),
    (0x3fffe1, 22),
    (0x7fffee, 23),
    (0x7fffef, 23),
    /* 184 */ (0xfffea, 20),
    (0x3fffe2, 22),
    (0x3fffe3, 22),
    (0x3fffe4, 22),
    /* 188 */ (0x7ffff0, 23),
    (0x3fffe5, 22),
    (0x3fffe6, 22),
    (0x7ffff1, 23),
    /* 192 */ (0x3ffffe0, 26),
    (0x3ffffe1, 26),
    (0xfffeb, 20),
    (0x7fff1, 19),
    /* 196 */ (0x3fffe7, 22),
    (0x7ffff2, 23),
    (0x3fffe8, 22),
    (0x1ffffec, 25),
    /* 200 */ (0x3ffffe2, 26),
    (0x3ffffe3, 26),
    (0x3ffffe4, 26),
    (0x7ffffde, 27),
    /* 204 */ (0x7ffffdf, 27),
    (0x3ffffe5, 26),
    (0xfffff1, 24),
    (0x1ffffed, 25),
    /* 208 */ (0x7fff2, 19),
    (0x1fffe3, 21),
    (0x3ffffe6, 26),
    (0x7ffffe0, 27),
    /* 212 */ (0x7ffffe1, 27),
    (0x3ffffe7, 26),
    (0x7ffffe2, 27),
    (0xfffff2, 24),
    /* 216 */ (0x1fffe4, 21),
    (0x1fffe5, 21),
    (0x3ffffe8, 26),
    (0x3ffffe9, 26),
    /* 220 */ (0xffffffd, 28),
    (0x7ffffe3, 27),
    (0x7ffffe4, 27),
    (0x7ffffe5, 27),
    /* 224 */ (0xfffec, 20),
    (0xfffff3, 24),
    (0xfffed, 20),
    (0x1fffe6, 21),
    /* 228 */ (0x3fffe9, 22),
    (0x1fffe7, 21),
    (0x1fffe8, 21),
    (0x7ffff3, 23),
    /* 232 */ (0x3fffea, 22),
    (0x3fffeb, 22),
    (0x1ffffee, 25),
    (0x1ffffef, 25),
    /* 236 */ (0xfffff4, 24),
    (0xfffff5, 24),
    (0x3ffffea, 26),
    (0x7ffff4, 23),
    /* 240 */ (0x3ffffeb, 26),
    (0x7ffffe6, 27),
    (0x3ffffec, 26),
    (0x3ffffed, 26),
    /* 244 */ (0x7ffffe7, 27),
    (0x7ffffe8, 27),
    (0x7ffffe9, 27),
    (0x7ffffea, 27),
    /* 248 */ (0x7ffffeb, 27),
    (0xffffffe, 28),
    (0x7ffffec, 27),
    (0x7ffffed, 27),
    /* 252 */ (0x7ffffee, 27),
    (0x7ffffef, 27),
    (0x7fffff0, 27),
    (0x3ffffee, 26),
    /* EOS */ (0x3fffffff, 30),
];

/// The EOS symbol: never a byte, an error inside a string (§5.2).
const EOS: u16 = 256;
/// The shortest and longest code lengths in Appendix B.
const MIN_LEN: usize = 5;
const MAX_LEN: usize = 30;

/// The decoding tables, derived from the code lengths alone (the code is canonical).
struct Tables {
    /// `LIMIT[len]`: one past the largest left-aligned 32-bit window whose code has at most
    /// `len` bits. A window `w` has the shortest length `len` with `w < limit[len]`.
    limit: [u64; MAX_LEN + 1],
    /// The first code (aligned to LSB) of each length.
    first: [u32; MAX_LEN + 1],
    /// Where each length's symbols start in `symbols`.
    offset: [u16; MAX_LEN + 1],
    /// The symbols ordered by (length, symbol): the canonical order.
    symbols: [u16; 257],
}

const fn build() -> Tables {
    let mut count = [0u32; MAX_LEN + 1];
    let mut s = 0;
    while s < 257 {
        count[CODES[s].1 as usize] += 1;
        s += 1;
    }
    let mut t = Tables {
        limit: [0; MAX_LEN + 1],
        first: [0; MAX_LEN + 1],
        offset: [0; MAX_LEN + 1],
        symbols: [0; 257],
    };
    // Canonical construction: the first code of a length follows the last code of the
    // previous length, shifted one bit left.
    let mut code: u32 = 0;
    let mut placed: u16 = 0;
    let mut len = 1;
    while len <= MAX_LEN {
        t.first[len] = code;
        t.offset[len] = placed;
        code += count[len];
        // Windows below `code << (32 - len)` start with a code of at most `len` bits.
        t.limit[len] = (code as u64) << (32 - len);
        let mut s = 0;
        while s < 257 {
            if CODES[s].1 as usize == len {
                t.symbols[placed as usize] = s as u16;
                placed += 1;
            }
            s += 1;
        }
        code <<= 1;
        len += 1;
    }
    t
}

static TABLES: Tables = build();

/// Decodes the Huffman string `src`, appending at most `keep` bytes to `out`; returns the
/// whole decoded length, which may exceed `keep` (the caller then knows the string's size
/// without holding it). Never panics; time is linear in `src`.
pub fn decode(src: &[u8], out: &mut Vec<u8>, keep: usize) -> Result<usize, HuffmanError> {
    let t = &TABLES;
    let mut acc: u64 = 0; // the unread bits, the oldest highest
    let mut nbits: u32 = 0;
    let mut rest = src;
    let mut decoded = 0usize;
    loop {
        // Refill: 56 bits or more whenever input remains, so a whole code (≤ 30) is in `acc`.
        while nbits <= 56 {
            let Some((&b, tail)) = rest.split_first() else {
                break;
            };
            acc = (acc << 8) | u64::from(b);
            nbits += 8;
            rest = tail;
        }
        if nbits == 0 {
            return Ok(decoded);
        }
        // The next 32 bits, left-aligned; past the end of the input, ones (as padding is).
        let window: u64 = if nbits >= 32 {
            (acc >> (nbits - 32)) & 0xffff_ffff
        } else {
            let pad = 32 - nbits;
            ((acc << pad) | ((1u64 << pad) - 1)) & 0xffff_ffff
        };
        let mut len = MIN_LEN;
        while len < MAX_LEN && window >= t.limit[len] {
            len += 1;
        }
        if len as u32 > nbits {
            // What is left cannot hold this code: it must be padding, at most 7 bits of the
            // high bits of EOS. Past the input the window is ones, so a valid padding of
            // `nbits` ones always lands here.
            let ones = (1u64 << nbits) - 1;
            return if nbits <= 7 && acc & ones == ones {
                Ok(decoded)
            } else {
                Err(HuffmanError::BadPadding)
            };
        }
        let code = (window >> (32 - len)) as u32;
        let rank = code.wrapping_sub(t.first[len]) as usize + usize::from(t.offset[len]);
        let sym = t.symbols.get(rank).copied().unwrap_or(EOS);
        if sym == EOS {
            return Err(HuffmanError::Eos);
        }
        if decoded < keep {
            out.push(sym as u8);
        }
        decoded += 1;
        nbits -= len as u32;
        acc &= (1u64 << nbits) - 1;
    }
}

#[cfg(test)]
pub(crate) fn encode(src: &[u8], out: &mut Vec<u8>) {
    let mut acc: u64 = 0;
    let mut nbits = 0u32;
    for &b in src {
        let (code, len) = CODES[usize::from(b)];
        acc = (acc << len) | u64::from(code);
        nbits += u32::from(len);
        while nbits >= 8 {
            nbits -= 8;
            out.push((acc >> nbits) as u8);
        }
        acc &= (1u64 << nbits) - 1;
    }
    if nbits > 0 {
        let pad = 8 - nbits;
        out.push(((acc << pad) | ((1 << pad) - 1)) as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(src: &[u8]) -> Result<Vec<u8>, HuffmanError> {
        let mut out = Vec::new();
        let n = decode(src, &mut out, usize::MAX)?;
        assert_eq!(n, out.len());
        Ok(out)
    }

    #[test]
    fn tables_rebuild_every_code_of_appendix_b() {
        // The RFC lists both the codes and their lengths; the canonical construction from the
        // lengths alone must give back every code, so a slip in either column shows here.
        let t = &TABLES;
        for (sym, &(code, len)) in CODES.iter().enumerate() {
            let len = usize::from(len);
            let rank = t.symbols[usize::from(t.offset[len])..]
                .iter()
                .position(|&s| usize::from(s) == sym)
                .unwrap();
            assert_eq!(t.first[len] + rank as u32, code, "symbol {sym}");
        }
        // A complete prefix code: the Kraft sum is exactly one.
        let kraft: u64 = CODES
            .iter()
            .map(|&(_, l)| 1u64 << (MAX_LEN - usize::from(l)))
            .sum();
        assert_eq!(kraft, 1u64 << MAX_LEN);
        assert_eq!(CODES[256], (0x3fff_ffff, 30));
    }

    #[test]
    fn every_byte_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        let mut enc = Vec::new();
        encode(&all, &mut enc);
        assert_eq!(dec(&enc).unwrap(), all);
        for b in 0..=255u8 {
            let mut enc = Vec::new();
            encode(&[b, b, b], &mut enc);
            assert_eq!(dec(&enc).unwrap(), vec![b, b, b]);
        }
    }

    #[test]
    fn rfc_examples() {
        // C.4.1 and C.6.1.
        assert_eq!(
            dec(&[
                0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff
            ])
            .unwrap(),
            b"www.example.com"
        );
        assert_eq!(dec(&[0x64, 0x02]).unwrap(), b"302");
        assert_eq!(
            dec(&[0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf]).unwrap(),
            b"no-cache"
        );
        assert_eq!(dec(&[]).unwrap(), b"");
    }

    #[test]
    fn padding_and_eos_are_checked() {
        // '0' is 00000: three bits of ones pad it.
        assert_eq!(dec(&[0b0000_0111]).unwrap(), b"0");
        // Padding that is not all ones.
        assert_eq!(dec(&[0b0000_0110]), Err(HuffmanError::BadPadding));
        assert_eq!(dec(&[0b0000_0011]), Err(HuffmanError::BadPadding));
        // A whole byte of ones after a full code: eight bits of padding.
        assert_eq!(dec(&[0b0000_0111, 0xff]), Err(HuffmanError::BadPadding));
        assert_eq!(dec(&[0xff]), Err(HuffmanError::BadPadding));
        // EOS itself (30 ones), padded with two more.
        assert_eq!(dec(&[0xff, 0xff, 0xff, 0xff]), Err(HuffmanError::Eos));
        // EOS after a symbol.
        let mut enc = Vec::new();
        encode(b"a", &mut enc);
        let mut bits = vec![0b0001_1111u8, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(dec(&bits), Err(HuffmanError::Eos));
        bits.truncate(1);
        assert_eq!(dec(&bits).unwrap(), b"a");
        assert_eq!(enc, bits);
        // Seven bits of padding, the most allowed: '0' (5 bits) and two ' ' (6 each), then
        // seven ones.
        assert_eq!(dec(&[0x02, 0x8a, 0x7f]).unwrap(), b"0  ");
        assert_eq!(dec(&[0x02, 0x8a, 0x7e]), Err(HuffmanError::BadPadding));
    }

    #[test]
    fn keep_bounds_what_is_held() {
        let mut enc = Vec::new();
        encode(b"hello world", &mut enc);
        let mut out = Vec::new();
        assert_eq!(decode(&enc, &mut out, 4), Ok(11));
        assert_eq!(out, b"hell");
    }
}
