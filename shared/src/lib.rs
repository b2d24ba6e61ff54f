//! Pro Portrait's domain crate: domain types and rules (no I/O), the port
//! traits, and the adapters (DynamoDB, Secrets Manager) the Lambdas plug in.

pub mod account_deletion;
pub mod adapters;
pub mod auth;
pub mod backoff;
pub mod config;
pub mod context;
pub mod credits;
pub mod error;
pub mod generation;
pub mod http;
pub mod jobs;
pub mod kie;
pub mod object_keys;
pub mod photo_check;
pub mod photo_clean;
pub mod queue_batch;
pub mod ports;
pub mod rate_limit;
pub mod reaper;
pub mod revenuecat;
pub mod styles;
pub mod sweep;
pub mod telemetry;
pub mod time;
pub mod uploads;
