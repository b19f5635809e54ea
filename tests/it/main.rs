//! The one integration test binary. Each area of the product has its own module tree.

/// `mq pub` and `mq sub` against `mq broker` and Mosquitto (own harness in `pubsub/mod.rs`).
mod pubsub;
