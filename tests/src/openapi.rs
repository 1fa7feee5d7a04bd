//! `docs/openapi.yaml` held to what the functions really answer: the checker the
//! `openapi*` tests share.
//!
//! Each response is looked up in the document by method and path template and must have a
//! documented status (there is no `default`), a documented content type, a body valid under
//! the documented schema (JSON Schema 2020-12, `$ref`s resolved within the document), every
//! required documented header with a valid value, and no undocumented header. The bodies of
//! successful requests must be valid under the documented request body.
//!
//! The document may claim nothing untested: every documented status of every operation must
//! be seen, and where a schema lists a closed set of `resultCode`, `errorCode` or `error`
//! values for a status, exactly that set must be seen. Each vendor's scenarios
//! (`tests/tests/openapi_<vendor>.rs`) cover its operations ([`VENDORS`]) completely, and
//! `tests/tests/openapi.rs` checks that the vendors' operations are the document's.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use lambda_http::{Body, Request, RequestExt};
use serde_json::{json, Map, Value};
use signoff_edge::cors::CorsPolicy;
use signoff_edge::route::match_template;
use signoff_revoke::settings::{DeviceRevocationAuth, Settings as RevocationConfig};
use signoff_store::Store;

use crate::db::TestDb;
use crate::event::{match_route, HttpApiEvent};
use crate::functions::{self, Settings};
use crate::gateway::{router_table, Route};
use crate::paths::workspace;
use crate::seed;

/// Statuses the document lists that no test can provoke, with the reason. Empty: every
/// documented status is provoked below.
pub const UNPROVOKABLE: &[(&str, &str, u16, &str)] = &[];

/// Headers a transport adds, whatever the function answered (the local gateway's HTTP
/// server); never part of the document.
pub const TRANSPORT_HEADERS: &[&str] =
    &["content-length", "date", "connection", "transfer-encoding"];

/// The fields that carry each vendor's result or error code.
pub const CODE_FIELDS: &[&str] = &["resultCode", "errorCode", "error"];

pub const ALLOWED_ORIGIN: &str = "https://app.example.com";
/// An expiry a registration accepts: a day from now (a token may not outlive the
/// revocation marks, which last `SIGNOFF_SESSION_MARKER_TTL_DAYS`).
pub fn future() -> i64 {
    signoff_store::now_epoch_seconds() + 86_400
}

// ---- The document --------------------------------------------------------------------------

