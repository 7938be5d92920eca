//! `traffic-watch`: parse the command line, open the capture while privileged, run, and turn
//! any error into one line on stderr and a non-zero exit code (2), never a backtrace.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use traffic_watch::cli::{Args, Command};
use traffic_watch::error::Error;
use traffic_watch::logs::LogInputs;
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
            Command::Demo(a) => traffic_watch::demo::monitor::run(a),
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
                let config = a.to_config().map_err(Error::from)?;
                traffic_watch::demo::serve::run_until_signal(config)
                    .map(|_| ())
                    .map_err(Error::from)
            }
            Command::Load(a) => {
                let config = a.to_config().map_err(Error::from)?;
                let progress = std::io::stderr().is_terminal();
                let report =
                    traffic_watch::demo::load::run(config, progress).map_err(Error::from)?;
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
    let sinks = run::Sinks::from_config(&config)?;
    let _metrics = run::start_metrics(&config, &sinks)?;
    if config.read.is_some() {
        let source = run::open_replay(&config)?;
        // The file is open: parse hostile bytes with no privileges at all.
        drop_privileges_quietly(&config)?;
        let out = std::io::BufWriter::new(std::io::stdout().lock());
        return run::replay_source(&config, source, out, &sinks);
    }
    let stop = run::stop_on_signals()?;
    if !config.log.is_empty() {
        let mut input = LogInputs::open(&config.log, config.log_format.clone(), config.follow)?;
        if !config.follow {
            drop_privileges_quietly(&config)?;
            let out = std::io::BufWriter::new(std::io::stdout().lock());
            return run::replay_log(&config, &mut input, out, &sinks);
        }
        let who = drop_privileges_for_log(&config, input.paths())?;
        if config.output != traffic_watch::cli::OutputMode::Dashboard {
            eprintln!("traffic-watch: following {}; {who}", input.describe());
        }
        return run::live(&config, run::LiveInput::Log(Box::new(input)), stop, &sinks);
    }
    // Open everything that needs privileges first, then drop them before the first packet.
    let capture = run::open_live(&config)?;
    // The recordings directory must be the dropped user's to create files in after the drop.
    let owner = if config.drop_privileges {
        traffic_watch::capture::privdrop::target_ids(config.user.as_deref())?
    } else {
        None
    };
    let record_warning = traffic_watch::record::Recording::prepare(&config.record, owner)?;
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
    // Before the dashboard too: a cut capture must not pass for a whole one.
    if let Some(w) = traffic_watch::capture::live::snaplen_warning(config.snaplen) {
        eprintln!("traffic-watch: warning: {w}");
    }
    if let Some(w) = record_warning {
        eprintln!("traffic-watch: {w}");
    }
    let capture = if config.record.is_empty() {
        capture
    } else {
        // Files are created as the user we now are, as tcpdump -Z does.
        let recording = traffic_watch::record::Recording::start(
            &config.record,
            capture.format(config.snaplen),
            traffic_watch::time::Clock::now(&traffic_watch::time::SystemClock),
            config.output == traffic_watch::cli::OutputMode::Dashboard,
        )?;
        capture.with_recording(recording)
    };
    run::live(&config, run::LiveInput::Capture(capture), stop, &sinks)
}

/// A followed log is reopened when it rotates, so the user we become must be able to read
/// it: root becomes the usual user with the log's group added, when that group (or everyone)
/// can read the file and search its directories; otherwise privileges are kept, as the only
/// way to follow a root-only log, and the message says so. Standard input needs nothing.
fn drop_privileges_for_log(
    config: &traffic_watch::cli::Config,
    paths: &[std::path::PathBuf],
) -> Result<String, Error> {
    use traffic_watch::capture::privdrop;
    if !config.drop_privileges {
        return Ok("keeping privileges (--no-drop-privileges)".into());
    }
    let stdin = paths.iter().any(|p| p.as_os_str() == "-");
    if stdin || !nix::unistd::Uid::effective().is_root() {
        let d = privdrop::drop_privileges(config.user.as_deref())?;
        return Ok(format!(
            "running as '{}' (uid {}) with no capabilities",
            d.user, d.uid
        ));
    }
    // One extra group can be kept: every log must be readable with it.
    let mut keep: Option<u32> = None;
    for path in paths {
        let unreadable = match privdrop::readable_after_drop(path, config.user.as_deref()) {
            None => true,
            Some(None) => false,
            Some(Some(g)) => keep.replace(g).is_some_and(|k| k != g),
        };
        if unreadable {
            return Ok(format!(
                "keeping root: {} could not be reopened after a rotation without it (make it \
                 readable by a group, or run as a user who can read it)",
                path.display()
            ));
        }
    }
    let d = privdrop::drop_privileges_keeping_group(config.user.as_deref(), keep)?;
    let also = keep.map_or_else(String::new, |g| {
        let what = if paths.len() > 1 { "logs'" } else { "log's" };
        format!(", and the {what} group {g}")
    });
    Ok(format!(
        "running as '{}' (uid {}{also}) with no capabilities",
        d.user, d.uid
    ))
}

/// For offline inputs already open: drop root and capabilities if we have them.
fn drop_privileges_quietly(config: &traffic_watch::cli::Config) -> Result<(), Error> {
    if config.drop_privileges {
        traffic_watch::capture::privdrop::drop_privileges(config.user.as_deref())?;
    }
    Ok(())
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
