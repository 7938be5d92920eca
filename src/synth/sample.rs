//! `traffic-watch sample-capture`: a capture file a new user can replay, at a steady rate or
//! with a spike in the middle so an alert fires and recovers.

use std::path::Path;

use super::{PcapWriter, sample_traffic_profile};
use crate::decode::LinkType;
use crate::error::Error;

/// At most this many requests in one sample.
const MAX_REQUESTS: u64 = 10_000_000;

/// Writes `seconds` of `rate` requests per second on port 5000 to `out`; with `spike`, a
/// fifth of the time in the middle at five times the rate.
pub fn write_sample_capture(out: &Path, rate: u32, seconds: u32, spike: bool) -> Result<(), Error> {
    if rate == 0 || seconds == 0 || u64::from(rate) * u64::from(seconds) > MAX_REQUESTS {
        return Err(Error::Config(
            "--rate and --seconds must be at least 1 (and at most 10 million requests)".into(),
        ));
    }
    let write_err = |source| Error::Write {
        path: out.to_owned(),
        source,
    };
    let file = std::fs::File::create(out).map_err(write_err)?;
    let mut w =
        PcapWriter::new(std::io::BufWriter::new(file), LinkType::Ethernet).map_err(write_err)?;
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
    let frames = sample_traffic_profile(&profile);
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
