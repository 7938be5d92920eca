//! `--routes FILE` and `--max-routes`: how request paths are grouped into routes. The file is
//! read and checked while the run starts (before privileges are dropped), so a bad one is a
//! one-line error naming it, and each statistics engine builds its route map from what was
//! read.

use std::path::PathBuf;
use std::sync::Arc;

use crate::routes::{RouteSpec, Routes};

/// What was typed about routes.
#[derive(Debug, Clone, clap::Args)]
pub struct RouteArgs {
    /// Map request paths to route templates from FILE (an OpenAPI 3 or Swagger 2 document,
    /// or a list of patterns such as /users/{id}/repos, one per line) instead of inferring
    /// them alone; paths no pattern matches are inferred. Routes are shown beside sections
    /// (the dashboard's 'r' key, the summary, --json "routes", /metrics' route label).
    #[arg(long = "routes", value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Distinct routes tracked; more are counted as '(other)'.
    #[arg(long, value_name = "N", default_value = "10000")]
    pub max_routes: usize,
}

/// A routes file, read and checked.
#[derive(Debug, Clone)]
pub struct RoutesInput {
    name: String,
    text: Arc<str>,
    patterns: usize,
}

impl RouteArgs {
    /// Reads and checks `--routes FILE`; the error is one line naming the file.
    pub fn to_input(&self) -> Result<Option<RoutesInput>, String> {
        if self.max_routes == 0 {
            return Err("--max-routes must be at least 1".to_owned());
        }
        let Some(path) = &self.file else {
            return Ok(None);
        };
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read routes from '{name}': {e}"))?;
        let spec = RouteSpec::parse(&name, &text).map_err(|e| e.to_string())?;
        Ok(Some(RoutesInput {
            patterns: spec.len(),
            name,
            text: text.into(),
        }))
    }
}

impl RoutesInput {
    /// The file as named on the command line.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Patterns (or API paths) the file holds.
    pub fn patterns(&self) -> usize {
        self.patterns
    }

    /// A fresh route map from the file.
    pub fn routes(&self) -> Routes {
        // Checked when it was read: parsing the same text again gives the same spec.
        match RouteSpec::parse(&self.name, &self.text) {
            Ok(spec) => Routes::with_spec(spec),
            Err(_) => Routes::inferred(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_bad_file_is_one_line_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("routes.txt");
        std::fs::write(&bad, "/users/{id}\nnot a pattern\n").unwrap();
        for (file, max) in [(dir.path().join("none.txt"), 10), (bad.clone(), 10)] {
            let a = RouteArgs {
                file: Some(file.clone()),
                max_routes: max,
            };
            let e = a.to_input().err().unwrap_or_default();
            assert!(e.contains(&file.display().to_string()), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
        let zero = RouteArgs {
            file: None,
            max_routes: 0,
        };
        assert!(zero.to_input().is_err());
        std::fs::write(&bad, "/users/{name}\n").unwrap();
        let ok = RouteArgs {
            file: Some(bad),
            max_routes: 5,
        };
        let input = ok.to_input().ok().flatten();
        assert_eq!(input.as_ref().map(RoutesInput::patterns), Some(1));
        let mut routes = input.map_or_else(Routes::inferred, |i| i.routes());
        assert_eq!(routes.route("/users/octocat"), "/users/{name}");
    }
}
