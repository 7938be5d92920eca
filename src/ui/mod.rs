//! The terminal dashboard: a live picture of one [`Snapshot`](crate::stats::Snapshot) at a time.
//! [`App`] holds the state and handles keys, [`render`] draws it into any ratatui `Frame` (so
//! tests draw into a `TestBackend`), and [`run`] owns the real terminal: raw mode, the alternate
//! screen, restoring both on every exit path, and the event loop. Nothing here computes
//! statistics; every string that came off the network is escaped before it is drawn.

mod app;
mod render;
mod routes;
mod terminal;

pub use app::{App, DashboardInfo, UiEvent};
pub use render::{MIN_HEIGHT, MIN_WIDTH, render};
pub use terminal::run;
