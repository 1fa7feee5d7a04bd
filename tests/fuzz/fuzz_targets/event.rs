//! The raw Lambda event: `signoff_edge::runtime::check_event` on arbitrary JSON never
//! panics, and whatever it accepts `lambda_http` can turn into a request without panicking
//! (`LambdaRequest::ApiGatewayV2(event).into()`, what `lambda_http`'s adapter does with it).
//! That is the property that keeps a sandbox alive: an event check_event lets through
//! reaches the handler.
#![no_main]

use lambda_http::request::LambdaRequest;
use lambda_http::Request;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use signoff_edge::runtime::check_event;

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(event) = check_event(payload) else {
        return;
    };
    let request: Request = LambdaRequest::ApiGatewayV2(event).into();
    // What handlers read first.
    let _ = (
        request.method(),
        request.uri().path(),
        request.uri().query(),
    );
    let _ = signoff_edge::request::body_bytes(&request);
});
