//! What `--log-format` says ([`FormatSpec`]) and what a log is read with ([`Layout`]): one of
//! the parsers in this module's siblings. `auto` looks at a log's first lines and picks the
//! standard layout that reads the most of them ([`detect`]), and says which; a log no layout
//! reads is an error showing its first line.

use std::path::Path;

use super::json::{self, JsonFields};
use super::parse::{BadLine, ClfLayout, LogEntry, LogFormat, TimeUnit, parse_clf};
use super::template::{Field, Template};
use super::{haproxy, morgan, nginx_conf};
use crate::time::Timestamp;

/// A parser for one log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    Clf(ClfLayout),
    Template(Template),
    Json(JsonFields),
    Haproxy,
    MorganDev,
}

/// What `--log-format` asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FormatSpec {
    /// Recognise a standard layout from the first lines.
    #[default]
    Auto,
    Fixed(Layout),
    /// JSON lines: these fields as given, the others found from the first line.
    Json(Vec<(Field, String)>),
}

impl From<LogFormat> for FormatSpec {
    fn from(f: LogFormat) -> Self {
        match f {
            LogFormat::Auto => FormatSpec::Auto,
            format => FormatSpec::Fixed(Layout::Clf(ClfLayout {
                format,
                ..ClfLayout::default()
            })),
        }
    }
}

/// The `--log-format` help, and the error for a value it does not know.
pub const FORMAT_HELP: &str = "auto, combined, common, vhost_combined, json, json:FIELD=PATH,…, caddy, haproxy, lighttpd, morgan, nginx:'<log_format string>', nginx:NAME (with --nginx-conf), apache:'<LogFormat string>'";

impl FormatSpec {
    /// Reads a `--log-format` value; `nginx_conf` is where `nginx:NAME` is looked up.
    pub fn from_arg(value: &str, nginx_conf: Option<&Path>) -> Result<FormatSpec, String> {
        if let Some(s) = value.strip_prefix("nginx:") {
            return nginx_spec(s, nginx_conf);
        }
        if let Some(s) = value.strip_prefix("apache:") {
            return Template::apache(s)
                .map(|t| FormatSpec::Fixed(Layout::Template(t)))
                .map_err(|e| format!("--log-format apache:'{s}': {e}"));
        }
        if let Some(s) = value.strip_prefix("json:") {
            return json::parse_overrides(s).map(FormatSpec::Json);
        }
        let clf = |format, vhost| {
            Ok(FormatSpec::Fixed(Layout::Clf(ClfLayout {
                format,
                vhost,
                timing: None,
            })))
        };
        match value.to_ascii_lowercase().as_str() {
            "auto" => Ok(FormatSpec::Auto),
            "combined" | "nginx" | "lighttpd" | "gunicorn" => clf(LogFormat::Combined, false),
            "common" | "clf" => clf(LogFormat::Common, false),
            "vhost_combined" => clf(LogFormat::Combined, true),
            "json" | "caddy" => Ok(FormatSpec::Json(Vec::new())),
            "haproxy" | "httplog" => Ok(FormatSpec::Fixed(Layout::Haproxy)),
            "morgan" | "morgan:dev" | "dev" => Ok(FormatSpec::Fixed(Layout::MorganDev)),
            _ => Err(format!(
                "unknown log format '{value}'; use one of: {FORMAT_HELP}"
            )),
        }
    }
}

/// `nginx:'<string>'` or `nginx:NAME`.
fn nginx_spec(s: &str, conf: Option<&Path>) -> Result<FormatSpec, String> {
    let named = !s.contains('$');
    let (format, escape_json) = if named {
        let Some(conf) = conf else {
            if s == "combined" {
                return FormatSpec::from_arg("combined", None);
            }
            return Err(format!(
                "--log-format nginx:{s} names a log_format: give the config that has it with --nginx-conf FILE, or the string itself"
            ));
        };
        match nginx_conf::read(conf, s) {
            Ok(f) => (f.format, f.escape_json),
            Err(_) if s == "combined" => return FormatSpec::from_arg("combined", None),
            Err(e) => return Err(e),
        }
    } else {
        (s.to_owned(), false)
    };
    if escape_json || format.trim_start().starts_with('{') {
        return Ok(FormatSpec::Json(json_fields_of_nginx(&format)));
    }
    Template::nginx(&format)
        .map(|t| FormatSpec::Fixed(Layout::Template(t)))
        .map_err(|e| format!("--log-format nginx:'{format}': {e}"))
}

