//! Route lookup cost: nanoseconds per request target on a mixed set (numeric ids, hashes,
//! word-like logins, stable literals, queries), once the tree has settled: the steady state of
//! a replay, where every route is already known.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use traffic_watch::routes::{RouteSpec, Routes};

const N: usize = 10_000;

fn login(i: usize) -> String {
    const SYLLABLES: [&str; 12] = [
        "ka", "be", "di", "fo", "gu", "ha", "je", "ki", "lo", "mu", "na", "pe",
    ];
    format!(
        "{}{}{}",
        SYLLABLES[i % 12],
        SYLLABLES[(i / 12) % 12],
        SYLLABLES[(i / 144) % 12]
    )
}

fn targets() -> Vec<String> {
    (0..N)
        .map(|i| match i % 8 {
            0 => format!("/repos/{}/{}/pulls/{}", login(i * 7), login(i * 13 + 1), i),
            1 => format!("/users/{}/repos?page={}", login(i), i % 5),
            2 => format!(
                "/api/v1/namespaces/ns-{}/pods/web-{:09x}-x2k4p",
                i % 40,
                i * 104_729
            ),
            3 => format!("/v1/customers/cus_{:014x}", i * 7919),
            4 => "/api/health".to_string(),
            5 => format!("/commits/{:040x}", i * 2_654_435_761),
            6 => format!("/2010-04-01/Accounts/AC{:032x}/Calls.json", i),
            _ => format!("/search/code?q={i}"),
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let targets = targets();
    let mut group = c.benchmark_group("routes");
    group.throughput(Throughput::Elements(N as u64));

    let mut inferred = Routes::inferred();
    for _ in 0..3 {
        for t in &targets {
            inferred.route(t);
        }
    }
    group.bench_function("inferred", |b| {
        b.iter(|| {
            for t in &targets {
                black_box(inferred.route(black_box(t)));
            }
        })
    });

    let spec = RouteSpec::parse(
        "bench",
        "/repos/{owner}/{repo}/pulls/{number}\n/users/{username}/repos\n/api/health\n\
         /api/v1/namespaces/{namespace}/pods/{name}\n/v1/customers/{customer}\n/commits/{sha}\n\
         /2010-04-01/Accounts/{AccountSid}/Calls.json\n/search/code\n",
    )
    .unwrap();
    let mut with_spec = Routes::with_spec(spec);
    group.bench_function("with_spec", |b| {
        b.iter(|| {
            for t in &targets {
                black_box(with_spec.route(black_box(t)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
