//! Access logs written by real servers on loopback (Debian's nginx, apache2, haproxy, caddy and gunicorn,
//! which `scripts/test.sh` installs in CI): requests sent with curl, then the finished log read
//! with `--log FILE --no-follow --json`. Counts, sections, statuses and latency percentiles must
//! equal what the log itself says, read here with a naive parser of our own. Each test is
//! `#[ignore = "needs …"]` the server it runs.

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use traffic_watch::stats::LatencyHistogram;

use crate::util::{
    KillOnDrop, Monitor, bin, eventually, free_port, is_root, poll, require_program, require_root,
    summary,
};

/// The paths requested: two sections with several hits, a query, a 404.
const PATHS: [&str; 8] = [
    "/a/1",
    "/a/2",
    "/a/3?x=1",
    "/b/1",
    "/b/2",
    "/c",
    "/a/4",
    "/missing/x",
];

/// A server process in a temporary directory, killed on drop.
struct Server {
    _child: KillOnDrop,
    dir: tempfile::TempDir,
    port: u16,
}

/// The server at `path`, and curl to send it requests.
fn require_programs(path: &str) {
    require_program(path);
    require_program("/usr/bin/curl");
}

/// Starts `cmd` and waits until `port` accepts connections.
fn start(mut cmd: Command, dir: tempfile::TempDir, port: u16, stdout: Option<PathBuf>) -> Server {
    let out = match stdout {
        Some(p) => Stdio::from(std::fs::File::create(p).unwrap()),
        None => Stdio::null(),
    };
    let err = std::fs::File::create(dir.path().join("stderr.txt")).unwrap();
    let child = KillOnDrop::spawn(cmd.stdout(out).stderr(err));
    let server = Server {
        _child: child,
        dir,
        port,
    };
    let listening = eventually(Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    if !listening {
        let why = std::fs::read_to_string(server.dir.path().join("stderr.txt")).unwrap_or_default();
        panic!("server did not listen on {port}: {why}");
    }
    server
}

/// One curl per path, each its own request.
fn send(port: u16) {
    for p in PATHS {
        let ok = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "--max-time", "5"])
            .arg(format!("http://127.0.0.1:{port}{p}"))
            .status()
            .unwrap();
        assert!(ok.success(), "curl {p}");
    }
}

/// Waits until `log` has `n` lines (servers write each as the request ends).
fn wait_lines(log: &Path, n: usize) -> String {
    poll(
        &format!("{} holding {n} lines", log.display()),
        Duration::from_secs(5),
        || {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            (text.lines().filter(|l| !l.trim().is_empty()).count() >= n).then_some(text)
        },
    )
}

/// `traffic-watch --log LOG --no-follow --json [--log-format F]`: the summary and stderr.
fn read_log(log: &Path, format: &[&str]) -> (Value, String) {
    let out = bin()
        .arg("--log")
        .arg(log)
        .args(["--no-follow", "--json"])
        .args(format)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    (summary(&out), err)
}

/// The section of each path as the packet path names it: up to the second `/`, no query.
fn expected_sections() -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for p in PATHS {
        let p = p.split('?').next().unwrap();
        let end = p[1..].find('/').map_or(p.len(), |i| i + 1);
        *m.entry(p[..end].to_owned()).or_default() += 1;
    }
    m
}

/// Checks the summary against the log: requests, sections, 404s and the latency percentiles
/// of `latencies` (as the log gave them) through the same histogram.
fn check(s: &Value, latencies: &[Duration]) {
    assert_eq!(s["requests"], PATHS.len() as u64, "{s}");
    let mut got = BTreeMap::new();
    for row in s["sections"].as_array().unwrap() {
        got.insert(
            row["section"].as_str().unwrap().to_owned(),
            row["hits"].as_u64().unwrap(),
        );
    }
    assert_eq!(got, expected_sections());
    assert_eq!(s["status"]["4xx"], 1, "{}", s["status"]);
    assert_eq!(latencies.len(), PATHS.len());
    let mut h = LatencyHistogram::default();
    for l in latencies {
        h.record(*l);
    }
    let p = h.percentiles().unwrap();
    for (name, want) in [("p50", p.p50), ("p90", p.p90), ("p99", p.p99)] {
        let got = s["latency_ms"][name].as_f64().unwrap();
        let want = want.as_secs_f64() * 1000.0;
        assert!((got - want).abs() < 1e-6, "{name}: {got} vs {want} ({s})");
    }
}

