//! The rustls client configuration: webpki roots plus the extra roots of the options, the ring
//! crypto provider, HTTP/2 offered before HTTP/1.1.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use crate::error::Error;

/// Builds the TLS configuration awc uses for `https://` URLs.
pub(crate) fn client_config(
    extra_root_certificates: &[Vec<u8>],
) -> Result<Arc<ClientConfig>, Error> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for (i, der) in extra_root_certificates.iter().enumerate() {
        roots
            .add(CertificateDer::from(der.clone()))
            .map_err(|e| Error::InvalidCertificate(format!("certificate #{i}: {e}")))?;
    }
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    // The ConfigCat CDNs speak HTTP/2, and awc's HTTP/2 path sends only the headers the
    // request has: its HTTP/1 encoder adds a `date` header to every request (see `request`).
    // TLS runs end to end through a CONNECT tunnel, so proxies do not change this.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
