//! Lambda entry point for token and device revocation: `POST /nidp/oauth/nam/revoke`,
//! `POST /nidp/oauth/nam/revoke/{device_id}` and `POST /oauth2/revoke` (and their CORS
//! preflights).

use lambda_http::Error;
use signoff_edge::runtime::serve;

#[tokio::main]
async fn main() -> Result<(), Error> {
    signoff_edge::telemetry::init();
    let settings = signoff_revoke::settings::Settings::from_env()?;
    let store = signoff_store::config::store_from_env().await?;
    let handle = |request| signoff_revoke::handle(&store, &settings, request);
    serve(handle, signoff_revoke::malformed_event).await
}
