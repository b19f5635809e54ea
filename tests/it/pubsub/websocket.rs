//! `ws://` URLs. Neither broker here serves WebSocket (Debian's Mosquitto is built without
//! it, `mq broker` has no WebSocket listener yet), so a small relay in the test speaks
//! WebSocket (subprotocol `mqtt`) to the client and plain TCP to the broker.

use std::io::ErrorKind;

use tungstenite::handshake::server::{Request, Response};
use tungstenite::http::HeaderValue;
use tungstenite::Message;

use super::*;

/// Listens for WebSocket clients and relays each to the broker on `backend`; returns its port.
fn websocket_relay(backend: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay");
    let port = listener.local_addr().expect("relay addr").port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            std::thread::spawn(move || relay(client, backend));
        }
    });
    port
}

fn relay(client: TcpStream, backend: u16) {
    // tungstenite's callback signature fixes the large error type.
    #[allow(clippy::result_large_err)]
    let offer_mqtt = |_: &Request, mut response: Response| {
        response
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
        Ok(response)
    };
    let Ok(mut ws) = tungstenite::accept_hdr(client, offer_mqtt) else {
        return;
    };
    let Ok(mut broker) = TcpStream::connect(("127.0.0.1", backend)) else {
        return;
    };
    let tick = Some(Duration::from_millis(2));
    if ws.get_mut().set_read_timeout(tick).is_err() || broker.set_read_timeout(tick).is_err() {
        return;
    }
    let idle = |e: &std::io::Error| matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match ws.read() {
            Ok(Message::Binary(bytes)) => {
                if broker.write_all(&bytes).is_err() {
                    return;
                }
            }
            Ok(Message::Close(_)) => return,
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if idle(&e) => {}
            Err(_) => return,
        }
        match broker.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if ws.send(Message::Binary(buf[..n].to_vec().into())).is_err() {
                    return;
                }
            }
            Err(e) if idle(&e) => {}
            Err(_) => return,
        }
    }
}

#[test]
fn websocket_urls_carry_mqtt_both_ways() {
    for broker in brokers("websocket_urls_carry_mqtt_both_ways") {
        let relay = websocket_relay(broker.port);
        for v in ["311", "5"] {
            let url = format!("ws://127.0.0.1:{relay}/mqtt");
            let sub = Subscriber::start_with(mq(&[
                "sub", "-d", "-L", &url, "-V", v, "-t", "ws/#", "-v", "-C", "2", "-q", "1",
            ]));
            for i in 0..2 {
                let out = run(
                    mq(&[
                        "pub",
                        "-L",
                        &url,
                        "-V",
                        v,
                        "-t",
                        &format!("ws/{i}"),
                        "-m",
                        "over websocket",
                        "-q",
                        "1",
                    ]),
                    None,
                );
                assert!(
                    out.status.success(),
                    "{}: {}",
                    broker.name(),
                    text(&out.stderr)
                );
            }
            let (out, stderr) = sub.finish();
            assert!(out.status.success(), "{stderr}");
            assert_eq!(
                text(&out.stdout),
                "ws/0 over websocket\nws/1 over websocket\n",
                "{} -V {v}",
                broker.name()
            );
        }
    }
}

#[test]
fn a_websocket_url_without_a_server_is_a_network_error() {
    let port = free_port();
    let out = run(
        mq(&[
            "pub",
            "-L",
            &format!("ws://127.0.0.1:{port}/mqtt"),
            "-t",
            "t",
            "-m",
            "m",
        ]),
        None,
    );
    assert_fails(&out, 3, &["connection refused"]);
}
