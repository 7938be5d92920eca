//! Rate profiles: the steps a run goes through, parsed from `20x60,100x20,20x60`.

use std::time::Duration;

use crate::demo::DemoError;
use crate::time::parse_duration;

/// One step of a rate profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    /// Requests per second; 0 means as fast as possible.
    pub rate: f64,
    /// How long the step lasts.
    pub duration: Duration,
}

impl Phase {
    /// How many requests a paced step sends (`None` for an as-fast-as-possible step).
    pub fn planned_requests(&self) -> Option<u64> {
        (self.rate > 0.0).then(|| (self.rate * self.duration.as_secs_f64()).round() as u64)
    }
}

/// The default profile: 20 req/s for 60 s, 100 req/s for 20 s, 20 req/s for 60 s.
pub fn default_profile() -> Vec<Phase> {
    let p = |rate: f64, s: u64| Phase {
        rate,
        duration: Duration::from_secs(s),
    };
    vec![p(20.0, 60), p(100.0, 20), p(20.0, 60)]
}

pub(in crate::demo) const PROFILE_HINT: &str =
    "expected RATExDURATION such as '20x60' (20 req/s for 60 s)";

/// Parses `20x60,100x20,20x60`: rate in req/s, `x`, then seconds or a duration (`2m`, `500ms`).
pub fn parse_profile(s: &str) -> Result<Vec<Phase>, DemoError> {
    if s.trim().is_empty() {
        return Err(DemoError::invalid("--profile", s, PROFILE_HINT));
    }
    let mut phases = Vec::new();
    for step in s.split(',') {
        let step = step.trim();
        let bad = |reason: &str| DemoError::invalid("--profile step", step, reason);
        let (rate, dur) = step
            .split_once(['x', 'X'])
            .ok_or_else(|| bad(PROFILE_HINT))?;
        if rate.trim().is_empty() || dur.trim().is_empty() {
            return Err(bad(PROFILE_HINT));
        }
        let rate = parse_rate_value(rate).map_err(|r| bad(&r))?;
        let duration = parse_duration(dur).map_err(|e| bad(&e))?;
        if duration.is_zero() {
            return Err(bad("a step must last more than zero"));
        }
        phases.push(Phase { rate, duration });
    }
    Ok(phases)
}

/// Parses a `--rate` value: requests per second, 0 for as fast as possible.
pub fn parse_rate(s: &str) -> Result<f64, DemoError> {
    parse_rate_value(s).map_err(|r| DemoError::invalid("--rate", s, r))
}

pub(in crate::demo) fn parse_rate_value(s: &str) -> Result<f64, String> {
    let r: f64 = s
        .trim()
        .parse()
        .map_err(|_| "expected requests per second, e.g. '20' (0 = as fast as possible)")?;
    if !r.is_finite() || !(0.0..=10_000_000.0).contains(&r) {
        return Err("must be from 0 to 10000000 req/s (0 = as fast as possible)".into());
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn profiles_parse() {
        let p = parse_profile("20x60,100x20,20x60").unwrap();
        assert_eq!(p, default_profile());
        let p = parse_profile("0x3s, 50x500ms,1.5X2m").unwrap();
        assert_eq!(
            p[0],
            Phase {
                rate: 0.0,
                duration: secs(3)
            }
        );
        assert_eq!(p[1].planned_requests(), Some(25));
        assert_eq!(p[2].duration, secs(120));
        assert_eq!(p[2].planned_requests(), Some(180));
    }

    #[test]
    fn bad_profiles_name_the_step() {
        for (input, step) in [
            ("20x", "20x"),
            ("x60", "x60"),
            ("20", "20"),
            ("20x60,", ""),
            ("20x60,abcx5", "abcx5"),
            ("-5x10", "-5x10"),
            ("20x0", "20x0"),
            ("20x5q", "20x5q"),
            ("nanx5", "nanx5"),
        ] {
            let e = parse_profile(input).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("invalid --profile step '{step}': ")),
                "{input}: {e}"
            );
            assert!(!e.contains('\n'));
        }
        assert!(parse_profile("").is_err());
    }
}
