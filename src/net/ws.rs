//! WebSocket listeners: the HTTP upgrade, then binary messages seen as one byte stream.
//!
//! [`WsStream`] implements `AsyncRead` and `AsyncWrite`, so whatever runs over TCP runs
//! over WebSocket unchanged: message boundaries carry no meaning (a packet may span
//! messages and a message may hold several packets, MQTT 5.0 section 6). Secure WebSocket
//! is this over a TLS stream.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{header, HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

/// The subprotocols accepted, preferred first: `mqtt` (3.1.1 and 5.0) and the name MQTT
/// 3.1 clients used.
pub const SUBPROTOCOLS: [&str; 2] = ["mqtt", "mqttv3.1"];

/// The choices of one WebSocket listener.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WsSettings {
    /// The only request path accepted (`/mqtt`); `None` accepts any, as Mosquitto does.
    pub path: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("WebSocket handshake failed: {0}")]
pub struct WsError(#[from] tungstenite::Error);

/// Answers the HTTP upgrade on `stream` and returns the byte stream inside.
// The callback's large error type is tungstenite's `ErrorResponse`, not ours to shrink.
#[allow(clippy::result_large_err)]
/// `max_message_size` bounds one WebSocket message (and frame).
pub async fn accept<S>(
    stream: S,
    settings: &WsSettings,
    max_message_size: usize,
) -> Result<WsStream<S>, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = WebSocketConfig::default()
        .max_message_size(Some(max_message_size))
        .max_frame_size(Some(max_message_size))
        // Every write goes out at once; the connection task batches packets itself.
        .write_buffer_size(0);
    let path = settings.path.clone();
    let callback = move |request: &Request, response: Response| answer(request, response, path);
    let inner =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config)).await?;
    Ok(WsStream {
        inner,
        pending: Bytes::new(),
    })
}

fn refuse(status: StatusCode, why: &str) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(why.to_owned()));
    *response.status_mut() = status;
    response
}

// tungstenite's `Callback` fixes this signature and its large error type.
#[allow(clippy::result_large_err)]
/// Checks the path and picks the subprotocol. A client that offers no subprotocol is
/// still served (some test tools do not send one); one that offers only others is not.
fn answer(
    request: &Request,
    mut response: Response,
    path: Option<String>,
) -> Result<Response, ErrorResponse> {
    if let Some(path) = path {
        if request.uri().path() != path {
            return Err(refuse(
                StatusCode::NOT_FOUND,
                &format!("MQTT is served at {path}"),
            ));
        }
    }
    let offered: Vec<String> = request
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    if offered.is_empty() {
        return Ok(response);
    }
    let Some(chosen) = SUBPROTOCOLS
        .iter()
        .find(|ours| offered.iter().any(|p| p.eq_ignore_ascii_case(ours)))
    else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "the WebSocket subprotocol must be mqtt",
        ));
    };
    response.headers_mut().insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(chosen),
    );
    Ok(response)
}

/// A WebSocket connection as a byte stream: binary messages in, binary messages out.
#[derive(Debug)]
pub struct WsStream<S> {
    inner: WebSocketStream<S>,
    /// The unread rest of the last binary message.
    pending: Bytes,
}

fn io_error(e: tungstenite::Error) -> io::Error {
    match e {
        tungstenite::Error::Io(e) => e,
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            io::Error::from(io::ErrorKind::BrokenPipe)
        }
        other => io::Error::other(other),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.pending.is_empty() {
                let n = self.pending.len().min(buf.remaining());
                buf.put_slice(&self.pending[..n]);
                self.pending.advance(n);
                return Poll::Ready(Ok(()));
            }
            let next = ready!(Pin::new(&mut self.inner).poll_next(cx));
            match next {
                Some(Ok(Message::Binary(data))) => self.pending = data,
                // MQTT 5.0 section 6: a text message closes the connection.
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "MQTT over WebSocket must use binary messages, got text",
                    )))
                }
                // Pongs to pings are queued by tungstenite itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                // A close or the end of the stream is the end of the bytes.
                Some(Ok(Message::Close(_))) | None => return Poll::Ready(Ok(())),
                Some(Err(
                    tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed,
                )) => return Poll::Ready(Ok(())),
                Some(Err(e)) => return Poll::Ready(Err(io_error(e))),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut inner = Pin::new(&mut self.inner);
        ready!(inner.as_mut().poll_ready(cx)).map_err(io_error)?;
        inner
            .start_send(Message::Binary(Bytes::copy_from_slice(buf)))
            .map_err(io_error)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx).map_err(io_error)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match ready!(Pin::new(&mut self.inner).poll_close(cx)) {
            Ok(())
            | Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                Poll::Ready(Ok(()))
            }
            Err(e) => Poll::Ready(Err(io_error(e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    fn request(path: &str, protocols: Option<&str>) -> Request {
        let mut builder = Request::builder().uri(path);
        if let Some(p) = protocols {
            builder = builder.header(header::SEC_WEBSOCKET_PROTOCOL, p);
        }
        builder.body(()).unwrap()
    }

    fn chosen(result: Result<Response, ErrorResponse>) -> Option<String> {
        result
            .unwrap()
            .headers()
            .get(header::SEC_WEBSOCKET_PROTOCOL)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn mqtt_subprotocol_is_echoed_and_preferred() {
        let r = answer(
            &request("/", Some("mqttv3.1, mqtt")),
            Response::default(),
            None,
        );
        assert_eq!(chosen(r).as_deref(), Some("mqtt"));
        let r = answer(&request("/", Some("mqttv3.1")), Response::default(), None);
        assert_eq!(chosen(r).as_deref(), Some("mqttv3.1"));
    }

    #[test]
    fn no_subprotocol_is_tolerated_but_a_foreign_one_is_refused() {
        let r = answer(&request("/", None), Response::default(), None);
        assert_eq!(chosen(r), None);
        let err = answer(&request("/", Some("chat")), Response::default(), None).unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn a_configured_path_is_enforced_and_any_path_is_accepted_otherwise() {
        let path = Some("/mqtt".to_owned());
        assert!(answer(
            &request("/mqtt", Some("mqtt")),
            Response::default(),
            path.clone()
        )
        .is_ok());
        let err = answer(&request("/other", Some("mqtt")), Response::default(), path).unwrap_err();
        assert_eq!(err.status(), StatusCode::NOT_FOUND);
        assert!(answer(
            &request("/anything", Some("mqtt")),
            Response::default(),
            None
        )
        .is_ok());
    }

    #[tokio::test]
    async fn bytes_cross_message_boundaries_both_ways() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = accept(tcp, &WsSettings::default(), 1 << 20).await.unwrap();
            let mut got = [0u8; 6];
            ws.read_exact(&mut got).await.unwrap();
            ws.write_all(&got).await.unwrap();
            ws.flush().await.unwrap();
            ws.shutdown().await.unwrap();
            got
        });
        let mut req = format!("ws://{addr}/mqtt").into_client_request().unwrap();
        req.headers_mut().insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("mqtt"),
        );
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut client, response) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
        assert_eq!(response.headers()[header::SEC_WEBSOCKET_PROTOCOL], "mqtt");
        use futures_util::{SinkExt, StreamExt};
        client.send(Message::binary(&b"abc"[..])).await.unwrap();
        client.send(Message::binary(&b"def"[..])).await.unwrap();
        let mut echoed = Vec::new();
        while let Some(Ok(Message::Binary(data))) = client.next().await {
            echoed.extend_from_slice(&data);
        }
        assert_eq!(&echoed, b"abcdef");
        assert_eq!(&server.await.unwrap(), b"abcdef");
    }
}
