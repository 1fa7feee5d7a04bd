//! `docs/openapi.yaml` as a document: valid OpenAPI 3.1 with valid JSON Schemas and no
//! catch-all responses, its operations the router table's, split between the vendor
//! scenario files (`openapi_authlete.rs`, `openapi_descope.rs`, `openapi_netiq.rs`) so
//! that every documented status is provoked by one of them; the checker
//! (`signoff_tests::openapi`) shown to catch drift; and a few requests through the compiled
//! binaries behind the local gateway, to see what an HTTP client sees.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use signoff_store::demo;
use signoff_tests::gateway::Gateway;
use signoff_tests::openapi::{
    documented_operations, escape, fresh_db, future, load_document, manifest_routes, Coverage,
    Exchange, Recorder, Spec, ALLOWED_ORIGIN, FORM_TYPE, FROM_APP, JSON_TYPE, VENDORS,
};
use signoff_tests::paths::binaries_dir;
use signoff_tests::seed::{basic, form};

const NETIQ: &str = "/nidp/oauth/nam/revoke";
const RFC7009: &str = "/oauth2/revoke";

#[test]
fn the_documented_operations_are_the_router_table() {
    let doc = load_document();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "an OpenAPI 3.1 document"
    );
    let routed: BTreeSet<(String, String)> = manifest_routes()
        .into_iter()
        .map(|r| (r.path, r.method))
        .collect();
    assert_eq!(documented_operations(&doc), routed);
}

/// The OpenAPI Initiative's JSON Schema of OpenAPI 3.1 documents (`$id`
/// https://spec.openapis.org/oas/3.1/schema/2022-10-07, Apache-2.0), kept beside the tests so
/// the check needs no network. It checks the document's structure; the schemas inside it
/// are checked against JSON Schema 2020-12 below.
const OPENAPI_31_SCHEMA: &str = include_str!("../schemas/openapi-3.1.json");

#[test]
fn the_document_is_a_valid_openapi_3_1_document() {
    let schema: Value =
        serde_json::from_str(OPENAPI_31_SCHEMA).expect("the OpenAPI 3.1 schema is JSON");
    let validator = jsonschema::draft202012::new(&schema).expect("the OpenAPI 3.1 schema compiles");
    let doc = load_document();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("at '{}': {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "docs/openapi.yaml is not valid OpenAPI 3.1:\n{}",
        errors.join("\n")
    );
}

#[test]
fn every_schema_is_a_valid_json_schema_and_no_response_is_a_catch_all() {
    let doc = load_document();
    for (name, schema) in doc["components"]["schemas"].as_object().expect("schemas") {
        if let Err(e) = jsonschema::draft202012::meta::validate(schema) {
            panic!("components/schemas/{name} is not a valid JSON Schema 2020-12: {e}");
        }
    }
    let spec = Spec::from(doc);
    for (path, method) in documented_operations(&spec.doc) {
        let at = format!(
            "/paths/{}/{}/responses",
            escape(&path),
            method.to_ascii_lowercase()
        );
        let responses = spec
            .doc
            .pointer(&at)
            .and_then(Value::as_object)
            .expect("responses");
        assert!(
            !responses.contains_key("default"),
            "{method} {path}: a default response hides drift"
        );
    }
}

/// The vendor files between them cover the whole document: each asserts that every
/// documented status and closed set of codes of its vendor's operations is provoked, and
/// the vendors' operations are exactly the document's, each in one vendor only.
#[test]
fn the_vendor_scenarios_partition_the_documented_operations() {
    let spec = Spec::load();
    let documented = documented_operations(&spec.doc);
    let mut claimed = BTreeSet::new();
    let mut total = Coverage::default();
    for vendor in VENDORS {
        let operations = vendor.operations();
        let twice: Vec<_> = claimed.intersection(&operations).collect();
        assert!(
            twice.is_empty(),
            "{}: claimed twice: {twice:?}",
            vendor.name
        );
        let undocumented: Vec<_> = operations.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "{}: not in the document: {undocumented:?}",
            vendor.name
        );
        claimed.extend(operations.iter().cloned());
        let coverage = spec.coverage(&operations);
        eprintln!("{}: {coverage:?}", vendor.name);
        total = total + coverage;
    }
    let unclaimed: Vec<_> = documented.difference(&claimed).collect();
    assert!(
        unclaimed.is_empty(),
        "documented operations no vendor's scenarios cover (add them to a Vendor in signoff_tests::openapi): {unclaimed:?}"
    );
    // The partition loses nothing: its counts are the whole document's.
    assert_eq!(total, spec.coverage(&documented));
    eprintln!(
        "the document: {} operations, {} (operation, status) pairs, {} codes in {} closed sets",
        total.operations, total.pairs, total.codes, total.code_sets
    );
}

