//! Lambda entry point for Descope's `POST /v1/auth/logout`, `POST /v1/auth/logoutall` and
//! `GET /v2/keys/{projectId}`.

use lambda_http::{run, service_fn, Error, Request};
use signoff_descope::settings::Settings;

#[tokio::main]
async fn main() -> Result<(), Error> {
    signoff_edge::telemetry::init();
    let settings = Settings::from_env()?;
    let store = signoff_store::config::store_from_env().await?;
    run(service_fn(|request: Request| {
        signoff_descope::handle(&store, &settings, request)
    }))
    .await
}
