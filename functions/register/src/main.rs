//! Lambda entry point for `POST /signoff/v1/tenants/{tenantId}/tokens`.

use lambda_http::Error;
use signoff_edge::runtime::serve;

#[tokio::main]
async fn main() -> Result<(), Error> {
    signoff_edge::telemetry::init();
    let settings = signoff_register::Settings::from_env()?;
    let store = signoff_store::config::store_from_env().await?;
    let handle = |request| signoff_register::handle(&store, &settings, request);
    serve(handle, signoff_register::malformed_event).await
}
