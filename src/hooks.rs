//! Alert hooks: run a command (`--alert-exec`) and POST a webhook (`--alert-webhook`) on every
//! alert and recovery, without ever holding up capture or the dashboard.
//!
//! [`AlertHooks::fire`] only queues the event (a bounded queue: when it is full the event is
//! dropped and counted); one worker thread delivers each event to each hook in turn, each
//! delivery limited in time (the command's process group is killed, the request abandoned).
//! The command is run directly, never through a shell: its words are split on whitespace once,
//! when the hooks are built, and the alert's values reach it in environment variables
//! (`TW_ALERT_KIND`, `TW_ALERT_MESSAGE`, `TW_ALERT_HITS`, `TW_ALERT_TIME`,
//! `TW_ALERT_LOWER_BOUND`, and `TW_ALERT_RECORDING`, the flight recorder's file, when there is
//! one). The webhook is a POST with hyper's HTTP/1 client, over TLS (rustls, the
//! Mozilla roots built in, plus `--alert-webhook-ca` for a private CA) for `https://` URLs such
//! as Slack's and Discord's. Its JSON body has a Slack-compatible `text` and a
//! Discord-compatible `content`, both the alert message, plus `kind`, `hits`, `time`,
//! `lower_bound` and `recording` (a path, or null).

mod exec;
mod queue;
mod webhook;

pub use queue::{AlertHooks, QUEUE_LEN, TIME_LIMIT};
pub use webhook::{webhook_json, webhook_json_with_recording};

use crate::error::Error;
use crate::stats::AlertKind;

fn config_error(msg: String) -> Error {
    Error::Config(msg)
}

fn kind_str(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::Triggered => "triggered",
        AlertKind::Recovered => "recovered",
    }
}
