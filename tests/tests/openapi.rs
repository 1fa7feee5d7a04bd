//! `docs/openapi.yaml` held to what the functions really answer.
//!
//! Requests go through the real handlers, routed by the router table in `Cargo.toml` as API
//! Gateway routes them, against a fresh embedded DynamoDB emulator (and an unreachable store
//! and a missing table for the server errors); a second test replays a few through the
//! compiled binaries behind the local gateway, to see what an HTTP client sees. Each
//! response is looked up in the document by method and path template and must have a
//! documented status (there is no `default`), a documented content type, a body valid under
//! the documented schema (JSON Schema 2020-12, `$ref`s resolved within the document), every
//! required documented header with a valid value, and no undocumented header. The bodies of
//! successful requests must be valid under the documented request body.
//!
//! The document may claim nothing untested: every documented status of every operation must
//! be seen, and where a schema lists a closed set of `resultCode`, `errorCode` or `error`
//! values for a status, exactly that set must be seen. The documented operations must be the
//! router table's.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use lambda_http::http::Request as HttpRequest;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Map, Value};
use signoff_edge::cors::CorsPolicy;
use signoff_jose::{Algorithm, SigningKey};
use signoff_revoke::settings::{DeviceRevocationAuth, Settings as RevocationConfig};
use signoff_store::model::TokenType;
use signoff_store::project_keys::RefreshTokenSpec;
use signoff_store::{demo, Store};
use signoff_tests::db::TestDb;
use signoff_tests::gateway::{routes_from_manifest, Gateway, Route};
use signoff_tests::paths::{binaries_dir, workspace};
use signoff_tests::seed::{self, basic, form};

/// Statuses the document lists that no test can provoke, with the reason. Empty: every
/// documented status is provoked below.
const UNPROVOKABLE: &[(&str, &str, u16, &str)] = &[];

/// Headers a transport adds, whatever the function answered (the local gateway's HTTP
/// server); never part of the document.
const TRANSPORT_HEADERS: &[&str] = &["content-length", "date", "connection", "transfer-encoding"];

/// The fields that carry each vendor's result or error code.
const CODE_FIELDS: &[&str] = &["resultCode", "errorCode", "error"];

const ALLOWED_ORIGIN: &str = "https://app.example.com";
const FUTURE: i64 = 4_102_444_800; // 2100-01-01

// ---- The document --------------------------------------------------------------------------

fn load_document() -> Value {
    let path = workspace().join("docs/openapi.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("docs/openapi.yaml is YAML");
    serde_json::to_value(yaml).expect("docs/openapi.yaml is JSON-compatible (string keys)")
}

/// A JSON pointer segment (RFC 6901).
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// A JSON pointer as a URI fragment: characters a fragment may not hold (the `{` and `}` of
/// path templates) percent-encoded (RFC 6901 section 6).
fn uri_fragment(pointer: &str) -> String {
    pointer
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            b'-' | b'.' | b'_' | b'~' | b'/' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*'
            | b'+' | b',' | b';' | b'=' | b':' | b'@' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The documented operations as (path template, upper-case method).
fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(move |m| (path.clone(), m.to_ascii_uppercase()))
        })
        .collect()
}

/// Whether `path` (concrete) matches `template`: a `{name}` matches one non-empty segment.
fn matches_template(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter().zip(&p).all(|(t, p)| {
            if t.starts_with('{') && t.ends_with('}') {
                !p.is_empty()
            } else {
                t == p
            }
        })
}

/// One request and the response it got.
#[derive(Clone, Debug)]
struct Exchange {
    method: String,
    path: String,
    request_content_type: Option<String>,
    request_body: String,
    status: u16,
    /// Names in lower case, one entry per value.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Exchange {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// What a checked response was, for the coverage checks.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    path: String,
    method: String,
    status: u16,
    code: Option<String>,
}

/// The document, with a compiled validator per schema location.
struct Spec {
    doc: Value,
    validators: HashMap<String, jsonschema::Validator>,
}

impl Spec {
    fn load() -> Self {
        Self::from(load_document())
    }

    fn from(doc: Value) -> Self {
        Self {
            doc,
            validators: HashMap::new(),
        }
    }

