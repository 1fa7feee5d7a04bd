//! Lambda entry point for `POST /api/{serviceId}/nativesso/logout`.

use lambda_http::{run, service_fn, tracing, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let store = signoff::config::store_from_env().await?;
    run(service_fn(|request: Request| {
        signoff_nativesso::handle(&store, request)
    }))
    .await
}
