//! The contract, fuzzed: Schemathesis (pinned, `tests/clients/requirements.txt`) generates
//! requests from `docs/openapi.yaml`, schema-valid and not, and sends them to the compiled
//! function binaries behind the local API Gateway stand-in, seeded with the demo data.
//! Every built-in check runs (no server errors; status codes, content types, headers and
//! bodies as documented; schema-invalid requests refused; schema-valid requests accepted)
//! plus `refusals_are_documented` (`tests/schemathesis/hooks.py`): a schema-valid request
//! is refused only for a reason its operation's description gives.
//!
//! Reproducible: derandomised generation with a fixed budget
//! (`tests/schemathesis/schemathesis.toml`). Needs `cargo build --workspace --bins` and the
//! test venv; `scripts/test` does both.

use std::collections::BTreeMap;

use aws_sdk_kms::types::KeySpec;
use serde_json::Value;
use signoff_jose::SigningKey;
use signoff_store::demo;
use signoff_store::project_keys::RefreshTokenSpec;
use signoff_tests::db::TestDb;
use signoff_tests::gateway::{routes_from_manifest, Gateway, GATEWAY_URL};
use signoff_tests::kms::TestKms;
use signoff_tests::paths::{binaries_dir, test_python, workspace};

/// The run must send at least this many requests.
const MIN_REQUESTS: usize = 5_000;

