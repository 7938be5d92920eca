//! `traffic-watch`: parse the command line, open the capture while privileged, run, and turn
//! any error into one line on stderr and a non-zero exit code (2), never a backtrace.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;
use traffic_watch::cli::{Args, Command};
use traffic_watch::error::Error;
use traffic_watch::export::{MetricsServer, SnapshotSlot};
use traffic_watch::hooks::AlertHooks;
use traffic_watch::logs::LogInput;
use traffic_watch::{run, synth};

fn main() -> ExitCode {
    let args = Args::parse();
    match real_main(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("traffic-watch: error: {e}");
            // A failed privilege drop is 1 (as the issue tracker asked); everything else 2.
            ExitCode::from(if matches!(e, Error::PrivilegeDrop(_)) {
                1
            } else {
                2
            })
        }
    }
}

fn is_broken_pipe(e: &Error) -> bool {
    matches!(e, Error::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe)
}

fn real_main(args: Args) -> Result<(), Error> {
    if let Some(cmd) = &args.command {
        return match cmd {
            Command::SampleCapture {
                out,
                rate,
                seconds,
                spike,
            } => sample_capture(out, *rate, *seconds, *spike),
            Command::Demo(a) => demo(a),
            Command::Completions { shell } => {
                let mut cmd = <Args as clap::CommandFactory>::command();
                clap_complete::generate(*shell, &mut cmd, "traffic-watch", &mut std::io::stdout());
                Ok(())
            }
            Command::Manpage => {
                let cmd = <Args as clap::CommandFactory>::command();
                clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
                Ok(())
            }
            Command::Serve(a) => {
                let config = a.to_config().map_err(demo_err)?;
                traffic_watch::demo::serve::run_until_signal(config)
                    .map(|_| ())
                    .map_err(demo_err)
            }
            Command::Load(a) => {
                let config = a.to_config().map_err(demo_err)?;
                let progress = std::io::stderr().is_terminal();
                let report = traffic_watch::demo::load::run(config, progress).map_err(demo_err)?;
                if a.json {
                    println!("{}", report.to_json());
                } else {
                    println!("{}", report.to_string().trim_end());
                }
                Ok(())
            }
        };
    }
    let config = args
        .to_config(std::io::stdout().is_terminal())
        .map_err(Error::Config)?;
    // Listening sockets and files first (they may need privileges), then everything else.
    let sinks = sinks(&config)?;
    let _metrics = start_metrics(&config, &sinks)?;
    if config.read.is_some() {
        let source = run::open_replay(&config)?;
        // The file is open: parse hostile bytes with no privileges at all.
        drop_privileges_quietly(&config)?;
        let out = std::io::BufWriter::new(std::io::stdout().lock());
        return run::replay_source(&config, source, out, &sinks);
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    if let Some(path) = &config.log {
        // No capture, no privileges needed; they are kept only if the user ran us with them
        // (a root-only log must still be readable after it rotates).
        let mut input = LogInput::open(path, config.log_format, config.follow)?;
        if !config.follow {
            drop_privileges_quietly(&config)?;
            let out = std::io::BufWriter::new(std::io::stdout().lock());
            return run::replay_log(&config, &mut input, out, &sinks);
        }
        if config.output != traffic_watch::cli::OutputMode::Dashboard {
            eprintln!("traffic-watch: following {}", input.describe());
        }
        return run::live(&config, run::LiveInput::Log(input), stop, &sinks);
    }
    // Open everything that needs privileges first, then drop them before the first packet.
    let capture = run::open_live(&config)?;
    let who = if config.drop_privileges {
        let d = traffic_watch::capture::privdrop::drop_privileges(config.user.as_deref())?;
        format!(
            "running as '{}' (uid {}) with no capabilities",
            d.user, d.uid
        )
    } else {
        "keeping privileges (--no-drop-privileges)".to_owned()
    };
    if config.output != traffic_watch::cli::OutputMode::Dashboard {
        eprintln!(
            "traffic-watch: capturing on {}; {who}",
            capture.description()
        );
    }
    run::live(&config, run::LiveInput::Capture(capture), stop, &sinks)
}

/// For offline inputs already open: drop root and capabilities if we have them.
fn drop_privileges_quietly(config: &traffic_watch::cli::Config) -> Result<(), Error> {
    if config.drop_privileges {
        traffic_watch::capture::privdrop::drop_privileges(config.user.as_deref())?;
    }
    Ok(())
}

/// The `/metrics` listener, bound now (before privileges are dropped) when asked for.
fn start_metrics(
    config: &traffic_watch::cli::Config,
    sinks: &run::Sinks,
) -> Result<Option<MetricsServer>, Error> {
    match config.metrics_addr {
        Some(addr) => {
            let slot = sinks.metrics.clone().unwrap_or_default();
            Ok(Some(MetricsServer::start(addr, slot, config.stats.top_n)?))
        }
        None => Ok(None),
    }
}

/// Alert hooks and the metrics slot, as configured.
fn sinks(config: &traffic_watch::cli::Config) -> Result<run::Sinks, Error> {
    let hooks = if config.alert_exec.is_some() || config.alert_webhook.is_some() {
        Some(AlertHooks::new(
            config.alert_exec.clone(),
            config.alert_webhook.clone(),
        )?)
    } else {
        None
    };
    Ok(run::Sinks {
        hooks,
        metrics: config.metrics_addr.map(|_| SnapshotSlot::new()),
    })
}

/// `traffic-watch demo`: serve + load + the live monitor, all on loopback.
fn demo(a: &traffic_watch::cli::DemoArgs) -> Result<(), Error> {
    use traffic_watch::demo::{load, serve};
    let profile = load::parse_profile(&a.profile).map_err(demo_err)?;
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
    .map_err(demo_err)?;
    let sinks = sinks(&config)?;
    let _metrics = start_metrics(&config, &sinks)?;
    let capture = run::open_live(&config).map_err(|e| match e {
        Error::Permission { .. } => Error::Config(format!(
            "the demo captures packets on loopback, which needs root: {e}"
        )),
        other => other,
    })?;
    if !a.no_drop_privileges {
        traffic_watch::capture::privdrop::drop_privileges(None)?;
    }
    let steps: Vec<String> = profile
        .iter()
        .map(|p| format!("{} req/s for {} s", p.rate, p.duration.as_secs()))
        .collect();
    let banner = format!(
        "DEMO: serving http://{} · sending {} · alert when the {} s average exceeds {} req/s · \
         the real thing: sudo traffic-watch --port YOUR_PORT",
        server.addr(),
        steps.join(", then "),
        a.window.as_secs(),
        a.threshold
    );
    if !interactive {
        eprintln!("{banner}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    let load_config = load::LoadConfig {
        target: load::Target {
            host: "127.0.0.1".into(),
            port: server.addr().port(),
        },
        profile,
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
    server.shutdown();
    result?;
    match report {
        Ok(r) => eprintln!(
            "demo: generator sent {} requests, {} answered; server served {served}",
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

fn demo_err(e: traffic_watch::demo::DemoError) -> Error {
    Error::Other(e.to_string())
}

fn sample_capture(
    out: &std::path::Path,
    rate: u32,
    seconds: u32,
    spike: bool,
) -> Result<(), Error> {
    if rate == 0 || seconds == 0 || u64::from(rate) * u64::from(seconds) > 10_000_000 {
        return Err(Error::Config(
            "--rate and --seconds must be at least 1 (and at most 10 million requests)".into(),
        ));
    }
    let write_err = |source| Error::Write {
        path: out.to_owned(),
        source,
    };
    let file = std::fs::File::create(out).map_err(write_err)?;
    let mut w = synth::PcapWriter::new(
        std::io::BufWriter::new(file),
        traffic_watch::decode::LinkType::Ethernet,
    )
    .map_err(write_err)?;
    let profile = if spike {
        let fifth = (seconds / 5).max(1);
        let before = (seconds.saturating_sub(fifth)) / 2;
        vec![
            (rate, before),
            (rate.saturating_mul(5), fifth),
            (rate, seconds - before - fifth),
        ]
    } else {
        vec![(rate, seconds)]
    };
    let frames = synth::sample_traffic_profile(&profile);
    let requests: u64 = profile
        .iter()
        .map(|(r, s)| u64::from(*r) * u64::from(*s))
        .sum();
    w.write_all(&frames).map_err(write_err)?;
    std::io::Write::flush(&mut w.into_inner()).map_err(write_err)?;
    eprintln!(
        "wrote {} ({} packets, {} requests on port 5000); replay it with: traffic-watch -r {}",
        out.display(),
        frames.len(),
        requests,
        out.display()
    );
    Ok(())
}
