//! The crate's one error type at its boundary: what went wrong and what to do about it, with
//! the offending value in single quotes. `main` prints it on one line and exits non-zero.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot read '{}': {reason}", path.display())]
    CaptureFile { path: PathBuf, reason: String },

    #[error(
        "cannot capture on '{interface}': permission denied; run with sudo, or give the binary \
         capture rights: sudo setcap cap_net_raw,cap_net_admin=eip {binary}"
    )]
    Permission { interface: String, binary: String },

    #[error("no such interface '{name}'; available: {available}")]
    UnknownInterface { name: String, available: String },

    #[error("cannot capture on '{interface}': {reason}")]
    CaptureOpen { interface: String, reason: String },

    #[error("bad capture filter '{filter}': {reason}")]
    BadFilter { filter: String, reason: String },

    #[error("capture on '{interface}' failed: {reason}")]
    CaptureRead { interface: String, reason: String },

    #[error("{0}")]
    Config(String),

    #[error("cannot write '{}': {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{0}")]
    Io(#[from] std::io::Error),

    #[error("{0}")]
    PrivilegeDrop(String),

    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, Error>;
