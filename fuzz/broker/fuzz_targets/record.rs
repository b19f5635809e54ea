//! Feeds arbitrary bytes to every record decoder of the store (sessions, subscriptions,
//! messages, deliveries, and the write-ahead log's groups of changes). A damaged store
//! must be refused, never panic or allocate what a count claims; and since the format has
//! one encoding per value, a record that decodes must encode back to exactly its bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mq::broker::persist::record::*;

/// `decoded` came from `data`: encoding it must give `data` back.
fn assert_canonical<T: std::fmt::Debug>(
    data: &[u8],
    decoded: Result<T, RecordError>,
    encode: fn(&T) -> Vec<u8>,
) {
    if let Ok(record) = decoded {
        assert_eq!(
            encode(&record),
            data,
            "{record:?} does not encode to its own bytes"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    assert_canonical(data, decode_session(data), encode_session);
    assert_canonical(data, decode_subscription(data), encode_subscription);
    assert_canonical(data, decode_message(data), encode_message);
    let delivery = decode_delivery(data);
    if let Ok(record) = &delivery {
        assert_eq!(delivery_message_id(data), Ok(record.message_id));
    }
    assert_canonical(data, delivery, encode_delivery);
    assert_canonical(data, decode_group(data), |changes| encode_group(changes));
});
