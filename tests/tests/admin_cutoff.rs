//! `signoff-admin cut-off`, the binary an operator runs in an incident, against a fresh
//! embedded emulator over HTTP: each kind of cutoff makes exactly the tokens it names
//! unusable at the shared lookup, and a client id nobody registered gets a warning.

use signoff_store::item_key::TokenHash;
use signoff_store::model::{TokenRecord, TokenType};
use signoff_store::revocation::TokenState;
use signoff_tests::admin::run_admin;
use signoff_tests::db::TestDb;
use signoff_tests::paths::binaries_dir;
use signoff_tests::seed;

const TENANT: &str = "715948317";

/// Runs `signoff-admin` with `args` against `db`: (success, stdout, stderr).
async fn admin(db: &TestDb, args: &[&str]) -> (bool, String, String) {
    let run = run_admin(db, args, &[]).await;
    (run.ok, run.stdout, run.stderr)
}

async fn state(db: &TestDb, token: &str) -> TokenState {
    let now = signoff_store::now_epoch_seconds();
    db.store
        .lookup_token(TENANT, &TokenHash::of(token), now)
        .await
        .expect("lookup")
        .expect("stored")
        .1
}

#[tokio::test]
async fn each_cutoff_ends_exactly_the_tokens_it_names() {
    let db = TestDb::start().await;
    seed::tenant(&db.store, TENANT, None).await;
    seed::client(&db.store, TENANT, "web", true).await.unwrap();
    let of = |value: &str, client: &str, subject: &str| TokenRecord {
        subject: Some(subject.into()),
        ..seed::token(TENANT, value, TokenType::Refresh, client)
    };
    seed::register(
        &db.store,
        vec![
            of("web-alice", "web", "alice"),
            of("web-bob", "web", "bob"),
            of("cli-alice", "cli", "alice"),
        ],
    )
    .await;

    let (ok, out, err) = admin(
        &db,
        &[
            "cut-off",
            "--tenant",
            TENANT,
            "--client-id",
            "web",
            "--subject",
            "alice",
        ],
    )
    .await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("every token of client web for alice"), "{out}");
    assert!(err.is_empty(), "web is registered: no warning ({err})");
    assert_eq!(
        state(&db, "web-alice").await,
        TokenState::ClientSubjectCutOff
    );
    assert_eq!(state(&db, "web-bob").await, TokenState::Live);

    // `cli` was never registered as a client: warned, and cut off all the same.
    let (ok, out, err) = admin(&db, &["cut-off", "--tenant", TENANT, "--client-id", "cli"]).await;
    assert!(ok, "{out}{err}");
    assert!(err.contains("no client cli is registered"), "{err}");
    assert_eq!(state(&db, "cli-alice").await, TokenState::ClientCutOff);
    assert_eq!(state(&db, "web-bob").await, TokenState::Live);

    let (ok, out, err) = admin(&db, &["cut-off", "--tenant", TENANT, "--whole-tenant"]).await;
    assert!(ok, "{out}{err}");
    assert_eq!(state(&db, "web-bob").await, TokenState::TenantCutOff);

    // Refused: nothing named, both at once, an unknown tenant.
    for args in [
        &["cut-off", "--tenant", TENANT][..],
        &[
            "cut-off",
            "--tenant",
            TENANT,
            "--client-id",
            "web",
            "--whole-tenant",
        ],
        &["cut-off", "--tenant", "nope", "--whole-tenant"],
    ] {
        let (ok, out, err) = admin(&db, args).await;
        assert!(!ok, "{args:?}: {out}{err}");
    }
}

#[tokio::test]
async fn list_tokens_shows_hashes_and_revoke_token_never_takes_a_token_on_the_command_line() {
    let db = TestDb::start().await;
    seed::tenant(&db.store, TENANT, None).await;
    seed::register(
        &db.store,
        vec![
            seed::grant_token(TENANT, "at", TokenType::Access, "web", "g"),
            seed::grant_token(TENANT, "rt", TokenType::Refresh, "web", "g"),
            seed::token(TENANT, "other", TokenType::Access, "web"),
        ],
    )
    .await;

    // The operator's view first: every token of the tenant by hash, with its state.
    let (ok, stdout, stderr) = admin(&db, &["list-tokens", "--tenant", TENANT]).await;
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.starts_with("3 token(s) in scope"), "{stdout}");
    for value in ["at", "rt", "other"] {
        assert!(stdout.contains(&TokenHash::of(value).encoded()), "{stdout}");
    }
    let (ok, stdout, stderr) = admin(
        &db,
        &["list-tokens", "--tenant", TENANT, "--max-records", "2"],
    )
    .await;
    assert!(!ok, "{stdout}");
    assert!(stderr.contains("more than 2 token records"), "{stderr}");

    // By value, on standard input: the access token and its grant's refresh token go.
    let mut child = tokio::process::Command::new(binaries_dir().join("signoff-admin"))
        .args(["--table", db.store.table_name()])
        .args(["revoke-token", "--tenant", TENANT, "--token-stdin"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("AWS_ENDPOINT_URL_DYNAMODB", &db.endpoint)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("signoff-admin runs");
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"at\n").await.unwrap();
    }
    let output = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("2 record(s) deleted"), "{stdout}");
    assert!(!seed::token_stored(&db.store, TENANT, "at").await);
    assert!(!seed::token_stored(&db.store, TENANT, "rt").await);
    assert!(
        !stdout.contains(" at "),
        "the token is never printed: {stdout}"
    );

    // By hash; then again: there is nothing left to revoke, and the operator is told so.
    let hash = TokenHash::of("other").encoded();
    let args = ["revoke-token", "--tenant", TENANT, "--token-hash", &hash];
    let (ok, stdout, stderr) = admin(&db, &args).await;
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("1 record(s) deleted"), "{stdout}");
    let (ok, _, stderr) = admin(&db, &args).await;
    assert!(!ok);
    assert!(stderr.contains(&format!("no token {hash}")), "{stderr}");
    // A hash that is not one is refused before anything is read.
    let (ok, _, stderr) = admin(
        &db,
        &["revoke-token", "--tenant", TENANT, "--token-hash", "x"],
    )
    .await;
    assert!(!ok);
    assert!(stderr.contains("not a base64url SHA-256"), "{stderr}");
}