pub fn load_document() -> Value {
    let path = workspace().join("docs/openapi.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("docs/openapi.yaml is YAML");
    serde_json::to_value(yaml).expect("docs/openapi.yaml is JSON-compatible (string keys)")
}

/// A JSON pointer segment (RFC 6901).
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// A JSON pointer as a URI fragment: characters a fragment may not hold (the `{` and `}` of
/// path templates) percent-encoded (RFC 6901 section 6).
pub fn uri_fragment(pointer: &str) -> String {
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
pub fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
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

/// One request and the response it got.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub method: String,
    pub path: String,
    pub request_content_type: Option<String>,
    pub request_body: String,
    pub status: u16,
    /// Names in lower case, one entry per value.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Exchange {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// What a checked response was, for the coverage checks.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seen {
    pub path: String,
    pub method: String,
    pub status: u16,
    pub code: Option<String>,
}

/// The document, with a compiled validator per schema location.
pub struct Spec {
    pub doc: Value,
    pub validators: HashMap<String, jsonschema::Validator>,
}

impl Spec {
    pub fn load() -> Self {
        Self::from(load_document())
    }

    pub fn from(doc: Value) -> Self {
        Self {
            doc,
            validators: HashMap::new(),
        }
    }

    /// `value`, or what its `$ref` (a local one: the document is self-contained) points to,
    /// with the JSON pointer of where it was found.
    pub fn deref<'a>(
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
    pub fn validate(&mut self, pointer: &str, instance: &Value) -> Vec<String> {
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
    pub fn operation(&self, method: &str, path: &str) -> Result<(String, String), String> {
        let paths = self.doc["paths"].as_object().expect("paths");
        let templates: Vec<&String> = paths
            .keys()
            .filter(|t| match_template(t, path).is_some())
            .collect();
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
    pub fn check(&mut self, x: &Exchange) -> Result<Seen, Vec<String>> {
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
                } else if media.ends_with("+jwt") {
                    // A compact JWT: the document's schema of the text (its shape); what it
                    // says is checked where it is verified (tests/tests/introspect.rs).
                    let body = Value::String(String::from_utf8_lossy(&x.body).into_owned());
                    let schema_at = format!("{response_at}/content/{}/schema", escape(&media));
                    for e in self.validate(&schema_at, &body) {
                        problems.push(format!("{context}: body {body}: {e}"));
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

    pub fn check_request(&mut self, context: &str, op_at: &str, x: &Exchange) -> Vec<String> {
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
    pub fn documented_statuses(&self) -> BTreeSet<(String, String, u16)> {
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
    pub fn allowed_values(&self, schema: &Value, field: &str) -> Option<BTreeSet<String>> {
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
    pub fn documented_codes(&self) -> BTreeMap<(String, String, u16), BTreeSet<String>> {
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
pub fn form_object(body: &str) -> Value {
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
pub struct Recorder {
    pub spec: Spec,
    pub seen: Vec<Seen>,
    pub problems: Vec<String>,
}

impl Recorder {
    pub fn new(spec: Spec) -> Self {
        Self {
            spec,
            seen: Vec::new(),
            problems: Vec::new(),
        }
    }

    pub fn record(&mut self, x: &Exchange) {
        match self.spec.check(x) {
            Ok(seen) => self.seen.push(seen),
            Err(problems) => self.problems.extend(problems),
        }
    }

    /// Sends `request` through `api`, checks the answer against the document, and asserts
    /// it has `status` (so each scenario provokes what it means to).
    pub async fn expect(&mut self, api: &Api<'_>, request: Request, status: u16) -> Exchange {
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

    pub fn assert_no_problems(&self) {
        assert!(
            self.problems.is_empty(),
            "{} response(s) differ from docs/openapi.yaml:\n{}",
            self.problems.len(),
            self.problems.join("\n")
        );
    }

    /// Documented statuses never seen (less those excused in [`UNPROVOKABLE`]).
    pub fn untested_statuses(&self) -> Vec<(String, String, u16)> {
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
    pub fn unseen_codes(&self) -> Vec<String> {
        self.unseen_codes_where(|_, _| true)
    }

    /// [`Recorder::unseen_codes`] of the operations (path template, method) `of` picks.
    pub fn unseen_codes_where(&self, of: impl Fn(&str, &str) -> bool) -> Vec<String> {
        let mut mismatched = Vec::new();
        for (key, documented) in self.spec.documented_codes() {
            if !of(&key.0, &key.1) {
                continue;
            }
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

    /// Sends each of `requests` to the functions of `api` on each of the
    /// [`troubled_stores`] of its store, and asserts its status: the first for a
    /// non-retryable fault, the second for a retryable one.
    pub async fn expect_store_trouble(
        &mut self,
        api: &Api<'_>,
        requests: &[(HttpApiEvent, u16, u16)],
    ) {
        for (store, retryable) in troubled_stores(api.store) {
            let api = api.on(&store);
            for (event, fault, retryable_fault) in requests {
                let status = if retryable { *retryable_fault } else { *fault };
                self.expect(&api, event.request(), status).await;
            }
        }
    }

    /// No response differed from the document; every documented status of `vendor`'s
    /// operations was seen, and every closed set of
    /// codes of them exactly; every response seen was of one of its operations. Prints what
    /// was checked.
    pub fn assert_vendor_covered(&self, vendor: &Vendor) {
        self.assert_no_problems();
        let operations = vendor.operations();
        let stray: BTreeSet<_> = self
            .seen
            .iter()
            .map(|s| (s.path.clone(), s.method.clone()))
            .filter(|op| !operations.contains(op))
            .collect();
        assert!(
            stray.is_empty(),
            "{}'s scenarios reached operations of another vendor: {stray:?}",
            vendor.name
        );
        let of_vendor =
            |path: &str, method: &str| operations.contains(&(path.to_owned(), method.to_owned()));
        let untested: Vec<_> = self
            .untested_statuses()
            .into_iter()
            .filter(|(path, method, _)| of_vendor(path, method))
            .collect();
        assert!(
            untested.is_empty(),
            "documented but never provoked (provoke them, or list them in UNPROVOKABLE with a reason): {untested:?}"
        );
        let unseen = self.unseen_codes_where(of_vendor);
        assert!(
            unseen.is_empty(),
            "documented codes that were never seen, or seen codes not documented:\n{}",
            unseen.join("\n")
        );
        let coverage = self.spec.coverage(&operations);
        eprintln!(
            "{}: checked {} responses: {} operations, {} (operation, status) pairs, {} codes in {} closed sets",
            vendor.name,
            self.seen.len(),
            coverage.operations,
            self.seen
                .iter()
                .map(|s| (&s.path, &s.method, s.status))
                .collect::<BTreeSet<_>>()
                .len(),
            coverage.codes,
            coverage.code_sets,
        );
    }
}

/// What the document claims of some operations, counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    pub operations: usize,
    /// Documented (operation, status) pairs.
    pub pairs: usize,
    /// Closed sets of codes, and the codes in them.
    pub code_sets: usize,
    pub codes: usize,
}

impl std::ops::Add for Coverage {
    type Output = Coverage;
    fn add(self, other: Coverage) -> Coverage {
        Coverage {
            operations: self.operations + other.operations,
            pairs: self.pairs + other.pairs,
            code_sets: self.code_sets + other.code_sets,
            codes: self.codes + other.codes,
        }
    }
}

impl Spec {
    /// What the document claims of `operations` ((path template, upper-case method)).
    pub fn coverage(&self, operations: &BTreeSet<(String, String)>) -> Coverage {
        let of =
            |path: &String, method: &String| operations.contains(&(path.clone(), method.clone()));
        let codes = self.documented_codes();
        let codes: Vec<_> = codes.iter().filter(|((p, m, _), _)| of(p, m)).collect();
        Coverage {
            operations: documented_operations(&self.doc)
                .iter()
                .filter(|(p, m)| of(p, m))
                .count(),
            pairs: self
                .documented_statuses()
                .iter()
                .filter(|(p, m, _)| of(p, m))
                .count(),
            code_sets: codes.len(),
            codes: codes.iter().map(|(_, set)| set.len()).sum(),
        }
    }
}

/// One vendor's API: the operations its scenarios (`tests/tests/openapi_<vendor>.rs`) must
/// cover completely. Together the vendors partition the document's operations
/// (`tests/tests/openapi.rs` checks it), so no documented status falls between files.
#[derive(Clone, Copy, Debug)]
pub struct Vendor {
    pub name: &'static str,
    /// (upper-case method, path template).
    pub operations: &'static [(&'static str, &'static str)],
}

impl Vendor {
    /// The operations as the document lists them: (path template, upper-case method).
    pub fn operations(&self) -> BTreeSet<(String, String)> {
        self.operations
            .iter()
            .map(|(method, path)| (path.to_string(), method.to_string()))
            .collect()
    }
}

/// Authlete's native SSO logout, and our token registration beside it.
pub const AUTHLETE: Vendor = Vendor {
    name: "authlete",
    operations: &[
        ("POST", "/api/{serviceId}/nativesso/logout"),
        ("POST", "/api/{serviceId}/auth/token/revoke"),
        (
            "DELETE",
            "/api/{serviceId}/auth/token/delete/{accessTokenIdentifier}",
        ),
        (
            "DELETE",
            "/api/{serviceId}/client/authorization/delete/{clientId}",
        ),
        (
            "DELETE",
            "/api/{serviceId}/client/authorization/delete/{clientId}/{subject}",
        ),
        ("GET", "/api/{serviceId}/auth/token/get/list"),
        ("POST", "/api/{serviceId}/backchannel/logout/token"),
        ("POST", "/signoff/v1/tenants/{tenantId}/tokens"),
    ],
};

/// Descope's session logout and its keys.
pub const DESCOPE: Vendor = Vendor {
    name: "descope",
    operations: &[
        ("POST", "/v1/auth/logout"),
        ("POST", "/v1/auth/logoutall"),
        ("GET", "/v2/keys/{projectId}"),
        ("POST", "/v1/mgmt/user/logout"),
    ],
};

/// NetIQ's token and device revocation, RFC 7009's, and their CORS preflights.
pub const REVOCATION: Vendor = Vendor {
    name: "netiq",
    operations: &[
        ("POST", "/nidp/oauth/nam/revoke"),
        ("OPTIONS", "/nidp/oauth/nam/revoke"),
        ("POST", "/nidp/oauth/nam/revoke/{device_id}"),
        ("OPTIONS", "/nidp/oauth/nam/revoke/{device_id}"),
        ("POST", "/oauth2/revoke"),
        ("OPTIONS", "/oauth2/revoke"),
    ],
};

/// Token introspection (RFC 7662, NetIQ's path, Authlete's APIs) and the signing keys.
pub const INTROSPECTION: Vendor = Vendor {
    name: "introspection",
    operations: &[
        ("POST", "/api/{serviceId}/auth/introspection"),
        ("POST", "/api/{serviceId}/auth/introspection/standard"),
        ("POST", "/oauth2/introspect"),
        ("POST", "/nidp/oauth/v1/nam/introspect"),
        ("GET", "/.well-known/jwks.json"),
        ("GET", "/.well-known/ssf-configuration"),
        ("GET", "/signoff/v1/tenants/{tenantId}/statuslists/{listId}"),
    ],
};

/// OAuth 2.0 Global Token Revocation and the metadata that advertises it.
pub const GLOBAL_REVOCATION: Vendor = Vendor {
    name: "global-token-revocation",
    operations: &[
        ("POST", "/oauth2/global-token-revocation"),
        ("GET", "/.well-known/oauth-authorization-server"),
    ],
};

pub const VENDORS: &[Vendor] = &[
    AUTHLETE,
    DESCOPE,
    REVOCATION,
    INTROSPECTION,
    GLOBAL_REVOCATION,
];

// ---- Calling the functions -----------------------------------------------------------------

/// The functions, routed as API Gateway routes them (the router table), on one store.
pub struct Api<'a> {
    pub store: &'a Store,
    pub settings: Settings,
}

impl<'a> Api<'a> {
    /// The functions on `store`, the revocation function with `revocation`.
    pub fn new(store: &'a Store, revocation: RevocationConfig) -> Self {
        Self {
            store,
            settings: Settings::with_revocation(revocation),
        }
    }

    /// The same functions on another store.
    pub fn on<'b>(&self, store: &'b Store) -> Api<'b> {
        Api {
            store,
            settings: self.settings.clone(),
        }
    }

    pub async fn exchange(&self, request: Request) -> Exchange {
        let method = request.method().as_str().to_owned();
        // The path API Gateway received (decoded), which the document's templates match.
        let path = request.raw_http_path().to_owned();
        let request_content_type = request
            .headers()
            .get("content-type")
            .map(|v| v.to_str().expect("ASCII").to_owned());
        let request_body = match request.body() {
            Body::Text(text) => text.clone(),
            Body::Empty => String::new(),
            other => panic!("the test sends text bodies, not {other:?}"),
        };
        let (route, _) = match_route(router_table(), &method, &path)
            .unwrap_or_else(|| panic!("{method} {path} is not routed"));
        let response =
            functions::handle(&route.function, self.store, &self.settings, request).await;
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

pub fn revocation_config(
    tenant: &str,
    device_auth: DeviceRevocationAuth,
    cors: &str,
) -> RevocationConfig {
    RevocationConfig {
        device_auth,
        cors: CorsPolicy::parse(cors).expect("a valid origin list"),
        ..RevocationConfig::for_tenant(tenant)
    }
}

pub fn manifest_routes() -> Vec<Route> {
    router_table().to_vec()
}

/// A request as API Gateway hands it to a function: an HTTP API event of the router
/// table's route, as the runtime turns it into a request.
pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Request {
    event(method, path, headers, body).request()
}

/// The event of [`request`].
pub fn event(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> HttpApiEvent {
    HttpApiEvent::new(method, path).headers(headers).body(body)
}

pub const JSON_TYPE: (&str, &str) = ("content-type", "application/json");
pub const FORM_TYPE: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
pub const FROM_APP: (&str, &str) = ("origin", ALLOWED_ORIGIN);

/// A fresh database. Logouts here follow registrations at once; the index settle window
/// (tested in nativesso_logout.rs) would only make them wait.
pub async fn fresh_db() -> TestDb {
    TestDb::start_with(|c| c.index_settle = std::time::Duration::ZERO, None).await
}

/// The stores a function meets in trouble, and whether a retry could help: one on the same
/// emulator whose table does not exist (a non-retryable fault), and one whose endpoint
/// refuses connections (a transient outage).
pub fn troubled_stores(store: &Store) -> [(Store, bool); 2] {
    let missing_table = Store::new(
        store.client().clone(),
        signoff_store::Config::for_table("no-such-table"),
    );
    [(missing_table, false), (seed::unreachable_store(), true)]
}
