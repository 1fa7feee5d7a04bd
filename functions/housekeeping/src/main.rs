//! Lambda entry point for scheduled housekeeping (an EventBridge schedule).

use lambda_http::lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    signoff_edge::telemetry::init();
    let settings = signoff_housekeeping::settings::Settings::from_env()?;
    let store = signoff_store::config::store_from_env().await?;
    let metrics = signoff_housekeeping::Metrics::from_env();
    run(service_fn(|event: LambdaEvent<Value>| {
        signoff_housekeeping::handle(&store, &settings, &metrics, event)
    }))
    .await
}
