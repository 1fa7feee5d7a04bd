//! Lambda entry point for back-channel logout delivery (the deliveries queue).

use lambda_http::lambda_runtime::{run, service_fn, Error, LambdaEvent};
use signoff_queue::logouts::LogoutQueues;
use signoff_queue::Queue;

#[tokio::main]
async fn main() -> Result<(), Error> {
    signoff_edge::telemetry::init();
    let sdk = signoff_store::config::function_sdk_config().await?;
    let settings = signoff_backchannel::settings::DeliverySettings::from_env(&sdk)?;
    let store = signoff_store::config::store_with_sdk(&sdk)?;
    let sender =
        signoff_backchannel::sender::Sender::new(settings.timeout, settings.allow_loopback)?;
    let queues = LogoutQueues {
        deliveries: Queue::new(&sdk, settings.deliveries_url.clone()),
        undelivered: Queue::new(&sdk, settings.undelivered_url.clone()),
    };
    run(service_fn(|event: LambdaEvent<signoff_queue::SqsEvent>| {
        signoff_backchannel::deliver::handle(&store, &queues, &sender, &settings, event)
    }))
    .await
}
