//! Lambda entry point for `POST /api/{serviceId}/nativesso/logout`.

use lambda_http::Error;
use signoff_edge::runtime::serve;

#[tokio::main]
async fn main() -> Result<(), Error> {
    signoff_edge::telemetry::init();
    let store = signoff_store::config::store_from_env().await?;
    let handle = |request| signoff_nativesso::handle(&store, request);
    serve(handle, signoff_nativesso::malformed_event).await
}