    /// `value`, or what its `$ref` (a local one: the document is self-contained) points to,
    /// with the JSON pointer of where it was found.
    fn deref<'a>(
        &'a self,
        mut value: &'a Value,
        mut at: String,
    ) -> Result<(&'a Value, String), String> {
        while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
            let pointer = reference
                .strip_prefix('#')
                .ok_or_else(|| format!("{at}: $ref {reference} is not local"))?;
            value = self
                .doc
                .pointer(pointer)
                .ok_or_else(|| format!("{at}: $ref {reference} resolves to nothing"))?;
            at = pointer.to_owned();
        }
        Ok((value, at))
    }

    /// Validates `instance` against the schema at `pointer`, resolving `$ref`s within the
    /// document; the errors, if any.
    fn validate(&mut self, pointer: &str, instance: &Value) -> Vec<String> {
        if !self.validators.contains_key(pointer) {
            let mut root = self.doc.clone();
            root.as_object_mut()
                .expect("the document is an object")
                .insert(
                    "$ref".into(),
                    Value::String(format!("#{}", uri_fragment(pointer))),
                );
            match jsonschema::draft202012::options().build(&root) {
                Ok(validator) => {
                    self.validators.insert(pointer.to_owned(), validator);
                }
                Err(e) => return vec![format!("the schema at {pointer} does not compile: {e}")],
            }
        }
        self.validators[pointer]
            .iter_errors(instance)
            .map(|e| format!("{} at '{}': {e}", pointer, e.instance_path()))
            .collect()
    }

    /// The template and operation pointer of `method` `path`.
    fn operation(&self, method: &str, path: &str) -> Result<(String, String), String> {
        let paths = self.doc["paths"].as_object().expect("paths");
        let templates: Vec<&String> = paths.keys().filter(|t| matches_template(t, path)).collect();
        let [template] = templates[..] else {
            return Err(format!(
                "{method} {path}: {} documented paths match",
                templates.len()
            ));
        };
        let method = method.to_ascii_lowercase();
        if paths[template.as_str()].get(&method).is_none() {
            return Err(format!(
                "{method} {path}: no {method} operation on {template}"
            ));
        }
        Ok((
            template.clone(),
            format!("/paths/{}/{method}", escape(template)),
        ))
    }

    /// Checks one exchange against the document; what it was, or every way it differs.
    fn check(&mut self, x: &Exchange) -> Result<Seen, Vec<String>> {
        let context = format!("{} {} -> {}", x.method, x.path, x.status);
        let mut problems = Vec::new();
        let (template, op_at) = self.operation(&x.method, &x.path).map_err(|e| vec![e])?;
        let response_at = format!("{op_at}/responses/{}", x.status);
        let Some(response) = self.doc.pointer(&response_at) else {
            return Err(vec![format!(
                "{context}: status {} is not documented",
                x.status
            )]);
        };
        let (response, response_at) = self
            .deref(response, response_at.clone())
            .map_err(|e| vec![e])?;
        let response = response.clone();

        // Content type and body.
        let content_type = x.header("content-type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
        let mut code = None;
        match (response.get("content"), content_type) {
            (None, None) if x.body.is_empty() => {}
            (None, _) => problems.push(format!(
                "{context}: no body is documented, but one came ({:?}, {} bytes)",
                x.header("content-type"),
                x.body.len()
            )),
            (Some(_), None) => problems.push(format!("{context}: no Content-Type")),
            (Some(content), Some(media)) => {
                if content.get(&media).is_none() {
                    problems.push(format!("{context}: Content-Type {media} is not documented"));
                } else if media == "application/json" {
                    match serde_json::from_slice::<Value>(&x.body) {
                        Ok(body) => {
                            let schema_at =
                                format!("{response_at}/content/{}/schema", escape(&media));
                            for e in self.validate(&schema_at, &body) {
                                problems.push(format!("{context}: body {body}: {e}"));
                            }
                            code = CODE_FIELDS
                                .iter()
                                .find_map(|f| body.get(*f))
                                .and_then(Value::as_str)
                                .map(str::to_owned);
                        }
                        Err(e) => problems.push(format!("{context}: the body is not JSON: {e}")),
                    }
                } else {
                    problems.push(format!("{context}: the test cannot check {media} bodies"));
                }
            }
        }

        // Headers: the required ones present, every one documented and valid.
        let documented: BTreeMap<String, (Value, String)> = response
            .get("headers")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(name, header)| {
                let at = format!("{response_at}/headers/{}", escape(name));
                let (header, at) = self.deref(header, at).expect("header $ref resolves");
                (name.to_ascii_lowercase(), (header.clone(), at))
            })
            .collect();
        for (name, (header, _)) in &documented {
            if header["required"] == json!(true) && x.header(name).is_none() {
                problems.push(format!("{context}: required header {name} is missing"));
            }
        }
        for (name, value) in &x.headers {
            if name == "content-type" || TRANSPORT_HEADERS.contains(&name.as_str()) {
                continue;
            }
            match documented.get(name) {
                None => problems.push(format!(
                    "{context}: header {name}: {value} is not documented"
                )),
                Some((_, at)) => {
                    for e in self.validate(&format!("{at}/schema"), &json!(value)) {
                        problems.push(format!("{context}: header {name}: {value:?}: {e}"));
                    }
                }
            }
        }

        // A request that succeeded must be one the document describes.
        if (200..300).contains(&x.status) {
            problems.extend(self.check_request(&context, &op_at, x));
        }

        if problems.is_empty() {
            Ok(Seen {
                path: template,
                method: x.method.clone(),
                status: x.status,
                code,
            })
        } else {
            Err(problems)
        }
    }

    fn check_request(&mut self, context: &str, op_at: &str, x: &Exchange) -> Vec<String> {
        let Some(body) = self.doc.pointer(&format!("{op_at}/requestBody")) else {
            return if x.request_body.is_empty() {
                vec![]
            } else {
                vec![format!(
                    "{context}: a request body was sent, none is documented"
                )]
            };
        };
        let (body, body_at) = self
            .deref(body, format!("{op_at}/requestBody"))
            .expect("requestBody $ref resolves");
        let body = body.clone();
        if x.request_body.trim().is_empty() {
            return if body["required"] == json!(true) {
                vec![format!(
                    "{context}: succeeded without the required request body"
                )]
            } else {
                vec![]
            };
        }
        let content = body["content"].as_object().expect("requestBody content");
        // A request without Content-Type is read as the one type documented (NetIQ's device
        // request sends none).
        let media = match &x.request_content_type {
            Some(ct) => ct
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase(),
            None if content.len() == 1 => content.keys().next().expect("one").clone(),
            None => return vec![format!("{context}: no request Content-Type")],
        };
        if !content.contains_key(&media) {
            return vec![format!(
                "{context}: request Content-Type {media} is not documented"
            )];
        }
        let instance = match media.as_str() {
            "application/json" => match serde_json::from_str(&x.request_body) {
                Ok(v) => v,
                Err(e) => return vec![format!("{context}: the request body is not JSON: {e}")],
            },
            "application/x-www-form-urlencoded" => form_object(&x.request_body),
            other => return vec![format!("{context}: the test cannot check {other} requests")],
        };
        let schema_at = format!("{body_at}/content/{}/schema", escape(&media));
        self.validate(&schema_at, &instance)
            .into_iter()
            .map(|e| format!("{context}: request {instance}: {e}"))
            .collect()
    }

    /// Every documented (path, method, status).
    fn documented_statuses(&self) -> BTreeSet<(String, String, u16)> {
        let mut all = BTreeSet::new();
        for (path, method) in documented_operations(&self.doc) {
            let at = format!(
                "/paths/{}/{}/responses",
                escape(&path),
                method.to_ascii_lowercase()
            );
            let responses = self.doc.pointer(&at).and_then(Value::as_object);
            for status in responses.into_iter().flatten().map(|(s, _)| s) {
                let status = status.parse().unwrap_or_else(|_| {
                    panic!("{path} {method}: response {status:?} is not a status")
                });
                all.insert((path.clone(), method.clone(), status));
            }
        }
        all
    }

    /// The closed set of values the JSON body schema of a response allows for `field`, if
    /// it lists one (`const` or `enum`, through `$ref`, `allOf` and `oneOf`/`anyOf`).
    fn allowed_values(&self, schema: &Value, field: &str) -> Option<BTreeSet<String>> {
        let strings = |v: &Value| -> BTreeSet<String> {
            match v {
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                other => other.as_str().map(str::to_owned).into_iter().collect(),
            }
        };
        let mut sets: Vec<BTreeSet<String>> = Vec::new();
        if schema.get("$ref").is_some() {
            let (target, _) = self.deref(schema, String::new()).ok()?;
            sets.extend(self.allowed_values(target, field));
        }
        if let Some(property) = schema.get("properties").and_then(|p| p.get(field)) {
            let (property, _) = self.deref(property, String::new()).ok()?;
            if let Some(c) = property.get("const") {
                sets.push(strings(c));
            } else if let Some(e) = property.get("enum") {
                sets.push(strings(e));
            }
        }
        for sub in schema
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            sets.extend(self.allowed_values(sub, field));
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(branches) = schema.get(key).and_then(Value::as_array) {
                let each: Option<Vec<_>> = branches
                    .iter()
                    .map(|b| self.allowed_values(b, field))
                    .collect();
                sets.extend(each.map(|e| e.into_iter().flatten().collect()));
            }
        }
        sets.into_iter()
            .reduce(|a, b| a.intersection(&b).cloned().collect())
    }

    /// Per documented (path, method, status) with a JSON body: the closed set of codes it
    /// lists, if any.
    fn documented_codes(&self) -> BTreeMap<(String, String, u16), BTreeSet<String>> {
        let mut all = BTreeMap::new();
        for (path, method, status) in self.documented_statuses() {
            let at = format!(
                "/paths/{}/{}/responses/{status}",
                escape(&path),
                method.to_ascii_lowercase()
            );
            let (response, _) = self
                .deref(self.doc.pointer(&at).expect("listed"), at)
                .expect("resolves");
            let Some(schema) = response.pointer("/content/application~1json/schema") else {
                continue;
            };
            if let Some(codes) = CODE_FIELDS
                .iter()
                .find_map(|f| self.allowed_values(schema, f))
            {
                all.insert((path, method, status), codes);
            }
        }
        all
    }
}

