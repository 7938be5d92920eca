//! The alert webhook: the URL checked once at start-up, and a JSON POST per alert.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use super::queue::Queued;
use super::{config_error, kind_str};
use crate::error::Error;
use crate::stats::AlertEvent;

/// Where to POST: an `http://` or `https://` URL taken apart.
#[derive(Debug, Clone)]
pub(super) struct WebhookTarget {
    /// For `https://`: the client configuration (roots) and the name the certificate must carry.
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    /// `host:port` to connect to (the host as written, brackets kept for IPv6).
    authority: String,
    /// The `Host` header value.
    host_header: String,
    /// Path and query, at least `/`.
    path: String,
}

pub(super) fn parse_webhook(url: &str, ca: Option<&Path>) -> Result<WebhookTarget, Error> {
    let bad = |why: &str| config_error(format!("bad alert webhook URL '{url}': {why}"));
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("expected http[s]://host[:port]/path"))?;
    let https = if scheme.eq_ignore_ascii_case("https") {
        true
    } else if scheme.eq_ignore_ascii_case("http") {
        false
    } else {
        return Err(bad("only http:// and https:// URLs are supported"));
    };
    if !https && ca.is_some() {
        return Err(bad("--alert-webhook-ca is for https:// URLs"));
    }
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    if authority.is_empty() {
        return Err(bad("no host"));
    }
    if authority.contains('@') {
        return Err(bad("user info in the URL is not supported"));
    }
    if url
        .bytes()
        .any(|b| b.is_ascii_control() || b == b' ' || b >= 0x80)
    {
        return Err(bad("spaces and control characters are not allowed"));
    }
    // host, host:port, [v6], [v6]:port
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| bad("bad port"))?),
        };
        (format!("[{h}]"), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (authority.to_owned(), None),
        }
    };
    let default_port = if https { 443 } else { 80 };
    let port: u16 = match port {
        None => default_port,
        Some(p) => p.parse().map_err(|_| bad("bad port"))?,
    };
    if host.is_empty() || host == "[]" {
        return Err(bad("no host"));
    }
    let tls = if https {
        let name = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let name = ServerName::try_from(name).map_err(|_| bad("not a valid host name"))?;
        Some((tls_config(ca)?, name))
    } else {
        None
    };
    Ok(WebhookTarget {
        tls,
        authority: format!("{host}:{port}"),
        host_header: if port == default_port {
            host
        } else {
            format!("{host}:{port}")
        },
        path,
    })
}

/// The TLS client: the Mozilla roots (webpki-roots, built in, so no system store is needed
/// and nothing is read after privileges are dropped), plus the CA certificates of `ca`.
fn tls_config(ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, Error> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca {
        let bad =
            |why: String| config_error(format!("--alert-webhook-ca {}: {why}", path.display()));
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(pem_reason(&e)))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(pem_reason(&e)))?;
        if certs.is_empty() {
            return Err(bad("no PEM certificate in the file".into()));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| bad(format!("not a usable CA certificate ({e})")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(format!("cannot set up TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn pem_reason(e: &rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        other => format!("not a PEM file ({other:?})"),
    }
}

/// The webhook body.
pub fn webhook_json(event: &AlertEvent) -> String {
    webhook_json_with_recording(event, None)
}

/// The webhook body, with the flight recorder's file for this alert.
pub fn webhook_json_with_recording(event: &AlertEvent, recording: Option<&Path>) -> String {
    let message = event.message();
    serde_json::json!({
        "text": message,
        "content": message,
        "kind": kind_str(event.kind),
        "hits": event.hits,
        "time": event.at.rfc3339_utc(),
        "lower_bound": event.lower_bound,
        "recording": recording.map(|p| p.display().to_string()),
    })
    .to_string()
}

/// POSTs the JSON body; succeeds on a 2xx status line within `limit`.
pub(super) fn post_webhook(
    target: &WebhookTarget,
    event: &Queued,
    limit: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    let addrs: Vec<_> = target
        .authority
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .collect();
    let mut stream = None;
    for a in addrs {
        if Instant::now() >= deadline {
            break;
        }
        if let Ok(s) = TcpStream::connect_timeout(&a, time_left(deadline)) {
            stream = Some(s);
            break;
        }
    }
    let stream = stream.ok_or_else(|| "cannot connect".to_owned())?;
    match &target.tls {
        None => exchange(stream, target, event, deadline),
        Some((config, name)) => {
            let conn = rustls::ClientConnection::new(Arc::clone(config), name.clone())
                .map_err(|e| e.to_string())?;
            // The handshake happens on the first write, under the same deadline.
            exchange(
                rustls::StreamOwned::new(conn, stream),
                target,
                event,
                deadline,
            )
        }
    }
}

fn time_left(deadline: Instant) -> Duration {
    deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1))
}

