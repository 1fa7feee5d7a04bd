//! Support for Signoff's tests and benchmarks: a fresh DynamoDB-compatible database per
//! test (embedded dynoxide, or DynamoDB Local when an endpoint variable points there),
//! request counting, fault injection, the one builder of API Gateway (HTTP API) events, the
//! handlers by binary name, a local API Gateway + Lambda Runtime API emulator that serves
//! the real function binaries (and times cold starts), the docs/openapi.yaml checker, and
//! a local KMS (moto's server) for the signing keys.

pub mod admin;
pub mod backchannel;
pub mod cold_start;
pub mod db;
pub mod event;
pub mod functions;
pub mod gateway;
pub mod kms;
pub mod openapi;
pub mod paths;
pub mod queue;
pub mod runtime_api;
pub mod seed;
