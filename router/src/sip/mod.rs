//! The SIP front end: a user-agent server on UDP and TCP that answers
//! calls, runs one [`Dialogue`](crate::dialogue::Dialogue) per call and
//! transfers by REFER.
//!
//! Layers, bottom up: [`message`] (rsip parsing, framing, responses),
//! [`sdp`] (offer/answer), the transports here (one UDP socket, a TCP
//! listener with a reader and a bounded writer per connection), the
//! dispatcher here (routes by Call-ID, answers OPTIONS, enforces the call
//! cap) and [`call`] (one task per call: the dialog, the media and the
//! engine's actions).
//!
//! Hostile input: a datagram that rsip cannot parse is dropped; a request
//! without its mandatory headers gets 400; a stream that cannot be framed
//! is closed. Nothing here logs a caller's number, From or To: calls are
//! named by a counter.

mod call;
pub mod message;
pub mod sdp;
mod sms;

pub use sms::SmsSending;

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::media::Recognise;
use crate::tts::Speech;
use message::{Message, Start};

/// Outgoing messages queued per TCP connection.
const TCP_WRITE_CAPACITY: usize = 64;
/// SIP messages queued per call.
const CALL_INPUT_CAPACITY: usize = 32;
/// Seconds a refused caller is asked to wait (503 Retry-After).
const RETRY_AFTER_SECONDS: u32 = 30;
/// How long a TLS client may take to finish its handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Open TCP connections accepted at once.
const MAX_TCP_CONNECTIONS: usize = 1024;

/// How the SIP front end runs.
#[derive(Debug, Clone)]
pub struct SipSettings {
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
    /// The address written into SDP and Contact (the machine's address
    /// as the PBX reaches it).
    pub advertise: IpAddr,
    /// Calls answered at once; more get 503.
    pub max_calls: usize,
    /// SIP over TLS (RFC 3261 §26.2.1): the address and the server's
    /// certificate chain and key.
    pub tls: Option<TlsSettings>,
}

/// A TLS listener's address and credentials.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    pub addr: SocketAddr,
    /// PEM: the certificate chain.
    pub cert: std::path::PathBuf,
    /// PEM: the private key.
    pub key: std::path::PathBuf,
}

/// The clock calls read: the real one, or one that starts at a fixed
/// time (tests of opening hours) and runs on from there.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    fixed: Option<(Timestamp, std::time::Instant)>,
}

impl Clock {
    pub fn real() -> Clock {
        Clock { fixed: None }
    }

    pub fn starting_at(t: Timestamp) -> Clock {
        Clock {
            fixed: Some((t, std::time::Instant::now())),
        }
    }

    pub fn now(&self) -> Timestamp {
        match self.fixed {
            None => Timestamp::now(),
            Some((t, since)) => {
                let span = jiff::SignedDuration::try_from(since.elapsed()).unwrap_or_default();
                t.checked_add(span).unwrap_or(t)
            }
        }
    }
}

/// What a call needs from the server.
pub(crate) struct Shared {
    pub(crate) config: Arc<Config>,
    pub(crate) speech: Arc<Speech>,
    pub(crate) recogniser: Arc<dyn Recognise>,
    pub(crate) settings: SipSettings,
    pub(crate) clock: Clock,
    pub(crate) scrubber: transcripts::Scrubber,
    /// Where calls' turns are stored; none: only logged.
    pub(crate) recorder: Option<crate::record::Recorder>,
    /// The SMS outbox; none: callers are offered no SMS.
    pub(crate) sms: Option<SmsSending>,
    calls: Mutex<HashMap<String, mpsc::Sender<call::Input>>>,
    active: AtomicUsize,
    next_id: AtomicU64,
}

/// Where a message came from and how to answer it.
#[derive(Clone, Debug)]
pub(crate) enum Peer {
    Udp {
        socket: Arc<UdpSocket>,
        addr: SocketAddr,
    },
    Tcp {
        writer: mpsc::Sender<Vec<u8>>,
        local: SocketAddr,
        tls: bool,
    },
}