fn secs(t: &str) -> Duration {
    Duration::from_secs_f64(t.parse::<f64>().unwrap())
}

fn nginx(conf_http: &str, dir: tempfile::TempDir, port: u16) -> Server {
    let d = dir.path().display();
    let conf = format!(
        "worker_processes 1;\ndaemon off;\nuser root;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n\
           client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;\n\
           uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
           {conf_http}\n\
           server {{ listen 127.0.0.1:{port};\n\
             location /missing {{ return 404; }}\n\
             location / {{ return 200 \"ok\\n\"; }} }}\n\
         }}\n"
    );
    let path = dir.path().join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let mut cmd = Command::new("/usr/sbin/nginx");
    cmd.arg("-c").arg(&path).arg("-p").arg(dir.path());
    start(cmd, dir, port, None)
}

#[test]
#[ignore = "needs root, nginx and curl"]
fn nginx_log_format_with_request_time_and_escape_json() {
    require_root();
    require_programs("/usr/sbin/nginx");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let port = free_port();
    let http = format!(
        "log_format timed '$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" $request_time';\n\
         log_format first '$request_time $msec \"$request\" $status';\n\
         log_format j escape=json '{{\"time\":\"$time_iso8601\",\"remote_addr\":\"$remote_addr\",\"request\":\"$request\",\"status\":$status,\"body_bytes_sent\":$body_bytes_sent,\"request_time\":$request_time}}';\n\
         access_log {d}/timed.log timed;\naccess_log {d}/first.log first;\naccess_log {d}/json.log j;"
    );
    let server = nginx(&http, dir, port);
    send(server.port);
    let root = server.dir.path().to_owned();
    let timed = wait_lines(&root.join("timed.log"), PATHS.len());
    let first = wait_lines(&root.join("first.log"), PATHS.len());
    let json = wait_lines(&root.join("json.log"), PATHS.len());

    // combined + $request_time: recognised by auto, and by the config's name.
    let lat: Vec<Duration> = timed
        .lines()
        .map(|l| secs(l.rsplit(' ').next().unwrap()))
        .collect();
    let (s, err) = read_log(&root.join("timed.log"), &[]);
    assert!(err.contains("combined + $request_time"), "{err}");
    check(&s, &lat);
    let conf = root.join("nginx.conf");
    let conf = conf.to_str().unwrap();
    let (s, _) = read_log(
        &root.join("timed.log"),
        &["--nginx-conf", conf, "--log-format", "nginx:timed"],
    );
    check(&s, &lat);

    // A custom layout with the time first: needs its format, and auto says so.
    let lat: Vec<Duration> = first
        .lines()
        .map(|l| secs(l.split(' ').next().unwrap()))
        .collect();
    let (s, _) = read_log(
        &root.join("first.log"),
        &["--nginx-conf", conf, "--log-format", "nginx:first"],
    );
    check(&s, &lat);
    let out = bin()
        .arg("--log")
        .arg(root.join("first.log"))
        .args(["--no-follow", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("its first line") && err.contains("nginx:"),
        "{err}"
    );

    // escape=json: auto, and by name.
    let lat: Vec<Duration> = json
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            Duration::from_secs_f64(v["request_time"].as_f64().unwrap())
        })
        .collect();
    let (s, err) = read_log(&root.join("json.log"), &[]);
    assert!(err.contains("JSON lines"), "{err}");
    check(&s, &lat);
    let (s, _) = read_log(
        &root.join("json.log"),
        &["--nginx-conf", conf, "--log-format", "nginx:j"],
    );
    check(&s, &lat);
}

#[test]
#[ignore = "needs apache2 and curl"]
fn apache2_log_format_with_microseconds() {
    const APACHE: &str = "/usr/sbin/apache2";
    require_programs(APACHE);
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let d = dir.path().display();
    let port = free_port();
    let www = dir.path().join("www");
    for p in ["a", "b"] {
        std::fs::create_dir_all(www.join(p)).unwrap();
    }
    for f in ["a/1", "a/2", "a/3", "a/4", "b/1", "b/2", "c"] {
        std::fs::write(www.join(f), "ok\n").unwrap();
    }
    let m = "/usr/lib/apache2/modules";
    let user = if is_root() {
        "User www-data\nGroup www-data\n"
    } else {
        ""
    };
    let conf = format!(
        "ServerRoot {d}\nListen 127.0.0.1:{port}\nServerName localhost\nPidFile {d}/httpd.pid\n\
         ErrorLog {d}/error.log\n{user}\
         LoadModule mpm_prefork_module {m}/mod_mpm_prefork.so\n\
         LoadModule authz_core_module {m}/mod_authz_core.so\n\
         DocumentRoot {d}/www\n<Directory {d}/www>\nRequire all granted\n</Directory>\n\
         LogFormat \"%h %l %u %t \\\"%r\\\" %>s %b \\\"%{{Referer}}i\\\" \\\"%{{User-Agent}}i\\\" %D\" timed\n\
         CustomLog {d}/access.log timed\n"
    );
    let path = dir.path().join("httpd.conf");
    std::fs::write(&path, conf).unwrap();
    let mut cmd = Command::new(APACHE);
    cmd.arg("-X").arg("-f").arg(&path);
    let server = start(cmd, dir, port, None);
    send(server.port);
    let log = server.dir.path().join("access.log");
    let text = wait_lines(&log, PATHS.len());
    let lat: Vec<Duration> = text
        .lines()
        .map(|l| Duration::from_micros(l.rsplit(' ').next().unwrap().parse().unwrap()))
        .collect();
    let (s, err) = read_log(&log, &[]);
    assert!(err.contains("combined + %D"), "{err}");
    check(&s, &lat);
    let (s, _) = read_log(
        &log,
        &[
            "--log-format",
            r#"apache:%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\" %D"#,
        ],
    );
    check(&s, &lat);
}

#[test]
#[ignore = "needs haproxy and curl"]
fn haproxy_httplog_with_its_timers() {
    const HAPROXY: &str = "/usr/sbin/haproxy";
    require_programs(HAPROXY);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = format!(
        "global\n  log stdout format raw local0 info\n\
         defaults\n  mode http\n  log global\n  option httplog\n  option dontlognull\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n\
         frontend fe\n  bind 127.0.0.1:{port}\n\
           http-request return status 404 content-type text/plain string no if {{ path_beg /missing }}\n\
           http-request return status 200 content-type text/plain string ok\n"
    );
    let path = dir.path().join("haproxy.cfg");
    std::fs::write(&path, conf).unwrap();
    let log = dir.path().join("haproxy.log");
    let mut cmd = Command::new(HAPROXY);
    cmd.arg("-db").arg("-f").arg(&path);
    let server = start(cmd, dir, port, Some(log.clone()));
    send(server.port);
    let text = wait_lines(&log, PATHS.len());
    // Ta, the last of the five timers, in milliseconds.
    let lat: Vec<Duration> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let timers = l.split(' ').find(|t| t.split('/').count() == 5).unwrap();
            Duration::from_millis(timers.rsplit('/').next().unwrap().parse().unwrap())
        })
        .collect();
    let (s, err) = read_log(&log, &[]);
    assert!(err.contains("HAProxy httplog"), "{err}");
    check(&s, &lat);
}

#[test]
#[ignore = "needs caddy and curl"]
fn caddy_json_access_log() {
    const CADDY: &str = "/usr/bin/caddy";
    require_programs(CADDY);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let port = free_port();
    let conf = format!(
        "{{\n  admin off\n  auto_https off\n  storage file_system {d}/data\n}}\n\
         http://127.0.0.1:{port} {{\n  bind 127.0.0.1\n  log {{\n    output file {d}/access.log\n    format json\n  }}\n\
           respond /missing* \"no\" 404\n  respond \"ok\" 200\n}}\n"
    );
    let path = dir.path().join("Caddyfile");
    std::fs::write(&path, conf).unwrap();
    let mut cmd = Command::new(CADDY);
    cmd.args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&path)
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path());
    let server = start(cmd, dir, port, None);
    send(server.port);
    let log = server.dir.path().join("access.log");
    let text = wait_lines(&log, PATHS.len());
    let lat: Vec<Duration> = text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            Duration::from_secs_f64(v["duration"].as_f64().unwrap())
        })
        .collect();
    let (s, err) = read_log(&log, &[]);
    assert!(err.contains("Caddy JSON"), "{err}");
    check(&s, &lat);
}

