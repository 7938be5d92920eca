//! Routes in the plain and NDJSON renderings, beside sections: the top routes of the 10 s and
//! 10 min windows (shaped as the section rows), and routes over the whole run with their
//! status classes and latency (`"routes"`: the top ones in reports, every tracked one in the
//! summary). Routes are built from paths off the network: escaped like sections.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use super::escape;
use super::plain::fmt_latency;
use crate::stats::{Percentiles, RouteTotal, Snapshot};

/// Routes listed by a plain summary before `… N more (see --json)`, as for sections.
const PLAIN_SUMMARY_ROUTES: usize = 20;

fn ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn percentiles(p: Option<Percentiles>) -> Value {
    match p {
        Some(p) => json!({"p50": ms(p.p50), "p90": ms(p.p90), "p99": ms(p.p99)}),
        None => Value::Null,
    }
}

fn status(c: [u64; 6]) -> Value {
    json!({"1xx": c[1], "2xx": c[2], "3xx": c[3], "4xx": c[4], "5xx": c[5], "other": c[0]})
}

/// `{"route", "hits", "status", "latency_ms"}` for each route.
pub fn route_objects<'a>(routes: impl Iterator<Item = &'a RouteTotal>) -> Value {
    routes
        .map(|r| {
            json!({
                "route": escape(&r.route),
                "hits": r.hits,
                "status": status(r.status_classes),
                "latency_ms": percentiles(r.latency),
            })
        })
        .collect()
}

fn insert(v: &mut Value, fields: impl IntoIterator<Item = (&'static str, Value)>) {
    if let Value::Object(m) = v {
        for (k, x) in fields {
            m.insert(k.to_owned(), x);
        }
    }
}

/// Adds the routes to a JSON report: the windows' top routes, and the run's top routes.
pub fn add_to_report(v: &mut Value, s: &Snapshot) {
    insert(
        v,
        [
            (
                "top_routes_10s",
                super::json::rows(&s.top_routes_10s, "route"),
            ),
            (
                "top_routes_10m",
                super::json::rows(&s.top_routes_10m, "route"),
            ),
            ("routes", route_objects(s.routes.iter().take(s.top_n))),
        ],
    );
}

/// The JSON summary `v` with every tracked route (and `(other)`) added. The routes are written
/// one object at a time rather than as one value tree: with thousands of routes that tree
/// would be the largest thing the program ever holds.
pub fn summary_with_routes(mut v: Value, s: &Snapshot) -> String {
    let counts: Map<String, Value> = [
        ("tracked", s.routes_tracked as u64),
        ("folded_requests", s.routes_folded),
        ("merged", s.routes_merged),
        ("paths_cut", s.health.flow.paths_cut),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_owned(), Value::from(n)))
    .collect();
    insert(&mut v, [("route_counts", Value::Object(counts))]);
    let mut out = v.to_string();
    if !out.ends_with('}') {
        return out;
    }
    out.pop();
    if out.len() > 1 {
        out.push(',');
    }
    out.push_str("\"routes\":[");
    for (i, r) in s.routes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&route_objects(std::iter::once(r))[0].to_string());
    }
    out.push_str("]}");
    out
}

/// The plain report's route tables.
pub fn report_lines(out: &mut String, s: &Snapshot) {
    super::plain::section_table(out, "top routes, last 10 s:", &s.top_routes_10s);
    super::plain::section_table(out, "top routes, last 10 min:", &s.top_routes_10m);
}

/// The plain summary's routes: the first ones with their 5xx and latency, then how many more.
pub fn summary_lines(out: &mut String, s: &Snapshot) {
    let _ = writeln!(
        out,
        "  routes      {} tracked{}",
        s.routes_tracked,
        if s.routes_folded > 0 {
            format!(", {} requests folded into (other)", s.routes_folded)
        } else {
            String::new()
        }
    );
    for r in s.routes.iter().take(PLAIN_SUMMARY_ROUTES) {
        let _ = writeln!(
            out,
            "    {:>10}  {:<32}  5xx {:<5} {}",
            r.hits,
            escape(&r.route),
            r.status_classes[5],
            fmt_latency(r.latency)
        );
    }
    if s.routes.len() > PLAIN_SUMMARY_ROUTES {
        let _ = writeln!(
            out,
            "    … {} more (see --json)",
            s.routes.len() - PLAIN_SUMMARY_ROUTES
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::SectionRow;
    use std::time::Duration;

    fn snap() -> Snapshot {
        let p = Percentiles {
            p50: Duration::from_millis(2),
            p90: Duration::from_millis(3),
            p99: Duration::from_millis(4),
        };
        Snapshot {
            top_n: 1,
            routes: vec![
                RouteTotal {
                    route: "/users/{id}".into(),
                    hits: 7,
                    status_classes: [0, 0, 5, 0, 1, 1],
                    latency: Some(p),
                    latency_buckets: Vec::new(),
                    latency_count: 7,
                    latency_sum_seconds: 0.02,
                },
                RouteTotal {
                    route: "/x\u{1b}[2J".into(),
                    hits: 1,
                    status_classes: [0; 6],
                    latency: None,
                    latency_buckets: Vec::new(),
                    latency_count: 0,
                    latency_sum_seconds: 0.0,
                },
            ],
            routes_tracked: 2,
            top_routes_10s: vec![SectionRow {
                section: "/users/{id}".into(),
                hits: 3,
                share: 0.75,
                responses: 3,
                client_errors: 1,
                server_errors: 0,
                latency: None,
            }],
            ..Snapshot::default()
        }
    }

    #[test]
    fn json_route_objects_mirror_the_section_shape() {
        let s = snap();
        let text = summary_with_routes(json!({"type": "summary"}), &s);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["type"], "summary");
        let empty = summary_with_routes(json!({}), &Snapshot::default());
        assert_eq!(
            serde_json::from_str::<Value>(&empty).unwrap()["routes"],
            json!([])
        );
        assert_eq!(
            v["routes"][0],
            json!({
                "route": "/users/{id}",
                "hits": 7,
                "status": {"1xx": 0, "2xx": 5, "3xx": 0, "4xx": 1, "5xx": 1, "other": 0},
                "latency_ms": {"p50": 2.0, "p90": 3.0, "p99": 4.0},
            })
        );
        assert_eq!(v["routes"][1]["route"], "/x\\x1b[2J", "escaped");
        assert_eq!(v["routes"][1]["latency_ms"], Value::Null);
        assert_eq!(v["route_counts"]["tracked"], 2);
        let mut r = json!({"type": "report"});
        add_to_report(&mut r, &s);
        assert_eq!(
            r["routes"].as_array().map(Vec::len),
            Some(1),
            "the top N only"
        );
        assert_eq!(r["top_routes_10s"][0]["route"], "/users/{id}");
        assert_eq!(r["top_routes_10s"][0]["errors_4xx"], 1);
        assert_eq!(r["top_routes_10m"], json!([]));
    }

    #[test]
    fn plain_lists_routes_escaped() {
        let s = snap();
        let mut out = String::new();
        summary_lines(&mut out, &s);
        report_lines(&mut out, &s);
        assert!(out.contains("routes      2 tracked"), "{out}");
        assert!(out.contains("/users/{id}"), "{out}");
        assert!(
            out.contains("/x\\x1b[2J") && !out.contains('\u{1b}'),
            "{out}"
        );
        assert!(
            out.contains("top routes, last 10 min:\n    (no requests)"),
            "{out}"
        );
    }
}
