//! Feeds arbitrary bytes to a server `Codec`, to client `Codec`s and to `decode` in every
//! protocol version. The codec may refuse anything, but must not panic, and every packet it
//! accepts must encode to bytes that decode back to the same packet.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mq_proto::{
    decode, encode, encoded_len, BytesMut, Codec, Packet, ProtocolVersion, PROTOCOL_MAX_PACKET_SIZE,
};

const MAX: usize = PROTOCOL_MAX_PACKET_SIZE;
const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V31,
    ProtocolVersion::V311,
    ProtocolVersion::V5,
];

/// `packet` was decoded from a `version` connection: its encoding must decode to itself.
fn assert_round_trip(packet: &Packet, version: ProtocolVersion) {
    let mut encoded = BytesMut::new();
    encode(packet, version, &mut encoded);
    assert_eq!(
        encoded_len(packet, version),
        encoded.len(),
        "encoded_len disagrees with encode for {packet:?}"
    );
    // The encoding cut one byte short is a packet still arriving.
    let mut short = BytesMut::from(&encoded[..encoded.len() - 1]);
    assert_eq!(
        decode(&mut short, version, MAX),
        Ok(None),
        "a proper prefix of {encoded:02X?} did not ask for more bytes"
    );
    let bytes = encoded.clone();
    match decode(&mut encoded, version, MAX) {
        Ok(Some(again)) if again == *packet && encoded.is_empty() => {}
        other => panic!(
            "MQTT {version}: {packet:?}\nencodes to {bytes:02X?}\nwhich decodes to {other:?}"
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    // A server connection: CONNECT first, then the version it chose.
    let mut server = Codec::server(MAX);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(packet)) = server.decode(&mut buf) {
        let version = server
            .version()
            .expect("a server codec decodes nothing before a CONNECT");
        assert_round_trip(&packet, version);
    }

    for version in VERSIONS {
        let mut client = Codec::client(version, MAX);
        let mut buf = BytesMut::from(data);
        while let Ok(Some(packet)) = client.decode(&mut buf) {
            assert_round_trip(&packet, version);
        }

        let mut buf = BytesMut::from(data);
        while let Ok(Some(packet)) = decode(&mut buf, version, MAX) {
            assert_round_trip(&packet, version);
        }
    }
});