/// A connection to the webhook, plain or TLS, whose socket takes the time limits.
trait Connection: Read + Write {
    fn socket(&self) -> &TcpStream;
}

impl Connection for TcpStream {
    fn socket(&self) -> &TcpStream {
        self
    }
}

impl Connection for rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    fn socket(&self) -> &TcpStream {
        self.get_ref()
    }
}

/// Sends the request and reads the status line.
fn exchange(
    mut conn: impl Connection,
    target: &WebhookTarget,
    event: &Queued,
    deadline: Instant,
) -> Result<(), String> {
    let body = webhook_json_with_recording(&event.event, event.recording.as_deref());
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: traffic-watch/{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        target.path,
        target.host_header,
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    let timeouts = |conn: &dyn Connection| {
        let left = Some(time_left(deadline));
        conn.socket()
            .set_write_timeout(left)
            .and_then(|()| conn.socket().set_read_timeout(left))
            .map_err(|e| e.to_string())
    };
    timeouts(&conn)?;
    conn.write_all(request.as_bytes())
        .and_then(|()| conn.flush())
        .map_err(|e| e.to_string())?;
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 4096 {
        if Instant::now() >= deadline {
            return Err("timed out".into());
        }
        timeouts(&conn)?;
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(e) => return Err(e.to_string()),
        }
    }
    // "HTTP/1.1 204 No Content"
    let status = head
        .split(|&b| b == b' ')
        .nth(1)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.trim().parse::<u16>().ok());
    match status {
        Some(s) if (200..300).contains(&s) => Ok(()),
        Some(s) => Err(format!("HTTP status {s}")),
        None => Err("no HTTP answer".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::AlertKind;

    #[test]
    fn the_webhook_body_names_the_recording() {
        let e = AlertEvent {
            kind: AlertKind::Triggered,
            at: crate::time::Timestamp::from_secs(1_795_500_699),
            hits: 5,
            lower_bound: false,
        };
        let with: serde_json::Value = serde_json::from_str(&webhook_json_with_recording(
            &e,
            Some(Path::new("/r/alert-20261124T061139Z.pcapng")),
        ))
        .unwrap();
        assert_eq!(with["recording"], "/r/alert-20261124T061139Z.pcapng");
        let without: serde_json::Value = serde_json::from_str(&webhook_json(&e)).unwrap();
        assert_eq!(without["recording"], serde_json::Value::Null);
    }

    #[test]
    fn webhook_urls() {
        let t = parse_webhook("http://127.0.0.1:8080/hooks/x?y=1", None).unwrap();
        assert_eq!(t.authority, "127.0.0.1:8080");
        assert_eq!(t.host_header, "127.0.0.1:8080");
        assert_eq!(t.path, "/hooks/x?y=1");
        assert!(t.tls.is_none());
        let t = parse_webhook("HTTP://[::1]", None).unwrap();
        assert_eq!((t.authority.as_str(), t.path.as_str()), ("[::1]:80", "/"));
        assert_eq!(t.host_header, "[::1]");
        let t = parse_webhook("https://hooks.slack.com/services/T0/B0/x", None).unwrap();
        assert_eq!(t.authority, "hooks.slack.com:443");
        assert_eq!(t.host_header, "hooks.slack.com");
        let (_, name) = t.tls.unwrap();
        assert_eq!(name.to_str(), "hooks.slack.com");
        let t = parse_webhook("https://[::1]:8443/", None).unwrap();
        assert_eq!(
            (t.authority.as_str(), t.host_header.as_str()),
            ("[::1]:8443", "[::1]:8443")
        );
        assert_eq!(t.tls.unwrap().1.to_str(), "::1");
        for bad in [
            "ftp://x",
            "http://",
            "https://",
            "http://:80/",
            "http://u:p@host/",
            "http://host:99999/",
            "http://host/a b",
            "https://bad_name!/",
            "localhost:8080",
        ] {
            assert!(parse_webhook(bad, None).is_err(), "{bad}");
        }
        // A CA file only makes sense for https, and must hold a certificate.
        let missing = Path::new("/nonexistent/ca.pem");
        assert!(parse_webhook("http://h/", Some(missing)).is_err());
        let err = parse_webhook("https://h/", Some(missing)).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }
}
