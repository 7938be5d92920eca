//! How well routes are inferred: a generator of requests over the templates of real API
//! descriptions, and a scorer. Used by the accuracy tests and by
//! `examples/route_accuracy.rs` (feature `route-eval`); not part of the program.
//!
//! The generator draws an API uniformly, a template of it with Zipf popularity (s = 1, in a
//! seeded random order), and fills each parameter with a value of the kind its name suggests:
//! numbers, hashes, UUID-free ids as the API issues them (Stripe `cus_…`, Twilio `AC…`),
//! and word-like values (logins, repository, branch, namespace, container and object names,
//! label names), themselves drawn with Zipf popularity from pools of realistic sizes. A few
//! requests get a trailing slash, a query string, a percent-encoded character or the
//! absolute form. Swagger's `basePath` is part of the path sent (`/v1.56/containers/json`).
//!
//! The scorer counts a request as on its template when the route (as `current` maps it at
//! the end) equals the template with every placeholder written `{id}` and no trailing slash;
//! and as keeping an identifier when a position that is a parameter in the template is a
//! literal in the route.

use std::collections::HashMap;

use super::{RouteSpec, RouteSpecError, Routes};

/// A small seeded generator (SplitMix64): the mix is the same on every run.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True with probability `percent` / 100.
    pub fn percent(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Zipf (s = 1) over `0..n`: index `i` has weight `1 / (i + 1)`.
#[derive(Clone, Debug)]
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize) -> Zipf {
        let mut total = 0.0;
        let cumulative = (0..n.max(1))
            .map(|i| {
                total += 1.0 / (i as f64 + 1.0);
                total
            })
            .collect();
        Zipf { cumulative }
    }

    fn sample(&self, rng: &mut Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
        self.cumulative
            .partition_point(|&c| c < x)
            .min(self.cumulative.len() - 1)
    }
}

/// One API description's templates.
#[derive(Clone, Debug)]
pub struct Api {
    /// `github`, `k8s`, …: picks value kinds for some parameter names.
    pub name: String,
    /// The prefix requests carry (Swagger's `basePath`), or `""`.
    pub prefix: String,
    /// The templates, in popularity order (a seeded shuffle of the document's order).
    pub templates: Vec<String>,
    /// The document read as a spec.
    pub spec: RouteSpec,
    zipf: Zipf,
}

impl Api {
    /// The API of a document; `name` also names it in errors.
    pub fn from_document(name: &str, text: &str, seed: u64) -> Result<Api, RouteSpecError> {
        let spec = RouteSpec::parse(name, text)?;
        let mut templates = spec.templates.clone();
        let mut rng = Rng::new(seed);
        for i in (1..templates.len()).rev() {
            templates.swap(i, rng.below(i + 1));
        }
        let zipf = Zipf::new(templates.len());
        let prefix = spec.prefixes.first().cloned().unwrap_or_default();
        Ok(Api {
            name: name.to_string(),
            prefix,
            templates,
            spec,
            zipf,
        })
    }
}

/// One generated request.
#[derive(Clone, Debug)]
pub struct Request {
    /// Index of the API drawn.
    pub api: usize,
    /// The request target sent.
    pub target: String,
    /// The template as the document writes it.
    pub template: String,
    /// The template as inference should find it: prefix added, placeholders `{id}`.
    pub truth: String,
}

/// Pools of word-like values, Zipf-popular.
#[derive(Debug)]
struct Pool {
    values: Vec<String>,
    zipf: Zipf,
}

impl Pool {
    fn new(values: Vec<String>) -> Pool {
        let zipf = Zipf::new(values.len());
        Pool { values, zipf }
    }

    fn draw(&self, rng: &mut Rng) -> String {
        self.values[self.zipf.sample(rng)].clone()
    }
}

fn word(rng: &mut Rng) -> String {
    const ONSETS: [&str; 20] = [
        "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z",
        "st", "tr",
    ];
    const VOWELS: [&str; 6] = ["a", "e", "i", "o", "u", "ay"];
    let mut w = String::new();
    for _ in 0..2 + rng.below(2) {
        w.push_str(ONSETS[rng.below(ONSETS.len())]);
        w.push_str(VOWELS[rng.below(VOWELS.len())]);
    }
    if rng.percent(40) {
        w.push_str(["n", "r", "s", "x", "l"][rng.below(5)]);
    }
    w
}

fn hex(rng: &mut Rng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(b"0123456789abcdef"[rng.below(16)]))
        .collect()
}

fn base62(rng: &mut Rng, len: usize) -> String {
    const CHARS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    (0..len)
        .map(|_| char::from(CHARS[rng.below(CHARS.len())]))
        .collect()
}

