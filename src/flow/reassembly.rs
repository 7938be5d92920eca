//! (stub: replaced by the flow work)
