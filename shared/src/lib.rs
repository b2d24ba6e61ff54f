//! Pro Portrait's domain crate: domain types and rules (no I/O), the port
//! traits (`ports`), the use cases over them (`usecases`), the adapters
//! that implement them (`adapters`), and the assembly (`context`) and entry
//! points (`entry`) every function shares.

pub mod accounts;
pub mod adapters;
pub mod app;
pub mod auth;
pub mod backoff;
pub mod config;
pub mod context;
pub mod credits;
pub mod entry;
pub mod error;
pub mod exports;
pub mod http;
pub mod jobs;
pub mod messages;
pub mod object_keys;
pub mod photo_clean;
pub mod ports;
pub mod provider;
pub mod queue_batch;
pub mod rate_limit;
pub mod storage;
pub mod styles;
pub mod telemetry;
pub mod time;
pub mod trash;
pub mod uploads;
pub mod usecases;