/// A form body as a JSON object of strings (the test's own requests never repeat a name).
fn form_object(body: &str) -> Value {
    let mut object = Map::new();
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            signoff_edge::oauth::form_decode(s.as_bytes()).expect("the test's forms decode")
        };
        object.insert(decode(name), Value::String(decode(value)));
    }
    Value::Object(object)
}

/// Every checked exchange, and every way one differed from the document.
struct Recorder {
    spec: Spec,
    seen: Vec<Seen>,
    problems: Vec<String>,
}

impl Recorder {
    fn new(spec: Spec) -> Self {
        Self {
            spec,
            seen: Vec::new(),
            problems: Vec::new(),
        }
    }

    fn record(&mut self, x: &Exchange) {
        match self.spec.check(x) {
            Ok(seen) => self.seen.push(seen),
            Err(problems) => self.problems.extend(problems),
        }
    }

    /// Sends `request` through `api`, checks the answer against the document, and asserts
    /// it has `status` (so each scenario provokes what it means to).
    async fn expect(&mut self, api: &Api<'_>, request: Request, status: u16) -> Exchange {
        let x = api.exchange(request).await;
        assert_eq!(
            x.status,
            status,
            "{} {}: {}",
            x.method,
            x.path,
            String::from_utf8_lossy(&x.body)
        );
        self.record(&x);
        x
    }