#[test]
#[ignore = "needs gunicorn and curl"]
fn gunicorn_access_log_with_its_timing_field() {
    const GUNICORN: &str = "/usr/bin/gunicorn";
    require_programs(GUNICORN);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("app.py"),
        "def app(environ, start_response):\n\
         \x20   missing = environ['PATH_INFO'].startswith('/missing')\n\
         \x20   start_response('404 Not Found' if missing else '200 OK', [('Content-Type', 'text/plain')])\n\
         \x20   return [b'no' if missing else b'ok']\n",
    )
    .unwrap();
    let port = free_port();
    let log = dir.path().join("access.log");
    // Gunicorn's default access-log layout with its `%(D)s` (microseconds) appended.
    let format = r#"%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s"#;
    let mut cmd = Command::new(GUNICORN);
    cmd.current_dir(dir.path())
        .args(["--workers", "1", "--bind", &format!("127.0.0.1:{port}")])
        .arg("--access-logfile")
        .arg(&log)
        .args(["--access-logformat", format, "app:app"]);
    let server = start(cmd, dir, port, None);
    send(server.port);
    let text = wait_lines(&log, PATHS.len());
    let lat: Vec<Duration> = text
        .lines()
        .map(|l| {
            let us: u64 = l.rsplit(' ').next().unwrap().trim().parse().unwrap();
            Duration::from_micros(us)
        })
        .collect();
    let (s, err) = read_log(&log, &[]);
    assert!(err.contains("%D"), "auto names the layout it picked: {err}");
    check(&s, &lat);
}

