//! TLS for the providers' HTTPS clients (KIE, RevenueCat, result downloads):
//! Mozilla's root certificates as compiled into `webpki-roots`, ready to use
//! with no parsing. reqwest's default reads and parses the system's trust
//! store when a client is built, which was most of a worker's cold start.
//! Every client of a process shares one configuration: one copy of the roots
//! and one TLS session cache (rustls sizes it for 256 servers up front).

use std::sync::{Arc, OnceLock};

/// A rustls configuration trusting Mozilla's roots, for
/// `reqwest::ClientBuilder::tls_backend_preconfigured`: a copy of the
/// process's one configuration, sharing its roots and session cache.
pub fn client_config() -> rustls::ClientConfig {
    static CONFIG: OnceLock<rustls::ClientConfig> = OnceLock::new();
    CONFIG.get_or_init(build).clone()
}

fn build() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("the aws-lc-rs provider supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

#[cfg(test)]
mod tests {
    #[test]
    fn trusts_mozillas_roots() {
        // Builds without touching the file system, with every root in place.
        let config = super::client_config();
        assert!(webpki_roots::TLS_SERVER_ROOTS.len() > 100);
        assert!(config.alpn_protocols.is_empty());
    }
}
