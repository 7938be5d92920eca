//! Access-log parsing throughput: lines per second for the layouts big sites log most,
//! Combined (the hand-written parser) and JSON lines (nginx `escape=json`, Caddy).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use traffic_watch::logs::json::JsonFields;
use traffic_watch::logs::{FormatSpec, Layout, LogFormat, parse_line};
use traffic_watch::time::Timestamp;

const N: usize = 10_000;

fn lines(make: impl Fn(usize) -> String) -> Vec<Vec<u8>> {
    (0..N).map(|i| make(i).into_bytes()).collect()
}

fn bench(c: &mut Criterion) {
    let combined = lines(|i| {
        format!(
            "203.0.113.{} - - [30/Nov/2026:10:{:02}:{:02} +0000] \"GET /api/v{}/items/{i}?page=2 HTTP/1.1\" 200 {} \"https://example.test/\" \"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\" 0.{:03}",
            i % 250,
            (i / 60) % 60,
            i % 60,
            i % 3,
            100 + i,
            i % 1000
        )
    });
    let nginx_json = lines(|i| {
        format!(
            "{{\"time\":\"2026-11-30T10:{:02}:{:02}+00:00\",\"remote_addr\":\"203.0.113.{}\",\"request\":\"GET /api/v{}/items/{i}?page=2 HTTP/1.1\",\"status\":200,\"body_bytes_sent\":{},\"request_time\":0.{:03},\"http_user_agent\":\"Mozilla/5.0 (X11; Linux x86_64; rv:128.0)\"}}",
            (i / 60) % 60,
            i % 60,
            i % 250,
            i % 3,
            100 + i,
            i % 1000
        )
    });
    let caddy = lines(|i| {
        format!(
            "{{\"level\":\"info\",\"ts\":1796032800.{i:04},\"logger\":\"http.log.access.log0\",\"msg\":\"handled request\",\"request\":{{\"remote_ip\":\"127.0.0.1\",\"remote_port\":\"41342\",\"client_ip\":\"127.0.0.1\",\"proto\":\"HTTP/1.1\",\"method\":\"GET\",\"host\":\"localhost\",\"uri\":\"/api/v{}/items/{i}\",\"headers\":{{\"User-Agent\":[\"curl/7.88.1\"],\"Accept\":[\"*/*\"]}}}},\"bytes_read\":0,\"user_id\":\"\",\"duration\":0.000929675,\"size\":{},\"status\":200,\"resp_headers\":{{\"Server\":[\"Caddy\"],\"Content-Type\":[\"text/plain; charset=utf-8\"]}}}}",
            i % 3,
            100 + i
        )
    });
    let mut g = c.benchmark_group("log_lines");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("combined", |b| {
        b.iter(|| {
            for l in &combined {
                black_box(parse_line(black_box(l), LogFormat::Combined).is_ok());
            }
        })
    });
    let timed = traffic_watch::logs::layout::detect(&FormatSpec::Auto, &combined[..16])
        .unwrap()
        .0;
    g.bench_function("combined_request_time_auto", |b| {
        b.iter(|| {
            for l in &combined {
                black_box(timed.parse(black_box(l), Timestamp::ZERO).is_ok());
            }
        })
    });
    let nj = Layout::Json(JsonFields::detect(&nginx_json[0], &[]).unwrap());
    g.bench_function("nginx_escape_json", |b| {
        b.iter(|| {
            for l in &nginx_json {
                black_box(nj.parse(black_box(l), Timestamp::ZERO).is_ok());
            }
        })
    });
    let cj = Layout::Json(JsonFields::detect(&caddy[0], &[]).unwrap());
    g.bench_function("caddy_json", |b| {
        b.iter(|| {
            for l in &caddy {
                black_box(cj.parse(black_box(l), Timestamp::ZERO).is_ok());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
