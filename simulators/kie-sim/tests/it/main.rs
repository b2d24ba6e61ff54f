//! Integration tests of the KIE simulator, run as a client would: over HTTP on 127.0.0.1, with
//! a tiny local server standing in for the photo host and the callback receiver.

mod behaviours;
mod callbacks;
mod kie_api;
mod support;