/// The request generator over several APIs.
#[derive(Debug)]
pub struct Mix {
    apis: Vec<Api>,
    rng: Rng,
    logins: Pool,
    repos: Pool,
    branches: Pool,
    namespaces: Pool,
    objects: Pool,
    containers: Pool,
    images: Pool,
    labels: Pool,
    files: Pool,
    countries: Pool,
    words: Pool,
}

impl Mix {
    /// A generator over `apis`, seeded.
    pub fn new(apis: Vec<Api>, seed: u64) -> Mix {
        let mut rng = Rng::new(seed);
        let mut pool = |n: usize, f: &mut dyn FnMut(&mut Rng) -> String| {
            let mut seen = std::collections::HashSet::new();
            let mut values = Vec::new();
            while values.len() < n {
                let v = f(&mut rng);
                if seen.insert(v.clone()) {
                    values.push(v);
                }
            }
            Pool::new(values)
        };
        let logins = pool(20_000, &mut |r| {
            let w = word(r);
            if r.percent(30) {
                format!("{w}{}", r.below(100))
            } else {
                w
            }
        });
        let repos = pool(5_000, &mut |r| match r.below(4) {
            0 => word(r),
            1 => format!("{}-{}", word(r), word(r)),
            2 => format!("{}.js", word(r)),
            _ => format!("{}_{}", word(r), word(r)),
        });
        let branches = pool(800, &mut |r| match r.below(3) {
            0 => format!("feature-{}", word(r)),
            1 => format!("fix-{}-{}", word(r), word(r)),
            _ => format!("{}-{}", word(r), word(r)),
        });
        let mut branch_values = vec!["main".to_string(), "master".into(), "develop".into()];
        branch_values.extend(branches.values);
        let branches = Pool::new(branch_values);
        let mut ns = vec![
            "default",
            "kube-system",
            "kube-public",
            "kube-node-lease",
            "monitoring",
            "ingress-nginx",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        let more = pool(34, &mut |r| {
            format!(
                "{}-{}",
                word(r),
                ["prod", "staging", "dev", "team"][r.below(4)]
            )
        });
        ns.extend(more.values);
        let namespaces = Pool::new(ns);
        let objects = pool(3_000, &mut |r| match r.below(2) {
            0 => format!("{}-{}", word(r), word(r)),
            _ => word(r),
        });
        let containers = pool(2_000, &mut |r| format!("{}_{}", word(r), word(r)));
        let images = pool(300, &mut |r| match r.below(3) {
            0 => word(r),
            _ => format!("{}-{}", word(r), word(r)),
        });
        let labels = pool(60, &mut |r| match r.below(3) {
            0 => word(r),
            1 => format!("{}%20{}", word(r), word(r)),
            _ => format!("{}-{}", word(r), word(r)),
        });
        let files = pool(3_000, &mut |r| match r.below(4) {
            0 => format!("{}.md", word(r)),
            1 => format!("src%2F{}.rs", word(r)),
            2 => format!("{}.json", word(r)),
            _ => word(r),
        });
        let countries = Pool::new(
            [
                "US", "GB", "CA", "DE", "FR", "AU", "JP", "BR", "IN", "ES", "IT", "NL", "SE", "MX",
            ]
            .map(String::from)
            .to_vec(),
        );
        let words = pool(5_000, &mut |r| format!("{}-{}", word(r), word(r)));
        Mix {
            apis,
            rng,
            logins,
            repos,
            branches,
            namespaces,
            objects,
            containers,
            images,
            labels,
            files,
            countries,
            words,
        }
    }

    /// The next request.
    pub fn next_request(&mut self) -> Request {
        let api_index = self.rng.below(self.apis.len());
        let api = &self.apis[api_index];
        let template = api.templates[api.zipf.sample(&mut self.rng)].clone();
        let api_name = api.name.clone();
        let prefix = api.prefix.clone();
        let mut target = prefix.clone();
        for segment in template.split('/').skip(1) {
            target.push('/');
            let mut rest = segment;
            while let Some(open) = rest.find('{') {
                target.push_str(&rest[..open]);
                let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
                let name = rest.get(open + 1..close).unwrap_or("");
                let value = self.value(&api_name, name);
                target.push_str(&value);
                rest = rest.get(close + 1..).unwrap_or("");
            }
            target.push_str(rest);
        }
        if target.is_empty() {
            target.push('/');
        }
        if self.rng.percent(2) && !target.ends_with('/') {
            target.push('/');
        }
        if self.rng.percent(10) {
            target.push_str(&format!("?page={}", self.rng.below(50)));
        }
        if self.rng.percent(1) {
            target = format!("http://api.example.com{target}");
        }
        let truth = normalize(&format!("{prefix}{template}"));
        Request {
            api: api_index,
            target,
            template,
            truth,
        }
    }

    fn value(&mut self, api: &str, name: &str) -> String {
        let n = name.to_ascii_lowercase();
        let rng = &mut self.rng;
        let v = if api.contains("twilio") && n.ends_with("sid") {
            let tag: String = name
                .chars()
                .filter(char::is_ascii_uppercase)
                .take(2)
                .collect();
            format!(
                "{}{}",
                if tag.len() == 2 { tag } else { "SI".into() },
                hex(rng, 32)
            )
        } else if n == "countrycode" {
            self.countries.draw(rng)
        } else if api.contains("stripe") {
            let tag: String = n
                .chars()
                .filter(char::is_ascii_alphabetic)
                .take(3)
                .collect();
            let len = 14 + rng.below(10);
            format!("{tag}_{}", base62(rng, len))
        } else if n.contains("owner")
            || n.contains("user")
            || n == "org"
            || n == "assignee"
            || n == "enterprise"
        {
            self.logins.draw(rng)
        } else if n.contains("repo") {
            self.repos.draw(rng)
        } else if n == "namespace" {
            self.namespaces.draw(rng)
        } else if n == "ref" || n == "branch" || n == "base" || n == "head" {
            self.branches.draw(rng)
        } else if n.contains("sha") || n.contains("commit") {
            hex(rng, 40)
        } else if n == "gist_id" {
            hex(rng, 32)
        } else if n == "tag" {
            format!("v{}.{}.{}", rng.below(5), rng.below(20), rng.below(10))
        } else if n.contains("email") {
            format!("{}@example.com", self.logins.draw(rng))
        } else if n == "path" {
            self.files.draw(rng)
        } else if api.contains("docker") && (n == "id" || n == "name") {
            match rng.below(3) {
                0 => hex(rng, 64),
                1 => self.containers.draw(rng),
                _ => self.images.draw(rng),
            }
        } else if api.contains("k8s") && n == "name" {
            if rng.percent(50) {
                format!(
                    "{}-{}-{}",
                    self.objects.draw(rng),
                    hex(rng, 10),
                    base62(rng, 5).to_ascii_lowercase()
                )
            } else {
                self.objects.draw(rng)
            }
        } else if n == "name" && api.contains("github") {
            self.labels.draw(rng)
        } else if n.contains("slug") || n.contains("name") {
            self.words.draw(rng)
        } else if n.contains("id") || n.contains("number") || n.contains("key") || rng.percent(50) {
            (1 + rng.below(9_999_999)).to_string()
        } else {
            self.words.draw(rng)
        };
        if rng.percent(2) {
            // Clients escape more than they must now and then.
            if let Some(dash) = v.find('-') {
                return format!("{}%2D{}", &v[..dash], &v[dash + 1..]);
            }
        }
        v
    }
}

/// A template as inference writes routes: placeholders `{id}` (keeping what surrounds them
/// in the segment), no trailing slash.
pub fn normalize(template: &str) -> String {
    let mut out = String::new();
    for segment in template.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        let mut rest = segment;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            out.push_str("{id}");
            rest = rest[open..].find('}').map_or("", |c| &rest[open + c + 1..]);
        }
        out.push_str(rest);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Whether `route` keeps a concrete value where `truth` (normalized) has a parameter.
pub fn keeps_identifier(route: &str, truth: &str) -> bool {
    let route: Vec<&str> = route.split('/').filter(|s| !s.is_empty()).collect();
    truth
        .split('/')
        .filter(|s| !s.is_empty())
        .zip(route.iter().chain(std::iter::repeat(&"")))
        .any(|(t, r)| t.contains('{') && !r.is_empty() && !r.contains('{'))
}

/// The score of one way of routing on a mix.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Score {
    /// Requests scored.
    pub requests: u64,
    /// Requests whose route is their template.
    pub on_template: u64,
    /// Requests whose route keeps a concrete identifier.
    pub keeps_identifier: u64,
}

