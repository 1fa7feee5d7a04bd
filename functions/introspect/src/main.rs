//! Lambda entry point for token introspection: `POST /oauth2/introspect` (RFC 7662, with
//! RFC 9701 JWT responses) and NetIQ's `POST /nidp/oauth/v1/nam/introspect`.

use lambda_http::Error;
use signoff_edge::runtime::serve;

#[tokio::main]
async fn main() -> Result<(), Error> {
    signoff_edge::telemetry::init();
    let settings = signoff_introspect::settings::Settings::from_env()?;
    let sdk = signoff_store::config::function_sdk_config().await?;
    let store = signoff_store::config::store_with_sdk(&sdk)?;
    let keys = settings.signing_keys(&sdk);
    let handle = |request| signoff_introspect::handle(&store, &settings, keys.as_ref(), request);
    serve(handle, signoff_introspect::malformed_event).await
}
