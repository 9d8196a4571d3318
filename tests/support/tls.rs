//! Test certificates made by rcgen at test time: a CA, and a server certificate it signed for
//! `localhost` and `127.0.0.1`.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA and a server certificate for `localhost` / `127.0.0.1` signed by it.
pub struct TestCertificates {
    /// The CA certificate (DER): trust this one in the client.
    pub ca_der: Vec<u8>,
    /// The server certificate (DER).
    pub server_der: Vec<u8>,
    /// The server's private key (PKCS#8 DER).
    pub server_key_der: Vec<u8>,
}

impl TestCertificates {
    /// Generates fresh keys and certificates.
    pub fn generate() -> TestCertificates {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "configcat-actix test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().expect("CA key");
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA certificate");

        let server_key = KeyPair::generate().expect("server key");
        let mut server_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("server params");
        server_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let server = server_params
            .signed_by(&server_key, &ca)
            .expect("server certificate");

        TestCertificates {
            ca_der: ca.der().to_vec(),
            server_der: server.der().to_vec(),
            server_key_der: server_key.serialize_der(),
        }
    }

    /// A rustls acceptor presenting the server certificate (and the CA) with ALPN http/1.1.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        self.acceptor_offering(&[b"http/1.1"])
    }

    /// The same, offering these ALPN protocols (in order of preference).
    pub(crate) fn acceptor_offering(&self, protocols: &[&[u8]]) -> TlsAcceptor {
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![
                    CertificateDer::from(self.server_der.clone()),
                    CertificateDer::from(self.ca_der.clone()),
                ],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key_der.clone())),
            )
            .expect("server TLS config");
        config.alpn_protocols = protocols.iter().map(|p| p.to_vec()).collect();
        TlsAcceptor::from(Arc::new(config))
    }
}