/// Every process's open file descriptors that name `file`.
fn open_anywhere(file: &Path) -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs.filter_map(Result::ok).any(|p| {
        std::fs::read_dir(p.path().join("fd")).is_ok_and(|fds| {
            fds.filter_map(Result::ok)
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l == file))
        })
    })
}

/// Polls `cond` (bounded) until it holds.
fn poll_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    poll(what, limit, || cond().then_some(()));
}

fn count_lines(path: &Path) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().filter(|l| !l.trim().is_empty()).count() as u64
}

/// nginx writing its log while traffic-watch follows it: the log is renamed and nginx told to
/// reopen it (what logrotate's nginx script does), more requests come, and every request in
/// nginx's two files is counted, once.
#[test]
#[ignore = "needs root, nginx and curl"]
fn nginx_log_followed_through_rename_and_reopen() {
    require_root();
    require_programs("/usr/sbin/nginx");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let port = free_port();
    let server = nginx(&format!("access_log {d}/access.log combined;"), dir, port);
    let root = server.dir.path().to_owned();
    let log = root.join("access.log");
    let old = root.join("access.log.1");
    let mut tw = Monitor::spawn(&["--log", log.to_str().unwrap(), "--json", "--interval", "1s"]);
    tw.wait_stderr("following log", Duration::from_secs(10));
    send(server.port);
    wait_lines(&log, PATHS.len());
    tw.wait_requests(PATHS.len() as u64, Duration::from_secs(15));

    std::fs::rename(&log, &old).unwrap();
    let conf = root.join("nginx.conf");
    let reopen = Command::new("/usr/sbin/nginx")
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(&root)
        .args(["-s", "reopen"])
        .output()
        .unwrap();
    assert!(
        reopen.status.success(),
        "{}",
        String::from_utf8_lossy(&reopen.stderr)
    );
    // The master reopens first, then tells its worker: requests go to the new file only once
    // no process holds the old one.
    poll_until("nginx reopened its log", Duration::from_secs(10), || {
        log.exists() && !open_anywhere(&old)
    });
    send(server.port);
    send(server.port);
    wait_lines(&log, 2 * PATHS.len());
    let (before, after) = (count_lines(&old), count_lines(&log));
    assert_eq!(
        (before, after),
        (PATHS.len() as u64, 2 * PATHS.len() as u64)
    );
    tw.wait_requests(before + after, Duration::from_secs(15));
    let s = tw.stop();
    assert_eq!(s["requests"], before + after, "{s}");
    assert_eq!(s["counters"]["log_lines"], before + after);
    assert_eq!(s["counters"]["log_bad_lines"], 0);
    assert_eq!(s["counters"]["log_rotations"], 1, "{}", s["counters"]);
    assert_eq!(s["status"]["4xx"], 3, "{}", s["status"]);
}

