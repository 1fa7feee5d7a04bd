//! Lambda entry point for Descope's `POST /v1/auth/logout`, `POST /v1/auth/logoutall` and
//! `GET /v2/keys/{projectId}`.

use lambda_http::{run, service_fn, tracing, Error, Request};
use signoff_descope::Settings;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let settings = Settings::from_env()?;
    let store = signoff::config::store_from_env().await?;
    run(service_fn(|request: Request| {
        signoff_descope::handle(&store, &settings, request)
    }))
    .await
}