    fn assert_no_problems(&self) {
        assert!(
            self.problems.is_empty(),
            "{} response(s) differ from docs/openapi.yaml:\n{}",
            self.problems.len(),
            self.problems.join("\n")
        );
    }

    /// Documented statuses never seen (less those excused in [`UNPROVOKABLE`]).
    fn untested_statuses(&self) -> Vec<(String, String, u16)> {
        let seen: BTreeSet<(String, String, u16)> = self
            .seen
            .iter()
            .map(|s| (s.path.clone(), s.method.clone(), s.status))
            .collect();
        let excused: BTreeSet<(String, String, u16)> = UNPROVOKABLE
            .iter()
            .map(|(p, m, s, _)| (p.to_string(), m.to_string(), *s))
            .collect();
        self.spec
            .documented_statuses()
            .into_iter()
            .filter(|k| !seen.contains(k) && !excused.contains(k))
            .collect()
    }

    /// Per documented status with a closed set of codes: where the codes seen differ.
    fn unseen_codes(&self) -> Vec<String> {
        let mut mismatched = Vec::new();
        for (key, documented) in self.spec.documented_codes() {
            let observed: BTreeSet<String> = self
                .seen
                .iter()
                .filter(|s| (&s.path, &s.method, s.status) == (&key.0, &key.1, key.2))
                .filter_map(|s| s.code.clone())
                .collect();
            if observed != documented {
                mismatched.push(format!(
                    "{} {} {}: documented {documented:?}, seen {observed:?}",
                    key.1, key.0, key.2
                ));
            }
        }
        mismatched
    }

    /// Every documented status was seen, and every closed set of codes exactly.
    fn assert_everything_documented_was_seen(&self) {
        let untested = self.untested_statuses();
        assert!(
            untested.is_empty(),
            "documented but never provoked (provoke them, or list them in UNPROVOKABLE with a reason): {untested:?}"
        );
        let unseen = self.unseen_codes();
        assert!(
            unseen.is_empty(),
            "documented codes that were never seen, or seen codes not documented:\n{}",
            unseen.join("\n")
        );
    }
}

// ---- Calling the functions -----------------------------------------------------------------

/// The functions, routed as API Gateway routes them (the router table), on one store.
struct Api<'a> {
    store: &'a Store,
    routes: &'a [Route],
    revocation: RevocationConfig,
}

impl Api<'_> {
    async fn exchange(&self, request: Request) -> Exchange {
        let method = request.method().as_str().to_owned();
        let path = request.uri().path().to_owned();
        let request_content_type = request
            .headers()
            .get("content-type")
            .map(|v| v.to_str().expect("ASCII").to_owned());
        let request_body = match request.body() {
            Body::Text(text) => text.clone(),
            Body::Empty => String::new(),
            other => panic!("the test sends text bodies, not {other:?}"),
        };
        let route = self
            .routes
            .iter()
            .find(|r| r.method == method && matches_template(&r.path, &path))
            .unwrap_or_else(|| panic!("{method} {path} is not routed"));
        let response: Response<Body> = match route.function.as_str() {
            "nativesso-logout" => signoff_nativesso::handle(self.store, request).await,
            "token-register" => signoff_register::handle(self.store, request).await,
            "descope-auth" => {
                signoff_descope::handle(
                    self.store,
                    &signoff_descope::settings::Settings::default(),
                    request,
                )
                .await
            }
            "token-revoke" => signoff_revoke::handle(self.store, &self.revocation, request).await,
            other => panic!("no handler for function {other}"),
        }
        .expect("handlers never fail");
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    v.to_str().expect("ASCII header").to_owned(),
                )
            })
            .collect();
        let body = match response.body() {
            Body::Empty => Vec::new(),
            Body::Text(text) => text.clone().into_bytes(),
            Body::Binary(bytes) => bytes.clone(),
            #[allow(unreachable_patterns)]
            _ => Vec::new(),
        };
        Exchange {
            method,
            path,
            request_content_type,
            request_body,
            status: response.status().as_u16(),
            headers,
            body,
        }
    }
}

fn revocation_config(
    tenant: &str,
    device_auth: DeviceRevocationAuth,
    cors: &str,
) -> RevocationConfig {
    RevocationConfig {
        tenant: tenant.into(),
        device_auth,
        cors: CorsPolicy::parse(cors).expect("a valid origin list"),
    }
}

fn manifest_routes() -> Vec<Route> {
    routes_from_manifest(&workspace().join("Cargo.toml")).expect("the router table parses")
}

/// A request as API Gateway hands it to a function.
fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Request {
    let mut builder = HttpRequest::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let body = if body.is_empty() {
        Body::Empty
    } else {
        Body::Text(body.to_owned())
    };
    builder.body(body).expect("request builds")
}

const JSON_TYPE: (&str, &str) = ("content-type", "application/json");
const FORM_TYPE: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
const FROM_APP: (&str, &str) = ("origin", ALLOWED_ORIGIN);

