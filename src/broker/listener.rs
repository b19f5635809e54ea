//! Listeners and what each accepted connection goes through before MQTT: nothing (TCP),
//! a TLS handshake, a WebSocket upgrade, or both. Those run in the connection's own task
//! under the connect timeout, never in the accept loop, so a slow or silent peer holds up
//! only itself.

use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::config::{ClientIdentity, ListenerConfig, ListenerKind};
use super::{connection, Shared};
use crate::net::tls::{self, ServerTls, TlsError};
use crate::net::ws::{self, WsSettings};

/// A bound listener and what its connections speak.
pub(crate) struct Listener {
    pub(crate) tcp: TcpListener,
    pub(crate) transport: Transport,
    pub(crate) scheme: &'static str,
}

#[derive(Clone)]
pub(crate) enum Transport {
    Tcp,
    Tls {
        tls: Arc<ServerTls>,
        identity: ClientIdentity,
    },
    Ws {
        ws: Arc<WsSettings>,
    },
    Wss {
        tls: Arc<ServerTls>,
        ws: Arc<WsSettings>,
        identity: ClientIdentity,
    },
}

impl Transport {
    /// Loads the certificate files a listener needs.
    pub(crate) fn load(config: &ListenerConfig) -> Result<Transport, TlsError> {
        let with_host = |settings: &tls::TlsSettings| {
            let mut settings = settings.clone();
            if settings.host.is_none() && !config.bind.ip().is_unspecified() {
                settings.host = Some(config.bind.ip().to_string());
            }
            settings
        };
        Ok(match &config.kind {
            ListenerKind::Tcp => Transport::Tcp,
            ListenerKind::Tls { tls, identity } => Transport::Tls {
                tls: Arc::new(ServerTls::load(with_host(tls))?),
                identity: *identity,
            },
            ListenerKind::Ws { ws } => Transport::Ws {
                ws: Arc::new(ws.clone()),
            },
            ListenerKind::Wss { tls, ws, identity } => Transport::Wss {
                tls: Arc::new(ServerTls::load(with_host(tls))?),
                ws: Arc::new(ws.clone()),
                identity: *identity,
            },
        })
    }

    pub(crate) fn tls(&self) -> Option<&Arc<ServerTls>> {
        match self {
            Transport::Tls { tls, .. } | Transport::Wss { tls, .. } => Some(tls),
            Transport::Tcp | Transport::Ws { .. } => None,
        }
    }
}

/// Runs `handshake` under the connect timeout; `None` (logged) if it fails, takes too
/// long or the broker shuts down meanwhile.
async fn within<T, E: Display>(
    peer: SocketAddr,
    limit: Duration,
    shutdown: &CancellationToken,
    what: &str,
    handshake: impl Future<Output = Result<T, E>>,
) -> Option<T> {
    tokio::select! {
        _ = shutdown.cancelled() => None,
        result = tokio::time::timeout(limit, handshake) => match result {
            Ok(Ok(stream)) => Some(stream),
            Ok(Err(e)) => {
                info!(%peer, "{what} handshake failed: {e}");
                None
            }
            Err(_) => {
                debug!(%peer, "{what} handshake did not finish within {limit:?}; closing");
                None
            }
        }
    }
}

/// One WebSocket message may carry a whole packet plus the start of the next.
fn ws_message_limit(max_packet_size: usize) -> usize {
    max_packet_size.saturating_add(64 * 1024)
}

/// The user name a client certificate gives, when the listener asks for one. A client
/// without a usable certificate on such a listener is refused: letting it choose its own
/// user name would defeat the point.
fn identity_of<S>(
    stream: &tokio_rustls::server::TlsStream<S>,
    identity: ClientIdentity,
    peer: SocketAddr,
) -> Result<Option<String>, ()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let Some(which) = identity.peer_name() else {
        return Ok(None);
    };
    match tls::peer_name(stream, which) {
        Some(name) => Ok(Some(name)),
        None => {
            info!(%peer, "refused: the listener takes the user name from the client certificate, and the client sent none (or one without a Common Name)");
            Err(())
        }
    }
}