/// Refresh JWTs minted for the Descope operations, one per request (a logout revokes its
/// own). More than the two Descope operations can use at the configured budget.
const DESCOPE_JWTS: usize = 1_200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_requests_get_the_documented_answers() {
    let db = TestDb::start().await;
    demo::seed(&db.store, 20, |_| {}).await.expect("demo data");
    let jwts = mint_descope_jwts(&db).await;
    let routes = routes_from_manifest(&workspace().join("Cargo.toml")).expect("router table");
    let mut env = db.function_env();
    env.extend(
        [
            ("SIGNOFF_REVOCATION_TENANT", demo::SERVICE_ID),
            // CORS on, so that the preflights and the CORS headers are exercised too.
            ("SIGNOFF_CORS_ALLOWED_ORIGINS", "https://app.example.com"),
            // Introspection signs RFC 9701 answers and status lists with a key in the local
            // KMS; registration hands out status list entries under the gateway's URL.
            ("SIGNOFF_SIGNING_KEY_ID", "alias/signoff-fuzz"),
            ("SIGNOFF_PUBLIC_BASE_URL", GATEWAY_URL),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let kms = TestKms::start().await;
    kms.create_key(KeySpec::EccNistP256, "alias/signoff-fuzz")
        .await;
    env.push(("AWS_ENDPOINT_URL_KMS".into(), kms.endpoint.clone()));
    let gateway = Gateway::start(routes, &binaries_dir(), &env)
        .await
        .expect("the function binaries start");

    let run = std::env::temp_dir().join(format!("signoff-contract-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&run).expect("a run directory");
    let jwt_file = run.join("descope-jwts");
    std::fs::write(&jwt_file, jwts.join("\n")).expect("jwt file written");
    let reports = run.join("reports");
    // For exploring: fewer cases per operation (the request floor below then fails).
    let budget: Vec<String> = std::env::var("SIGNOFF_FUZZ_MAX_EXAMPLES")
        .map(|n| vec!["--max-examples".to_owned(), n])
        .unwrap_or_default();
    let schemathesis = std::path::Path::new(&test_python()).with_file_name("schemathesis");
    let output = tokio::process::Command::new(&schemathesis)
        .current_dir(workspace())
        .args([
            "--config-file",
            "tests/schemathesis/schemathesis.toml",
            "run",
        ])
        .arg("docs/openapi.yaml")
        .args(&budget)
        .args(["--report", "ndjson", "--report-dir"])
        .arg(&reports)
        .env("SIGNOFF_FUZZ_BASE_URL", gateway.base_url())
        .env("SIGNOFF_FUZZ_SERVICE_ID", demo::SERVICE_ID)
        .env("SIGNOFF_FUZZ_SERVICE_TOKEN", demo::SERVICE_TOKEN)
        .env("SIGNOFF_FUZZ_CLIENT_ID", demo::WEB_CLIENT_ID)
        .env("SIGNOFF_FUZZ_CLIENT_SECRET", demo::WEB_CLIENT_SECRET)
        .env("SIGNOFF_FUZZ_RESOURCE_SERVER_ID", demo::RESOURCE_SERVER_ID)
        .env(
            "SIGNOFF_FUZZ_RESOURCE_SERVER_SECRET",
            demo::RESOURCE_SERVER_SECRET,
        )
        .env("SIGNOFF_FUZZ_DESCOPE_PROJECT", demo::PROJECT_ID)
        .env("SIGNOFF_FUZZ_DESCOPE_JWTS", &jwt_file)
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", schemathesis.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}\n{stderr}");

    let report = std::fs::read_dir(&reports)
        .expect("report directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "ndjson"))
        .expect("an NDJSON report");
    let summary = Summary::read(&std::fs::read_to_string(report).expect("report read"));
    if std::env::var_os("SIGNOFF_FUZZ_KEEP_REPORTS").is_none() {
        let _ = std::fs::remove_dir_all(&run);
    } else {
        println!("reports kept in {}", run.display());
    }
    println!("{summary:#?}");
    assert!(
        summary.requests >= MIN_REQUESTS,
        "only {} requests were sent",
        summary.requests
    );
    assert!(
        summary.failures.is_empty(),
        "failures: {:#?}\n{}",
        summary.failures,
        gateway.logs()
    );
    assert!(
        output.status.success(),
        "schemathesis failed:\n{stdout}\n{stderr}"
    );
    assert_eq!(summary.server_errors, 0);
}

/// Mints and registers refresh JWTs of the demo project, each for its own user and session,
/// so that one logout-all does not end the others.
async fn mint_descope_jwts(db: &TestDb) -> Vec<String> {
    let key = SigningKey::from_pem(demo::PROJECT_PRIVATE_KEY_PEM, Some(demo::PROJECT_KEY_ID))
        .expect("the demo key");
    let now = signoff_store::now_epoch_seconds();
    let (jwts, records): (Vec<String>, Vec<_>) = (0..DESCOPE_JWTS)
        .map(|i| {
            RefreshTokenSpec {
                project: demo::PROJECT_ID.to_owned(),
                subject: format!("fuzz-user-{i}"),
                dsub: None,
                session_id: Some(format!("fuzz-session-{i}")),
                grant_id: None,
                client_id: demo::CLIENT_ID.to_owned(),
                issuer: None,
                issued_at: now - 60,
                expires_at: now + 3600,
            }
            .mint(&key)
        })
        .unzip();
    for batch in records.chunks(25) {
        db.store.register_tokens(batch).await.expect("registered");
    }
    jwts
}

/// What the NDJSON report says about the run.
#[derive(Debug, Default)]
struct Summary {
    requests: usize,
    server_errors: usize,
    /// Requests by (operation, status).
    by_status: BTreeMap<(String, u16), usize>,
    /// Distinct failures: (code, operation, title).
    failures: Vec<(String, String, String)>,
}

impl Summary {
    fn read(ndjson: &str) -> Self {
        let mut summary = Summary::default();
        for event in ndjson
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        {
            let Some(scenario) = event.get("ScenarioFinished") else {
                continue;
            };
            let recorder = &scenario["recorder"];
            for interaction in recorder["interactions"]
                .as_object()
                .into_iter()
                .flat_map(|m| m.values())
            {
                summary.requests += 1;
                let status = interaction["response"]["status_code"].as_u64().unwrap_or(0) as u16;
                if status >= 500 {
                    summary.server_errors += 1;
                }
                let label = recorder["label"].as_str().unwrap_or("?").to_owned();
                *summary.by_status.entry((label, status)).or_default() += 1;
            }
            for checks in recorder["checks"]
                .as_object()
                .into_iter()
                .flat_map(|m| m.values())
            {
                for check in checks.as_array().into_iter().flatten() {
                    let failure = &check["failure_info"]["failure"];
                    if failure.is_null() {
                        continue;
                    }
                    let entry = (
                        failure["code"].as_str().unwrap_or("?").to_owned(),
                        failure["operation"].as_str().unwrap_or("?").to_owned(),
                        failure["title"].as_str().unwrap_or("?").to_owned(),
                    );
                    if !summary.failures.contains(&entry) {
                        summary.failures.push(entry);
                    }
                }
            }
        }
        summary
    }
}
