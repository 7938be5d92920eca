//! `traffic-watch`: parse the command line, hand the typed settings to the run they name, and
//! turn any error into one line on stderr and a non-zero exit code, never a backtrace.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use traffic_watch::cli::{Args, Command};
use traffic_watch::error::Error;

fn main() -> ExitCode {
    match dispatch(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that went away (`| head`) is not an error.
        Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("traffic-watch: error: {e}");
            // A failed privilege drop is 1, so scripts can tell it from bad usage (2).
            ExitCode::from(if matches!(e, Error::PrivilegeDrop(_)) {
                1
            } else {
                2
            })
        }
    }
}

fn dispatch(args: Args) -> Result<(), Error> {
    let stdout_is_terminal = std::io::stdout().is_terminal();
    match &args.command {
        None => {
            let config = args.to_config(stdout_is_terminal).map_err(Error::Config)?;
            traffic_watch::app::run(&config)
        }
        Some(Command::SampleCapture {
            out,
            rate,
            seconds,
            spike,
        }) => traffic_watch::synth::write_sample_capture(out, *rate, *seconds, *spike),
        Some(Command::Completions { shell }) => {
            let mut cmd = Args::command();
            clap_complete::generate(*shell, &mut cmd, "traffic-watch", &mut std::io::stdout());
            Ok(())
        }
        Some(Command::Manpage) => {
            Ok(clap_mangen::Man::new(Args::command()).render(&mut std::io::stdout())?)
        }
        #[cfg(feature = "demo")]
        Some(Command::Demo(a)) => {
            traffic_watch::demo::monitor::run(&a.to_settings(stdout_is_terminal))
        }
        #[cfg(feature = "demo")]
        Some(Command::Serve(a)) => traffic_watch::demo::serve_until_signal(a),
        #[cfg(feature = "demo")]
        Some(Command::Load(a)) => {
            traffic_watch::demo::load_and_report(a, std::io::stderr().is_terminal())
        }
    }
}
