//! Back-channel logout delivery (OpenID Connect Back-Channel Logout 1.0 with errata 1):
//! every logout the table records reaches the clients that held its tokens, without ever
//! making the logout wait. Two functions, one crate:
//!
//! - `logout-fanout` ([`fanout`]), on the table's DynamoDB stream: each session end and
//!   each logout-all becomes one queued delivery per client with a logout URI;
//! - `logout-deliver` ([`deliver`]), on the deliveries queue: mints a fresh logout token
//!   per attempt and POSTs it ([`sender`]), retrying with backoff and keeping what it
//!   cannot deliver on the undelivered queue.
//!
//! docs/back-channel-logout.md says what each receiver gets and when.

pub mod deliver;
pub mod fanout;
pub mod sender;
pub mod settings;