/// The JSON names an nginx `escape=json` format gives its variables: `"key":"$var"` or
/// `"key":$var`, at the top level.
fn json_fields_of_nginx(format: &str) -> Vec<(Field, String)> {
    let mut out = Vec::new();
    let b = format.as_bytes();
    for (i, _) in format.match_indices('$') {
        let name: String = format
            .get(i + 1..)
            .unwrap_or_default()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let field = super::template::nginx_field(&name);
        if field == Field::Skip {
            continue;
        }
        // Back over an opening quote and spaces to the colon, then the key in quotes.
        let mut j = i;
        while j > 0 && matches!(b.get(j - 1), Some(b'"' | b' ')) {
            j -= 1;
        }
        if j == 0 || b.get(j - 1) != Some(&b':') {
            continue;
        }
        let before = format.get(..j - 1).unwrap_or_default().trim_end();
        let Some(key_end) = before.strip_suffix('"') else {
            continue;
        };
        let Some(open) = key_end.rfind('"') else {
            continue;
        };
        let key = key_end.get(open + 1..).unwrap_or_default();
        if !key.is_empty() && !out.iter().any(|(f, _)| *f == field) {
            out.push((field, key.to_owned()));
        }
    }
    out
}

impl Layout {
    /// Reads one line; `now` dates the lines of layouts that carry no time (morgan).
    pub fn parse<'a>(&self, line: &'a [u8], now: Timestamp) -> Result<LogEntry<'a>, BadLine> {
        match self {
            Layout::Clf(c) => parse_clf(line, *c),
            Layout::Template(t) => t.parse(line),
            Layout::Json(j) => j.parse(line),
            Layout::Haproxy => haproxy::parse(line),
            Layout::MorganDev => morgan::parse(line, now),
        }
    }

    /// What the layout is, for the message saying what was picked.
    pub fn describe(&self) -> String {
        match self {
            Layout::Clf(c) => {
                let base = match (c.format, c.vhost) {
                    (_, true) => "Apache vhost_combined",
                    (LogFormat::Common, _) => "common",
                    _ => "combined",
                };
                match c.timing {
                    Some(TimeUnit::Secs) => format!("{base} + $request_time (s)"),
                    Some(TimeUnit::Micros) => format!("{base} + %D (µs)"),
                    Some(TimeUnit::Millis) => format!("{base} + time (ms)"),
                    Some(TimeUnit::Nanos) => format!("{base} + time (ns)"),
                    None => base.to_owned(),
                }
            }
            Layout::Template(t) => match t.dialect {
                super::template::Dialect::Nginx => "nginx log_format".to_owned(),
                super::template::Dialect::Apache => "Apache LogFormat".to_owned(),
            },
            Layout::Json(j) if j.caddy => format!("Caddy JSON ({})", j.describe()),
            Layout::Json(j) => format!("JSON lines ({})", j.describe()),
            Layout::Haproxy => "HAProxy httplog (latency: Ta, total active time)".to_owned(),
            Layout::MorganDev => "morgan dev (no time in the line: read time)".to_owned(),
        }
    }
}

fn clf(format: LogFormat, vhost: bool, timing: Option<TimeUnit>) -> Layout {
    Layout::Clf(ClfLayout {
        format,
        vhost,
        timing,
    })
}

