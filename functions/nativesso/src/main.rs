//! Lambda entry point for `POST /api/{serviceId}/nativesso/logout`.

use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    signoff_edge::telemetry::init();
    let store = signoff_store::config::store_from_env().await?;
    run(service_fn(|request: Request| {
        signoff_nativesso::handle(&store, request)
    }))
    .await
}