impl Peer {
    pub(crate) async fn send(&self, bytes: Vec<u8>) {
        match self {
            Peer::Udp { socket, addr } => {
                if let Err(e) = socket.send_to(&bytes, addr).await {
                    tracing::debug!(error = %e, "sip udp send failed");
                }
            }
            Peer::Tcp { writer, .. } => {
                if writer.try_send(bytes).is_err() {
                    tracing::debug!("sip tcp connection gone or backed up; message dropped");
                }
            }
        }
    }

    pub(crate) fn transport(&self) -> &'static str {
        match self {
            Peer::Udp { .. } => "UDP",
            Peer::Tcp { tls: false, .. } => "TCP",
            Peer::Tcp { tls: true, .. } => "TLS",
        }
    }

    pub(crate) fn reliable(&self) -> bool {
        matches!(self, Peer::Tcp { .. })
    }

    pub(crate) fn local_port(&self) -> u16 {
        match self {
            Peer::Udp { socket, .. } => socket.local_addr().map(|a| a.port()).unwrap_or(5060),
            Peer::Tcp { local, .. } => local.port(),
        }
    }
}

/// A unique-enough 64-bit number for tags, branches, SSRCs and SDP ids.
///
/// Written here rather than pulling in `rand`: these values need to be
/// unpredictable across processes and distinct within one, not
/// cryptographic; std's randomly keyed SipHash over a counter gives that.
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum SipError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("neither a UDP nor a TCP address to listen on")]
    NoListener,
    #[error("cannot use the tls certificate or key {path}: {reason}")]
    Tls {
        path: std::path::PathBuf,
        reason: String,
    },
}

/// The SIP server.
pub struct Server {
    shared: Arc<Shared>,
    udp: Option<Arc<UdpSocket>>,
    tcp: Option<TcpListener>,
    tls: Option<(TcpListener, tokio_rustls::TlsAcceptor)>,
}

fn tls_acceptor(t: &TlsSettings) -> Result<tokio_rustls::TlsAcceptor, SipError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |path: &std::path::Path, reason: String| SipError::Tls {
        path: path.to_path_buf(),
        reason,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&t.cert)
        .map_err(|e| bad(&t.cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(&t.cert, e.to_string()))?;
    let key = PrivateKeyDer::from_pem_file(&t.key).map_err(|e| bad(&t.key, e.to_string()))?;
    // The provider is named so the build does not depend on which one
    // another crate's features make the process default.
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| bad(&t.cert, e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| bad(&t.cert, e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

impl Server {
    /// Binds the listeners.
    pub async fn bind(
        config: Arc<Config>,
        speech: Arc<Speech>,
        recogniser: Arc<dyn Recognise>,
        settings: SipSettings,
        clock: Clock,
    ) -> Result<Server, SipError> {
        let udp = match settings.udp {
            Some(addr) => Some(Arc::new(
                UdpSocket::bind(addr)
                    .await
                    .map_err(|source| SipError::Bind { addr, source })?,
            )),
            None => None,
        };
        let tcp = match settings.tcp {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| SipError::Bind { addr, source })?,
            ),
            None => None,
        };
        let tls = match &settings.tls {
            Some(t) => {
                let acceptor = tls_acceptor(t)?;
                let listener =
                    TcpListener::bind(t.addr)
                        .await
                        .map_err(|source| SipError::Bind {
                            addr: t.addr,
                            source,
                        })?;
                Some((listener, acceptor))
            }
            None => None,
        };
        if udp.is_none() && tcp.is_none() && tls.is_none() {
            return Err(SipError::NoListener);
        }
        Ok(Server {
            shared: Arc::new(Shared {
                config,
                speech,
                recogniser,
                settings,
                clock,
                scrubber: transcripts::Scrubber::new(),
                recorder: None,
                sms: None,
                calls: Mutex::new(HashMap::new()),
                active: AtomicUsize::new(0),
                next_id: AtomicU64::new(1),
            }),
            udp,
            tcp,
            tls,
        })
    }

    /// Stores every call's turns (scrubbed) through `recorder`.
    pub fn with_recorder(mut self, recorder: crate::record::Recorder) -> Server {
        // The server is not running yet, so `shared` has no other owner.
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.recorder = Some(recorder);
        }
        self
    }

    /// Sends the SMS callers consent to through this outbox (its worker
    /// is the caller's to run). Without it no caller is offered an SMS.
    pub fn with_sms(mut self, sms: SmsSending) -> Server {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.sms = Some(sms);
        }
        self
    }

    /// The bound TLS address, if any.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls.as_ref().and_then(|(s, _)| s.local_addr().ok())
    }

    /// The bound UDP address, if any.
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.udp.as_ref().and_then(|s| s.local_addr().ok())
    }

    /// The bound TCP address, if any.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp.as_ref().and_then(|s| s.local_addr().ok())
    }

    /// Calls in progress.
    pub fn active_calls(&self) -> usize {
        self.shared.active.load(Ordering::Relaxed)
    }

    /// Serves until the task is dropped.
    pub async fn run(self) {
        let shared = self.shared;
        let tcp_task = self.tcp.map(|listener| {
            let shared = Arc::clone(&shared);
            tokio::spawn(serve_tcp(listener, None, shared))
        });
        let tls_task = self.tls.map(|(listener, acceptor)| {
            let shared = Arc::clone(&shared);
            tokio::spawn(serve_tcp(listener, Some(acceptor), shared))
        });
        if let Some(socket) = self.udp {
            serve_udp(socket, shared).await;
        }
        for t in [tcp_task, tls_task].into_iter().flatten() {
            let _ = t.await;
        }
    }
}

