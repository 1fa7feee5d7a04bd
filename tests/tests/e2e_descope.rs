//! End to end with Descope's own Python SDK (`descope` on PyPI): the compiled function
//! binaries behind the local API Gateway stand-in, the SDK's `base_url` pointed at it.
//!
//! Needs `cargo build --workspace --bins` and the test clients' venv, whose python is in
//! `SIGNOFF_TEST_PYTHON`; `scripts/test` does both.

use serde_json::Value;
use signoff_store::demo;
use signoff_tests::db::TestDb;
use signoff_tests::gateway::{routes_from_manifest, Gateway};
use signoff_tests::paths::{binaries_dir, test_python, workspace};
use signoff_tests::seed;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_descope_python_sdk_logs_out_through_the_served_function() {
    let db = TestDb::start().await;
    demo::seed_project(&db.store).await.expect("demo project");
    let routes = routes_from_manifest(&workspace().join("Cargo.toml")).expect("router table");
    let gateway = Gateway::start(routes, &binaries_dir(), &db.function_env())
        .await
        .expect("the function binaries start");
    let [logout_jwt, logout_all_jwt] = demo::PROJECT_REFRESH_JWTS;

    let script = workspace().join("tests/clients/descope_logout.py");
    let output = tokio::process::Command::new(test_python())
        .arg(&script)
        .args([
            &gateway.base_url(),
            demo::PROJECT_ID,
            logout_jwt,
            logout_all_jwt,
            demo::PROJECT_MANAGEMENT_KEY,
            demo::PROJECT_USER_LOGIN_ID,
        ])
        .output()
        .await
        .expect("python runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the SDK script failed: {stderr}\n{}",
        gateway.logs()
    );
    let seen: Value = serde_json::from_slice(&output.stdout).expect("the script prints JSON");

    // The SDK fetched the project's keys from /v2/keys and verified the JWT locally.
    assert_eq!(seen["local_validation"], demo::PROJECT_USER);
    // logout: 200, the empty JWT response, both cookies deleted.
    let logout = &seen["logout"];
    assert_eq!(logout["status"], 200, "{seen}");
    assert_eq!(logout["body"]["refreshJwt"], "");
    assert_eq!(logout["cache_control"], "no-store");
    let cookies: Vec<&str> = logout["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for name in ["DS", "DSR"] {
        assert!(
            cookies
                .iter()
                .any(|c| c.starts_with(&format!("{name}=;")) && c.contains("Max-Age=0")),
            "{name} is not deleted: {cookies:?}"
        );
    }
    let first = demo::PROJECT_SESSIONS[0];
    assert_eq!(
        seed::count_session_tokens(&db.store, demo::PROJECT_ID, first).await,
        0
    );
    // The SDK raises Descope's error for a second logout with the same token.
    let again = &seen["logout_again"];
    assert_eq!(again["status"], 401, "{seen}");
    assert!(
        again["message"].as_str().unwrap().contains("E064001"),
        "{again}"
    );

    // logout_all: every token of the user goes.
    assert_eq!(seen["logout_all"]["status"], 200, "{seen}");
    for session in demo::PROJECT_SESSIONS {
        assert_eq!(
            seed::count_session_tokens(&db.store, demo::PROJECT_ID, session).await,
            0
        );
    }
    assert_eq!(seen["logout_all_again"]["status"], 401, "{seen}");
    // The management logout through the SDK's own call: by login id and by user id, and a
    // login id nobody registered is Descope's "user not found".
    assert_eq!(seen["mgmt_logout"], "ok", "{seen}");
    assert_eq!(seen["mgmt_logout_by_id"], "ok", "{seen}");
    let unknown = &seen["mgmt_logout_unknown"];
    assert_eq!(unknown["status"], 404, "{seen}");
    assert!(
        unknown["message"].as_str().unwrap().contains("E112102"),
        "{unknown}"
    );

    // The functions' logs name what they did and never a refresh JWT.
    let logs = gateway.logs();
    assert!(logs.contains("descope logout"), "{logs}");
    for jwt in demo::PROJECT_REFRESH_JWTS {
        let signature = jwt.rsplit('.').next().unwrap();
        assert!(
            !logs.contains(signature),
            "a refresh JWT appears in the function logs"
        );
    }
    gateway.shutdown().await;
}
