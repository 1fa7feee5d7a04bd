//! `signoff-admin`, the binary an operator runs, against a test database: the one way the
//! tests run it.

use crate::db::TestDb;
use crate::paths::binaries_dir;

/// What a run printed, and whether it succeeded.
pub struct AdminRun {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `signoff-admin` with `args` against `db`, with `env` added to a clean environment
/// (a queue's endpoint, say).
pub async fn run_admin(db: &TestDb, args: &[&str], env: &[(String, String)]) -> AdminRun {
    let output = tokio::process::Command::new(binaries_dir().join("signoff-admin"))
        .args(["--table", db.store.table_name()])
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("AWS_ENDPOINT_URL_DYNAMODB", &db.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .await
        .expect("signoff-admin runs (scripts/test builds it)");
    AdminRun {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
