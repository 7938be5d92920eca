//! Reading route templates from a file: an OpenAPI 3 or Swagger 2 document (JSON or YAML), or
//! a plain list of patterns, one per line. Only the path templates and the prefix the API is
//! served under (`servers[].url`'s path, `basePath`) are read; everything else in the document
//! is ignored. Errors are one line naming the file and what is wrong.

use std::path::Path;

/// Files larger than this are refused rather than read (the largest public API descriptions
/// are a few MiB).
const MAX_SPEC_BYTES: u64 = 64 << 20;
/// Templates kept from one file.
const MAX_TEMPLATES: usize = 100_000;
/// Longest error message detail kept (serde errors quote the input).
const MAX_DETAIL: usize = 160;

/// Route templates read from a file.
#[derive(Clone, Debug, Default)]
pub struct RouteSpec {
    /// Path templates as the document writes them (`/users/{username}/repos`).
    pub(crate) templates: Vec<String>,
    /// Prefixes the paths may be served under (`/v1.56`, or a server URL's path), as templates.
    pub(crate) prefixes: Vec<String>,
}

/// Why a route file could not be used. `Display` is one line: `FILE: what is wrong`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {what}")]
pub struct RouteSpecError {
    file: String,
    what: String,
}

impl RouteSpecError {
    fn new(file: &str, what: impl Into<String>) -> RouteSpecError {
        RouteSpecError {
            file: one_line(file),
            what: one_line(&what.into()),
        }
    }
}

/// Control characters and line breaks replaced, long text cut: errors quote file content.
fn one_line(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == MAX_DETAIL {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

impl RouteSpec {
    /// Reads an OpenAPI 3 or Swagger 2 document (JSON or YAML) or a plain list of patterns
    /// (one per line, `/users/{id}/repos`; blank lines and `#` comments ignored).
    pub fn load(path: &Path) -> Result<RouteSpec, RouteSpecError> {
        let name = path.display().to_string();
        let io = |e: std::io::Error| RouteSpecError::new(&name, format!("cannot read: {e}"));
        let size = std::fs::metadata(path).map_err(io)?.len();
        if size > MAX_SPEC_BYTES {
            return Err(RouteSpecError::new(
                &name,
                format!(
                    "{size} bytes, larger than the {} MiB accepted",
                    MAX_SPEC_BYTES >> 20
                ),
            ));
        }
        let bytes = std::fs::read(path).map_err(io)?;
        let text = String::from_utf8(bytes).map_err(|e| {
            RouteSpecError::new(
                &name,
                format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
            )
        })?;
        RouteSpec::parse(&name, &text)
    }

    /// As [`RouteSpec::load`], from text; `name` names it in errors.
    pub fn parse(name: &str, text: &str) -> Result<RouteSpec, RouteSpecError> {
        let err = |what: String| RouteSpecError::new(name, what);
        if let Some(at) = text.find('\0') {
            return Err(err(format!("not a text file (NUL byte at {at})")));
        }
        let body = text.trim_start_matches('\u{feff}');
        let meaningful = || {
            body.lines()
                .enumerate()
                .map(|(i, l)| (i + 1, l.trim()))
                .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        };
        if meaningful().next().is_none() {
            return Err(err("empty: no route templates".into()));
        }
        let spec = if body.trim_start().starts_with('{') {
            let value: serde_json::Value =
                serde_json::from_str(body).map_err(|e| err(format!("bad JSON: {e}")))?;
            from_json(&value).map_err(err)?
        } else if meaningful().all(|(_, l)| l.starts_with('/')) {
            let mut templates = Vec::new();
            for (line, pattern) in meaningful() {
                check_template(pattern).map_err(|what| err(format!("line {line}: {what}")))?;
                templates.push(pattern.to_string());
            }
            RouteSpec {
                templates,
                prefixes: Vec::new(),
            }
        } else {
            let value: serde_norway::Value =
                serde_norway::from_str(body).map_err(|e| err(format!("bad YAML: {e}")))?;
            from_yaml(&value).map_err(err)?
        };
        if spec.templates.len() > MAX_TEMPLATES {
            return Err(err(format!(
                "{} templates, more than the {MAX_TEMPLATES} accepted",
                spec.templates.len()
            )));
        }
        Ok(spec)
    }

    /// Number of templates.
    pub fn len(&self) -> usize {
        self.templates.len()
    }

    /// No templates (never the case for a spec that loaded).
    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }

    /// The templates, as the file writes them.
    pub fn templates(&self) -> impl Iterator<Item = &str> {
        self.templates.iter().map(String::as_str)
    }
}

fn from_json(doc: &serde_json::Value) -> Result<RouteSpec, String> {
    let paths = doc
        .get("paths")
        .and_then(|p| p.as_object())
        .ok_or_else(no_paths)?;
    let keys = paths.keys().map(String::as_str);
    let base = doc.get("basePath").and_then(|b| b.as_str());
    let servers = doc
        .get("servers")
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("url").and_then(|u| u.as_str()));
    build(keys, base, servers)
}

