//! The lease API's TLS: the provider's certificate, a listener that completes handshakes before
//! axum sees a connection, and a client configuration that trusts a certificate by its pin.
//!
//! Akash providers serve their API with a certificate published on chain; Kumo providers publish
//! SHA-256 pins of their certificates' SubjectPublicKeyInfo in the registry (`SetTlsPins`), so a
//! provider can use a self-signed certificate and tenants still know they reach the provider
//! the chain names. The pin covers the key, not the certificate: renewing a certificate with
//! the same key keeps the pin.
//!
//! Crates: `tokio-rustls` (already in the tree under reqwest's `hyper-rustls`, and a thin layer
//! over rustls) rather than `axum-server`, whose extra server loop would duplicate what
//! `axum::serve` does once it is given a [`Listener`] that yields TLS streams. rustls runs on
//! `ring`, the provider reqwest already builds, so no second crypto library (aws-lc) is built.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;
use cosmwasm_std::HexBinary;
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::rustls;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring as ring_provider, CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::store::write_atomically;

/// File names of a generated certificate and key in the agent's data directory.
pub const CERT_FILE: &str = "gateway-cert.pem";
pub const KEY_FILE: &str = "gateway-key.pem";

/// TLS handshakes in progress at once; more connections wait in the kernel's backlog.
const MAX_HANDSHAKES: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what}: {reason}")]
    Pem { what: String, reason: String },
    #[error("{what} holds no {expected}")]
    Missing {
        what: String,
        expected: &'static str,
    },
    #[error("certificate is not valid X.509: {0}")]
    InvalidCertificate(String),
    #[error("certificate generation failed: {0}")]
    Generate(String),
    #[error("TLS configuration rejected: {0}")]
    Config(String),
}

/// Where the provider's certificate comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsConfig {
    /// PEM files the operator provides (a CA-issued certificate, say): the certificate chain,
    /// leaf first, and its private key (PKCS#8, PKCS#1 or SEC1).
    Pem { cert: PathBuf, key: PathBuf },
    /// A self-signed certificate kept in `dir` ([`CERT_FILE`], [`KEY_FILE`]), generated on the
    /// first start for `hostnames` (plus `localhost`). Delete the files to get a new one; the
    /// pin published in the registry must then be updated.
    SelfSigned {
        dir: PathBuf,
        hostnames: Vec<String>,
    },
}

impl TlsConfig {
    pub fn load(&self) -> Result<ProviderCert, TlsError> {
        match self {
            TlsConfig::Pem { cert, key } => ProviderCert::load(cert, key),
            TlsConfig::SelfSigned { dir, hostnames } => {
                ProviderCert::load_or_generate(dir, hostnames)
            }
        }
    }
}

/// The provider's certificate chain and key, with the pins derived from them.
pub struct ProviderCert {
    cert_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    spki_sha256: [u8; 32],
    cert_sha256: [u8; 32],
}

