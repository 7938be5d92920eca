//! Demo tools: something to watch, and traffic to watch it with.
//!
//! [`serve`] is a small real HTTP/1.1 and h2c server (hyper) that answers every path with
//! `Hello, your path is: …`, optionally slowed down, failing or returning 404 on purpose;
//! [`h2c`] is its side of the Upgrade to HTTP/2, and [`rewind`] hands read-ahead bytes back.
//! [`load`] is a paced traffic generator that sends GET requests over a few keep-alive (or
//! one-shot) connections following a rate profile, and reports exactly what it sent and what
//! came back, so a count shown by `traffic-watch` can be checked against it; with `--http2` its
//! requests go as h2c streams, several per connection (`load_h2`). Both only talk HTTP over
//! plain TCP; neither captures packets. This module holds what they share: the user-facing
//! [`DemoError`] and the clap argument structs.

pub mod h2c;
pub mod load;
mod load_h2;
pub mod monitor;
pub mod rewind;
pub mod serve;

use crate::time::parse_duration;
use std::net::IpAddr;
use std::time::Duration;

use clap::Args;

use load::{LoadConfig, Phase, Target, Wire};
use serve::ServeConfig;

/// What can go wrong in `serve` or `load`, worded for the person at the terminal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// The server's listening socket could not be bound.
    #[error("cannot listen on '{addr}': {reason}; pick another --port")]
    Listen {
        /// `ip:port` as asked.
        addr: String,
        /// Why, in words (`address already in use`).
        reason: String,
    },
    /// Not a single connection to the load target could be made.
    #[error(
        "cannot connect to '{addr}': {reason}; is the server running? \
         try 'traffic-watch serve --port {port}'"
    )]
    Connect {
        /// `host:port` of the target.
        addr: String,
        /// Why, in words (`connection refused`).
        reason: String,
        /// The target's port, for the hint.
        port: u16,
    },
    /// The target host name did not resolve.
    #[error("cannot resolve '{host}': {reason}")]
    Resolve {
        /// Host as given.
        host: String,
        /// Why, in words.
        reason: String,
    },
    /// A command-line value was not understood.
    #[error("invalid {what} '{value}': {reason}")]
    Invalid {
        /// Which option (`--profile`, `URL`…).
        what: &'static str,
        /// The offending value, as typed.
        value: String,
        /// What was expected instead.
        reason: String,
    },
    /// The async runtime or a thread could not be started.
    #[error("cannot start the {what}: {source}")]
    Runtime {
        /// What was being started.
        what: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// At the crate boundary a demo error is one more line for the user.
impl From<DemoError> for crate::error::Error {
    fn from(e: DemoError) -> Self {
        crate::error::Error::Other(e.to_string())
    }
}

/// `traffic-watch serve`: the server, until SIGINT or SIGTERM.
pub fn serve_until_signal(a: &ServeArgs) -> Result<(), crate::error::Error> {
    let config = a.to_config()?;
    serve::run_until_signal(config)?;
    Ok(())
}

/// `traffic-watch load`: the profile, then its report on stdout (JSON with `--json`);
/// `progress` draws a progress bar on stderr.
pub fn load_and_report(a: &LoadArgs, progress: bool) -> Result<(), crate::error::Error> {
    let config = a.to_config()?;
    let report = load::run(config, progress)?;
    if a.json {
        println!("{}", report.to_json());
    } else {
        println!("{}", report.to_string().trim_end());
    }
    Ok(())
}

impl DemoError {
    pub(crate) fn invalid(what: &'static str, value: &str, reason: impl Into<String>) -> Self {
        DemoError::Invalid {
            what,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// An I/O error in a few lowercase words (`connection refused`), without the `(os error 111)`.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::AddrInUse => "address already in use".into(),
        K::AddrNotAvailable => "address not available on this machine".into(),
        K::PermissionDenied => "permission denied".into(),
        K::ConnectionRefused => "connection refused".into(),
        K::ConnectionReset => "connection reset".into(),
        K::TimedOut => "timed out".into(),
        _ => {
            let s = e.to_string();
            // Strip the " (os error N)" tail the standard library appends.
            match s.find(" (os error") {
                Some(i) => s[..i].to_lowercase(),
                None => s.to_lowercase(),
            }
        }
    }
}

/// Parses the value of a duration option (`--duration 30s`) into a [`DemoError`] naming it.
pub(crate) fn duration_arg(what: &'static str, s: &str) -> Result<Duration, DemoError> {
    crate::time::duration_reason(s).map_err(|why| DemoError::invalid(what, s, why))
}

/// Arguments of `traffic-watch serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Port to listen on (0 picks a free one and prints it).
    #[arg(long, default_value_t = 5000)]
    pub port: u16,

    /// Address to listen on; use 0.0.0.0 or :: to accept from other machines.
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    pub bind: IpAddr,

    /// Delay each answer by a random time in MIN..MAX (e.g. '5ms..50ms'), or exactly '10ms'.
    #[arg(long, value_name = "MIN..MAX")]
    pub latency: Option<String>,

    /// Fraction of requests answered with 500 Internal Server Error (0 to 1, e.g. 0.02).
    #[arg(long, value_name = "FRACTION", default_value = "0")]
    pub error_rate: String,

    /// Answer 404 for paths starting with PREFIX (repeat, or separate with commas).
    #[arg(long, value_name = "PREFIX", value_delimiter = ',')]
    pub not_found: Vec<String>,
}

impl ServeArgs {
    /// Validates what was typed into a [`ServeConfig`].
    pub fn to_config(&self) -> Result<ServeConfig, DemoError> {
        let latency = match &self.latency {
            None => None,
            Some(s) => Some(parse_latency(s)?),
        };
        let error_rate: f64 = self.error_rate.trim().parse().map_err(|_| {
            DemoError::invalid(
                "--error-rate",
                &self.error_rate,
                "expected a number from 0 to 1",
            )
        })?;
        if !(0.0..=1.0).contains(&error_rate) {
            return Err(DemoError::invalid(
                "--error-rate",
                &self.error_rate,
                "must be from 0 to 1 (0.02 means 2%)",
            ));
        }
        let mut not_found = Vec::new();
        for p in &self.not_found {
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            if !p.starts_with('/') {
                return Err(DemoError::invalid(
                    "--not-found",
                    p,
                    "a path prefix starts with '/', e.g. '/admin'",
                ));
            }
            not_found.push(p.to_string());
        }
        Ok(ServeConfig {
            bind: self.bind,
            port: self.port,
            latency,
            error_rate,
            not_found,
            ..ServeConfig::default()
        })
    }
}

/// Parses `5ms..50ms` (uniform in between) or a single `10ms` (always that).
pub fn parse_latency(s: &str) -> Result<(Duration, Duration), DemoError> {
    let err = |reason: String| DemoError::invalid("--latency", s, reason);
    let (lo, hi) = match s.split_once("..") {
        Some((a, b)) => (a, b),
        None => (s, s),
    };
    let lo = parse_duration(lo).map_err(err)?;
    let hi = parse_duration(hi).map_err(err)?;
    if lo > hi {
        return Err(err("the minimum is above the maximum".into()));
    }
    Ok((lo, hi))
}

/// Arguments of `traffic-watch load`.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Server to load, as http://HOST:PORT (no path: the generator picks the paths).
    #[arg(value_name = "URL", default_value = "http://127.0.0.1:5000")]
    pub url: String,

    /// Rate profile: comma-separated RATExDURATION steps in req/s and seconds (or '2m', '500ms').
    /// Default: '20x60,100x20,20x60' (a baseline, a spike, the baseline).
    #[arg(long, value_name = "STEPS", conflicts_with_all = ["rate", "duration", "max"])]
    pub profile: Option<String>,

    /// Constant rate in requests per second; 0 sends as fast as the connections allow.
    #[arg(long, value_name = "REQ_PER_S", conflicts_with = "max")]
    pub rate: Option<String>,

    /// How long to send at --rate (e.g. '30s', '2m', '500ms'; plain numbers are seconds).
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,

    /// Send as fast as possible (same as --rate 0), for performance work.
    #[arg(long)]
    pub max: bool,

    /// Number of concurrent connections (each carries one request at a time; with --http2,
    /// --streams-per-connection requests at once).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub connections: usize,

    /// Send 'Connection: close' and open a new connection for every request.
    #[arg(long, conflicts_with = "http2")]
    pub close: bool,

    /// Speak HTTP/2 without TLS (h2c, by prior knowledge: the connection opens with the HTTP/2
    /// preface, no Upgrade) instead of HTTP/1.1. Pacing, paths and report are the same; each
    /// connection multiplexes --streams-per-connection concurrent streams.
    #[arg(long)]
    pub http2: bool,

    /// With --http2: requests in flight at once on each connection, one per stream.
    #[arg(
        long,
        value_name = "M",
        default_value_t = 10,
        requires = "http2",
        value_parser = clap::value_parser!(u32).range(1..=1000)
    )]
    pub streams_per_connection: u32,

    /// First path segments to spread requests over, comma-separated.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "foo,bar,baz,spiffy,zoom"
    )]
    pub sections: Vec<String>,

    /// Give up on a connection attempt or a response after this long.
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub timeout: String,

    /// Print the final report as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

