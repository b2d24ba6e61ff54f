//! KIE AI, the image provider: the request shape of each model, the HTTP
//! client for its documented wire format, and what its answers mean for a job.

pub mod client;
pub mod models;
pub mod record;
