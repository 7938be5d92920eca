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
            ExitCode::from(2)
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
    let capture = run::open_live(&config)?;
    run::live(&config, capture, stop)
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
