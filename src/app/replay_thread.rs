//! Replay on two threads: one reads the file and runs decode and flows (the pipeline's
//! [`Front`]), the other counts their events (the runner's thread, with the statistics and
//! the outputs). They share nothing: the reader hands over [`Batch`]es of events in order
//! through a short queue, and gets them back emptied for reuse, so after the first few
//! batches nothing is allocated. The statistics see exactly the steps one thread would have
//! taken, in the same order, so every count, report and alert is the same.

use std::sync::mpsc;
use std::thread;

use super::report_clock::ReportClock;
use crate::capture::FileSource;
use crate::error::Result;
use crate::pipeline::{Batch, Front, Pipeline};
use crate::time::Timestamp;

/// A batch is handed over after this many packets...
const PACKETS_PER_BATCH: usize = 1024;
/// ...or once its events and their text hold this many bytes, whichever comes first.
const BYTES_PER_BATCH: usize = 256 * 1024;
/// Batches in flight: enough for the reader to keep going while one is counted, few enough
/// that memory stays a few MiB.
const QUEUE: usize = 4;

/// Reads `file` to its end through `front` on a thread of its own, counting its events into
/// `pipe` here; `each` runs after each packet's events. Returns how reading ended.
///
/// The front's counts (packets, flows, what could not be decoded) come over at the end of each
/// batch and, when `reports` is given, right before each periodic report, so reports and the
/// summary show them exactly as one thread would. A `/metrics` snapshot taken in between
/// shows them as of the last batch (at most [`PACKETS_PER_BATCH`] packets apart).
pub fn replay(
    file: &mut FileSource,
    mut front: Front,
    mut reports: Option<ReportClock>,
    pipe: &mut Pipeline,
    each: &mut dyn FnMut(&mut Pipeline, Timestamp),
) -> Result<()> {
    let (full_tx, full_rx) = mpsc::sync_channel::<Batch>(QUEUE);
    let (empty_tx, empty_rx) = mpsc::channel::<Batch>();
    thread::scope(|s| {
        let reader = s.spawn(move || {
            let mut batch = Batch::default();
            // The counting side hung up (it failed): read on without work.
            let mut gone = false;
            let read = file.for_each(|ts, frame| {
                if gone {
                    return;
                }
                let report = reports.as_mut().is_some_and(|r| r.is_due(ts));
                batch.ingest(&mut front, ts, frame, report);
                if batch.packets() >= PACKETS_PER_BATCH || batch.held_bytes() >= BYTES_PER_BATCH {
                    batch.counts(&front);
                    let mut next = empty_rx.try_recv().unwrap_or_default();
                    next.clear();
                    gone = full_tx.send(std::mem::replace(&mut batch, next)).is_err();
                }
            });
            batch.finish(&mut front);
            // A failed send means the other side is gone, and nothing is left to count.
            let _ = full_tx.send(batch);
            read
        });
        for batch in full_rx {
            pipe.apply(&batch, each);
            // The reader may have finished: then the batch is simply dropped.
            let _ = empty_tx.send(batch);
        }
        reader.join().unwrap_or_else(|_| {
            Err(crate::error::Error::Other(
                "the replay's reading thread stopped unexpectedly".into(),
            ))
        })
    })
}
