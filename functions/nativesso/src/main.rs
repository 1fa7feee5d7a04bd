//! Lambda entry point for Authlete's service APIs that end tokens:
//! `POST /api/{serviceId}/nativesso/logout`, `POST /api/{serviceId}/auth/token/revoke`,
//! `DELETE /api/{serviceId}/auth/token/delete/{accessTokenIdentifier}`,
//! `DELETE /api/{serviceId}/client/authorization/delete/{clientId}` and
//! `GET /api/{serviceId}/auth/token/get/list`.

use lambda_http::Error;
use signoff_edge::runtime::serve;

#[tokio::main]
async fn main() -> Result<(), Error> {
    signoff_edge::telemetry::init();
    let sdk = signoff_store::config::function_sdk_config().await?;
    let store = signoff_store::config::store_with_sdk(&sdk)?;
    let settings = signoff_nativesso::Settings::from_env(&sdk)?;
    let handle = |request| signoff_nativesso::handle(&store, &settings, request);
    serve(handle, signoff_nativesso::malformed_event).await
}
