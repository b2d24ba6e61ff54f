//! Integration tests of the RevenueCat simulator, run as clients would: over HTTP on 127.0.0.1,
//! with a tiny local server standing in for our webhook route.

mod control;
mod rest;
mod support;
mod webhooks;