/// The checks above can fail: a document with a wrong field, an undocumented status or an
/// undocumented header is caught.
#[test]
fn the_checker_catches_drift() {
    let exchange = |status: u16, headers: &[(&str, &str)], body: &str| Exchange {
        method: "POST".into(),
        path: "/oauth2/revoke".into(),
        request_content_type: Some("application/x-www-form-urlencoded".into()),
        request_body: "token=t&client_id=web".into(),
        status,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
    };
    let json = ("content-type", "application/json");
    let no_store = ("cache-control", "no-store");
    let mut spec = Spec::load();
    let good = exchange(
        400,
        &[json, no_store],
        r#"{"error":"invalid_grant","error_description":"x"}"#,
    );
    assert!(spec.check(&good).is_ok(), "{:?}", spec.check(&good));
    for (bad, why) in [
        (
            exchange(
                400,
                &[json, no_store],
                r#"{"error":"unsupported_token_type","error_description":"x"}"#,
            ),
            "a code of another path",
        ),
        (
            exchange(
                400,
                &[json, no_store],
                r#"{"error":"invalid_grant","error_description":"x","extra":1}"#,
            ),
            "an extra field",
        ),
        (
            exchange(400, &[json, no_store], r#"{"error":"invalid_grant"}"#),
            "a missing field",
        ),
        (
            exchange(
                400,
                &[json],
                r#"{"error":"invalid_grant","error_description":"x"}"#,
            ),
            "a missing required header",
        ),
        (
            exchange(
                400,
                &[json, no_store, ("x-debug", "1")],
                r#"{"error":"invalid_grant","error_description":"x"}"#,
            ),
            "an undocumented header",
        ),
        (
            exchange(
                401,
                &[json, no_store, ("www-authenticate", "Bearer")],
                r#"{"error":"invalid_client","error_description":"x"}"#,
            ),
            "a wrong header value",
        ),
        (
            exchange(
                418,
                &[json, no_store],
                r#"{"error":"invalid_grant","error_description":"x"}"#,
            ),
            "an undocumented status",
        ),
        (
            exchange(
                400,
                &[("content-type", "text/plain"), no_store],
                "invalid_grant",
            ),
            "an undocumented content type",
        ),
        (
            exchange(200, &[no_store], "{}"),
            "a body where none is documented",
        ),
        (
            Exchange {
                request_body: "client_id=web".into(),
                ..exchange(200, &[no_store], "")
            },
            "a successful request without a required parameter",
        ),
    ] {
        assert!(spec.check(&bad).is_err(), "{why} went unnoticed");
    }

    // A status never provoked, or a code documented but never sent, fails the coverage check.
    let server_error = exchange(
        500,
        &[json, no_store],
        r#"{"error":"server_error","error_description":"x"}"#,
    );
    let flagged = |doc: Value| {
        let mut rec = Recorder::new(Spec::from(doc));
        rec.record(&server_error);
        assert!(rec.problems.is_empty(), "{:?}", rec.problems);
        let untested = rec.untested_statuses();
        let codes = rec.unseen_codes();
        let key = ("/oauth2/revoke".to_owned(), "POST".to_owned(), 500);
        (
            untested.contains(&key),
            codes
                .iter()
                .any(|c| c.starts_with("POST /oauth2/revoke 500:")),
            untested.len(),
        )
    };
    let (untested, codes, _) = flagged(load_document());
    assert!(!untested && !codes, "the one status seen is not flagged");
    let mut doc = load_document();
    doc["components"]["responses"]["RevocationServerError"]["content"]["application/json"]
        ["schema"]["properties"]["error"] = json!({"enum": ["server_error", "invalid_request"]});
    assert!(
        flagged(doc).1,
        "a documented code nobody sends went unnoticed"
    );
    let (_, _, untested) = flagged(load_document());
    assert_eq!(
        untested + 1,
        Spec::load().documented_statuses().len(),
        "every other status is untested"
    );
}

/// One HTTP request for the gateway test, and the status it must get.
struct HttpCall {
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: String,
    status: u16,
}

fn call(
    method: &'static str,
    path: impl Into<String>,
    headers: &[(&'static str, &str)],
) -> HttpCall {
    HttpCall {
        method,
        path: path.into(),
        headers: headers.iter().map(|(n, v)| (*n, v.to_string())).collect(),
        body: String::new(),
        status: 200,
    }
}

impl HttpCall {
    fn body(self, body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            ..self
        }
    }

    fn status(self, status: u16) -> Self {
        Self { status, ..self }
    }

    async fn send(&self, client: &reqwest::Client, base_url: &str) -> Exchange {
        let method = self.method.parse::<reqwest::Method>().expect("a method");
        let mut builder = client.request(method, format!("{base_url}{}", self.path));
        for (name, value) in &self.headers {
            builder = builder.header(*name, value);
        }
        let response = builder
            .body(self.body.clone())
            .send()
            .await
            .expect("the gateway answers");
        Exchange {
            method: self.method.to_owned(),
            path: self.path.clone(),
            request_content_type: self
                .headers
                .iter()
                .find(|(n, _)| *n == "content-type")
                .map(|(_, v)| v.clone()),
            request_body: self.body.clone(),
            status: response.status().as_u16(),
            headers: response
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.to_str().expect("ASCII").to_owned()))
                .collect(),
            body: response.bytes().await.expect("a body").to_vec(),
        }
    }
}

