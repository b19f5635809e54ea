//! The one integration test binary. Each area of the product has its own module tree.

mod clients;
