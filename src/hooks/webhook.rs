//! The alert webhook: the URL checked once at start-up (the `url` crate), and a JSON POST per
//! alert with hyper's HTTP/1 client, over TLS (rustls through tokio-rustls) for `https://`.
//! Each POST runs on a current-thread runtime owned by the hook, under the delivery time limit.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper::header::{CONNECTION, CONTENT_TYPE, HOST, USER_AGENT};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use url::{Host, Position, Url};

use super::queue::Queued;
use super::{config_error, kind_str};
use crate::error::Error;
use crate::stats::AlertEvent;

/// Where to POST: an `http://` or `https://` URL taken apart.
#[derive(Debug, Clone)]
struct WebhookTarget {
    /// For `https://`: the client configuration (roots) and the name the certificate must carry.
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    /// `host:port` to connect to (brackets kept for IPv6).
    authority: String,
    /// The `Host` header value.
    host_header: String,
    /// Path and query, at least `/`.
    path: String,
}

/// The webhook and the runtime its requests run on.
#[derive(Debug)]
pub(super) struct Webhook {
    target: WebhookTarget,
    runtime: tokio::runtime::Runtime,
}

impl Webhook {
    /// Checks `url` (and reads the CA file `ca`) now.
    pub(super) fn new(url: &str, ca: Option<&Path>) -> Result<Self, Error> {
        let target = parse_webhook(url, ca)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Other(format!("cannot start the alert webhook client: {e}")))?;
        Ok(Webhook { target, runtime })
    }

    /// POSTs the JSON body; succeeds on a 2xx answer within `limit`.
    pub(super) fn post(&self, event: &Queued, limit: Duration) -> Result<(), String> {
        let body = webhook_json_with_recording(&event.event, event.recording.as_deref());
        let exchange = post(&self.target, body);
        match self
            .runtime
            .block_on(async { tokio::time::timeout(limit, exchange).await })
        {
            Ok(answer) => answer,
            Err(_) => Err("timed out".into()),
        }
    }
}

fn parse_webhook(url: &str, ca: Option<&Path>) -> Result<WebhookTarget, Error> {
    let bad = |why: &str| config_error(format!("bad alert webhook URL '{url}': {why}"));
    // The url crate would percent-encode these; a URL given on the command line with them is
    // more likely a quoting mistake than meant.
    if url
        .bytes()
        .any(|b| b.is_ascii_control() || b == b' ' || b >= 0x80)
    {
        return Err(bad("spaces and control characters are not allowed"));
    }
    let parsed = Url::parse(url).map_err(|e| match e {
        url::ParseError::EmptyHost => bad("no host"),
        url::ParseError::InvalidPort => bad("bad port"),
        url::ParseError::RelativeUrlWithoutBase => bad("expected http[s]://host[:port]/path"),
        other => bad(&other.to_string()),
    })?;
    let https = match parsed.scheme() {
        "https" => true,
        "http" => false,
        _ => return Err(bad("only http:// and https:// URLs are supported")),
    };
    if !https && ca.is_some() {
        return Err(bad("--alert-webhook-ca is for https:// URLs"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("user info in the URL is not supported"));
    }
    let (host, name) = match parsed.host() {
        Some(Host::Domain(d)) if !d.is_empty() => (d.to_owned(), d.to_owned()),
        Some(Host::Ipv4(a)) => (a.to_string(), a.to_string()),
        Some(Host::Ipv6(a)) => (format!("[{a}]"), a.to_string()),
        _ => return Err(bad("no host")),
    };
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| bad("bad port"))?;
    let tls = if https {
        let name = ServerName::try_from(name).map_err(|_| bad("not a valid host name"))?;
        Some((tls_config(ca)?, name))
    } else {
        None
    };
    Ok(WebhookTarget {
        tls,
        authority: format!("{host}:{port}"),
        // `port()` is `None` when the URL gives none or the scheme's default.
        host_header: match parsed.port() {
            None => host,
            Some(p) => format!("{host}:{p}"),
        },
        path: parsed[Position::BeforePath..Position::AfterQuery].to_owned(),
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

/// Connects (with TLS for `https://`) and sends one request.
async fn post(target: &WebhookTarget, body: String) -> Result<(), String> {
    let tcp = tokio::net::TcpStream::connect(&target.authority)
        .await
        .map_err(|_| "cannot connect".to_owned())?;
    match &target.tls {
        None => exchange(TokioIo::new(tcp), target, body).await,
        Some((config, name)) => {
            let tls = tokio_rustls::TlsConnector::from(Arc::clone(config))
                .connect(name.clone(), tcp)
                .await
                .map_err(|e| e.to_string())?;
            exchange(TokioIo::new(tls), target, body).await
        }
    }
}

/// Sends the request on `io` and waits for the status of the answer; its body is not read.
async fn exchange<T>(io: T, target: &WebhookTarget, body: String) -> Result<(), String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let request = Request::builder()
        .method(Method::POST)
        .uri(target.path.as_str())
        .header(HOST, target.host_header.as_str())
        .header(
            USER_AGENT,
            concat!("traffic-watch/", env!("CARGO_PKG_VERSION")),
        )
        .header(CONTENT_TYPE, "application/json")
        .header(CONNECTION, "close")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) = http1::Builder::new()
        .title_case_headers(true)
        .handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    // The connection is driven here, beside the request, so nothing outlives this call. It
    // may end (we asked it to close) in the same poll that hands over the answer: the answer
    // is then still waiting in `answer`.
    let mut connection = std::pin::pin!(connection);
    let mut answer = std::pin::pin!(sender.send_request(request));
    let response = tokio::select! {
        biased;
        got = &mut answer => got,
        ended = &mut connection => match ended {
            Ok(()) => answer.await,
            Err(e) => return Err(e.to_string()),
        },
    }
    .map_err(|e| e.to_string())?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP status {}", status.as_u16()))
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
        // The scheme's own port is not repeated in `Host`; a fragment is never sent.
        let t = parse_webhook("http://Example.COM:80/a#frag", None).unwrap();
        assert_eq!(
            (
                t.authority.as_str(),
                t.host_header.as_str(),
                t.path.as_str()
            ),
            ("example.com:80", "example.com", "/a")
        );
        let t = parse_webhook("http://h?q", None).unwrap();
        assert_eq!(t.path, "/?q");
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
