//! The run loop, in named steps: [`Runner::drain`] moves events from the source into the
//! pipeline, [`Runner::tick`] moves time on when no event does, [`Runner::publish`] hands
//! alerts, reports and snapshots to the outputs, and [`Runner::shut_down`] stops the source,
//! flushes what the flows hold and ends with the summary.
//!
//! An offline run (a file, or logs read to their end) goes on event time: it reports every
//! interval of event time as the events pass. A live run goes on the wall clock: it ticks once
//! a second, so windows move and an alert recovers when no packet arrives.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::config::{Config, OutputMode};
use super::outputs::Outputs;
use super::report_clock::ReportClock;
use super::source::{Event, LIVE_WAIT, Progress, Source};
use crate::error::Result;
use crate::pipeline::Pipeline;
use crate::stats::{AlertEvent, Snapshot};
use crate::time::{Clock, SystemClock, Timestamp};

/// How often the dashboard gets a snapshot.
const DASHBOARD_EVERY: Duration = Duration::from_millis(250);
/// An offline run hands `/metrics` a snapshot at most this often (wall time)...
const OFFLINE_PUBLISH_EVERY: Duration = Duration::from_millis(250);
/// ...and looks at the wall clock only every this many events.
const OFFLINE_PUBLISH_EVENTS: u64 = 4096;

/// What moves reports and ticks.
enum Pace {
    /// Offline: the events' own time.
    EventTime {
        reports: ReportClock,
        events: u64,
        last_publish: Instant,
        /// The first failed write (a closed pipe): printing stops, reading goes on.
        io: io::Result<()>,
    },
    /// Live: the wall clock.
    WallClock {
        next_tick: Instant,
        next_report: Instant,
        next_dashboard: Instant,
    },
}

impl Pace {
    /// How long a live drain may wait for events: until the next wall-clock step is due (a
    /// tick, a report, a dashboard frame), so an idle monitor wakes about once a second
    /// instead of twenty times. A stop is not delayed: the capture thread hangs up on it.
    fn wait(&self, streaming: bool, dashboard: bool) -> Duration {
        let Pace::WallClock {
            next_tick,
            next_report,
            next_dashboard,
        } = self
        else {
            return LIVE_WAIT;
        };
        let mut next = *next_tick;
        if streaming {
            next = next.min(*next_report);
        }
        if dashboard {
            next = next.min(*next_dashboard);
        }
        next.saturating_duration_since(Instant::now())
            .clamp(Duration::from_millis(1), Duration::from_secs(1))
    }
}

struct Runner {
    pipe: Pipeline,
    outputs: Outputs,
    pace: Pace,
    /// Periodic reports and alert lines are printed (not `--summary-only`, no dashboard).
    streaming: bool,
    interval: Duration,
    stop: Arc<AtomicBool>,
}

/// Runs `source` into `outputs` until it ends or `stop` is set (a signal, `q`).
pub fn run(
    config: &Config,
    mut source: Source,
    outputs: Outputs,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    let mut runner = Runner::new(config, &mut source, outputs, stop)?;
    runner.run(source)
}

impl Runner {
    fn new(
        config: &Config,
        source: &mut Source,
        mut outputs: Outputs,
        stop: Arc<AtomicBool>,
    ) -> Result<Runner> {
        let mut pipe = Pipeline::new(
            source.link_type(),
            config.flow.clone(),
            config.stats.clone(),
        );
        pipe.health.source = source.describe();
        pipe.set_routes(config.routes.as_ref());
        let settings = &config.outputs;
        let offline = config.input.is_offline();
        if settings.mode == OutputMode::Dashboard {
            let title = settings.banner.clone().unwrap_or_else(|| source.describe());
            outputs.start_dashboard(title, Arc::clone(&stop))?;
        }
        let now = Instant::now();
        let pace = if offline {
            Pace::EventTime {
                reports: ReportClock::new(settings.interval),
                events: 0,
                last_publish: now,
                io: Ok(()),
            }
        } else {
            Pace::WallClock {
                next_tick: now,
                next_report: now + settings.interval,
                next_dashboard: now,
            }
        };
        let streaming = if offline {
            !settings.summary_only
        } else {
            settings.mode != OutputMode::Dashboard
        };
        if let (true, Pace::EventTime { reports, .. }) = (streaming, &pace) {
            source.set_reports(reports);
        }
        Ok(Runner {
            pipe,
            outputs,
            pace,
            streaming,
            interval: settings.interval,
            stop,
        })
    }

