//! `traffic-watch demo`: the built-in server, a traffic profile with a spike and the live
//! monitor on that port, in one process, so a newcomer sees sections, an alert and its
//! recovery within about a minute. It composes the pieces the real program uses; nothing here
//! is demo-only except the choice of settings.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{load, serve};
use crate::app::config::{
    Config, HookSettings, Input, LiveSettings, OutputMode, OutputSettings, Privileges,
    threshold_rate, window_secs,
};
use crate::app::outputs::Outputs;
use crate::app::{runner, start};
use crate::capture::CaptureFilter;
use crate::error::Error;
use crate::flow::FlowConfig;
use crate::record::RecordConfig;
use crate::stats::{StatsConfig, Threshold};

/// Streams per connection with `demo --http2`: `load --http2`'s default.
const DEMO_H2_STREAMS: usize = 10;
/// Plain and JSON reports every this often: the demo is short.
const DEMO_REPORT_EVERY: Duration = Duration::from_secs(5);

/// What `traffic-watch demo` was asked for.
#[derive(Debug, Clone)]
pub struct DemoSettings {
    /// The built-in server's port on 127.0.0.1, and the port watched.
    pub port: u16,
    /// RATExSECONDS steps.
    pub profile: String,
    pub window: Duration,
    pub threshold: f64,
    /// `None`: the loopback interface.
    pub interface: Option<String>,
    pub http2: bool,
    pub mode: OutputMode,
    pub metrics_addr: Option<SocketAddr>,
    pub hooks: HookSettings,
    pub drop_privileges: bool,
}

impl DemoSettings {
    /// The monitor's settings: the demo's port on loopback, its short window and threshold.
    fn monitor_config(&self, banner: String) -> Result<Config, Error> {
        let stats = StatsConfig {
            window_secs: window_secs(self.window).map_err(Error::Config)?,
            threshold: Threshold::PerSecond(threshold_rate(self.threshold).map_err(Error::Config)?),
            ..StatsConfig::default()
        };
        Ok(Config {
            input: Input::Live(LiveSettings {
                interface: Some(self.interface.clone().unwrap_or_else(loopback_interface)),
                filter: CaptureFilter::new(Some(self.port), None, &[]),
                buffer_bytes: None,
                snaplen: crate::capture::live::WHOLE_SNAPLEN,
                record: RecordConfig::default(),
            }),
            outputs: OutputSettings {
                mode: self.mode,
                summary_only: false,
                interval: DEMO_REPORT_EVERY,
                metrics_addr: self.metrics_addr,
                hooks: self.hooks.clone(),
                banner: Some(banner),
            },
            flow: FlowConfig::default(),
            stats,
            privileges: Privileges {
                user: None,
                drop: self.drop_privileges,
            },
            routes: None,
        })
    }
}

/// `traffic-watch demo`: serve + load + the live monitor, all on loopback.
pub fn run(a: &DemoSettings) -> Result<(), Error> {
    let profile = load::parse_profile(&a.profile).map_err(Error::from)?;
    let interactive = a.mode == OutputMode::Dashboard;
    let steps: Vec<String> = profile
        .iter()
        .map(|p| format!("{} req/s for {} s", p.rate, p.duration.as_secs()))
        .collect();
    let wire = if a.http2 {
        load::Wire::H2c {
            streams: DEMO_H2_STREAMS,
        }
    } else {
        load::Wire::Http1
    };
    let server_addr = SocketAddr::from(([127, 0, 0, 1], a.port));
    let banner = format!(
        "DEMO: serving http://{server_addr} · sending {} over {} · alert when the {} s average \
         exceeds {} req/s · the real thing: sudo traffic-watch --port YOUR_PORT",
        steps.join(", then "),
        wire.as_str(),
        a.window.as_secs(),
        a.threshold
    );
    let config = a.monitor_config(banner.clone())?;
    let Input::Live(live) = &config.input else {
        return Err(Error::Other("the demo watches a live capture".into()));
    };

    // Bind the server and open the capture while privileged; then drop privileges.
    let server = serve::start(serve::ServeConfig {
        port: a.port,
        ..serve::ServeConfig::default()
    })
    .map_err(Error::from)?;
    let outputs = Outputs::open(&config.outputs, config.stats.top_n)?;
    let capture = start::open_live(live).map_err(|e| match e {
        Error::Permission { .. } => Error::Config(format!(
            "the demo captures packets on loopback, which needs root: {e}"
        )),
        other => other,
    })?;
    if config.privileges.drop {
        crate::capture::privdrop::drop_privileges(None)?;
    }
    if !interactive {
        eprintln!("{banner}");
    }
    let stop = start::stop_on_signals()?;
    let load_config = load::LoadConfig {
        target: load::Target {
            host: "127.0.0.1".into(),
            port: server.addr().port(),
        },
        profile,
        wire,
        stop: Some(Arc::clone(&stop)),
        ..load::LoadConfig::default()
    };
    let window = a.window;
    let stop_load = Arc::clone(&stop);
    let loader = std::thread::Builder::new()
        .name("demo-load".into())
        .spawn(move || {
            let report = load::run(load_config, false);
            // Unattended runs end once the spike has left the window and the alert recovered.
            if !interactive {
                let until = std::time::Instant::now() + window + Duration::from_secs(3);
                while std::time::Instant::now() < until && !stop_load.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                }
                stop_load.store(true, Ordering::Relaxed);
            }
            report
        })?;
    let result = capture
        .start(Arc::clone(&stop))
        .and_then(|source| runner::run(&config, source, outputs, Arc::clone(&stop)));
    stop.store(true, Ordering::Relaxed);
    let report = loader
        .join()
        .map_err(|_| Error::Other("the load generator stopped unexpectedly".into()))?;
    let served = server.served();
    let by_protocol = server.served_summary();
    server.shutdown();
    result?;
    match report {
        Ok(r) => eprintln!(
            "demo: generator sent {} requests, {} answered; server served {served} ({by_protocol})",
            r.sent, r.answered
        ),
        Err(e) => eprintln!("demo: generator: {e}"),
    }
    Ok(())
}

/// `lo` on Linux, `lo0` on macOS/BSD.
fn loopback_interface() -> String {
    if std::path::Path::new("/sys/class/net/lo").exists() {
        "lo".into()
    } else {
        "lo0".into()
    }
}
