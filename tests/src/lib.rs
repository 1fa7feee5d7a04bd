//! Support for Signoff's tests and benchmarks: a fresh DynamoDB-compatible database per
//! test (embedded dynoxide, or DynamoDB Local when an endpoint variable points there),
//! request counting, fault injection, and a local API Gateway + Lambda runtime emulator
//! that serves the real function binaries.

pub mod cold_start;
pub mod db;
pub mod event;
pub mod functions;
pub mod gateway;
pub mod openapi;
pub mod paths;
pub mod runtime_api;
pub mod seed;