impl Score {
    fn add(&mut self, route: &str, truth: &str) {
        self.requests += 1;
        self.on_template += u64::from(route == truth);
        self.keeps_identifier += u64::from(keeps_identifier(route, truth));
    }

    /// Percent of requests on their template.
    pub fn on_template_percent(&self) -> f64 {
        100.0 * self.on_template as f64 / self.requests.max(1) as f64
    }

    /// Percent of requests on routes keeping an identifier.
    pub fn keeps_identifier_percent(&self) -> f64 {
        100.0 * self.keeps_identifier as f64 / self.requests.max(1) as f64
    }
}

/// The route of a target's path under the baselines: the path without query, no empty segments.
fn plain_segments(target: &str) -> Vec<&str> {
    let path = super::path_of(target).unwrap_or("/");
    path.split('/').filter(|s| !s.is_empty()).collect()
}

fn join(segments: &[String]) -> String {
    if segments.is_empty() {
        "/".into()
    } else {
        segments.iter().map(|s| format!("/{s}")).collect()
    }
}

/// Baseline: every segment containing a digit is a placeholder.
pub fn digits_baseline(target: &str) -> String {
    let segs: Vec<String> = plain_segments(target)
        .iter()
        .map(|s| {
            if s.bytes().any(|b| b.is_ascii_digit()) {
                "{id}".into()
            } else {
                s.to_string()
            }
        })
        .collect();
    join(&segs)
}

