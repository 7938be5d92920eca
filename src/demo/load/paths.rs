//! Which path request `i` asks for: a pure function of `i`, so a test knows the section mix to
//! expect.

use std::collections::BTreeMap;

use crate::demo::DemoError;
use crate::demo::serve::splitmix64;

/// Trims sections, drops a leading `/`, and rejects ones that would not stay one path segment.
pub fn clean_sections(raw: &[String]) -> Result<Vec<String>, DemoError> {
    let mut out = Vec::new();
    for s in raw {
        let t = s.trim();
        let t = t.strip_prefix('/').unwrap_or(t);
        if t.is_empty() {
            continue;
        }
        let ok = t
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'?' | b'#' | b'%'));
        if !ok {
            return Err(DemoError::invalid(
                "--sections entry",
                s,
                "a section is one path segment of printable ASCII without '/', '?', '#' or '%'",
            ));
        }
        out.push(t.to_string());
    }
    if out.is_empty() {
        return Err(DemoError::invalid(
            "--sections",
            &raw.join(","),
            "give at least one, e.g. 'foo,bar'",
        ));
    }
    Ok(out)
}

/// Appends request `index`'s path to `out`: always `/{section}` followed by one of a few
/// shapes (`/foo`, `/foo/`, `/bar/3`, `/baz/index.html`, `/spiffy/item/7`, `/zoom?x=2`…),
/// chosen by a hash of `index`, so the mix looks random but is fixed.
pub fn write_path(out: &mut String, sections: &[String], index: u64) {
    use std::fmt::Write;
    let h = splitmix64(index ^ 0x5EC7_1095);
    let section = match sections.len() {
        0 => "",
        n => sections[(h % n as u64) as usize].as_str(),
    };
    let n = (h >> 40) % 10;
    let m = (h >> 48) % 5 + 1;
    let sub = ["item", "page", "baz", "api"][((h >> 56) % 4) as usize];
    // Writing to a String cannot fail.
    let _ = match (h >> 32) % 8 {
        0 => write!(out, "/{section}"),
        1 => write!(out, "/{section}/"),
        2 => write!(out, "/{section}/{n}"),
        3 => write!(out, "/{section}/index.html"),
        4 => write!(out, "/{section}/{sub}/{n}"),
        5 => write!(out, "/{section}?x={n}"),
        6 => write!(out, "/{section}/{n}?page={m}"),
        _ => write!(out, "/{section}/{sub}/{n}/detail#top"),
    };
    // A fragment never goes on the wire (RFC 9110 §4.2.4); drop it the way a browser would.
    if let Some(i) = out.find('#') {
        out.truncate(i);
    }
}

/// Request `index`'s path (see [`write_path`]).
pub fn path_for(sections: &[String], index: u64) -> String {
    let mut s = String::new();
    write_path(&mut s, sections, index);
    s
}

/// The section mix of requests `0..count`, as [`LoadReport::sections`] reports it when every
/// request was answered.
pub fn expected_sections(sections: &[String], count: u64) -> BTreeMap<String, u64> {
    let mut mix = BTreeMap::new();
    let mut path = String::new();
    for i in 0..count {
        path.clear();
        write_path(&mut path, sections, i);
        *mix.entry(section_of_path(&path).to_string()).or_insert(0) += 1;
    }
    mix
}

pub(in crate::demo) fn section_of_path(path: &str) -> &str {
    crate::decode::section_of("GET", path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_fixed_varied_and_in_their_section() {
        let sections: Vec<String> = ["foo", "bar", "baz", "spiffy", "zoom"]
            .map(String::from)
            .to_vec();
        assert_eq!(path_for(&sections, 17), path_for(&sections, 17));
        let paths: Vec<String> = (0..1000).map(|i| path_for(&sections, i)).collect();
        let distinct: std::collections::HashSet<_> = paths.iter().collect();
        assert!(distinct.len() > 100, "{}", distinct.len());
        assert!(paths.iter().any(|p| p.contains('?')));
        for (i, p) in paths.iter().enumerate() {
            let section = section_of_path(p);
            assert!(
                sections.iter().any(|s| section == format!("/{s}")),
                "{i}: {p}"
            );
            assert!(!p.contains('#'));
        }
        let mix = expected_sections(&sections, 1000);
        assert_eq!(mix.values().sum::<u64>(), 1000);
        assert_eq!(mix.len(), 5);
        assert!(mix.values().all(|&n| n > 150), "{mix:?}");
    }

    #[test]
    fn sections_are_cleaned() {
        let s = clean_sections(&["/foo".into(), " bar ".into(), "".into()]).unwrap();
        assert_eq!(s, vec!["foo", "bar"]);
        assert!(clean_sections(&["a/b".into()]).is_err());
        assert!(clean_sections(&["".into()]).is_err());
        assert!(clean_sections(&["a b".into()]).is_err());
    }
}