async fn serve_udp(socket: Arc<UdpSocket>, shared: Arc<Shared>) {
    let mut buf = vec![0u8; message::MAX_MESSAGE];
    loop {
        let (n, addr) = match socket.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                tracing::trace!(error = %e, "sip udp receive");
                continue;
            }
        };
        let data = &buf[..n];
        // Keep-alive CRLFs (RFC 5626) and empty datagrams.
        if data.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let peer = Peer::Udp {
            socket: Arc::clone(&socket),
            addr,
        };
        match Message::parse(data) {
            Ok(m) => dispatch(&shared, m, peer).await,
            Err(e) => tracing::debug!(error = %e, bytes = n, "sip datagram dropped"),
        }
    }
}

async fn serve_tcp(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
) {
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(error = %e, "sip tcp accept");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if open.load(Ordering::Relaxed) >= MAX_TCP_CONNECTIONS {
            drop(stream);
            continue;
        }
        open.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::clone(&shared);
        let open = Arc::clone(&open);
        let tls = tls.clone();
        tokio::spawn(async move {
            let local = stream.local_addr();
            match (tls, local) {
                (None, Ok(local)) => serve_connection(stream, addr, local, false, shared).await,
                (Some(acceptor), Ok(local)) => {
                    let handshake =
                        tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
                    match handshake {
                        Ok(Ok(s)) => serve_connection(s, addr, local, true, shared).await,
                        _ => tracing::debug!("sip tls handshake failed"),
                    }
                }
                (_, Err(_)) => {}
            }
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

async fn serve_connection<S>(
    stream: S,
    addr: SocketAddr,
    local: SocketAddr,
    tls: bool,
    shared: Arc<Shared>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (mut read, mut write) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(TCP_WRITE_CAPACITY);
    let writer = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if write.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });
    let peer = Peer::Tcp {
        writer: tx,
        local,
        tls,
    };
    tracing::debug!(%addr, "sip tcp connection");
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 8192];
    'conn: loop {
        let n = match read.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            // Keep-alive CRLFs between messages.
            let skip = buf
                .iter()
                .take_while(|b| **b == b'\r' || **b == b'\n')
                .count();
            buf.drain(..skip);
            match message::frame_len(&buf) {
                Ok(None) => break,
                Ok(Some(len)) => {
                    let bytes: Vec<u8> = buf.drain(..len).collect();
                    match Message::parse(&bytes) {
                        Ok(m) => dispatch(&shared, m, peer.clone()).await,
                        Err(_) => {
                            tracing::debug!("sip tcp message unparsable; connection closed");
                            break 'conn;
                        }
                    }
                }
                Err(_) => {
                    tracing::debug!("sip tcp stream cannot be framed; connection closed");
                    break 'conn;
                }
            }
        }
    }
    drop(peer);
    writer.abort();
}

