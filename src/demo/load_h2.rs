//! The HTTP/2 (h2c) side of the load generator: connections carrying many streams at once.
//!
//! A [`Lane`] is one TCP connection with hyper's HTTP/2 client on it, shared by the
//! `streams_per_connection` request loops of [`super::load`]: each loop has one request in
//! flight, so a lane carries that many concurrent streams. Pacing, paths and the report are
//! the HTTP/1 generator's; only the exchange differs. A lane whose connection closed (or
//! failed) dials again on its next request. Connections start by prior knowledge (RFC 7540
//! §3.4): hyper's client cannot adopt stream 1 of an Upgrade, so `load` does not upgrade
//! (`curl --http2` does, against `serve`).

use std::error::Error as _;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::http2::SendRequest;
use hyper::header::{ACCEPT, USER_AGENT};
use hyper::{Request, Uri};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use super::load::{Answer, ErrKind, Shared, WorkerStats, connect};

/// One HTTP/2 connection, shared by several request loops.
pub(super) struct Lane {
    slot: Mutex<Slot>,
}

struct Slot {
    sender: Option<SendRequest<Empty<Bytes>>>,
    /// A connection made before the run (the reachability probe), used first.
    fresh: Option<TcpStream>,
}

impl Lane {
    pub(super) fn new(fresh: Option<TcpStream>) -> Lane {
        Lane {
            slot: Mutex::new(Slot {
                sender: None,
                fresh,
            }),
        }
    }
}

/// Sends a GET for `path` on the lane (dialling first if its connection is gone) and reads
/// the whole answer.
pub(super) async fn exchange(
    lane: &Lane,
    shared: &Shared,
    path: &str,
    stats: &mut WorkerStats,
) -> Result<Answer, ErrKind> {
    let req = request(shared, path)?;
    let pending = {
        let mut slot = lane.slot.lock().await;
        let sender = match slot.sender.take() {
            Some(s) if !s.is_closed() => slot.sender.insert(s),
            _ => {
                let io = match slot.fresh.take() {
                    Some(s) => s,
                    None => {
                        let s = connect(&shared.addrs, shared.timeout)
                            .await
                            .map_err(|(kind, _)| kind)?;
                        stats.connections += 1;
                        s
                    }
                };
                slot.sender.insert(handshake(io).await?)
            }
        };
        sender.send_request(req)
    };
    let resp = pending.await.map_err(|e| kind_of(&e))?;
    let status = resp.status().as_u16();
    resp.into_body().collect().await.map_err(|e| kind_of(&e))?;
    Ok(Answer {
        status,
        close: false,
    })
}

fn request(shared: &Shared, path: &str) -> Result<Request<Empty<Bytes>>, ErrKind> {
    // The generator's paths are plain ASCII (clean_sections), so this cannot fail in practice.
    let uri: Uri = format!("http://{}{path}", shared.host_header)
        .parse()
        .map_err(|_| ErrKind::BadResponse)?;
    Request::get(uri)
        .header(USER_AGENT, "traffic-watch-load")
        .header(ACCEPT, "*/*")
        .body(Empty::new())
        .map_err(|_| ErrKind::BadResponse)
}

/// Starts HTTP/2 on `io` and spawns the task that drives the connection.
async fn handshake(io: TcpStream) -> Result<SendRequest<Empty<Bytes>>, ErrKind> {
    let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| kind_of(&e))?;
    // The connection ends with an error when the server goes away; each stream on it already
    // reports that error, so there is nothing more to do with it here.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// What went wrong with one stream, in the report's words.
fn kind_of(e: &hyper::Error) -> ErrKind {
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return ErrKind::from_io(io);
        }
        if let Some(h2) = s.downcast_ref::<h2::Error>() {
            if h2.is_reset() || h2.is_go_away() {
                return ErrKind::Reset;
            }
            if let Some(io) = h2.get_io() {
                return ErrKind::from_io(io);
            }
            return ErrKind::BadResponse;
        }
        source = s.source();
    }
    if e.is_timeout() {
        ErrKind::Timeout
    } else if e.is_canceled() || e.is_closed() || e.is_incomplete_message() {
        ErrKind::Closed
    } else {
        ErrKind::BadResponse
    }
}
