//! The ingest API's own listener: hyper's HTTP/1 server, so that a
//! connection whose request headers are not complete `header_timeout` after
//! it opens is closed (the slow-headers attack), with at most
//! `max_connections` connections at once (more are closed on accept), and
//! optional TLS (rustls through `tokio-rustls`; the handshake is bounded by
//! the same timeout).

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// How the listener treats connections.
#[derive(Clone)]
pub struct Listener {
    /// Connections open at once.
    pub max_connections: usize,
    /// Time from a connection's opening (or its previous answer) to the end of its request headers.
    pub header_timeout: Duration,
    /// TLS, if on.
    pub tls: Option<TlsAcceptor>,
}

/// A TLS acceptor from PEM files; the error names the file and what is wrong.
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let cert_pem = read(cert)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{} is not a PEM certificate chain: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            cert.display()
        ));
    }
    let key_der = PrivateKeyDer::from_pem_slice(&read(key)?)
        .map_err(|e| format!("{} is not a PEM private key: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| {
            format!(
                "{} and {} do not make a usable certificate and key: {e}",
                cert.display(),
                key.display()
            )
        })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `router` on `listener` until `shutdown` resolves. Each request
/// carries its peer address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    opts: Listener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(Semaphore::new(opts.max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!("The ingest listener could not accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "An ingest connection was closed: `ingest.max_connections` are open.");
            drop(stream);
            continue;
        };
        let router = router.clone();
        let opts = opts.clone();
        tokio::spawn(async move {
            connection(stream, peer, router, opts).await;
            drop(slot);
        });
    }
}

async fn connection(stream: TcpStream, peer: SocketAddr, router: Router, opts: Listener) {
    let _ = stream.set_nodelay(true);
    let service =
        tower::ServiceExt::map_request(router, move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        });
    let service = TowerToHyperService::new(service);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(opts.header_timeout);
    let result = match opts.tls {
        None => http.serve_connection(TokioIo::new(stream), service).await,
        Some(tls) => match tokio::time::timeout(opts.header_timeout, tls.accept(stream)).await {
            Ok(Ok(stream)) => http.serve_connection(TokioIo::new(stream), service).await,
            Ok(Err(e)) => {
                tracing::debug!(%peer, "An ingest TLS handshake failed: {e}");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "An ingest TLS handshake timed out.");
                return;
            }
        },
    };
    if let Err(e) = result {
        tracing::debug!(%peer, "An ingest connection ended with an error: {e}");
    }
}
