//! Lambda entry point for the back-channel logout fanout (the table's DynamoDB stream).

use lambda_http::lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    signoff_edge::telemetry::init();
    let settings = signoff_backchannel::settings::FanoutSettings::from_env()?;
    let sdk = signoff_store::config::function_sdk_config().await?;
    let store = signoff_store::config::store_with_sdk(&sdk)?;
    let deliveries = signoff_queue::Queue::new(&sdk, settings.deliveries_url.clone());
    run(service_fn(
        |event: LambdaEvent<signoff_backchannel::fanout::StreamEvent>| {
            signoff_backchannel::fanout::handle(&store, &deliveries, &settings, event)
        },
    ))
    .await
}
