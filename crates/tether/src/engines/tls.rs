//! [`TlsCa`]: the certificate authority an operator gives tether (`tls-ca`) to trust an
//! adopted server's certificate, and the rustls client configuration built from it.
//!
//! Written once for the engines whose drivers take a rustls configuration or a PEM (the
//! PostgreSQL connector in `postgres::tls`, mysql_async's root certificates), so "which
//! certificates does tether trust" has one answer: exactly those of `tls-ca`, never the
//! system's roots, and the server's name (host or IP address) must match its certificate
//! (libpq's `verify-full`, MySQL's `--ssl-verify-server-cert`). ring is the crypto
//! provider because it is the one the dependency tree already builds.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// A parsed `tls-ca`: one or more PEM certificates, all usable as trust anchors.
#[derive(Clone)]
pub struct TlsCa {
    pem: String,
    config: Arc<ClientConfig>,
}

impl std::fmt::Debug for TlsCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsCa").finish_non_exhaustive()
    }
}

impl PartialEq for TlsCa {
    fn eq(&self, other: &TlsCa) -> bool {
        self.pem == other.pem
    }
}

impl TlsCa {
    /// Parses PEM text; the error says what is wrong with it (it never echoes the text,
    /// which is public but long).
    pub fn parse(pem: &str) -> Result<TlsCa, String> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| format!("is not PEM certificates: {e}"))?;
            roots.add(cert).map_err(|e| format!("holds a certificate that cannot be a trust anchor: {e}"))?;
        }
        if roots.is_empty() {
            return Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
        }
        let config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot be used: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsCa { pem: pem.to_string(), config: Arc::new(config) })
    }

    /// The PEM text as given (what requirers get as `tls-ca`).
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A client configuration that trusts only these certificates.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }
}

/// The certificate check that failed, when `e` (an I/O error from a TLS handshake) is
/// rustls refusing the server: the reason in rustls's words, never a secret.
pub fn refusal(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(r) = c.downcast_ref::<rustls::Error>() {
            return Some(r.to_string());
        }
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if let Some(r) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return Some(r.to_string());
            }
        }
        cause = c.source();
    }
    None
}

/// The message of a unit whose server's certificate `tls-ca` does not vouch for.
pub fn untrusted(reason: &str) -> String {
    format!("its TLS certificate is not trusted with tls-ca ({reason})")
}

/// The message of a unit whose server does not offer TLS although `tls-ca` is set.
pub const NO_TLS: &str = "it does not offer TLS, but tls-ca is set";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pem_certificates_are_taken() {
        for bad in ["", "nonsense", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"] {
            assert!(TlsCa::parse(bad).is_err(), "{bad:?}");
        }
        let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let e = TlsCa::parse(broken).unwrap_err();
        assert!(!e.contains("AAAA"), "{e}");
    }
}
