//! Lambda entry point for scheduled housekeeping (an EventBridge schedule).

use lambda_http::lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    signoff::telemetry::init();
    let settings = signoff::config::HousekeepingConfig::from_env()?;
    let store = signoff::config::store_from_env().await?;
    let metrics = signoff_housekeeping::Metrics::from_env();
    run(service_fn(|event: LambdaEvent<Value>| {
        signoff_housekeeping::handle(&store, &settings, &metrics, event)
    }))
    .await
}
