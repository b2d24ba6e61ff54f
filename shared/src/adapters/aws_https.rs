//! The HTTPS client every AWS client of a function shares: rustls trusting
//! the Amazon Trust Services roots, and one connector (TLS configuration and
//! connection pool) built once per cold start.

use std::time::Duration;

use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, Connector};
use aws_smithy_runtime_api::client::http::{HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;

/// The roots every AWS service endpoint's certificate chains to (Amazon
/// Trust Services), compiled in.
const AWS_TRUST_ROOTS: &[u8] = include_bytes!("../../certs/amazon-trust-services.pem");

/// The HTTPS client for AWS clients whose connections open within
/// `connect_timeout`.
///
/// Not the system's trust store: loading and parsing it (a bundle and a
/// directory of ~150 certificates each) was most of a cold start's work.
/// `AWS_TRUST_SYSTEM_ROOTS=true` adds it, for an endpoint behind a proxy
/// that presents another chain.
///
/// The connector is built here, once: the SDK's own client builds one per
/// AWS client to check it (parsing the roots and making a TLS configuration
/// each time), throws those away, and builds the one it uses at the first
/// call. Settings other than `connect_timeout` (none of ours today) get a
/// connector of their own from the SDK's client, as before.
pub fn https_client(connect_timeout: Duration) -> SharedHttpClient {
    let system = crate::config::optional("AWS_TRUST_SYSTEM_ROOTS").is_some_and(|v| v == "true");
    let trust = TrustStore::empty().with_native_roots(system).with_pem_certificate(AWS_TRUST_ROOTS);
    let tls = TlsContext::builder().with_trust_store(trust).build().expect("a TLS context of a trust store always builds");
    let provider = tls::Provider::Rustls(CryptoMode::AwsLc);
    let settings = HttpConnectorSettings::builder().connect_timeout(connect_timeout).build();
    let connector = Connector::builder().connector_settings(settings.clone()).tls_provider(provider.clone()).tls_context(tls.clone()).build();
    OneConnector { settings, connector: connector.into_shared(), others: Builder::new().tls_provider(provider).tls_context(tls).build_https() }.into_shared()
}

/// Hands out the connector built at cold start for its settings, and leaves
/// any other settings to the SDK's client.
#[derive(Debug)]
struct OneConnector {
    settings: HttpConnectorSettings,
    connector: SharedHttpConnector,
    others: SharedHttpClient,
}

impl HttpClient for OneConnector {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        if same_settings(settings, &self.settings) { self.connector.clone() } else { self.others.http_connector(settings, components) }
    }
}

fn same_settings(a: &HttpConnectorSettings, b: &HttpConnectorSettings) -> bool {
    a.connect_timeout() == b.connect_timeout() && a.read_timeout() == b.read_timeout()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_match_on_both_timeouts() {
        let one = HttpConnectorSettings::builder().connect_timeout(Duration::from_secs(1)).build();
        let same = HttpConnectorSettings::builder().connect_timeout(Duration::from_secs(1)).build();
        let read = HttpConnectorSettings::builder().connect_timeout(Duration::from_secs(1)).read_timeout(Duration::from_secs(1)).build();
        let other = HttpConnectorSettings::builder().connect_timeout(Duration::from_secs(2)).build();
        assert!(same_settings(&one, &same));
        assert!(!same_settings(&one, &read) && !same_settings(&one, &other));
    }
}
