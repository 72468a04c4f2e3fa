//! The ingest API's own listener: hyper's HTTP/1 server, so that a
//! connection whose request headers are not complete `header_timeout` after
//! it opens is closed (the slow-headers attack), with at most
//! `max_connections` connections at once and at most
//! `max_connections_per_source` from one source IP (more are closed on
//! accept), every connection closed `lifetime` after it opens whatever it is
//! doing (a client that pipelines requests and never reads its answers cannot
//! hold a slot), request buffers capped at [`MAX_BUF_SIZE`], and optional TLS
//! (rustls through `tokio-rustls`; the handshake is bounded by the header
//! timeout).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite};
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
    /// Connections open at once from one source IP.
    pub max_connections_per_source: usize,
    /// Time from a connection's opening (or its previous answer) to the end of its request headers.
    pub header_timeout: Duration,
    /// The longest a connection stays open, whatever it is doing: then it is
    /// asked to close after its current answer, and dropped [`GRACE`] later.
    pub lifetime: Duration,
    /// TLS, if on.
    pub tls: Option<TlsAcceptor>,
}

/// The most bytes hyper buffers for one connection's requests.
pub const MAX_BUF_SIZE: usize = 64 * 1024;

/// How long a connection past its lifetime may take to finish its current answer.
pub const GRACE: Duration = Duration::from_secs(2);

impl Listener {
    /// The listener `[ingest]` asks for: a connection lives at most
    /// `header_timeout + request_timeout + 5 s` (one slow request fits).
    pub fn from_config(cfg: &super::IngestConfig, tls: Option<TlsAcceptor>) -> Self {
        Self {
            max_connections: cfg.max_connections,
            max_connections_per_source: cfg.max_connections_per_source,
            header_timeout: cfg.header_timeout,
            lifetime: cfg.header_timeout + cfg.request_timeout + Duration::from_secs(5),
            tls,
        }
    }
}

/// Open connections per source IP; a [`SourceSlot`] gives its one back when dropped.
#[derive(Default)]
struct Sources(Mutex<HashMap<IpAddr, usize>>);

struct SourceSlot {
    sources: Arc<Sources>,
    ip: IpAddr,
}

impl Sources {
    fn try_take(self: &Arc<Self>, ip: IpAddr, cap: usize) -> Option<SourceSlot> {
        let mut map = self.0.lock();
        let n = map.entry(ip).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(SourceSlot {
            sources: self.clone(),
            ip,
        })
    }
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut map = self.sources.0.lock();
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
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
    let sources = Arc::new(Sources::default());
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
        // The per-source cap first, so one address cannot take the global slots.
        let Some(source) = sources.try_take(peer.ip(), opts.max_connections_per_source) else {
            tracing::debug!(%peer, "An ingest connection was closed: `ingest.max_connections_per_source` are open from its address.");
            drop(stream);
            continue;
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
            drop(source);
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
        .header_read_timeout(opts.header_timeout)
        .max_buf_size(MAX_BUF_SIZE);
    let opened = tokio::time::Instant::now();
    let result = match opts.tls {
        None => serve_io(&http, stream, service, peer, opened + opts.lifetime).await,
        Some(tls) => match tokio::time::timeout(opts.header_timeout, tls.accept(stream)).await {
            Ok(Ok(stream)) => serve_io(&http, stream, service, peer, opened + opts.lifetime).await,
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

/// Serves one connection until it ends or `deadline` passes; then asks it to
/// close after its current answer and drops it [`GRACE`] later (a client that
/// does not read its answers never lets that finish).
async fn serve_io<I, S>(
    http: &hyper::server::conn::http1::Builder,
    io: I,
    service: S,
    peer: SocketAddr,
    deadline: tokio::time::Instant,
) -> hyper::Result<()>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming> + Send,
    S::Future: Send + 'static,
    S::ResBody: Send + 'static,
    <S::ResBody as hyper::body::Body>::Data: Send,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let conn = http.serve_connection(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => return result,
        _ = tokio::time::sleep_until(deadline) => {}
    }
    tracing::debug!(%peer, "An ingest connection reached its lifetime and is closed.");
    conn.as_mut().graceful_shutdown();
    match tokio::time::timeout(GRACE, conn).await {
        Ok(result) => result,
        Err(_) => Ok(()),
    }
}