impl fmt::Debug for ProviderCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("ProviderCert")
            .field("spki_sha256", &hex::encode(self.spki_sha256))
            .field("cert_sha256", &hex::encode(self.cert_sha256))
            .field("chain_len", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl ProviderCert {
    /// From PEM text: one or more certificates (leaf first) and one private key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<ProviderCert, TlsError> {
        let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Pem {
                what: "certificate".into(),
                reason: e.to_string(),
            })?;
        let leaf = chain.first().ok_or_else(|| TlsError::Missing {
            what: "certificate PEM".into(),
            expected: "CERTIFICATE block",
        })?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| match e {
            rustls::pki_types::pem::Error::NoItemsFound => TlsError::Missing {
                what: "key PEM".into(),
                expected: "private key block",
            },
            e => TlsError::Pem {
                what: "private key".into(),
                reason: e.to_string(),
            },
        })?;
        let spki_sha256 = spki_sha256(leaf)?;
        let cert_sha256 = Sha256::digest(leaf.as_ref()).into();
        let cert = ProviderCert {
            cert_pem: cert_pem.to_string(),
            chain,
            key,
            spki_sha256,
            cert_sha256,
        };
        // Fails now, not at the first connection, if the key is not the certificate's.
        cert.server_config()?;
        Ok(cert)
    }

    /// From PEM files.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<ProviderCert, TlsError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| TlsError::Io {
                path: path.to_path_buf(),
                source,
            })
        };
        ProviderCert::from_pem(&read(cert_path)?, &read(key_path)?)
    }

    /// A new self-signed certificate (ECDSA P-256) for `hostnames` and `localhost`, and its key
    /// as PEM.
    pub fn generate(hostnames: &[String]) -> Result<(ProviderCert, String), TlsError> {
        let mut names: Vec<String> = hostnames.to_vec();
        if !names.iter().any(|n| n == "localhost") {
            names.push("localhost".to_string());
        }
        let generated = rcgen::generate_simple_self_signed(names)
            .map_err(|e| TlsError::Generate(e.to_string()))?;
        let key_pem = generated.signing_key.serialize_pem();
        let cert = ProviderCert::from_pem(&generated.cert.pem(), &key_pem)?;
        Ok((cert, key_pem))
    }

    /// The certificate kept in `dir`, or a new self-signed one written there first (the key
    /// readable by the owner only). Files that exist but do not load are an error: they are
    /// the operator's, and their pin may be published.
    pub fn load_or_generate(dir: &Path, hostnames: &[String]) -> Result<ProviderCert, TlsError> {
        let cert_path = dir.join(CERT_FILE);
        let key_path = dir.join(KEY_FILE);
        if cert_path.exists() && key_path.exists() {
            return ProviderCert::load(&cert_path, &key_path);
        }
        std::fs::create_dir_all(dir).map_err(|source| TlsError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let (cert, key_pem) = ProviderCert::generate(hostnames)?;
        if cert_path.exists() || key_path.exists() {
            tracing::warn!(
                dir = %dir.display(),
                "only one of the lease API certificate and key exists; generating both anew"
            );
        }
        let write = |path: &Path, text: &str, mode| {
            write_atomically(path, text.as_bytes(), mode).map_err(|source| TlsError::Io {
                path: path.to_path_buf(),
                source,
            })
        };
        // The key first: a crash between the two leaves no certificate, so the next start
        // generates both again (nothing was published for a pair that never loaded).
        write(&key_path, &key_pem, 0o600)?;
        write(&cert_path, &cert.cert_pem, 0o644)?;
        tracing::info!(
            cert = %cert_path.display(),
            pin = %cert.pin_hex(),
            "generated a self-signed lease API certificate"
        );
        Ok(cert)
    }

    /// SHA-256 of the leaf's SubjectPublicKeyInfo (DER): the pin for the registry's
    /// `SetTlsPins` and for [`pinned_client_config`].
    pub fn spki_sha256(&self) -> [u8; 32] {
        self.spki_sha256
    }

    /// [`ProviderCert::spki_sha256`] as the registry takes it.
    pub fn pin(&self) -> HexBinary {
        HexBinary::from(self.spki_sha256.to_vec())
    }

    /// [`ProviderCert::spki_sha256`] as lowercase hex.
    pub fn pin_hex(&self) -> String {
        hex::encode(self.spki_sha256)
    }

    /// SHA-256 of the leaf certificate's DER, lowercase hex: the fingerprint browsers and
    /// `openssl x509 -fingerprint -sha256` show.
    pub fn cert_sha256_hex(&self) -> String {
        hex::encode(self.cert_sha256)
    }

    /// The certificate chain as PEM (what a client adds as a trusted root for a self-signed
    /// certificate).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The leaf certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        self.chain.first().map_or(&[], |c| c.as_ref())
    }

    /// A rustls server configuration: TLS 1.3 and 1.2, HTTP/1.1 by ALPN.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| TlsError::Config(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(ring_provider::default_provider())
}

/// SHA-256 of a DER certificate's SubjectPublicKeyInfo.
pub fn spki_sha256(cert: &CertificateDer<'_>) -> Result<[u8; 32], TlsError> {
    let parsed = rustls::server::ParsedCertificate::try_from(cert)
        .map_err(|e| TlsError::InvalidCertificate(e.to_string()))?;
    Ok(Sha256::digest(parsed.subject_public_key_info().as_ref()).into())
}

/// A client configuration that trusts exactly the servers whose leaf certificate has one of
/// `pins` (SHA-256 of the SubjectPublicKeyInfo), whatever signed it and whatever names it lists:
/// the registry's pins are the trust anchor, not a CA. The handshake signature is still
/// verified, so only the holder of the pinned key gets through. Certificate validity dates are
/// not checked (a pinned self-signed certificate's dates vouch for nothing).
///
/// With reqwest: `Client::builder().use_preconfigured_tls(pinned_client_config(&pins)?)`.
pub fn pinned_client_config(pins: &[[u8; 32]]) -> Result<rustls::ClientConfig, TlsError> {
    let provider = crypto_provider();
    let verifier = PinVerifier {
        pins: pins.to_vec(),
        algorithms: provider.signature_verification_algorithms,
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[derive(Debug)]
struct PinVerifier {
    pins: Vec<[u8; 32]>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let pin = spki_sha256(end_entity).map_err(|_| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
        })?;
        if self.pins.contains(&pin) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A TCP listener whose connections come out TLS-terminated, for `axum::serve`. Handshakes run
/// in their own tasks with a timeout, so a client that connects and stays silent holds up
/// nobody; at most [`MAX_HANDSHAKES`] run at once.
pub struct TlsListener {
    incoming: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: SocketAddr,
    accept_task: JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `listener` (needs a Tokio runtime).
    pub fn new(
        listener: TcpListener,
        tls: Arc<rustls::ServerConfig>,
        handshake_timeout: Duration,
    ) -> std::io::Result<TlsListener> {
        let local_addr = listener.local_addr()?;
        let (tx, incoming) = mpsc::channel(64);
        let accept_task = tokio::spawn(accept_loop(
            listener,
            TlsAcceptor::from(tls),
            handshake_timeout,
            tx,
        ));
        Ok(TlsListener {
            incoming,
            local_addr,
            accept_task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        // Stop accepting: the server is gone.
        self.accept_task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let permits = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (tcp, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                // Out of file descriptors and the like: back off rather than spin.
                tracing::warn!(error = %e, "lease API accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    let _ = tx.send((stream, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(conn) => conn,
            // The accept task ended (it only does when aborted): no more connections.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}
