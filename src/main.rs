//! `traffic-watch`: parse the command line, open the capture while privileged, run, and turn
//! any error into one line on stderr and a non-zero exit code (2), never a backtrace.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::Parser;
use traffic_watch::cli::{Args, Command};
use traffic_watch::error::Error;
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
            Command::SampleCapture { out, rate, seconds } => sample_capture(out, *rate, *seconds),
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
    if config.read.is_some() {
        return run::replay(&config, std::io::BufWriter::new(std::io::stdout().lock()));
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
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
    run::live(&config, capture, stop)
}

fn demo_err(e: traffic_watch::demo::DemoError) -> Error {
    Error::Other(e.to_string())
}

fn sample_capture(out: &std::path::Path, rate: u32, seconds: u32) -> Result<(), Error> {
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
    let frames = synth::sample_traffic(rate, seconds);
    w.write_all(&frames).map_err(write_err)?;
    std::io::Write::flush(&mut w.into_inner()).map_err(write_err)?;
    eprintln!(
        "wrote {} ({} packets, {} requests on port 5000); replay it with: traffic-watch -r {}",
        out.display(),
        frames.len(),
        u64::from(rate) * u64::from(seconds),
        out.display()
    );
    Ok(())
}
