//! The AWS-call benchmark: every HTTP route's handler run in-process (through
//! `shared::http::serve::respond`, as on Lambda) against the local stack's
//! emulator, with SDK clients that count each call they send.

pub mod counter;
pub mod credits;
pub mod harness;
pub mod report;
pub mod scenarios;
