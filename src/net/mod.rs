//! Byte transports for listeners: TLS (rustls) and WebSocket, each ending in a stream
//! that is `AsyncRead + AsyncWrite`. Nothing here knows MQTT.

pub mod pem;
pub mod tls;
pub mod ws;
pub mod x509;
