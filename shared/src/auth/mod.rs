//! Anonymous sessions: keys, access and refresh tokens and session rules
//! (the flows that combine them are `usecases::sessions`).

pub mod access_token;
pub mod keys;
pub mod refresh_token;
pub mod session;
