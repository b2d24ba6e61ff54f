//! The use cases: every flow of the service as functions over the ports.
//! A function crate parses its request, calls one of these and maps the
//! outcome to a response; the adapters are chosen in `context`.

pub mod account_deletion;
pub mod callbacks;
pub mod create_job;
pub mod export_prepare;
pub mod export_zip;
pub mod exports;
pub mod fallback;
pub mod generation;
pub mod jobs;
#[cfg(test)]
pub(crate) mod memory;
pub mod profile;
pub mod purchases;
pub mod reaper;
pub mod sessions;
pub mod sweep;
pub mod sync;
pub mod uploads;
