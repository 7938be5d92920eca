//! The `Transfer-Encoding: chunked` body framing, stepped through without keeping the data.

/// The `Transfer-Encoding: chunked` framing (RFC 9112 §7.1), one byte of state at a time so
/// any split of the input gives the same result. Nothing is buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkDecoder {
    /// Reading the hex chunk size.
    Size {
        n: u64,
        digits: u8,
    },
    /// Skipping chunk extensions up to the end of the size line.
    Ext(u64),
    /// Saw CR after the size; LF must follow.
    SizeLf(u64),
    /// Skipping chunk data.
    Data(u64),
    /// After chunk data: CRLF.
    DataCr,
    DataLf,
    /// After the last chunk: trailer lines until an empty one. `blank`: nothing but CR on
    /// this line so far.
    Trailer {
        blank: bool,
    },
}

impl Default for ChunkDecoder {
    fn default() -> Self {
        ChunkDecoder::Size { n: 0, digits: 0 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    More,
    Done,
    Bad,
}

impl ChunkDecoder {
    fn after_size(n: u64) -> Self {
        if n == 0 {
            ChunkDecoder::Trailer { blank: true }
        } else {
            ChunkDecoder::Data(n)
        }
    }

    /// Consumes bytes of `data`; returns how many and whether the body ended or is malformed.
    pub fn feed(&mut self, data: &[u8]) -> (usize, Decoded) {
        use ChunkDecoder::*;
        let mut i = 0;
        while let Some(rest) = data.get(i..).filter(|r| !r.is_empty()) {
            if let Data(left) = *self {
                let n = left.min(rest.len() as u64);
                i += usize::try_from(n).unwrap_or(rest.len());
                *self = if left == n { DataCr } else { Data(left - n) };
                continue;
            }
            let b = rest[0];
            i += 1;
            *self = match (*self, b) {
                (Size { n, digits }, _) if b.is_ascii_hexdigit() => {
                    if digits >= 16 {
                        return (i, Decoded::Bad);
                    }
                    let v = u64::from(char::from(b).to_digit(16).unwrap_or(0));
                    Size {
                        n: (n << 4) | v,
                        digits: digits + 1,
                    }
                }
                // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
                (Size { n, digits }, b';' | b' ' | b'\t') if digits > 0 => Ext(n),
                (Size { n, digits }, b'\r') if digits > 0 => SizeLf(n),
                (Size { n, digits }, b'\n') if digits > 0 => Self::after_size(n),
                (Ext(n), b'\n') | (SizeLf(n), b'\n') => Self::after_size(n),
                (Ext(n), _) => Ext(n),
                (DataCr, b'\r') => DataLf,
                (DataCr, b'\n') | (DataLf, b'\n') => ChunkDecoder::default(),
                (Trailer { blank: true }, b'\n') => {
                    *self = ChunkDecoder::default();
                    return (i, Decoded::Done);
                }
                (Trailer { blank }, b'\r') => Trailer { blank },
                (Trailer { .. }, b'\n') => Trailer { blank: true },
                (Trailer { .. }, _) => Trailer { blank: false },
                _ => return (i, Decoded::Bad),
            };
        }
        (i, Decoded::More)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], split: usize) -> (usize, Decoded) {
        let mut d = ChunkDecoder::default();
        let mut used = 0;
        for part in input.chunks(split.max(1)) {
            let (n, s) = d.feed(part);
            used += n;
            if s != Decoded::More {
                return (used, s);
            }
        }
        (used, Decoded::More)
    }

    #[test]
    fn chunked_body_any_split() {
        let body =
            b"4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for split in 1..body.len() {
            assert_eq!(
                decode_all(body, split),
                (body.len() - 4, Decoded::Done),
                "split {split}"
            );
        }
        assert_eq!(decode_all(b"0\r\n\r\n", 100), (5, Decoded::Done));
        assert_eq!(
            decode_all(b"13\r\nHTTP/1.1 200 OK\r\n\r\n\r\n0\r\n\r\n", 100),
            (30, Decoded::Done)
        );
        assert_eq!(decode_all(b"zz\r\n", 100).1, Decoded::Bad);
        assert_eq!(decode_all(b"11111111111111111\r\n", 100).1, Decoded::Bad);
        assert_eq!(decode_all(b"2\r\nabX", 100).1, Decoded::Bad);
    }
}
