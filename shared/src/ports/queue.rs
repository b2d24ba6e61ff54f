//! A queue of one message type.

use crate::error::StoreError;

/// A queue that carries messages of type `M` only.
pub trait Queue<M> {
    /// Sends `message`, delivered after `delay_secs` (at most 900).
    fn send(&self, message: &M, delay_secs: u32) -> impl Future<Output = Result<(), StoreError>> + Send;
}