/// Baseline: as [`digits_baseline`], but versions (`v1`, `v1.56`, `v1beta1`) and dates
/// (`2010-04-01`) stay literal.
pub fn digits_versions_baseline(target: &str) -> String {
    let segs: Vec<String> = plain_segments(target)
        .iter()
        .map(|s| {
            let weak = matches!(
                super::shape::classify(s).0,
                super::shape::Shape::Version | super::shape::Shape::Date
            );
            if s.bytes().any(|b| b.is_ascii_digit()) && !weak {
                "{id}".into()
            } else {
                s.to_string()
            }
        })
        .collect();
    join(&segs)
}

/// Baseline: the first 10 distinct values seen at each position (segment index) are kept,
/// later ones are a placeholder.
#[derive(Debug, Default)]
pub struct CapBaseline {
    positions: Vec<Vec<String>>,
}

impl CapBaseline {
    /// The route of `target`, learning from it.
    pub fn route(&mut self, target: &str) -> String {
        let mut out = Vec::new();
        for (i, s) in plain_segments(target).into_iter().enumerate() {
            if self.positions.len() <= i {
                self.positions.push(Vec::new());
            }
            let seen = &mut self.positions[i];
            let label = if seen.iter().any(|v| v == s) {
                s.to_string()
            } else if seen.len() < 10 {
                seen.push(s.to_string());
                s.to_string()
            } else {
                "{id}".to_string()
            };
            out.push(label);
        }
        join(&out)
    }
}

/// Scores of inference and the baselines on `requests` requests of a mix of `apis`.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Inference, each request scored on the route `current` gives for it at the end.
    pub inferred: Score,
    /// Inference, each request scored on the route it was handed out.
    pub inferred_at_the_time: Score,
    /// Segments with digits become placeholders.
    pub digits: Score,
    /// The same, versions and dates kept literal.
    pub digits_versions: Score,
    /// A per-position cap of 10 values.
    pub cap10: Score,
    /// Requests on their spec template with the documents given as specs, one `Routes` per API.
    pub with_spec: Score,
    /// Folds, nodes and caps of the inference tree at the end.
    pub counters: super::RouteCounters,
    /// Bytes held by the inference tree at the end.
    pub footprint: usize,
    /// The most frequent misses of inference: (template, route at the end, requests).
    pub misses: Vec<(String, String, u64)>,
}

/// Runs the mix of `apis` for `requests` requests through inference and the baselines, all
/// APIs into one route engine (as if one port served them all).
pub fn evaluate(apis: Vec<Api>, requests: usize, seed: u64) -> Report {
    let mut specs: Vec<Routes> = apis
        .iter()
        .map(|a| Routes::with_spec(a.spec.clone()))
        .collect();
    let mut mix = Mix::new(apis, seed);
    let mut routes = Routes::inferred();
    let mut cap = CapBaseline::default();
    let mut report = Report::default();
    let mut handed: Vec<(String, String)> = Vec::with_capacity(requests);
    for _ in 0..requests {
        let r = mix.next_request();
        let route = routes.route(&r.target).to_string();
        report.inferred_at_the_time.add(&route, &r.truth);
        report.digits.add(&digits_baseline(&r.target), &r.truth);
        report
            .digits_versions
            .add(&digits_versions_baseline(&r.target), &r.truth);
        report.cap10.add(&cap.route(&r.target), &r.truth);
        report
            .with_spec
            .add(specs[r.api].route(&r.target), &r.template);
        handed.push((route, r.truth));
    }
    let mut current: HashMap<String, String> = HashMap::new();
    let mut misses: HashMap<(String, String), u64> = HashMap::new();
    for (route, truth) in &handed {
        let now = current
            .entry(route.clone())
            .or_insert_with(|| routes.current(route).into_owned());
        report.inferred.add(now, truth);
        if now != truth {
            *misses.entry((truth.clone(), now.clone())).or_default() += 1;
        }
    }
    let mut misses: Vec<(String, String, u64)> =
        misses.into_iter().map(|((t, r), n)| (t, r, n)).collect();
    misses.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    misses.truncate(40);
    report.misses = misses;
    report.counters = routes.counters();
    report.footprint = routes.footprint();
    report
}
