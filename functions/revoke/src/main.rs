//! Lambda entry point for token and device revocation: `POST /nidp/oauth/nam/revoke`,
//! `POST /nidp/oauth/nam/revoke/{device_id}` and `POST /oauth2/revoke` (and their CORS
//! preflights).

use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    signoff_edge::telemetry::init();
    let settings = signoff_revoke::settings::Settings::from_env()?;
    let store = signoff_store::config::store_from_env().await?;
    run(service_fn(|request: Request| {
        signoff_revoke::handle(&store, &settings, request)
    }))
    .await
}
