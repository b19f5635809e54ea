//! The codec on the hot path: encoding and decoding one PUBLISH at 16 B, 1 KiB and 64 KiB,
//! in MQTT 3.1.1 and 5.0.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use mq_proto::{
    encode, ByteString, Bytes, BytesMut, Codec, Packet, PacketId, Properties, ProtocolVersion,
    Publish, QoS, PROTOCOL_MAX_PACKET_SIZE,
};

const SIZES: [(usize, &str); 3] = [(16, "16B"), (1024, "1KiB"), (64 * 1024, "64KiB")];
const VERSIONS: [(ProtocolVersion, &str); 2] =
    [(ProtocolVersion::V311, "v311"), (ProtocolVersion::V5, "v5")];

fn publish(size: usize) -> Packet {
    Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: ByteString::from_static("bench/sensors/42/temperature"),
        packet_id: PacketId::new(7),
        properties: Properties::default(),
        payload: Bytes::from(vec![0x5a; size]),
    })
}

fn encode_publish(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode_publish");
    for (version, version_name) in VERSIONS {
        for (size, size_name) in SIZES {
            let packet = publish(size);
            group.throughput(Throughput::Bytes(size as u64));
            let mut out = BytesMut::with_capacity(size + 64);
            group.bench_function(BenchmarkId::new(version_name, size_name), |b| {
                b.iter(|| {
                    out.clear();
                    encode(std::hint::black_box(&packet), version, &mut out);
                    std::hint::black_box(out.len())
                })
            });
        }
    }
    group.finish();
}

fn decode_publish(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_publish");
    for (version, version_name) in VERSIONS {
        for (size, size_name) in SIZES {
            let mut wire = BytesMut::new();
            encode(&publish(size), version, &mut wire);
            let wire = wire.freeze();
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_function(BenchmarkId::new(version_name, size_name), |b| {
                b.iter_batched(
                    || BytesMut::from(&wire[..]),
                    |mut buf| {
                        let mut codec = Codec::client(version, PROTOCOL_MAX_PACKET_SIZE);
                        match codec.decode(&mut buf) {
                            Ok(Some(packet)) => packet,
                            other => panic!("the bench packet did not decode: {other:?}"),
                        }
                    },
                    BatchSize::SmallInput,
                )
            });
        }
    }
    group.finish();
}

criterion_group!(benches, encode_publish, decode_publish);
criterion_main!(benches);
