//! A named `log_format` read from an nginx configuration file, so `--nginx-conf FILE
//! --log-format nginx:NAME` reads exactly what the server was told to write. Only the given
//! file is read (`include` is not followed); nginx's built-in `combined` needs no file.

use std::path::Path;

/// A `log_format` directive: its strings joined, and whether it has `escape=json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedFormat {
    pub format: String,
    pub escape_json: bool,
}

/// The config's tokens: words and quoted strings (unquoted), with `;`, `{`, `}` on their own
/// and comments dropped.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
            }
            ';' | '{' | '}' => out.push(c.to_string()),
            '\'' | '"' => {
                let mut s = String::new();
                while let Some(n) = chars.next() {
                    match n {
                        '\\' => {
                            if let Some(e) = chars.next() {
                                // nginx keeps the backslash except before the quote itself.
                                if e != c {
                                    s.push('\\');
                                }
                                s.push(e);
                            }
                        }
                        q if q == c => break,
                        _ => s.push(n),
                    }
                }
                out.push(s);
            }
            w if w.is_whitespace() => {}
            _ => {
                let mut s = c.to_string();
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || ";{}".contains(n) {
                        break;
                    }
                    s.push(n);
                    chars.next();
                }
                out.push(s);
            }
        }
    }
    out
}

/// The `log_format NAME …;` in `text`.
pub fn find(text: &str, name: &str) -> Option<NamedFormat> {
    let t = tokens(text);
    let mut i = 0;
    while i < t.len() {
        if t.get(i).map(String::as_str) == Some("log_format")
            && t.get(i + 1).map(String::as_str) == Some(name)
        {
            let mut escape_json = false;
            let mut format = String::new();
            for tok in t.iter().skip(i + 2) {
                match tok.as_str() {
                    ";" => break,
                    "escape=json" => escape_json = true,
                    "escape=default" | "escape=none" => {}
                    s => format.push_str(s),
                }
            }
            return Some(NamedFormat {
                format,
                escape_json,
            });
        }
        i += 1;
    }
    None
}

/// [`find`] in the file at `path`, with errors a user can act on.
pub fn read(path: &Path, name: &str) -> Result<NamedFormat, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read nginx config '{}': {e}", path.display()))?;
    find(&text, name).ok_or_else(|| {
        format!(
            "no 'log_format {name}' in '{}' (include files are not read; give the string with --log-format nginx:'…')",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_formats_with_concatenated_strings_and_escape() {
        let conf = r#"
            http {
                # log_format timed 'not this';
                log_format timed '$remote_addr - $remote_user [$time_local] '
                                 '"$request" $status $body_bytes_sent $request_time';
                log_format j escape=json '{"t":"$time_iso8601",'
                    '"r":"$request","s":$status}';
                access_log /var/log/nginx/a.log timed;
            }"#;
        let f = find(conf, "timed").unwrap();
        assert!(!f.escape_json);
        assert_eq!(
            f.format,
            r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent $request_time"#
        );
        let j = find(conf, "j").unwrap();
        assert!(j.escape_json);
        assert_eq!(
            j.format,
            r#"{"t":"$time_iso8601","r":"$request","s":$status}"#
        );
        assert_eq!(find(conf, "nope"), None);
    }
}
