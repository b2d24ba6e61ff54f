//! Anonymous sessions: keys, access and refresh tokens, session rules and the
//! flows that combine them.

pub mod access_token;
pub mod keys;
pub mod refresh_token;
pub mod service;
pub mod session;