    fn run(&mut self, mut source: Source) -> Result<()> {
        let mut result = Ok(());
        loop {
            let progress = self.drain(&mut source)?;
            if progress == Progress::Ended {
                break;
            }
            if progress == Progress::Current {
                self.tick(&source);
            }
            result = self.publish();
            if result.is_err() {
                break;
            }
        }
        self.shut_down(source, result)
    }

    /// Step 1: what the source has, into the pipeline; offline, each event is followed by
    /// its alerts and any report due at its time.
    fn drain(&mut self, source: &mut Source) -> Result<Progress> {
        let Runner {
            pipe,
            outputs,
            pace,
            streaming,
            interval: _,
            stop,
        } = self;
        let wait = pace.wait(*streaming, outputs.has_dashboard());
        source.drain(pipe, stop, wait, &mut |pipe, event| match event {
            Event::Packet {
                ts,
                wire_len,
                frame,
            } => {
                if let Some(r) = outputs.recorder() {
                    r.packet(ts, wire_len, frame);
                }
                after_event(pipe, outputs, pace, *streaming, ts);
            }
            Event::BatchEnd => {
                if let Some(r) = outputs.recorder() {
                    r.end_batch();
                }
            }
            Event::Replayed { ts } | Event::Line { ts } => {
                after_event(pipe, outputs, pace, *streaming, ts);
            }
        })
    }

    /// Step 2 (live): once a second of wall time, move the statistics and the recorder on
    /// and refresh the counters `/metrics` shows.
    fn tick(&mut self, source: &Source) {
        let Pace::WallClock { next_tick, .. } = &mut self.pace else {
            return;
        };
        let now = Instant::now();
        if now < *next_tick {
            return;
        }
        *next_tick = now + Duration::from_secs(1);
        self.pipe.tick(SystemClock.now());
        let pipe_now = self.pipe.now();
        if let Some(r) = self.outputs.recorder() {
            r.tick(pipe_now);
            self.pipe.health.recording = r.health();
        }
        self.refresh_health(source);
        self.outputs.publish(&self.pipe);
    }

    fn refresh_health(&mut self, source: &Source) {
        source.health(&mut self.pipe.health);
        self.pipe.health.hooks = self.outputs.hook_health();
        let dropping = self.pipe.health.dropped() > 0;
        self.pipe.set_dropping(dropping);
    }

