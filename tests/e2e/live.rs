//! Live capture on loopback: see live tests (added with the demo server).
