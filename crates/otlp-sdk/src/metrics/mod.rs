//! Metrics: instruments, in-process aggregation and periodic export.
//!
//! (Work in progress: the module's story is written as its parts land.)

mod exponential;