const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, NOTIFY, REFER, INFO";

async fn dispatch(shared: &Arc<Shared>, m: Message, peer: Peer) {
    let call_id = m.call_id().map(str::to_string);
    if let Start::Response { .. } = m.start {
        if let Some(tx) = call_id.and_then(|c| shared.call(&c)) {
            let _ = tx.try_send(call::Input { message: m, peer });
        }
        return;
    }
    if !m.is_well_formed_request() {
        if m.header("via").is_some() && m.method() != Some("ACK") {
            peer.send(m.response(400, "Bad Request", None, &[], None))
                .await;
        }
        return;
    }
    let Some(call_id) = call_id else { return };
    let method = m.method().unwrap_or_default().to_ascii_uppercase();
    if let Some(tx) = shared.call(&call_id) {
        if tx.try_send(call::Input { message: m, peer }).is_err() {
            tracing::debug!("call input queue full; sip message dropped");
        }
        return;
    }
    match method.as_str() {
        "INVITE" if m.tag("to").is_none() => new_call(shared, call_id, m, peer).await,
        "OPTIONS" => {
            let extra = [
                ("Allow", ALLOW.to_string()),
                ("Accept", "application/sdp".to_string()),
            ];
            peer.send(m.response(200, "OK", Some(&tag()), &extra, None))
                .await;
        }
        "ACK" => {}
        "INVITE" | "BYE" | "CANCEL" | "NOTIFY" | "INFO" | "REFER" => {
            peer.send(m.response(481, "Call/Transaction Does Not Exist", None, &[], None))
                .await;
        }
        _ => {
            peer.send(m.response(
                405,
                "Method Not Allowed",
                Some(&tag()),
                &[("Allow", ALLOW.to_string())],
                None,
            ))
            .await;
        }
    }
}

pub(crate) fn tag() -> String {
    format!("{:016x}", random_u64())
}

async fn new_call(shared: &Arc<Shared>, call_id: String, m: Message, peer: Peer) {
    // Reserve a slot first; give it back on every refusal below.
    let active = shared.active.fetch_add(1, Ordering::SeqCst);
    if active >= shared.settings.max_calls {
        shared.active.fetch_sub(1, Ordering::SeqCst);
        tracing::info!(active, "call refused: at capacity");
        peer.send(m.response(
            503,
            "Service Unavailable",
            Some(&tag()),
            &[("Retry-After", RETRY_AFTER_SECONDS.to_string())],
            None,
        ))
        .await;
        return;
    }
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = mpsc::channel(CALL_INPUT_CAPACITY);
    if let Ok(mut calls) = shared.calls.lock() {
        calls.insert(call_id.clone(), tx);
    }
    let shared2 = Arc::clone(shared);
    tokio::spawn(async move {
        call::run(&shared2, id, m, peer, rx).await;
        if let Ok(mut calls) = shared2.calls.lock() {
            calls.remove(&call_id);
        }
        shared2.active.fetch_sub(1, Ordering::SeqCst);
    });
}

impl Shared {
    fn call(&self, call_id: &str) -> Option<mpsc::Sender<call::Input>> {
        self.calls.lock().ok()?.get(call_id).cloned()
    }
}
