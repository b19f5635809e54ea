//! rumqttc, a third-party client, for the normal flows.
//!
//! The event loop runs on its own task and forwards incoming packets; a connection error
//! ends it (no silent reconnects), so a test sees every disconnection.

use std::collections::VecDeque;
use std::time::Duration;

use rumqttc::{AsyncClient, ConnAck, Event, EventLoop, MqttOptions, Packet, Publish, QoS};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::harness::Broker;
use crate::raw::PATIENCE;

pub struct Mqtt {
    pub client: AsyncClient,
    events: mpsc::UnboundedReceiver<Result<Packet, String>>,
    /// Publishes that arrived while a test waited for something else.
    stash: VecDeque<Publish>,
    task: JoinHandle<()>,
}

/// Options for a clean session with `client_id` on `broker`.
pub fn options(broker: &Broker, client_id: &str) -> MqttOptions {
    let mut options = MqttOptions::new(client_id, "127.0.0.1", broker.port());
    options.set_keep_alive(Duration::from_secs(30));
    options.set_max_packet_size(1 << 20, 1 << 20);
    options
}

impl Mqtt {
    /// A clean session with `client_id`.
    pub async fn connect(broker: &Broker, client_id: &str) -> Mqtt {
        Mqtt::connect_with(options(broker, client_id)).await.0
    }

    /// Connects with `options`, insisting on success; returns the CONNACK too.
    pub async fn connect_with(options: MqttOptions) -> (Mqtt, ConnAck) {
        let (client, eventloop) = AsyncClient::new(options, 1000);
        let (tx, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(drive(eventloop, tx));
        let mut mqtt = Mqtt {
            client,
            events,
            stash: VecDeque::new(),
            task,
        };
        let ack = match mqtt.next_packet().await {
            Packet::ConnAck(ack) => ack,
            other => panic!("expected CONNACK, got {other:?}"),
        };
        assert_eq!(ack.code, rumqttc::ConnectReturnCode::Success);
        (mqtt, ack)
    }

    /// The next incoming packet of any kind.
    async fn next_event(&mut self) -> Packet {
        match tokio::time::timeout(PATIENCE, self.events.recv()).await {
            Ok(Some(Ok(packet))) => packet,
            Ok(Some(Err(e))) => panic!("rumqttc connection failed: {e}"),
            Ok(None) => panic!("rumqttc event loop ended"),
            Err(_) => panic!("nothing arrived within {PATIENCE:?}"),
        }
    }

    /// The next non-PUBLISH packet; publishes arriving meanwhile are kept for `recv`.
    pub async fn next_packet(&mut self) -> Packet {
        loop {
            match self.next_event().await {
                Packet::Publish(p) => self.stash.push_back(p),
                other => return other,
            }
        }
    }

    pub async fn subscribe(&mut self, filter: &str, qos: QoS) -> Vec<rumqttc::SubscribeReasonCode> {
        self.client
            .subscribe(filter, qos)
            .await
            .expect("subscribe request");
        loop {
            if let Packet::SubAck(ack) = self.next_packet().await {
                return ack.return_codes;
            }
        }
    }

    /// Publishes and, for QoS 1 and 2, waits until the broker has acknowledged it (PUBACK
    /// or PUBCOMP), so the broker has routed it when this returns. One at a time.
    pub async fn publish(
        &mut self,
        topic: &str,
        qos: QoS,
        retain: bool,
        payload: impl Into<Vec<u8>>,
    ) {
        self.client
            .publish(topic, qos, retain, payload.into())
            .await
            .expect("publish request");
        match qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => loop {
                if let Packet::PubAck(_) = self.next_packet().await {
                    break;
                }
            },
            QoS::ExactlyOnce => loop {
                if let Packet::PubComp(_) = self.next_packet().await {
                    break;
                }
            },
        }
    }

    /// The next application message.
    pub async fn recv(&mut self) -> Publish {
        if let Some(p) = self.stash.pop_front() {
            return p;
        }
        loop {
            if let Packet::Publish(p) = self.next_event().await {
                return p;
            }
        }
    }

    /// The next application message on `topic`, skipping others.
    pub async fn recv_on(&mut self, topic: &str) -> Publish {
        loop {
            let p = self.recv().await;
            if p.topic == topic {
                return p;
            }
        }
    }
}

impl Drop for Mqtt {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn drive(mut eventloop: EventLoop, tx: mpsc::UnboundedSender<Result<Packet, String>>) {
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(packet)) => {
                if tx.send(Ok(packet)).is_err() {
                    return;
                }
            }
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => {
                // rumqttc has written and flushed DISCONNECT; dropping the loop closes the socket.
                let _ = tx.send(Err("disconnected".into()));
                return;
            }
            Ok(Event::Outgoing(_)) => {}
            Err(e) => {
                let _ = tx.send(Err(e.to_string()));
                return;
            }
        }
    }
}

/// A payload as text, for assertions.
pub fn text(p: &Publish) -> String {
    String::from_utf8_lossy(&p.payload).into_owned()
}