impl LoadArgs {
    /// Validates what was typed into a [`LoadConfig`].
    pub fn to_config(&self) -> Result<LoadConfig, DemoError> {
        let target = Target::parse(&self.url)?;
        let profile = if let Some(p) = &self.profile {
            load::parse_profile(p)?
        } else if self.rate.is_some() || self.duration.is_some() || self.max {
            let rate = match (&self.rate, self.max) {
                (_, true) => 0.0,
                (Some(r), false) => load::parse_rate(r)?,
                (None, false) => 20.0,
            };
            let duration = match &self.duration {
                Some(d) => duration_arg("--duration", d)?,
                None => Duration::from_secs(60),
            };
            if duration.is_zero() {
                return Err(DemoError::invalid("--duration", "0", "must be above zero"));
            }
            vec![Phase { rate, duration }]
        } else {
            load::default_profile()
        };
        if self.connections == 0 || self.connections > 10_000 {
            return Err(DemoError::invalid(
                "--connections",
                &self.connections.to_string(),
                "must be from 1 to 10000",
            ));
        }
        let timeout = duration_arg("--timeout", &self.timeout)?;
        if timeout.is_zero() {
            return Err(DemoError::invalid(
                "--timeout",
                &self.timeout,
                "must be above zero",
            ));
        }
        let sections = load::clean_sections(&self.sections)?;
        let wire = if self.http2 {
            Wire::H2c {
                streams: self.streams_per_connection as usize,
            }
        } else {
            Wire::Http1
        };
        Ok(LoadConfig {
            target,
            profile,
            connections: self.connections,
            wire,
            keep_alive: !self.close,
            sections,
            timeout,
            stop_on_ctrl_c: true,
            stop: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_duration;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn durations_in_every_accepted_form() {
        assert_eq!(parse_duration("90s"), Ok(ms(90_000)));
        assert_eq!(parse_duration("2m"), Ok(ms(120_000)));
        assert_eq!(parse_duration("500ms"), Ok(ms(500)));
        assert_eq!(parse_duration("1h"), Ok(ms(3_600_000)));
        assert_eq!(parse_duration("1m30s"), Ok(ms(90_000)));
        assert_eq!(parse_duration("10"), Ok(ms(10_000)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1_500)));
        assert_eq!(parse_duration(" 3s "), Ok(ms(3_000)));
        assert_eq!(parse_duration("1h2m3s4ms"), Ok(ms(3_723_004)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_durations_name_the_value() {
        for bad in [
            "", "s", "10x", "1m30", "-5s", "1..2s", "ms5", "1e9999s", "5 s",
        ] {
            let e = parse_duration(bad).expect_err(bad);
            assert!(e.contains(&format!("'{bad}'")), "{bad}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn latency_range_and_single_value() {
        assert_eq!(parse_latency("5ms..50ms").unwrap(), (ms(5), ms(50)));
        assert_eq!(parse_latency("10ms").unwrap(), (ms(10), ms(10)));
        let e = parse_latency("50ms..5ms").unwrap_err().to_string();
        assert!(e.contains("'50ms..5ms'"), "{e}");
        assert!(parse_latency("5ms..").is_err());
    }

    #[test]
    fn serve_args_are_validated() {
        let args = ServeArgs {
            port: 0,
            bind: IpAddr::from([127, 0, 0, 1]),
            latency: None,
            error_rate: "1.5".into(),
            not_found: vec![],
        };
        let e = args.to_config().unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid --error-rate '1.5': must be from 0 to 1 (0.02 means 2%)"
        );
        let args = ServeArgs {
            error_rate: "0.02".into(),
            not_found: vec!["/admin".into(), "".into()],
            ..args
        };
        let c = args.to_config().unwrap();
        assert_eq!(c.not_found, vec!["/admin".to_string()]);
        assert!((c.error_rate - 0.02).abs() < 1e-12);
        let args = ServeArgs {
            not_found: vec!["admin".into()],
            ..args
        };
        assert!(args.to_config().is_err());
    }
}
