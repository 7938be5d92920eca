//! `traffic-watch demo`: the built-in server, a traffic profile with a spike and the live
//! monitor on that port, in one process, so a newcomer sees sections, an alert and its
//! recovery within about a minute. It composes the pieces the real program uses; nothing here
//! is demo-only except the choice of settings.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use clap::Parser;

use super::{load, serve};
use crate::cli::{Args, DemoArgs};
use crate::error::Error;
use crate::run;

/// Streams per connection with `demo --http2`: `load --http2`'s default.
const DEMO_H2_STREAMS: usize = 10;

/// `traffic-watch demo`: serve + load + the live monitor, all on loopback.
pub fn run(a: &DemoArgs) -> Result<(), Error> {
    let profile = load::parse_profile(&a.profile).map_err(Error::from)?;
    let interactive = std::io::stdout().is_terminal() && !a.plain && !a.json;
    // The monitor's settings, as if typed: the port, a short window, the threshold.
    let mut argv = vec![
        "traffic-watch".to_owned(),
        "--port".into(),
        a.port.to_string(),
        "--window".into(),
        format!("{}s", a.window.as_secs()),
        "--threshold".into(),
        a.threshold.to_string(),
        "--interval".into(),
        "5s".into(),
        "-i".into(),
        a.interface.clone().unwrap_or_else(loopback_interface),
    ];
    if let Some(m) = a.outputs.metrics_addr {
        argv.extend(["--metrics-addr".into(), m.to_string()]);
    }
    if let Some(x) = &a.outputs.alert_exec {
        argv.extend(["--alert-exec".into(), x.clone()]);
    }
    if let Some(w) = &a.outputs.alert_webhook {
        argv.extend(["--alert-webhook".into(), w.clone()]);
    }
    if let Some(ca) = &a.outputs.alert_webhook_ca {
        argv.extend(["--alert-webhook-ca".into(), ca.display().to_string()]);
    }
    if a.json {
        argv.push("--json".into());
    } else if !interactive {
        argv.push("--plain".into());
    }
    let config = Args::try_parse_from(&argv)
        .map_err(|e| Error::Config(e.to_string()))?
        .to_config(interactive)
        .map_err(Error::Config)?;

    // Bind the server and open the capture while privileged; then drop privileges.
    let server = serve::start(serve::ServeConfig {
        port: a.port,
        ..serve::ServeConfig::default()
    })
    .map_err(Error::from)?;
    let sinks = run::Sinks::from_config(&config)?;
    let _metrics = run::start_metrics(&config, &sinks)?;
    let capture = run::open_live(&config).map_err(|e| match e {
        Error::Permission { .. } => Error::Config(format!(
            "the demo captures packets on loopback, which needs root: {e}"
        )),
        other => other,
    })?;
    if !a.no_drop_privileges {
        crate::capture::privdrop::drop_privileges(None)?;
    }
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
    let banner = format!(
        "DEMO: serving http://{} · sending {} over {} · alert when the {} s average exceeds {} \
         req/s · the real thing: sudo traffic-watch --port YOUR_PORT",
        server.addr(),
        steps.join(", then "),
        wire.as_str(),
        a.window.as_secs(),
        a.threshold
    );
    if !interactive {
        eprintln!("{banner}");
    }
    let stop = run::stop_on_signals()?;
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
                let until = std::time::Instant::now() + window + std::time::Duration::from_secs(3);
                while std::time::Instant::now() < until && !stop_load.load(Ordering::Relaxed) {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                stop_load.store(true, Ordering::Relaxed);
            }
            report
        })?;
    let result = run::live_with_banner(
        &config,
        run::LiveInput::Capture(capture),
        Arc::clone(&stop),
        Some(banner),
        &sinks,
    );
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
