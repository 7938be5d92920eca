//! Alert hooks: the webhook and the command, in process and through the binary.
mod binary; // replay and followed logs reaching a webhook listener and a script
mod delivery; // the hook queue in process: JSON, TLS, environment, hangs, a full queue
