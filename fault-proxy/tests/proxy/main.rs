//! The proxy end to end, in front of a fake emulator: pass-through, each fault as the AWS
//! SDKs read it, rules and rates over HTTP, the control API and the trigger faults.
//!
//! One test binary (these modules) so the SDKs are linked once.

mod control;
mod faults;
mod passthrough;
mod sdk;
mod support;
