//! Lambda entry point for token and device revocation: `POST /nidp/oauth/nam/revoke`,
//! `POST /nidp/oauth/nam/revoke/{device_id}` and `POST /oauth2/revoke` (and their CORS
//! preflights), `POST /oauth2/global-token-revocation` and
//! `GET /.well-known/oauth-authorization-server`.

use lambda_http::Error;
use signoff_edge::runtime::serve;

#[tokio::main]
async fn main() -> Result<(), Error> {
    signoff_edge::telemetry::init();
    let mut settings = signoff_revoke::settings::Settings::from_env()?;
    let sdk = signoff_store::config::function_sdk_config().await?;
    let store = signoff_store::config::store_with_sdk(&sdk)?;
    settings.handoff = signoff_queue::Handoff::from_env(&sdk)?;
    let handle = |request| signoff_revoke::handle(&store, &settings, request);
    serve(handle, signoff_revoke::malformed_event).await
}
