//! Lambda entry point for Descope's `POST /v1/auth/logout`, `POST /v1/auth/logoutall` and
//! `GET /v2/keys/{projectId}`.

use lambda_http::Error;
use signoff_edge::runtime::serve;

#[tokio::main]
async fn main() -> Result<(), Error> {
    signoff_edge::telemetry::init();
    let mut settings = signoff_descope::settings::Settings::from_env()?;
    let sdk = signoff_store::config::function_sdk_config().await?;
    let store = signoff_store::config::store_with_sdk(&sdk)?;
    settings.handoff = signoff_queue::Handoff::from_env(&sdk)?;
    let handle = |request| signoff_descope::handle(&store, &settings, request);
    serve(handle, signoff_descope::malformed_event).await
}
