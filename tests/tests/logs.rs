//! What the functions log over a full run, with Lambda's JSON log format on (as the
//! template sets it) at the most verbose level: every endpoint called with good and bad
//! input, and a housekeeping run. Every line is one JSON object: a log line with a level
//! and a message, or a metrics (EMF) line, one per request and one per housekeeping run;
//! every INFO, WARN and ERROR line and every request's metrics line carries its
//! invocation's request id; and no token, secret or credential used in the run appears
//! anywhere in the output, even at TRACE (where the Lambda runtime would print raw events
//! if it were not capped).
//!
//! Needs `cargo build --workspace --bins` first (`scripts/test` does it).

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{json, Value};
use signoff_store::demo;
use signoff_tests::db::TestDb;
use signoff_tests::gateway::{routes_from_manifest, Gateway};
use signoff_tests::paths::{binaries_dir, workspace};
use signoff_tests::seed;

const REGISTERED_TOKEN: &str = "logs-test-refresh-token-7c1e";
const WRONG_CREDENTIAL: &str = "sgn_sat_logs-test-wrong-credential-3b9d";
const WRONG_SECRET: &str = "sgn_cs_logs-test-wrong-secret-51aa";

const JSON: Option<&str> = Some("application/json");
const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

/// One request of the run and the status it must get.
struct Call {
    method: reqwest::Method,
    path: String,
    authorization: Option<String>,
    content_type: Option<&'static str>,
    body: String,
    status: u16,
}

impl Call {
    fn post(
        path: &str,
        authorization: Option<&str>,
        content_type: Option<&'static str>,
        body: &str,
        status: u16,
    ) -> Self {
        Call {
            method: reqwest::Method::POST,
            path: path.to_owned(),
            authorization: authorization.map(str::to_owned),
            content_type,
            body: body.to_owned(),
            status,
        }
    }

    fn get(path: &str, status: u16) -> Self {
        Call {
            method: reqwest::Method::GET,
            ..Call::post(path, None, None, "", status)
        }
    }

    /// The binary that serves the call (the template's and the router's routes).
    fn function(&self) -> &'static str {
        match self.path.as_str() {
            p if p.starts_with("/signoff/") => "token-register",
            p if p.starts_with("/api/") => "nativesso-logout",
            p if p.starts_with("/v1/auth/") || p.starts_with("/v2/keys/") => "descope-auth",
            p if p.ends_with("/introspect") => "token-introspect",
            _ => "token-revoke",
        }
    }

    /// Whether a success of the call is a logout or revocation, which reports the tokens
    /// it deleted.
    fn revokes(&self) -> bool {
        !self.path.starts_with("/signoff/")
            && !self.path.starts_with("/v2/keys/")
            && !self.path.ends_with("/introspect")
    }
}

