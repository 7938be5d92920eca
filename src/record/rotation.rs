//! `-w FILE` with tcpdump's rotation: when to start a new file (`-C` size, `-G` seconds) and
//! what to call it (`-W` count). Pure: the writer thread asks, passing packet time.
//!
//! Names follow tcpdump's `MakeFilename`: with `-G` the name is first expanded as a time format
//! (`%Y %m %d %H %M %S %s %%`, in UTC where tcpdump uses local time); with `-C` or `-W` a file
//! number is appended, zero-padded to the digits of `W - 1`, and with `-W` the numbers go round
//! so at most `W` files exist (the oldest is overwritten). Two departures, both so that nothing
//! is lost silently: `-G` on a name with no `%` gets a number too (tcpdump would overwrite the
//! same file every interval), and `-W` never stops the capture (tcpdump with `-G` alone exits
//! after `W` files).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::time::Timestamp;

/// How `-w` files rotate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub path: PathBuf,
    /// `-C`: start a new file before a packet once the current one is larger than this.
    pub max_bytes: Option<u64>,
    /// `-G`: start a new file before a packet this long after the file's first packet.
    pub every: Option<Duration>,
    /// `-W`: at most this many files, names reused in turn.
    pub count: Option<u32>,
}

impl Rotation {
    /// Whether a packet at `ts` goes to a new file, given the current one's size and the time
    /// of its first packet.
    pub fn due(&self, written: u64, first: Option<Timestamp>, ts: Timestamp) -> bool {
        let by_size = self.max_bytes.is_some_and(|max| written > max);
        let by_time = match (self.every, first) {
            (Some(every), Some(first)) => ts >= first.plus(every),
            _ => false,
        };
        by_size || by_time
    }

    fn numbered(&self) -> bool {
        let template = self.path.to_string_lossy();
        self.max_bytes.is_some()
            || self.count.is_some()
            || (self.every.is_some() && !template.contains('%'))
    }

    /// The name of file number `index` (0-based, before wrapping) opened at `ts`.
    pub fn name(&self, index: u64, ts: Timestamp) -> PathBuf {
        let mut name = self.path.to_string_lossy().into_owned();
        if self.every.is_some() {
            name = expand_time(&name, ts);
        }
        if !self.numbered() {
            return PathBuf::from(name);
        }
        let (n, width) = match self.count {
            Some(w) => (index % u64::from(w.max(1)), digits(w.saturating_sub(1))),
            None => (index, 0),
        };
        // tcpdump names file 0 plainly when no padding is asked for (no -W, or -W 1).
        if n == 0 && width == 0 {
            return PathBuf::from(name);
        }
        PathBuf::from(format!("{name}{n:0width$}"))
    }

    /// The directory the files go in (for checks before privileges are dropped).
    pub fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    }
}

fn digits(mut x: u32) -> usize {
    let mut c = 0;
    while x > 0 {
        c += 1;
        x /= 10;
    }
    c
}

/// The subset of strftime that names capture files, in UTC. Unknown conversions stay as typed.
pub fn expand_time(template: &str, ts: Timestamp) -> String {
    let (y, mo, d) = ts.date_utc();
    let s = ts.secs() % 86_400;
    let mut out = String::with_capacity(template.len() + 16);
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&format!("{y:04}")),
            Some('m') => out.push_str(&format!("{mo:02}")),
            Some('d') => out.push_str(&format!("{d:02}")),
            Some('H') => out.push_str(&format!("{:02}", s / 3600)),
            Some('M') => out.push_str(&format!("{:02}", (s / 60) % 60)),
            Some('S') => out.push_str(&format!("{:02}", s % 60)),
            Some('s') => out.push_str(&ts.secs().to_string()),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// `-C`'s value as tcpdump reads it: millions of bytes, or KiB/MiB/GiB with a `k`/`m`/`g`
/// suffix.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, unit) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let unit = match c.to_ascii_lowercase() {
                'k' => 1024.0,
                'm' => 1024.0 * 1024.0,
                'g' => 1024.0 * 1024.0 * 1024.0,
                _ => return Err(format!("'{s}': the suffix must be k, m or g")),
            };
            (&t[..i], unit)
        }
        _ => (t, 1_000_000.0),
    };
    match num.parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 && n * unit >= 1.0 && n * unit < 1e18 => {
            Ok((n * unit) as u64)
        }
        _ => Err(format!(
            "'{s}' is not a size: millions of bytes, or a number with k, m or g"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rot(c: Option<u64>, g: Option<u64>, w: Option<u32>, path: &str) -> Rotation {
        Rotation {
            path: PathBuf::from(path),
            max_bytes: c,
            every: g.map(Duration::from_secs),
            count: w,
        }
    }

    const T: Timestamp = Timestamp(1_795_500_699_000_000); // 2026-11-24T06:11:39Z

    fn names(r: &Rotation, n: u64) -> Vec<String> {
        (0..n)
            .map(|i| r.name(i, T).to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn names_follow_tcpdump() {
        assert_eq!(names(&rot(None, None, None, "x"), 1), ["x"]);
        assert_eq!(names(&rot(Some(1), None, None, "x"), 3), ["x", "x1", "x2"]);
        assert_eq!(
            names(&rot(Some(1), None, Some(3), "x"), 4),
            ["x0", "x1", "x2", "x0"]
        );
        assert_eq!(names(&rot(Some(1), None, Some(11), "x"), 1), ["x00"]);
        assert_eq!(names(&rot(Some(1), None, Some(1), "x"), 2), ["x", "x"]);
        assert_eq!(
            names(&rot(None, Some(60), None, "c-%Y%m%d-%H%M%S.pcapng"), 2),
            ["c-20261124-061139.pcapng"; 2]
        );
        // No time in the name: numbered rather than overwritten.
        assert_eq!(names(&rot(None, Some(60), None, "x"), 2), ["x", "x1"]);
        assert_eq!(expand_time("%s %% %q %", T), "1795500699 % %q %");
    }

    #[test]
    fn rotation_is_due_by_size_or_time() {
        let r = rot(Some(100), Some(2), None, "x");
        assert!(!r.due(0, None, T));
        assert!(!r.due(100, Some(T), T.plus(Duration::from_millis(1999))));
        assert!(r.due(101, Some(T), T));
        assert!(r.due(0, Some(T), T.plus(Duration::from_secs(2))));
    }

    #[test]
    fn sizes_as_tcpdump_reads_them() {
        assert_eq!(parse_size("1"), Ok(1_000_000));
        assert_eq!(parse_size("20k"), Ok(20 * 1024));
        assert_eq!(parse_size("2M"), Ok(2 * 1024 * 1024));
        assert_eq!(parse_size("0.5"), Ok(500_000));
        for bad in ["0", "-1", "x", "5q", "", "nan", "1e30"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