/// A few requests through the compiled binaries behind the local API Gateway stand-in: what
/// an HTTP client receives (headers, cookies, bodies after API Gateway's translation) is
/// what the document says. Needs `cargo build --workspace --bins` (`scripts/test` does it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_over_http_through_the_gateway_match_the_document() {
    let db = fresh_db().await;
    demo::seed(&db.store, 3, |_| {}).await.expect("demo data");
    let mut env = db.function_env();
    env.push(("SIGNOFF_REVOCATION_TENANT".into(), demo::SERVICE_ID.into()));
    env.push(("SIGNOFF_CORS_ALLOWED_ORIGINS".into(), ALLOWED_ORIGIN.into()));
    let gateway = Gateway::start(manifest_routes(), &binaries_dir(), &env)
        .await
        .expect("the function binaries start (build them with `cargo build --workspace --bins`)");

    let service = format!("Bearer {}", demo::SERVICE_TOKEN);
    let service = ("authorization", service.as_str());
    let web = basic(demo::WEB_CLIENT_ID, demo::WEB_CLIENT_SECRET);
    let web = ("authorization", web.as_str());
    let wrong = basic(demo::WEB_CLIENT_ID, "wrong");
    let descope = |i: usize| {
        let jwt = demo::PROJECT_REFRESH_JWTS[i];
        format!("Bearer {}:{jwt}", demo::PROJECT_ID)
    };
    let (first, second) = (descope(0), descope(1));
    let logout = format!("/api/{}/nativesso/logout", demo::SERVICE_ID);
    let session = json!({"sessionId": demo::SESSION_ID}).to_string();
    let device = format!("/nidp/oauth/nam/revoke/{}", demo::DEVICE_ID);
    let preflight = [FROM_APP, ("access-control-request-method", "POST")];
    let calls = [
        call(
            "POST",
            format!("/signoff/v1/tenants/{}/tokens", demo::SERVICE_ID),
            &[service, JSON_TYPE],
        )
        .body(
            json!({"token": "gw-1", "type": "access", "clientId": demo::CLIENT_ID,
                "expiresAt": future()})
            .to_string(),
        ),
        call("POST", &logout, &[service, JSON_TYPE]).body(&session),
        call("POST", &logout, &[JSON_TYPE])
            .body(&session)
            .status(401),
        call("POST", "/v1/auth/logout", &[("authorization", &first)]),
        call(
            "POST",
            "/v1/auth/logoutall",
            &[("authorization", &second), JSON_TYPE],
        )
        .body("{}"),
        call("POST", "/v1/auth/logout", &[("authorization", &first)]).status(401),
        call("GET", format!("/v2/keys/{}", demo::PROJECT_ID), &[]),
        call("POST", NETIQ, &[web, FORM_TYPE]).body(form(&[("token", demo::NETIQ_REFRESH_TOKEN)])),
        call("POST", RFC7009, &[web, FORM_TYPE, FROM_APP])
            .body(form(&[("token", demo::RFC7009_ACCESS_TOKEN)])),
        call(
            "POST",
            RFC7009,
            &[("authorization", &wrong), FORM_TYPE, FROM_APP],
        )
        .body("token=x")
        .status(401),
        call("POST", &device, &[web, FORM_TYPE]).body(form(&[
            ("userstore_name", demo::DEVICE_USER_STORE),
            ("user_dn", demo::DEVICE_USER_DN),
        ])),
        call("OPTIONS", NETIQ, &preflight).status(204),
        call("OPTIONS", RFC7009, &preflight).status(204),
        call("OPTIONS", &device, &preflight).status(204),
    ];

    let client = reqwest::Client::new();
    let mut rec = Recorder::new(Spec::load());
    for call in &calls {
        let x = call.send(&client, &gateway.base_url()).await;
        assert_eq!(
            x.status,
            call.status,
            "{} {}: {}\n{}",
            x.method,
            x.path,
            String::from_utf8_lossy(&x.body),
            gateway.logs()
        );
        if x.path == "/v1/auth/logout" && x.status == 200 {
            let cookies = x.headers.iter().filter(|(n, _)| n == "set-cookie").count();
            assert_eq!(
                cookies, 2,
                "DS and DSR are deleted, each by a header of its own"
            );
        }
        rec.record(&x);
    }
    gateway.shutdown().await;
    rec.assert_no_problems();
}