/// Metrics lines per function and outcome, and how many of them carry `TokensRevoked`.
type MetricLines = BTreeMap<(String, String), (usize, usize)>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_logs_json_with_request_ids_and_no_secrets() {
    let db = TestDb::start().await;
    demo::seed(&db.store, 5, |_| {}).await.expect("demo data");
    let routes = routes_from_manifest(&workspace().join("Cargo.toml")).expect("router table");
    let mut env = db.function_env();
    env.extend(
        [
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
            ("SIGNOFF_REVOCATION_TENANT", demo::SERVICE_ID),
            // A first run looks back 14 days by default: 2,688 empty-bucket queries, slow
            // in a debug build logging at TRACE. The demo's records expired an hour ago.
            ("SIGNOFF_HOUSEKEEPING_LOOKBACK_HOURS", "6"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let gateway = Gateway::start_with_unrouted(routes, &["housekeeping"], &binaries_dir(), &env)
        .await
        .expect("the function binaries start");
    let api = gateway.base_url();
    let http = reqwest::Client::new();
    let service = demo::SERVICE_ID;
    let service_auth = format!("Bearer {}", demo::SERVICE_TOKEN);
    let descope_auth = |jwt: &str| format!("Bearer {}:{jwt}", demo::PROJECT_ID);
    let basic = seed::basic(demo::WEB_CLIENT_ID, demo::WEB_CLIENT_SECRET);
    let wrong_basic = seed::basic(demo::WEB_CLIENT_ID, WRONG_SECRET);
    let resource_server = seed::basic(demo::RESOURCE_SERVER_ID, demo::RESOURCE_SERVER_SECRET);
    let introspect = seed::form(&[("token", REGISTERED_TOKEN)]);
    let logout = json!({"sessionId": demo::SESSION_ID}).to_string();
    let netiq = format!("token={}", demo::NETIQ_REFRESH_TOKEN);
    let rfc7009 = seed::form(&[
        ("token", demo::RFC7009_ACCESS_TOKEN),
        ("client_id", demo::WEB_CLIENT_ID),
        ("client_secret", demo::WEB_CLIENT_SECRET),
    ]);
    let device = seed::form(&[
        ("userstore_name", demo::DEVICE_USER_STORE),
        ("user_dn", demo::DEVICE_USER_DN),
    ]);
    let register = json!({"token": REGISTERED_TOKEN, "type": "refresh",
        "clientId": demo::CLIENT_ID, "sessionId": "logs-session", "expiresAt": (signoff_store::now_epoch_seconds() + 86_400)})
    .to_string();
    let tampered_jwt = format!("{}x", demo::PROJECT_REFRESH_JWTS[0]);

    let calls = [
        Call::post(
            &format!("/signoff/v1/tenants/{service}/tokens"),
            Some(&service_auth),
            JSON,
            &register,
            200,
        ),
        Call::post(
            &format!("/signoff/v1/tenants/{service}/tokens"),
            Some(&format!("Bearer {WRONG_CREDENTIAL}")),
            JSON,
            "{}",
            401,
        ),
        Call::post(
            &format!("/api/{service}/nativesso/logout"),
            Some(&service_auth),
            JSON,
            &logout,
            200,
        ),
        Call::post(
            &format!("/api/{service}/nativesso/logout"),
            Some(&format!("Bearer {WRONG_CREDENTIAL}")),
            JSON,
            &logout,
            401,
        ),
        Call::post(
            "/v1/auth/logout",
            Some(&descope_auth(&tampered_jwt)),
            None,
            "",
            401,
        ),
        Call::post(
            "/v1/auth/logout",
            Some(&descope_auth(demo::PROJECT_REFRESH_JWTS[0])),
            None,
            "",
            200,
        ),
        Call::post(
            "/v1/auth/logoutall",
            Some(&descope_auth(demo::PROJECT_REFRESH_JWTS[1])),
            None,
            "",
            200,
        ),
        Call::get(&format!("/v2/keys/{}", demo::PROJECT_ID), 200),
        Call::post(
            "/nidp/oauth/nam/revoke",
            Some(&wrong_basic),
            FORM,
            &netiq,
            401,
        ),
        Call::post("/nidp/oauth/nam/revoke", Some(&basic), FORM, &netiq, 200),
        Call::post(
            "/oauth2/introspect",
            Some(&resource_server),
            FORM,
            &introspect,
            200,
        ),
        Call::post(
            "/nidp/oauth/v1/nam/introspect",
            Some(&wrong_basic),
            FORM,
            &introspect,
            401,
        ),
        Call::post("/oauth2/revoke", None, FORM, &rfc7009, 200),
        Call::post(
            &format!("/nidp/oauth/nam/revoke/{}", demo::DEVICE_ID),
            Some(&basic),
            FORM,
            &device,
            200,
        ),
    ];
    for call in &calls {
        let mut request = http
            .request(call.method.clone(), format!("{api}{}", call.path))
            .body(call.body.clone());
        if let Some(auth) = &call.authorization {
            request = request.header("authorization", auth);
        }
        if let Some(content_type) = call.content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.expect("the gateway answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        assert_eq!(status, call.status, "{} {}: {text}", call.method, call.path);
    }
    let summary = gateway
        .invoke(
            "housekeeping",
            &json!({"detail-type": "Scheduled Event", "source": "aws.events"}),
        )
        .await
        .expect("housekeeping runs");
    assert_eq!(summary["deleted"], demo::EXPIRED_TOKENS, "{summary}");

    // Give the pipes a moment to deliver the last lines.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let logs = gateway.logs();
    gateway.shutdown().await;

    // Every line each function printed is a JSON object: a log line, or metrics (EMF).
    // Lines of the gateway itself (process exits) are not the function's.
    let mut lines_per_function: BTreeMap<String, usize> = BTreeMap::new();
    let mut emf_lines = 0;
    let mut request_metrics = MetricLines::new();
    let mut trace_lines = 0;
    for line in logs.lines() {
        let Some((function, text)) = line
            .strip_prefix('[')
            .and_then(|rest| rest.split_once("] "))
        else {
            panic!("unattributed output line: {line}");
        };
        if text.starts_with("process exited") || text.starts_with("process lost") {
            continue;
        }
        let value: Value = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("{function} printed a line that is not JSON ({e}): {text}"));
        if value.get("_aws").is_some() {
            if function == "housekeeping" {
                assert_eq!(value["ExpiredRecordsDeleted"], demo::EXPIRED_TOKENS);
                emf_lines += 1;
                continue;
            }
            // A request's line: its dimensions are the function and the outcome only,
            // nothing taken from the request.
            let directive = &value["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(
                directive["Dimensions"],
                json!([["FunctionName", "Outcome"]]),
                "{text}"
            );
            assert!(!value["FunctionName"]
                .as_str()
                .unwrap_or_default()
                .is_empty());
            assert_eq!(value["Requests"], 1, "{text}");
            assert!(
                value["Latency"].as_f64().is_some_and(|ms| ms >= 0.0),
                "{text}"
            );
            let request_id = value["requestId"].as_str().unwrap_or_default();
            assert!(!request_id.is_empty(), "{function}: no requestId: {text}");
            let outcome = value["Outcome"].as_str().expect("Outcome").to_owned();
            let entry = request_metrics
                .entry((function.to_owned(), outcome))
                .or_default();
            entry.0 += 1;
            if value["TokensRevoked"].is_u64() {
                entry.1 += 1;
            }
            continue;
        }
        if value["level"] == "TRACE" {
            trace_lines += 1;
        }
        for key in ["timestamp", "level", "message"] {
            assert!(value[key].is_string(), "{function}: no {key}: {text}");
        }
        // At INFO and above (what the template allows, INFO by default) every line is
        // about an event and names it. Below, the SDK's set-up at init and the HTTP
        // client's background tasks have no request to name.
        if matches!(value["level"].as_str(), Some("INFO" | "WARN" | "ERROR")) {
            let request_id = value["requestId"].as_str().unwrap_or_default();
            assert!(!request_id.is_empty(), "{function}: no requestId: {text}");
            *lines_per_function.entry(function.to_owned()).or_default() += 1;
        }
    }
    assert_eq!(emf_lines, 1, "one metrics line per housekeeping run");
    // One metrics line per request, with its outcome; successful logouts and revocations
    // say how many tokens they deleted.
    let mut expected = MetricLines::new();
    for call in &calls {
        let outcome = if call.status < 400 { "ok" } else { "refused" };
        let entry = expected
            .entry((call.function().to_owned(), outcome.to_owned()))
            .or_default();
        entry.0 += 1;
        if outcome == "ok" && call.revokes() {
            entry.1 += 1;
        }
    }
    assert_eq!(
        request_metrics, expected,
        "(lines, lines with TokensRevoked)"
    );
    // TRACE took effect (the secrets check below is not vacuous), short of the runtime's
    // own raw-event dump.
    assert!(trace_lines > 0, "no TRACE line: the level was not applied");
    assert!(!logs.contains("raw JSON event received from Lambda"));
    for function in [
        "nativesso-logout",
        "token-register",
        "descope-auth",
        "token-revoke",
        "token-introspect",
        "housekeeping",
    ] {
        assert!(
            lines_per_function.get(function).is_some_and(|n| *n > 0),
            "{function} logged nothing: {lines_per_function:?}"
        );
    }

    // No token, secret or credential used in the run appears, whole or as a JWT's parts,
    // nor in the Basic header's base64 form.
    let mut secrets: Vec<String> = vec![
        demo::SERVICE_TOKEN.into(),
        demo::WEB_CLIENT_SECRET.into(),
        demo::RESOURCE_SERVER_SECRET.into(),
        demo::NETIQ_REFRESH_TOKEN.into(),
        demo::RFC7009_ACCESS_TOKEN.into(),
        REGISTERED_TOKEN.into(),
        WRONG_CREDENTIAL.into(),
        WRONG_SECRET.into(),
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            demo::WEB_CLIENT_ID,
            demo::WEB_CLIENT_SECRET
        )),
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{WRONG_SECRET}", demo::WEB_CLIENT_ID)),
    ];
    for jwt in demo::PROJECT_REFRESH_JWTS {
        secrets.push(jwt.into());
        secrets.extend(jwt.split('.').skip(1).map(str::to_owned));
    }
    for secret in secrets {
        assert!(
            !logs.contains(&secret),
            "a secret appears in the logs: {secret:.12}…"
        );
    }
}