/// Everything one accepted TCP connection goes through, as the future of its own task.
///
/// A task's future is as large as the largest state it can be in, and an `async fn` keeps
/// its arguments for its whole life: were the TLS and WebSocket arms inline, every idle
/// TCP connection would carry room for their state. Plain MQTT over TCP is the connection's
/// own future; each of the others is a boxed future of its own.
pub(crate) fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    transport: Transport,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + Send {
    // Mosquitto's wording, which log parsers look for; the port is looked up only when logged.
    info!(
        "New connection from {peer} on port {}.",
        stream.local_addr().map_or(0, |a| a.port())
    );
    let limit = shared.config.connect_timeout;
    let ws_limit = ws_message_limit(shared.config.max_packet_size);
    let secured: Pin<Box<dyn Future<Output = ()> + Send>> = match transport {
        Transport::Tcp => {
            return Either::Left(connection::serve(stream, peer, None, shared, shutdown));
        }
        Transport::Tls { tls, identity } => Box::pin(async move {
            let accept = tls.acceptor().accept(stream);
            let Some(stream) = within(peer, limit, &shutdown, "TLS", accept).await else {
                return;
            };
            let Ok(name) = identity_of(&stream, identity, peer) else {
                return;
            };
            connection::serve(stream, peer, name, shared, shutdown).await
        }),
        Transport::Ws { ws } => Box::pin(async move {
            let upgrade = ws::accept(stream, &ws, ws_limit);
            let Some(stream) = within(peer, limit, &shutdown, "WebSocket", upgrade).await else {
                return;
            };
            connection::serve(stream, peer, None, shared, shutdown).await
        }),
        Transport::Wss { tls, ws, identity } => Box::pin(async move {
            let both = async {
                let stream = tls
                    .acceptor()
                    .accept(stream)
                    .await
                    .map_err(|e| format!("TLS: {e}"))?;
                let name = identity_of(&stream, identity, peer)
                    .map_err(|()| "no client certificate name".to_owned())?;
                let stream = ws::accept(stream, &ws, ws_limit)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>((stream, name))
            };
            let Some((stream, name)) =
                within(peer, limit, &shutdown, "secure WebSocket", both).await
            else {
                return;
            };
            connection::serve(stream, peer, name, shared, shutdown).await
        }),
    };
    Either::Right(secured)
}

/// Reloads certificates and keys of every TLS listener; a listener whose files fail keeps
/// what it had. Returns how many failed.
#[derive(Clone, Default)]
pub struct Reloader {
    tls: Vec<Arc<ServerTls>>,
}

impl Reloader {
    pub(crate) fn new(tls: Vec<Arc<ServerTls>>) -> Reloader {
        Reloader { tls }
    }

    pub fn reload_tls(&self) -> usize {
        let mut failed = 0;
        for tls in &self.tls {
            if let Err(e) = tls.reload() {
                warn!("kept the old TLS certificate: {e}");
                failed += 1;
            }
        }
        failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the future `f` returns, without calling it.
    fn size_of_output<A, F>(_: impl FnOnce(A) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    type Accepted<T> = (T, SocketAddr, Arc<Shared>, CancellationToken);

    #[test]
    fn a_tcp_connection_task_is_small_and_carries_no_room_for_tls_or_websocket_state() {
        let mqtt_over_tcp =
            size_of_output(|(stream, peer, shared, shutdown): Accepted<TcpStream>| {
                connection::serve(stream, peer, None, shared, shutdown)
            });
        let mqtt_over_tls = size_of_output(
            |(stream, peer, shared, shutdown): Accepted<
                tokio_rustls::server::TlsStream<TcpStream>,
            >| { connection::serve(stream, peer, None, shared, shutdown) },
        );
        let task = size_of_output(
            |((stream, peer, shared, shutdown), transport): (Accepted<TcpStream>, Transport)| {
                serve_connection(stream, peer, transport, shared, shutdown)
            },
        );
        eprintln!(
            "connection task {task} bytes; MQTT over TCP {mqtt_over_tcp}, over TLS {mqtt_over_tls}"
        );
        assert!(
            task < mqtt_over_tcp + 256,
            "a connection task of {task} bytes, for {mqtt_over_tcp} of MQTT over TCP"
        );
        // With tokio's task header and trailer (~100 bytes, in 128-byte steps), an idle TCP
        // connection's whole task then fits in 512 bytes (BENCHMARKS.md: per connection).
        assert!(
            task <= 400,
            "a connection task of {task} bytes: something now lives in the future for the \
             connection's whole life (box it, or keep it only in the CONNECT phase)"
        );
    }
}
