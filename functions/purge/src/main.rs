//! Lambda entry point for the background purge (an SQS event source, batch size 1).

use lambda_http::lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    signoff_edge::telemetry::init();
    let settings = signoff_purge::settings::Settings::from_env()?;
    let sdk = signoff_store::config::function_sdk_config().await?;
    let store = signoff_store::config::store_with_sdk(&sdk)?;
    let queue = signoff_queue::PurgeQueue::new(&sdk, settings.queue_url.clone());
    run(service_fn(|event: LambdaEvent<signoff_purge::SqsEvent>| {
        signoff_purge::handle(&store, &queue, &settings, event)
    }))
    .await
}