/// Two logs, `a` with the even seconds from `t0` and `b` the odd ones: 10 lines each.
fn two_logs(dir: &Path, t0: u64) -> [PathBuf; 2] {
    let when = |s: u64| {
        let t = t0 + s;
        format!(
            "24/Nov/2026:{:02}:{:02}:{:02} +0000",
            (t / 3600) % 24,
            (t / 60) % 60,
            t % 60
        )
    };
    let paths = [dir.join("a.access.log"), dir.join("b.access.log")];
    for (i, p) in paths.iter().enumerate() {
        let mut text = String::new();
        for s in (i as u64..20).step_by(2) {
            text.push_str(&format!(
                "127.0.0.1 - - [{}] \"GET /{}/x HTTP/1.1\" 200 10 \"-\" \"t\"\n",
                when(s),
                ["a", "b"][i]
            ));
        }
        std::fs::write(p, text).unwrap();
    }
    paths
}

#[test]
fn several_logs_and_a_glob_read_as_one_timeline() {
    let dir = tempfile::tempdir().unwrap();
    // 2026-11-24T06:00:00Z
    let t0 = 1_795_500_000 - 1_795_500_000 % 86_400 + 6 * 3600;
    let [a, b] = two_logs(dir.path(), t0);
    let glob = dir.path().join("*.access.log");
    let expanded = [a.to_str().unwrap(), b.to_str().unwrap()];
    for args in [
        vec!["--log", expanded[0], "--log", expanded[1]],
        // As the shell passes a glob it expanded.
        vec!["--log", expanded[0], expanded[1]],
        // Quoted: expanded by traffic-watch.
        vec!["--log", glob.to_str().unwrap()],
    ] {
        let out = bin()
            .args(&args)
            .args(["--no-follow", "--json"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {err}");
        let s = summary(&out);
        assert_eq!(s["requests"], 20, "{args:?}: {s}");
        let source = s["source"].as_str().unwrap();
        assert!(
            source.contains("a.access.log (combined)") && source.contains("b.access.log"),
            "{source}"
        );
        // One timeline: 0..19 s from the first line to the last, whichever file holds it.
        assert_eq!(s["first"], "2026-11-24T06:00:00Z", "{s}");
        assert_eq!(s["last"], "2026-11-24T06:00:19Z", "{s}");
    }

    let missing = dir.path().join("nope.log");
    let out = bin()
        .arg("--log")
        .arg(&a)
        .arg("--log")
        .arg(&missing)
        .args(["--no-follow", "--json"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err:?}");
    assert!(
        err.contains("nope.log") && err.contains("no such file"),
        "{err}"
    );
    let out = bin()
        .arg("--log")
        .arg(dir.path().join("*.error.log"))
        .args(["--no-follow", "--json"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err:?}");
    assert!(
        err.contains("*.error.log") && err.contains("no file matches"),
        "{err}"
    );
}
