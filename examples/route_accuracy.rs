//! Prints how well routes are inferred on the mix of public API descriptions in
//! `../shared/data/openapi/`, next to the baselines:
//! `cargo run --example route_accuracy --features route-eval -- [REQUESTS] [SEED]`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use traffic_watch::routes::eval::{Api, evaluate};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let requests = args.next().and_then(|a| a.parse().ok()).unwrap_or(120_000);
    let seed = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/openapi");
    let mut apis = Vec::new();
    for (i, name) in [
        "github.json",
        "k8s.json",
        "stripe.json",
        "docker.yaml",
        "twilio.json",
    ]
    .iter()
    .enumerate()
    {
        let mut text = String::new();
        let read = std::fs::File::open(dir.join(format!("{name}.gz")))
            .and_then(|f| flate2::read::GzDecoder::new(f).read_to_string(&mut text));
        if let Err(e) = read {
            eprintln!("{}: {e}", dir.join(name).display());
            return ExitCode::from(2);
        }
        match Api::from_document(name, &text, 7 + i as u64) {
            Ok(api) => apis.push(api),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    }
    let report = evaluate(apis, requests, seed);
    println!("{requests} requests, seed {seed}");
    println!(
        "{:44} {:>12} {:>18}",
        "routing", "on template", "keep an identifier"
    );
    for (name, s) in [
        ("inferred", &report.inferred),
        (
            "inferred, route as handed out at the time",
            &report.inferred_at_the_time,
        ),
        ("segments with digits become {id}", &report.digits),
        ("the same, versions and dates kept", &report.digits_versions),
        ("first 10 values per position kept", &report.cap10),
        ("with the documents as specs", &report.with_spec),
    ] {
        println!(
            "{name:44} {:>11.2}% {:>17.2}%",
            s.on_template_percent(),
            s.keeps_identifier_percent()
        );
    }
    println!(
        "{:?}; tree footprint {} bytes",
        report.counters, report.footprint
    );
    println!("most frequent misses:");
    for (template, route, n) in report.misses.iter().take(10) {
        println!("{n:8}  {route}  (template {template})");
    }
    ExitCode::SUCCESS
}