/// A fresh database. Logouts here follow registrations at once; the index settle window
/// (tested in nativesso_logout.rs) would only make them wait.
async fn fresh_db() -> TestDb {
    TestDb::start_with(|c| c.index_settle = std::time::Duration::ZERO, None).await
}

/// A store on the same emulator whose table does not exist: a non-retryable fault.
fn missing_table(store: &Store) -> Store {
    Store::new(
        store.client().clone(),
        signoff_store::Config::for_table("no-such-table"),
    )
}

// ---- Scenarios -----------------------------------------------------------------------------

async fn native_sso_and_registration(rec: &mut Recorder, routes: &[Route]) {
    let db = fresh_db().await;
    let token = seed::tenant(&db.store, "100", Some("acme")).await;
    let org = seed::organization_token(&db.store, "acme").await;
    let other = seed::tenant(&db.store, "200", None).await;
    seed::session_tokens(&db.store, "100", "s1", 3, "t").await;
    let revocation = revocation_config("100", DeviceRevocationAuth::Client, "");
    let api = Api {
        store: &db.store,
        routes,
        revocation: revocation.clone(),
    };
    let logout = "/api/100/nativesso/logout";
    let bearer = format!("Bearer {token}");
    let auth = ("authorization", bearer.as_str());
    let post =
        |path: &str, headers: &[(&str, &str)], body: &str| request("POST", path, headers, body);

    // Native SSO logout.
    let x = rec
        .expect(
            &api,
            post(logout, &[auth, JSON_TYPE], r#"{"sessionId":"s1"}"#),
            200,
        )
        .await;
    assert_eq!(x.json()["count"], 3);
    let org_bearer = format!("Bearer {org}");
    rec.expect(
        &api,
        post(
            logout,
            &[("authorization", &org_bearer), JSON_TYPE],
            r#"{"sessionId":"unknown"}"#,
        ),
        200,
    )
    .await;
    let long = format!(r#"{{"sessionId":"{}"}}"#, "x".repeat(257));
    let large = format!(r#"{{"sessionId":"s","pad":"{}"}}"#, "x".repeat(9000));
    for (headers, body, code) in [
        (&[auth, JSON_TYPE][..], "{}", "A503201"),
        (&[auth, JSON_TYPE], r#"{"sessionId":5}"#, "A503202"),
        (&[auth, JSON_TYPE], r#"{"sessionId":""}"#, "A503203"),
        (&[auth, JSON_TYPE], long.as_str(), "A503204"),
        (&[auth, JSON_TYPE], r#"{"sessionId":"a\u0001b"}"#, "A503205"),
        (&[auth, JSON_TYPE], "{", "A503206"),
        (&[auth, JSON_TYPE], "[]", "A503207"),
        (
            &[auth, ("content-type", "text/plain")],
            r#"{"sessionId":"s"}"#,
            "A503208",
        ),
        (&[auth, JSON_TYPE], large.as_str(), "A503209"),
    ] {
        let x = rec.expect(&api, post(logout, headers, body), 400).await;
        assert_eq!(x.json()["resultCode"], code);
    }
    let body = r#"{"sessionId":"s1"}"#;
    for (authorization, status, code) in [
        (None, 401, "A001202"),
        (Some("Bearer sgn_sat_unknown"), 401, "A001203"),
        (Some("Basic dXNlcjpwYXNz"), 401, "A001204"),
        (Some("DPoP abc"), 401, "A001204"),
    ] {
        let headers: Vec<_> = authorization
            .map(|a| ("authorization", a))
            .into_iter()
            .chain([JSON_TYPE])
            .collect();
        let x = rec.expect(&api, post(logout, &headers, body), status).await;
        assert_eq!(x.json()["resultCode"], code);
    }
    let other_bearer = format!("Bearer {other}");
    rec.expect(
        &api,
        post(logout, &[("authorization", &other_bearer), JSON_TYPE], body),
        403,
    )
    .await;

    // Token registration.
    let tokens = "/signoff/v1/tenants/100/tokens";
    let one = json!({"token": "r1", "type": "refresh", "clientId": "app", "subject": "alice",
        "sessionId": "live", "grantId": "g1", "issuedAt": 1_700_000_000, "expiresAt": FUTURE});
    rec.expect(
        &api,
        post(tokens, &[auth, JSON_TYPE], &one.to_string()),
        200,
    )
    .await;
    let batch = json!({"tokens": [
        {"tokenHash": signoff_store::item_key::TokenHash::of("a1").encoded(), "type": "access", "clientId": "app",
         "deviceId": "d1", "userStore": "Local", "userDn": "cn=alice", "expiresAt": FUTURE},
        {"token": "a2", "type": "access", "clientId": "app", "expiresAt": FUTURE},
    ]});
    let x = rec
        .expect(
            &api,
            post(tokens, &[auth, JSON_TYPE], &batch.to_string()),
            200,
        )
        .await;
    assert_eq!(x.json()["registered"], 2);
    let misspelt = json!({"token": "r2", "type": "refresh", "clientId": "app",
        "sessionID": "s", "expiresAt": FUTURE});
    rec.expect(
        &api,
        post(tokens, &[auth, JSON_TYPE], &misspelt.to_string()),
        400,
    )
    .await;
    rec.expect(&api, post(tokens, &[JSON_TYPE], &one.to_string()), 401)
        .await;
    rec.expect(
        &api,
        post(
            tokens,
            &[("authorization", "Bearer sgn_sat_unknown"), JSON_TYPE],
            &one.to_string(),
        ),
        401,
    )
    .await;
    rec.expect(
        &api,
        post(
            tokens,
            &[("authorization", &other_bearer), JSON_TYPE],
            &one.to_string(),
        ),
        403,
    )
    .await;
    // "s1" was logged out above.
    let late = json!({"token": "late", "type": "access", "clientId": "app", "sessionId": "s1",
        "expiresAt": FUTURE});
    let x = rec
        .expect(
            &api,
            post(tokens, &[auth, JSON_TYPE], &late.to_string()),
            409,
        )
        .await;
    assert_eq!(x.json()["sessions"], json!(["s1"]));

    // Store trouble: a missing table (500) and an unreachable store (500 or 503, retryable).
    for (store, nativesso, register) in [
        (missing_table(&db.store), 500, 500),
        (seed::unreachable_store(), 500, 503),
    ] {
        let api = Api {
            store: &store,
            routes,
            revocation: revocation.clone(),
        };
        rec.expect(&api, post(logout, &[auth, JSON_TYPE], body), nativesso)
            .await;
        rec.expect(
            &api,
            post(tokens, &[auth, JSON_TYPE], &one.to_string()),
            register,
        )
        .await;
    }
}

const PROJECT: &str = "P2openapi";

async fn descope(rec: &mut Recorder, routes: &[Route]) {
    let db = fresh_db().await;
    seed::tenant(&db.store, PROJECT, None).await;
    let key = SigningKey::generate(Algorithm::Es256, None).unwrap();
    let rsa = SigningKey::generate(Algorithm::Rs256, Some("rsa-1")).unwrap();
    db.store
        .add_project_keys(PROJECT, &[key.public_jwk(), rsa.public_jwk()])
        .await
        .unwrap();
    let api = Api {
        store: &db.store,
        routes,
        revocation: revocation_config(PROJECT, DeviceRevocationAuth::Client, ""),
    };
    let now = signoff_store::now_epoch_seconds();
    let sessions = std::cell::Cell::new(0);
    let login = async |signer: &SigningKey| {
        sessions.set(sessions.get() + 1);
        let sessions = sessions.get();
        let spec = RefreshTokenSpec {
            project: PROJECT.into(),
            subject: "user-1".into(),
            dsub: None,
            session_id: Some(format!("s{sessions}")),
            grant_id: Some(format!("g{sessions}")),
            client_id: "web".into(),
            issuer: None,
            issued_at: now,
            expires_at: now + 3600,
        };
        db.store.mint_refresh_jwt(signer, &spec).await.unwrap()
    };
    let claims = |exp: i64, iss: &str| json!({"sub": "user-1", "iss": iss, "iat": now, "exp": now + exp, "drn": "DSR"});
    let stranger = SigningKey::generate(Algorithm::Es256, Some("not-registered")).unwrap();
    let bearer = |jwt: &str| format!("Bearer {PROJECT}:{jwt}");

    for path in ["/v1/auth/logout", "/v1/auth/logoutall"] {
        let post = |auth: Option<&str>, body: &str| {
            let headers: Vec<_> = auth
                .map(|a| ("authorization", a))
                .into_iter()
                .chain([JSON_TYPE])
                .collect();
            request("POST", path, &headers, body)
        };
        let jwt = login(&key).await;
        let x = rec
            .expect(&api, post(Some(bearer(&jwt).as_str()), "{}"), 200)
            .await;
        assert_eq!(
            x.headers.iter().filter(|(n, _)| n == "set-cookie").count(),
            2,
            "DS and DSR are deleted"
        );
        let jwt = login(&rsa).await;
        rec.expect(
            &api,
            post(
                Some(bearer(&jwt).as_str()),
                r#"{"logoutType":["everything"]}"#,
            ),
            200,
        )
        .await;
        let jwt = login(&key).await;
        rec.expect(&api, post(Some(bearer(&jwt).as_str()), ""), 200)
            .await;

        let live = login(&key).await;
        let auth = bearer(&live);
        for (body, code) in [("[]", "E011001"), (r#"{"logoutType":"all"}"#, "E011003")] {
            let x = rec.expect(&api, post(Some(&auth), body), 400).await;
            assert_eq!(x.json()["errorCode"], code);
        }
        let unknown_kid = stranger.sign(&claims(60, PROJECT));
        let cases = [
            (None, "E011002"),
            (Some(format!("Bearer {live}")), "E011004"),
            (Some(format!("Bearer P2unknown:{live}")), "E061001"),
            (Some(bearer("a.b.c")), "E061002"),
            (Some(bearer(&unknown_kid)), "E061003"),
            (Some(bearer(&key.sign(&claims(-60, PROJECT)))), "E061004"),
            (Some(bearer(&key.sign(&claims(60, "P2other")))), "E061005"),
            (Some(bearer(&key.sign(&claims(60, PROJECT)))), "E064001"),
        ];
        for (auth, code) in cases {
            let x = rec.expect(&api, post(auth.as_deref(), "{}"), 401).await;
            assert_eq!(x.json()["errorCode"], code);
        }
    }

    let keys = |project: &str| request("GET", &format!("/v2/keys/{project}"), &[], "");
    let x = rec.expect(&api, keys(PROJECT), 200).await;
    let kinds: BTreeSet<String> = x.json()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kty"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, BTreeSet::from(["EC".to_owned(), "RSA".to_owned()]));
    rec.expect(&api, keys("P2none"), 404).await;

    let jwt = login(&key).await;
    for (store, status) in [
        (missing_table(&db.store), 500),
        (seed::unreachable_store(), 503),
    ] {
        let api = Api {
            store: &store,
            routes,
            revocation: api.revocation.clone(),
        };
        for path in ["/v1/auth/logout", "/v1/auth/logoutall"] {
            let auth = bearer(&jwt);
            let headers = [("authorization", auth.as_str()), JSON_TYPE];
            rec.expect(&api, request("POST", path, &headers, "{}"), status)
                .await;
        }
        rec.expect(&api, keys(PROJECT), status).await;
    }
}

const TENANT: &str = "nam";
const NETIQ: &str = "/nidp/oauth/nam/revoke";
const RFC7009: &str = "/oauth2/revoke";
const DEVICE: &str = "/nidp/oauth/nam/revoke/dev-1";

async fn revocation(rec: &mut Recorder, routes: &[Route]) {
    let db = fresh_db().await;
    seed::tenant(&db.store, TENANT, None).await;
    let secret = seed::client(&db.store, TENANT, "web", true).await.unwrap();
    seed::client(&db.store, TENANT, "app", false).await;
    let in_grant = |value: &str, token_type, grant: &str| {
        seed::grant_token(TENANT, value, token_type, "web", grant)
    };
    seed::register(
        &db.store,
        vec![
            in_grant("rt-1", TokenType::Refresh, "g1"),
            in_grant("at-1", TokenType::Access, "g1"),
            in_grant("at-2", TokenType::Access, "g2"),
            in_grant("rt-2", TokenType::Refresh, "g3"),
            in_grant("at-3", TokenType::Access, "g4"),
            seed::token(TENANT, "app-rt", TokenType::Refresh, "app"),
        ],
    )
    .await;
    for (device, dn) in [
        ("dev-1", "cn=alice"),
        ("dev-1", "cn=bob"),
        ("dev-2", "cn=alice"),
    ] {
        seed::device_tokens(
            &db.store,
            TENANT,
            device,
            "Local",
            dn,
            "web",
            2,
            &format!("{device}-{dn}"),
        )
        .await;
    }
    let api = Api {
        store: &db.store,
        routes,
        revocation: revocation_config(TENANT, DeviceRevocationAuth::Client, ALLOWED_ORIGIN),
    };
    let web = [("client_id", "web"), ("client_secret", secret.as_str())];
    let with = |extra: &[(&str, &str)]| -> String {
        let pairs: Vec<(&str, &str)> = web.iter().chain(extra).copied().collect();
        form(&pairs)
    };
    let post =
        |path: &str, headers: &[(&str, &str)], body: &str| request("POST", path, headers, body);
    let good_basic = basic("web", &secret);
    let bad_basic = basic("web", "wrong");

    // Token revocation, on both paths.
    rec.expect(
        &api,
        post(NETIQ, &[FORM_TYPE, FROM_APP], &with(&[("token", "rt-1")])),
        200,
    )
    .await;
    rec.expect(
        &api,
        post(
            NETIQ,
            &[FORM_TYPE],
            &with(&[("token", "unknown"), ("token_type_hint", "refresh_token")]),
        ),
        200,
    )
    .await;
    rec.expect(
        &api,
        post(
            RFC7009,
            &[FORM_TYPE, FROM_APP, ("authorization", &good_basic)],
            "token=at-2&token_type_hint=access_token",
        ),
        200,
    )
    .await;
    rec.expect(
        &api,
        post(RFC7009, &[FORM_TYPE], &with(&[("token", "rt-2")])),
        200,
    )
    .await;
    for (path, pairs, extra_headers, error) in [
        (NETIQ, with(&[]), &[][..], "invalid_request"),
        (NETIQ, form(&[("token", "at-2")]), &[], "invalid_client"),
        (
            NETIQ,
            with(&[("token", "app-rt")]),
            &[FROM_APP],
            "invalid_grant",
        ),
        (
            NETIQ,
            with(&[("token", "at-3")]),
            &[],
            "unsupported_token_type",
        ),
        (
            RFC7009,
            "token=at-1&token=at-2".to_owned(),
            &[],
            "invalid_request",
        ),
        (
            RFC7009,
            form(&[
                ("client_id", "web"),
                ("client_secret", "wrong"),
                ("token", "at-1"),
            ]),
            &[],
            "invalid_client",
        ),
        (RFC7009, with(&[("token", "app-rt")]), &[], "invalid_grant"),
    ] {
        let headers: Vec<_> = [FORM_TYPE]
            .into_iter()
            .chain(extra_headers.iter().copied())
            .collect();
        let x = rec.expect(&api, post(path, &headers, &pairs), 400).await;
        assert_eq!(x.json()["error"], error, "{path} {pairs}");
    }
    // Without a Content-Type the token paths refuse the form.
    rec.expect(&api, post(RFC7009, &[], &with(&[("token", "at-1")])), 400)
        .await;
    for (path, authorization) in [(NETIQ, bad_basic.as_str()), (RFC7009, "Bearer not-basic")] {
        rec.expect(
            &api,
            post(
                path,
                &[FORM_TYPE, FROM_APP, ("authorization", authorization)],
                "token=at-1",
            ),
            401,
        )
        .await;
    }

    // Device revocation.
    let alice = [("userstore_name", "Local"), ("user_dn", "cn=alice")];
    let x = rec
        .expect(
            &api,
            post(DEVICE, &[FORM_TYPE, FROM_APP], &with(&alice)),
            200,
        )
        .await;
    assert_eq!(
        seed::count_device_tokens(&db.store, TENANT, "dev-1", "Local", "cn=alice").await,
        0
    );
    assert_eq!(
        x.json()["status"],
        "Successfully revoked token(s) issued to this device."
    );
    // Again: nothing left for alice on dev-1.
    rec.expect(&api, post(DEVICE, &[FORM_TYPE], &with(&alice)), 404)
        .await;
    rec.expect(
        &api,
        post(
            "/nidp/oauth/nam/revoke/no-such-device",
            &[FORM_TYPE],
            &with(&alice),
        ),
        404,
    )
    .await;
    for (body, error) in [
        (with(&[("userstore_name", "Local")]), "invalid_request"),
        (form(&alice), "invalid_client"),
        (
            form(&[
                ("client_id", "app"),
                ("userstore_name", "Local"),
                ("user_dn", "cn=bob"),
            ]),
            "invalid_client",
        ),
    ] {
        let x = rec
            .expect(&api, post(DEVICE, &[FORM_TYPE], &body), 400)
            .await;
        assert_eq!(x.json()["error"], error, "{body}");
    }
    rec.expect(
        &api,
        post(
            DEVICE,
            &[FORM_TYPE, ("authorization", &bad_basic)],
            &form(&alice),
        ),
        401,
    )
    .await;
    // NetIQ's documented request: no Content-Type, no credentials (policy `none`).
    let open = Api {
        store: &db.store,
        routes,
        revocation: revocation_config(TENANT, DeviceRevocationAuth::None, ""),
    };
    rec.expect(
        &open,
        post(
            "/nidp/oauth/nam/revoke/dev-2",
            &[],
            "userstore_name=Local&user_dn=cn%3Dalice",
        ),
        200,
    )
    .await;
    rec.expect(
        &api,
        post(
            DEVICE,
            &[FORM_TYPE, ("authorization", &good_basic)],
            "userstore_name=Local&user_dn=cn%3Dbob",
        ),
        200,
    )
    .await;

    // CORS preflights: allowed, refused, and with CORS off.
    let preflight = |path: &str, origin: &str| {
        request(
            "OPTIONS",
            path,
            &[
                ("origin", origin),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization, content-type",
                ),
            ],
            "",
        )
    };
    let off = Api {
        store: &db.store,
        routes,
        revocation: revocation_config(TENANT, DeviceRevocationAuth::Client, ""),
    };
    for path in [NETIQ, RFC7009, DEVICE] {
        let x = rec.expect(&api, preflight(path, ALLOWED_ORIGIN), 204).await;
        assert_eq!(
            x.header("access-control-allow-origin"),
            Some(ALLOWED_ORIGIN)
        );
        let x = rec
            .expect(&api, preflight(path, "https://evil.example.com"), 204)
            .await;
        assert_eq!(x.header("access-control-allow-origin"), None);
        rec.expect(&off, preflight(path, ALLOWED_ORIGIN), 204).await;
    }

    // Store trouble.
    for (store, status) in [
        (missing_table(&db.store), 500),
        (seed::unreachable_store(), 503),
    ] {
        let api = Api {
            store: &store,
            routes,
            revocation: api.revocation.clone(),
        };
        for (path, body) in [
            (NETIQ, with(&[("token", "at-1")])),
            (RFC7009, with(&[("token", "at-1")])),
            (DEVICE, with(&alice)),
        ] {
            rec.expect(&api, post(path, &[FORM_TYPE, FROM_APP], &body), status)
                .await;
        }
    }
}

// ---- The tests -----------------------------------------------------------------------------

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_response_is_what_the_functions_answer() {
    let routes = manifest_routes();
    let mut rec = Recorder::new(Spec::load());
    native_sso_and_registration(&mut rec, &routes).await;
    descope(&mut rec, &routes).await;
    revocation(&mut rec, &routes).await;
    rec.assert_no_problems();
    rec.assert_everything_documented_was_seen();
    let codes = rec.spec.documented_codes();
    eprintln!(
        "checked {} responses: {} operations, {} (operation, status) pairs, {} codes in {} closed sets",
        rec.seen.len(),
        rec.seen
            .iter()
            .map(|s| (&s.path, &s.method))
            .collect::<BTreeSet<_>>()
            .len(),
        rec.seen
            .iter()
            .map(|s| (&s.path, &s.method, s.status))
            .collect::<BTreeSet<_>>()
            .len(),
        codes.values().map(BTreeSet::len).sum::<usize>(),
        codes.len(),
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
                "expiresAt": FUTURE})
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