fn from_yaml(doc: &serde_norway::Value) -> Result<RouteSpec, String> {
    if !doc.is_mapping() {
        return Err(
            "not an OpenAPI or Swagger document, nor a list of paths starting with '/'".into(),
        );
    }
    let paths = doc
        .get("paths")
        .and_then(|p| p.as_mapping())
        .ok_or_else(no_paths)?;
    let mut keys = Vec::new();
    for key in paths.keys() {
        keys.push(
            key.as_str()
                .ok_or_else(|| format!("a key of \"paths\" is not a string: {key:?}"))?,
        );
    }
    let base = doc.get("basePath").and_then(|b| b.as_str());
    let servers = doc
        .get("servers")
        .and_then(|s| s.as_sequence())
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("url").and_then(|u| u.as_str()));
    build(keys.into_iter(), base, servers)
}

fn no_paths() -> String {
    "no \"paths\" object (expected an OpenAPI 3 or Swagger 2 document)".into()
}

fn build<'a>(
    keys: impl Iterator<Item = &'a str>,
    base: Option<&'a str>,
    servers: impl Iterator<Item = &'a str>,
) -> Result<RouteSpec, String> {
    let mut templates = Vec::new();
    for key in keys {
        check_template(key)?;
        templates.push(key.to_string());
    }
    if templates.is_empty() {
        return Err("\"paths\" is empty: no route templates".into());
    }
    let mut prefixes = Vec::new();
    for prefix in base.into_iter().chain(servers.filter_map(server_path)) {
        let prefix = prefix.trim_end_matches('/');
        if prefix.starts_with('/')
            && check_template(prefix).is_ok()
            && !prefixes.iter().any(|p| p == prefix)
        {
            prefixes.push(prefix.to_string());
        }
    }
    Ok(RouteSpec {
        templates,
        prefixes,
    })
}

/// The path of a server URL: `https://api.example.com/v2` → `/v2`; `/v2` as is.
fn server_path(url: &str) -> Option<&str> {
    if url.starts_with('/') {
        return Some(url);
    }
    let rest = &url[url.find("://")? + 3..];
    rest.find('/').map(|i| &rest[i..])
}

/// A template starts with `/` and its braces pair up within segments: `{name}` with a
/// non-empty name, never nested.
pub(crate) fn check_template(template: &str) -> Result<(), String> {
    if !template.starts_with('/') {
        return Err(format!(
            "path '{}' does not start with '/'",
            one_line(template)
        ));
    }
    for segment in template.split('/') {
        let mut open = None;
        for (i, c) in segment.char_indices() {
            match (c, open) {
                ('{', None) => open = Some(i),
                ('}', Some(at)) if i > at + 1 => open = None,
                ('}', Some(_)) => {
                    return Err(format!("path '{}' has an empty '{{}}'", one_line(template)));
                }
                ('{', Some(_)) | ('}', None) => {
                    return Err(format!(
                        "path '{}' has unbalanced braces",
                        one_line(template)
                    ));
                }
                _ => {}
            }
        }
        if open.is_some() {
            return Err(format!(
                "path '{}' has unbalanced braces",
                one_line(template)
            ));
        }
    }
    Ok(())
}
