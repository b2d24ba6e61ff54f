//! KIE AI, the image provider (`ports::ImageProvider`): the request shape of
//! each model, the HTTP client for its documented wire format, what its
//! answers mean for a job, and its webhook signature.

pub mod callback;
pub mod client;
pub mod models;
pub mod record;
