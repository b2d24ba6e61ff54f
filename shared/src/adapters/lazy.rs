//! SDK clients built on first use, or at cold start for the functions that
//! use them. Every function gets the same context, but one that never calls
//! S3 or SQS never builds (nor, once linked with LTO, carries) that client:
//! the building code is reached only through [`Lazy::get`].

use std::sync::{Arc, OnceLock};

use aws_config::SdkConfig;

/// An SDK client type, built from the shared configuration.
pub trait FromSdk {
    /// Builds the client.
    fn from_sdk(sdk: &SdkConfig) -> Self;
}

/// A client of type `C`, built once, shared by the clones of this handle.
#[derive(Debug)]
pub struct Lazy<C> {
    sdk: Option<SdkConfig>,
    cell: Arc<OnceLock<C>>,
}

impl<C> Clone for Lazy<C> {
    fn clone(&self) -> Self {
        Lazy { sdk: self.sdk.clone(), cell: Arc::clone(&self.cell) }
    }
}

impl<C: FromSdk> Lazy<C> {
    /// A client to build from `sdk` when first needed.
    pub fn new(sdk: &SdkConfig) -> Self {
        Lazy { sdk: Some(sdk.clone()), cell: Arc::default() }
    }

    /// A client built already.
    pub fn built(client: C) -> Self {
        Lazy { sdk: None, cell: Arc::new(OnceLock::from(client)) }
    }

    /// The client, built now if it was not yet.
    pub fn get(&self) -> &C {
        self.cell.get_or_init(|| C::from_sdk(self.sdk.as_ref().expect("a lazy client holds its configuration until built")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static BUILT: AtomicUsize = AtomicUsize::new(0);

    struct Counted;

    impl FromSdk for Counted {
        fn from_sdk(_: &SdkConfig) -> Self {
            BUILT.fetch_add(1, Ordering::SeqCst);
            Counted
        }
    }

    #[test]
    fn builds_once_on_first_use_and_shares_it_with_clones() {
        let sdk = SdkConfig::builder().build();
        let lazy = Lazy::<Counted>::new(&sdk);
        let clone = lazy.clone();
        assert_eq!(BUILT.load(Ordering::SeqCst), 0, "nothing is built before it is used");
        clone.get();
        lazy.get();
        assert_eq!(BUILT.load(Ordering::SeqCst), 1);
    }
}
