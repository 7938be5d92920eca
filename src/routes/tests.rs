//! The route engine held to path families built here (exact routes), to specs written here,
//! and to the public API descriptions in `../shared/data/openapi/` when they are there.

use std::io::Read;
use std::path::PathBuf;

use super::eval::{Api, evaluate};

/// The public API descriptions beside the repo, decompressed; `None` (and a note) when absent.
fn documents() -> Option<Vec<(String, String)>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/openapi");
    if !dir.is_dir() {
        println!("skipped: ../shared/data absent");
        return None;
    }
    let mut docs = Vec::new();
    for name in [
        "github.json",
        "k8s.json",
        "stripe.json",
        "docker.yaml",
        "twilio.json",
    ] {
        let file = std::fs::File::open(dir.join(format!("{name}.gz"))).ok()?;
        let mut text = String::new();
        flate2::read::GzDecoder::new(file)
            .read_to_string(&mut text)
            .ok()?;
        docs.push((name.to_string(), text));
    }
    Some(docs)
}

fn apis(docs: &[(String, String)]) -> Vec<Api> {
    docs.iter()
        .enumerate()
        .map(|(i, (name, text))| Api::from_document(name, text, 7 + i as u64).expect(name))
        .collect()
}

#[test]
fn inference_meets_the_accuracy_target_on_the_public_api_mix() {
    let Some(docs) = documents() else { return };
    let report = evaluate(apis(&docs), 200_000, 1);
    println!("{:#?} {} bytes", report.counters, report.footprint);
    for m in &report.misses {
        println!("{:6} {}  <-  {}", m.2, m.1, m.0);
    }
    for (name, s) in [
        ("inferred", &report.inferred),
        ("inferred at the time", &report.inferred_at_the_time),
        ("digits", &report.digits),
        ("digits, versions kept", &report.digits_versions),
        ("cap 10", &report.cap10),
        ("with spec", &report.with_spec),
    ] {
        println!(
            "{name:24} {:6.2}% on template {:6.2}% keep an id",
            s.on_template_percent(),
            s.keeps_identifier_percent()
        );
    }
    assert!(report.inferred.on_template_percent() >= 85.0);
    assert!(report.inferred.keeps_identifier_percent() <= 1.0);
}
