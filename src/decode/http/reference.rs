//! The same head parsers on top of httparse: the reference the one-pass parser is held to (a
//! differential property test, the `http_parse` fuzz target) and the baseline its benchmark is
//! measured against. Not used on the hot path.

use std::mem::MaybeUninit;

use super::{Framing, HeadError, MAX_HEADERS, RequestHead, ResponseHead, token_is};

fn framing(
    headers: &[httparse::Header<'_>],
    is_request: bool,
) -> Result<super::BodyLength, HeadError> {
    let mut framing = Framing::default();
    for h in headers {
        framing.header(h.name.as_bytes(), h.value, is_request);
    }
    framing.finish(is_request)
}

/// [`super::parse_request_head`], through httparse.
pub fn parse_request_head(buf: &[u8]) -> Result<Option<RequestHead<'_>>, HeadError> {
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let head_len = match req.parse_with_uninit_headers(buf, &mut headers) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(HeadError),
    };
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return Err(HeadError);
    };
    let body = framing(req.headers, true)?;
    let host = req
        .headers
        .iter()
        .find(|h| token_is(h.name.as_bytes(), b"host"))
        .map(|h| h.value);
    let expect_continue = req.headers.iter().any(|h| {
        token_is(h.name.as_bytes(), b"expect") && h.value.eq_ignore_ascii_case(b"100-continue")
    });
    let upgrade_h2c = req
        .headers
        .iter()
        .any(|h| token_is(h.name.as_bytes(), b"upgrade") && super::names_h2c(h.value));
    Ok(Some(RequestHead {
        method,
        target,
        version,
        host,
        body,
        expect_continue,
        upgrade_h2c,
        head_len,
    }))
}

/// [`super::parse_response_head`], through httparse.
pub fn parse_response_head(buf: &[u8]) -> Result<Option<ResponseHead>, HeadError> {
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let head_len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut resp,
        buf,
        &mut headers,
    ) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(HeadError),
    };
    let (Some(status), Some(version)) = (resp.code, resp.version) else {
        return Err(HeadError);
    };
    Ok(Some(ResponseHead {
        status,
        version,
        body: framing(resp.headers, false)?,
        head_len,
    }))
}