    /// Step 3 (live): alerts to every output, then a report or a dashboard frame when due.
    fn publish(&mut self) -> Result<()> {
        let Pace::WallClock {
            next_report,
            next_dashboard,
            ..
        } = &mut self.pace
        else {
            return Ok(());
        };
        let alerts: Vec<(AlertEvent, Option<PathBuf>)> = self
            .pipe
            .take_alerts()
            .into_iter()
            .map(|e| {
                let path = self.outputs.alert(&e);
                (e, path)
            })
            .collect();
        if !alerts.is_empty()
            && let Some(r) = self.outputs.recorder()
        {
            // The dashboard finds the file for its alert line here.
            self.pipe.health.recording = r.health();
        }
        let now = Instant::now();
        if self.streaming {
            for (e, path) in &alerts {
                self.outputs.printer.alert(e, path.as_deref())?;
            }
            if now >= *next_report {
                *next_report += self.interval;
                self.outputs.printer.report(&self.pipe.snapshot())?;
            }
        } else if self.outputs.has_dashboard() && now >= *next_dashboard {
            *next_dashboard = now + DASHBOARD_EVERY;
            if !self.outputs.show(&self.pipe) {
                self.stop.store(true, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// Step 4: stop the source, flush the flows, final alerts, final counters, the summary.
    fn shut_down(&mut self, source: Source, result: Result<()>) -> Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        let source_result = source.close(&mut self.pipe.health);
        let dropping = self.pipe.health.dropped() > 0;
        self.pipe.set_dropping(dropping);
        let result = result.and(self.outputs.close_dashboard());
        self.pipe.finish();
        for e in self.pipe.take_alerts() {
            let path = self.outputs.alert(&e);
            if self.streaming {
                self.outputs.printer.alert(&e, path.as_deref())?;
            }
        }
        if let Pace::EventTime { io, .. } = &mut self.pace {
            std::mem::replace(io, Ok(()))?;
        }
        if let Some(r) = self.outputs.recorder() {
            self.pipe.health.recording = r.finish();
        }
        self.outputs.drain_hooks();
        self.pipe.health.hooks = self.outputs.hook_health();
        self.outputs.publish(&self.pipe);
        let snap = self.pipe.snapshot();
        self.outputs.printer.summary(&snap)?;
        if snap.health.kernel_received.is_some() {
            eprintln!("{}", tcpdump_style(&snap));
        }
        result.and(source_result)
    }
}

/// Offline, after each event at `ts`: its alerts, and the report due by its time.
#[inline]
fn after_event(
    pipe: &mut Pipeline,
    outputs: &mut Outputs,
    pace: &mut Pace,
    streaming: bool,
    ts: Timestamp,
) {
    let Pace::EventTime { events, .. } = pace else {
        return;
    };
    *events += 1;
    // Most events of a replay owe nothing: no metrics to publish, no alert, no report to
    // print. Checked here, inline, so that they cost a few instructions.
    let publish = outputs.has_metrics() && events.is_multiple_of(OFFLINE_PUBLISH_EVENTS);
    if publish || streaming || pipe.has_alerts() {
        after_event_owing(pipe, outputs, pace, streaming, ts, publish);
    }
}

/// What an event may owe: metrics (`publish`: the event count says it is time to look at the
/// clock), alerts, a report.
#[cold]
#[inline(never)]
fn after_event_owing(
    pipe: &mut Pipeline,
    outputs: &mut Outputs,
    pace: &mut Pace,
    streaming: bool,
    ts: Timestamp,
    publish: bool,
) {
    let Pace::EventTime {
        reports,
        last_publish,
        io,
        ..
    } = pace
    else {
        return;
    };
    // Metrics while running, at most a few times a second of wall time.
    if publish && last_publish.elapsed() >= OFFLINE_PUBLISH_EVERY {
        *last_publish = Instant::now();
        outputs.publish(pipe);
    }
    let alerts = pipe.take_alerts();
    for e in &alerts {
        outputs.alert(e);
    }
    if !streaming || io.is_err() {
        return;
    }
    for e in &alerts {
        *io = outputs.printer.alert(e, None);
        if io.is_err() {
            return;
        }
    }
    if reports.is_due(ts) {
        *io = outputs.printer.report(&pipe.snapshot());
    }
}

/// tcpdump's closing lines, for stderr.
fn tcpdump_style(s: &Snapshot) -> String {
    let h = &s.health;
    format!(
        "{} packets captured\n{} packets received by filter\n{} packets dropped by kernel\n{} packets dropped in queue",
        h.packets,
        h.kernel_received.unwrap_or(0),
        h.kernel_dropped.unwrap_or(0) + h.interface_dropped.unwrap_or(0),
        h.queue_dropped
    )
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Mutex;

    use super::*;
    use crate::app::config::{HookSettings, Input, OutputSettings, Privileges, ReplaySettings};
    use crate::capture::FileSource;
    use crate::decode::LinkType;
    use crate::flow::FlowConfig;
    use crate::stats::{StatsConfig, Threshold};
    use crate::synth::{PcapWriter, sample_traffic_profile};

    /// What the printer wrote, readable after the run.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Replays `profile` (requests/s, seconds) as NDJSON with a 10 s report interval and a
    /// 30 req/s threshold over 20 s; returns the lines printed.
    fn replay_json(profile: &[(u32, u32)], summary_only: bool) -> Vec<serde_json::Value> {
        replay_frames(&sample_traffic_profile(profile), summary_only, 1)
    }

    /// Replays `frames` on `threads` threads, as [`replay_json`].
    fn replay_frames(
        frames: &[crate::synth::Frame],
        summary_only: bool,
        threads: usize,
    ) -> Vec<serde_json::Value> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.pcap");
        let mut w =
            PcapWriter::new(std::fs::File::create(&path).unwrap(), LinkType::Ethernet).unwrap();
        w.write_all(frames).unwrap();
        drop(w);
        let config = Config {
            input: Input::Replay(ReplaySettings {
                path: path.clone(),
                filter: None,
                threads,
            }),
            outputs: OutputSettings {
                mode: OutputMode::Json,
                summary_only,
                interval: Duration::from_secs(10),
                metrics_addr: None,
                hooks: HookSettings::default(),
                banner: None,
            },
            flow: FlowConfig::default(),
            stats: StatsConfig {
                window_secs: 20,
                threshold: Threshold::PerSecond(30.0),
                ..StatsConfig::default()
            },
            privileges: Privileges {
                user: None,
                drop: false,
            },
            routes: None,
        };
        let mut outputs = Outputs::open(&config.outputs, 10).unwrap();
        let out = Captured::default();
        outputs.print_to(Box::new(out.clone()), OutputMode::Json);
        let source = Source::File {
            file: FileSource::open(&path, "", None).unwrap(),
            path,
            read: Ok(()),
            two_threads: threads > 1,
            reports: None,
        };
        run(&config, source, outputs, Arc::new(AtomicBool::new(false))).unwrap();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn kinds(lines: &[serde_json::Value]) -> Vec<String> {
        lines
            .iter()
            .map(|l| {
                let t = l["type"].as_str().unwrap_or("?");
                match l["kind"].as_str() {
                    Some(k) => format!("{t}:{k}"),
                    None => t.to_owned(),
                }
            })
            .collect()
    }

    #[test]
    fn a_replay_reports_on_packet_time_alerts_and_ends_with_the_summary() {
        // 20 s at 10/s, 20 s at 100/s, 40 s at 10/s: reports every 10 s of packet time, the
        // alert inside the spike, its recovery after it, the summary last.
        let lines = replay_json(&[(10, 20), (100, 20), (10, 40)], false);
        let kinds = kinds(&lines);
        assert_eq!(
            kinds.last().map(String::as_str),
            Some("summary"),
            "{kinds:?}"
        );
        assert_eq!(
            kinds.iter().filter(|k| *k == "report").count(),
            7,
            "{kinds:?}"
        );
        let alerts: Vec<&String> = kinds.iter().filter(|k| k.starts_with("alert")).collect();
        assert_eq!(alerts.len(), 2, "{kinds:?}");
        let summary = &lines[lines.len() - 1];
        assert_eq!(summary["requests"], 10 * 20 + 100 * 20 + 10 * 40);
    }

    #[test]
    fn summary_only_prints_the_summary_alone() {
        let lines = replay_json(&[(10, 20), (100, 20), (10, 40)], true);
        assert_eq!(kinds(&lines), ["summary"]);
        assert_eq!(lines[0]["requests"], 2600);
    }

    #[test]
    fn two_replay_threads_print_exactly_what_one_prints() {
        // Several batches of packets, an alert and its recovery, a report every 10 s; frames
        // cut short now and then, so the counts the reports show move between batches.
        let mut frames = sample_traffic_profile(&[(10, 20), (100, 20), (10, 40)]);
        for (i, f) in frames.iter_mut().enumerate() {
            if i % 997 == 0 {
                f.data.truncate(60);
            }
        }
        // Each run writes its capture to a directory of its own: only that name may differ.
        let runs = [1, 2].map(|threads| {
            let mut lines = replay_frames(&frames, false, threads);
            for l in &mut lines {
                if let Some(o) = l.as_object_mut() {
                    o.remove("source");
                }
            }
            lines
        });
        let [one, two] = &runs;
        assert!(one.len() > 5, "{one:?}");
        let truncated: Vec<&serde_json::Value> = one.iter().map(|l| &l["truncated"]).collect();
        assert!(truncated.windows(2).any(|w| w[0] != w[1]), "{truncated:?}");
        assert!(
            kinds(one).iter().any(|k| k == "alert:triggered"),
            "{:?}",
            kinds(one)
        );
        assert_eq!(one.len(), two.len());
        for (a, b) in one.iter().zip(two) {
            assert_eq!(a, b, "\n{a}\n{b}");
        }
    }

    #[test]
    fn a_live_drain_waits_until_the_next_step_it_has_to_take() {
        let later = Instant::now() + Duration::from_secs(10);
        let pace = |report: Instant, dashboard: Instant| Pace::WallClock {
            next_tick: later,
            next_report: report,
            next_dashboard: dashboard,
        };
        let now = Instant::now();
        // Nothing due for seconds: one wake-up a second at most.
        assert_eq!(pace(later, later).wait(true, true), Duration::from_secs(1));
        // A report or a frame due now: only when that output is on.
        assert_eq!(pace(now, later).wait(true, true), Duration::from_millis(1));
        assert_eq!(pace(now, later).wait(false, true), Duration::from_secs(1));
        assert_eq!(pace(later, now).wait(false, true), Duration::from_millis(1));
        assert_eq!(pace(later, now).wait(true, false), Duration::from_secs(1));
        let offline = Pace::EventTime {
            reports: ReportClock::new(Duration::from_secs(10)),
            events: 0,
            last_publish: now,
            io: Ok(()),
        };
        assert_eq!(offline.wait(true, true), LIVE_WAIT);
    }
}