/// The layout for `spec` given a log's first lines, with what it is called (`lighttpd` is
/// combined with the virtual host where ident is); `None` when nothing reads any of them.
pub fn detect(spec: &FormatSpec, sample: &[Vec<u8>]) -> Option<(Layout, String)> {
    let now = Timestamp::ZERO;
    let lines: Vec<&[u8]> = sample
        .iter()
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .collect();
    let json_given = match spec {
        FormatSpec::Fixed(l) => return Some((l.clone(), l.describe())),
        FormatSpec::Json(given) => Some(given.as_slice()),
        FormatSpec::Auto => None,
    };
    let json = lines
        .iter()
        .find_map(|l| JsonFields::detect(l, json_given.unwrap_or_default()))
        .map(Layout::Json);
    if json_given.is_some() {
        return json.map(|l| {
            let d = l.describe();
            (l, d)
        });
    }
    let mut candidates = vec![
        clf(LogFormat::Combined, false, Some(TimeUnit::Micros)),
        clf(LogFormat::Combined, false, Some(TimeUnit::Secs)),
        clf(LogFormat::Combined, false, None),
        clf(LogFormat::Common, false, None),
        clf(LogFormat::Combined, true, Some(TimeUnit::Micros)),
        clf(LogFormat::Combined, true, None),
        clf(LogFormat::Common, true, None),
        Layout::Haproxy,
        Layout::MorganDev,
    ];
    candidates.extend(json);
    let score = |l: &Layout| {
        lines
            .iter()
            .filter(|line| match l.parse(line, now) {
                Ok(e) => match l {
                    // A timed layout must find its time, else it is the plain one.
                    Layout::Clf(ClfLayout {
                        timing: Some(TimeUnit::Micros),
                        ..
                    }) => e.latency.is_some() && !trailing_has_dot(line),
                    Layout::Clf(ClfLayout {
                        timing: Some(_), ..
                    }) => e.latency.is_some(),
                    _ => true,
                },
                Err(_) => false,
            })
            .count()
    };
    let mut best: Option<(usize, Layout)> = None;
    for c in candidates {
        let s = score(&c);
        if s > 0 && best.as_ref().is_none_or(|(b, _)| s > *b) {
            best = Some((s, c));
        }
    }
    let (_, layout) = best?;
    let mut name = layout.describe();
    if matches!(layout, Layout::Clf(ClfLayout { vhost: false, .. })) && lighttpd_like(&lines) {
        name = format!("lighttpd ({name}, with the virtual host in place of ident)");
    }
    Some((layout, name))
}

/// Apache's `%D` is whole microseconds; a fraction is a time in seconds.
fn trailing_has_dot(line: &[u8]) -> bool {
    line.rsplit(|&b| b == b' ')
        .next()
        .is_some_and(|t| t.contains(&b'.'))
}

/// lighttpd logs the Host where Common has ident, which is `-` everywhere else.
fn lighttpd_like(lines: &[&[u8]]) -> bool {
    let ident = |l: &&[u8]| l.split(|&b| b == b' ').nth(1).map(|t| t != b"-");
    let named = lines.iter().filter(|l| ident(l) == Some(true)).count();
    named > 0 && named * 2 >= lines.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_json_formats_name_their_fields() {
        let f = json_fields_of_nginx(
            r#"{"time":"$time_iso8601", "req": "$request","status":$status,"rt":$request_time,"ua":"$http_user_agent"}"#,
        );
        assert_eq!(
            f,
            vec![
                (Field::Time, "time".to_owned()),
                (Field::Request, "req".to_owned()),
                (Field::Status, "status".to_owned()),
                (Field::Duration(TimeUnit::Secs), "rt".to_owned()),
            ]
        );
    }

    #[test]
    fn spec_values() {
        assert_eq!(FormatSpec::from_arg("auto", None), Ok(FormatSpec::Auto));
        assert!(matches!(
            FormatSpec::from_arg("nginx:$status [$time_local] \"$request\"", None),
            Ok(FormatSpec::Fixed(Layout::Template(_)))
        ));
        assert!(
            FormatSpec::from_arg("nginx:timed", None)
                .unwrap_err()
                .contains("--nginx-conf")
        );
        assert!(FormatSpec::from_arg("apache:%h %t \"%r\" %>s %D", None).is_ok());
        assert!(
            FormatSpec::from_arg("xml", None)
                .unwrap_err()
                .contains("unknown log format 'xml'")
        );
        assert_eq!(
            FormatSpec::from_arg("json:uri=request.uri", None),
            Ok(FormatSpec::Json(vec![(
                Field::Target,
                "request.uri".to_owned()
            )]))
        );
    }
}
