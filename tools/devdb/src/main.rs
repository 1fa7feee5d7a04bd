//! `signoff-devdb`: a DynamoDB-compatible server for local runs (dynoxide, embedded).
//!
//! Unlike DynamoDB, dynoxide never removes TTL-expired items by itself; this server sweeps
//! them every `--ttl-sweep-seconds`, so the local stack behaves like AWS (only faster).

use clap::Parser;

#[derive(Parser)]
#[command(name = "signoff-devdb", version, about)]
struct Args {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Keep the data in this SQLite file instead of memory.
    #[arg(long)]
    db_file: Option<String>,
    /// Seconds between sweeps of TTL-expired items (0: never).
    #[arg(long, default_value_t = 60)]
    ttl_sweep_seconds: u64,
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let db = match &args.db_file {
        Some(path) => dynoxide::Database::new(path),
        None => dynoxide::Database::memory(),
    }
    .map_err(|e| format!("cannot open the database: {e}"))?;
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
    eprintln!(
        "signoff-devdb: DynamoDB endpoint http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );

    if args.ttl_sweep_seconds > 0 {
        let sweeper = db.clone();
        let period = std::time::Duration::from_secs(args.ttl_sweep_seconds);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                let db = sweeper.clone();
                match tokio::task::spawn_blocking(move || db.sweep_ttl()).await {
                    Ok(Ok(0)) => {}
                    Ok(Ok(n)) => eprintln!("signoff-devdb: removed {n} expired item(s)"),
                    Ok(Err(e)) => eprintln!("signoff-devdb: TTL sweep failed: {e}"),
                    Err(e) => eprintln!("signoff-devdb: TTL sweep panicked: {e}"),
                }
            }
        });
    }

    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        #[cfg(unix)]
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            term.recv().await;
            return;
        }
        std::future::pending::<()>().await
    };
    dynoxide::server::serve_with_shutdown(listener, db, async {
        tokio::select! { _ = shutdown => {}, _ = terminate => {} }
    })
    .await
}
