//! The server name (SNI) of a TLS ClientHello, read panic-free from untrusted bytes.

/// A TLS record cannot carry more than 2^14 bytes of plaintext (RFC 8446 §5.1); a ClientHello
/// is collected up to one record.
pub const MAX_TLS_RECORD: usize = 16 * 1024 + 5;

/// The server name of a TLS ClientHello that is complete in `buf` (RFC 8446 §4.1.2,
/// RFC 6066 §3). `None` if anything is missing or malformed.
pub fn tls_sni(buf: &[u8]) -> Option<&[u8]> {
    let mut rec = Reader(buf);
    if rec.u8()? != 0x16 {
        return None;
    }
    rec.take(2)?;
    let len = rec.u16()?;
    let mut hs = Reader(rec.take(len)?);
    if hs.u8()? != 1 {
        return None;
    }
    let len = hs.u24()?;
    let mut hello = Reader(hs.take(len)?);
    hello.take(2 + 32)?; // legacy_version, random
    let n = usize::from(hello.u8()?);
    hello.take(n)?; // legacy_session_id
    let n = hello.u16()?;
    hello.take(n)?; // cipher_suites
    let n = usize::from(hello.u8()?);
    hello.take(n)?; // legacy_compression_methods
    let n = hello.u16()?;
    let mut exts = Reader(hello.take(n)?);
    while !exts.0.is_empty() {
        let kind = exts.u16()?;
        let n = exts.u16()?;
        let body = exts.take(n)?;
        if kind == 0 {
            let mut list = Reader(body);
            let n = list.u16()?;
            let mut names = Reader(list.take(n)?);
            while !names.0.is_empty() {
                let name_type = names.u8()?;
                let n = names.u16()?;
                let name = names.take(n)?;
                if name_type == 0 {
                    return Some(name);
                }
            }
            return None;
        }
    }
    None
}

/// A panic-free big-endian reader.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
    fn u16(&mut self) -> Option<usize> {
        let b = self.take(2)?;
        Some(usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?])))
    }
    fn u24(&mut self) -> Option<usize> {
        let b = self.take(3)?;
        Some(usize::from_be_bytes([
            0,
            0,
            0,
            0,
            0,
            *b.first()?,
            *b.get(1)?,
            *b.get(2)?,
        ]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sni_parser_is_bounded() {
        assert_eq!(tls_sni(&[]), None);
        assert_eq!(tls_sni(&[0x16, 3, 1, 0xff, 0xff, 1]), None);
        for n in 0..40 {
            let _ = tls_sni(&vec![0x16; n]);
        }
    }
}
