//! Access-log input: the parsers, following files, alerting on log time, the binary's `--log`
//! mode, and the logs real servers write.
mod alert; // the alert engine on log lines, in process
mod binary; // `--log` through the binary: rotation, standard input, offline spikes, bad input
mod follow; // following files through rotation and truncation, in process
mod parse; // every supported format and its malformed lines
mod servers; // logs written by nginx, apache2, haproxy, caddy, gunicorn on loopback
