//! The TLS client configuration every outgoing connection of ours uses (IMAP, LDAP): the web's
//! roots plus an optional PEM bundle. One place, so that the adapters share it without
//! importing each other.

use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{pem::PemObject, CertificateDer};
use tokio_rustls::TlsConnector;

/// Web roots plus an optional PEM bundle (an internal CA or a self-signed test certificate).
pub fn connector(ca_file: Option<&Path>) -> Result<TlsConnector, String> {
    Ok(TlsConnector::from(client_config(ca_file)?))
}

/// The rustls client configuration behind [`connector`] (LDAP uses it directly).
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let pem =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        // rustls' own PEM reader (pki-types), which replaced the unmaintained rustls-pemfile.
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| format!("bad PEM in {}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("bad certificate in {}: {e}", path.display()))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}
