//! What every Signoff HTTP function shares, between API Gateway's event and the store:
//!
//! - [`request`]: JSON bodies, bearer credentials (checked against the store), path
//!   parameters.
//! - [`authlete`]: Authlete's answers to refused API credentials, its result messages.
//! - [`oauth`]: OAuth form bodies and client credentials (form or HTTP Basic).
//! - [`cors`]: CORS preflights and response headers for browser-called endpoints.
//! - [`route`]: which endpoint a request is for, from the function's route table.
//! - [`response`]: the pieces every response shares.
//! - [`metrics`]: one CloudWatch embedded-metric-format line per request, from `respond`.
//! - [`runtime`]: the Lambda loop, which answers events lambda_http cannot read.
//! - [`status_list`]: Token Status List settings registration and introspection share.
//! - [`telemetry`]: logs in Lambda's JSON shape, with the request id on every line.
//!
//! DynamoDB access stays in [`signoff_store`]; nothing here issues a query of its own.

pub mod authlete;
pub mod cors;
pub mod metrics;
pub mod oauth;
pub mod request;
pub mod response;
pub mod route;
pub mod runtime;
pub mod signing;
pub mod status_list;
pub mod telemetry;
