//! Test captures.
