//! The one builder of API Gateway HTTP API (payload format 2.0) events: the local gateway
//! (`gateway.rs`) turns each HTTP request it serves into one, and in-process tests build
//! theirs with it and hand the handlers what `lambda_http::request::from_str` makes of it,
//! exactly as the runtime does in Lambda.
//!
//! The route is the router table's (`[workspace.metadata.lambda.watch.router]` in
//! Cargo.toml): when the method and path match one of its routes, the event names it in
//! `routeKey` (`POST /api/{serviceId}/nativesso/logout`) and carries the decoded path
//! parameters, as API Gateway does; otherwise it is a `$default` event without path
//! parameters, as an API's catch-all route would send. Two other forms:
//! [`HttpApiEvent::default_route`] (`$default` with the matched parameters: what
//! `cargo lambda watch` sends) and [`HttpApiEvent::stage`] (a named stage: `rawPath`
//! prefixed with `/{stage}`, `requestContext.stage` naming it).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_smithy_types::base64;
use lambda_http::Request;
use percent_encoding::percent_decode_str;
use serde_json::{json, Value};
use signoff_edge::route::{match_template, PathParams};

use crate::gateway::{router_table, Route};

const ACCOUNT_ID: &str = "123456789012";

/// One request as API Gateway receives it, to be turned into the event it hands a function.
#[derive(Clone, Debug)]
pub struct HttpApiEvent {
    method: String,
    /// The path as the client sent it (percent-encoded), without a stage prefix.
    path: String,
    /// The query string as sent, without `?`.
    query: String,
    /// Names as given, values in order; repeated names are joined as format 2.0 joins them.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    stage: Option<String>,
    /// `$default` as the route key even when a route matches (`cargo lambda watch`).
    default_route: bool,
}

impl HttpApiEvent {
    /// A request for `target`: a path, optionally with `?query`, percent-encoded as sent.
    pub fn new(method: &str, target: &str) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Self {
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            stage: None,
            default_route: false,
        }
    }

    pub fn post(target: &str) -> Self {
        Self::new("POST", target)
    }

    pub fn get(target: &str) -> Self {
        Self::new("GET", target)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Each `(name, value)` as a header.
    pub fn headers<'a>(self, headers: impl IntoIterator<Item = &'a (&'a str, &'a str)>) -> Self {
        headers
            .into_iter()
            .fold(self, |event, (name, value)| event.header(name, value))
    }

    /// The body: text as it is, anything that is not UTF-8 base64-encoded.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Behind the named stage `stage`: `rawPath` is `/{stage}{path}`.
    pub fn stage(mut self, stage: &str) -> Self {
        self.stage = Some(stage.to_owned());
        self
    }

    /// The `$default` route key, with the path parameters of the route that matched: what
    /// `cargo lambda watch` sends.
    pub fn default_route(mut self) -> Self {
        self.default_route = true;
        self
    }

    /// The event JSON, routed by the router table in Cargo.toml.
    pub fn to_json(&self) -> Value {
        self.routed_by(router_table()).1
    }

    /// The request the runtime makes of the event (`lambda_http::request::from_str`).
    pub fn request(&self) -> Request {
        let event = self.to_json().to_string();
        lambda_http::request::from_str(&event)
            .unwrap_or_else(|e| panic!("{} {}: not an HTTP API event: {e}", self.method, self.path))
    }

    /// The route of `routes` this request matches, if any, and its event.
    pub fn routed_by<'r>(&self, routes: &'r [Route]) -> (Option<&'r Route>, Value) {
        let found = match_route(routes, &self.method, &self.path);
        let route_key = match found {
            Some((route, _)) if !self.default_route => format!("{} {}", route.method, route.path),
            _ => "$default".to_owned(),
        };
        // A catch-all `$default` route has no parameters; a matched route (and cargo lambda
        // watch's router) hands over the decoded ones.
        let params = found
            .as_ref()
            .map(|(_, params)| {
                params
                    .iter()
                    .map(|(n, v)| (n.to_owned(), v.to_owned()))
                    .collect::<BTreeMap<_, _>>()
            })
            .filter(|params| !params.is_empty());
        (found.map(|(r, _)| r), self.build(&route_key, params))
    }

    fn build(&self, route_key: &str, params: Option<BTreeMap<String, String>>) -> Value {
        // HTTP APIs hand the path over decoded, and the stage's prefix in it.
        let decoded = percent_decode_str(&self.path).decode_utf8_lossy();
        let path = match &self.stage {
            Some(stage) => format!("/{stage}{decoded}"),
            None => decoded.into_owned(),
        };
        let mut headers = BTreeMap::new();
        let mut cookies = Vec::new();
        for (name, value) in &self.headers {
            let name = name.to_ascii_lowercase();
            // Format 2.0 moves cookies to a field of their own.
            if name == "cookie" {
                let values = value.split(';').map(str::trim).filter(|c| !c.is_empty());
                cookies.extend(values.map(String::from));
            } else {
                push_joined(&mut headers, name, value);
            }
        }
        let mut query = BTreeMap::new();
        for pair in self.query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            push_joined(&mut query, decode(key), &decode(value));
        }
        let (body, encoded) = match std::str::from_utf8(&self.body) {
            Ok("") => (None, false),
            Ok(text) => (Some(text.to_owned()), false),
            Err(_) => (Some(base64::encode(&self.body)), true),
        };
        let mut event = json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": path,
            "rawQueryString": self.query,
            "headers": headers,
            "requestContext": {
                "accountId": ACCOUNT_ID,
                "apiId": "local",
                "domainName": "127.0.0.1",
                "http": {
                    "method": self.method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "127.0.0.1",
                    "userAgent": headers.get("user-agent").map_or("", String::as_str),
                },
                "requestId": fresh_id(),
                "routeKey": route_key,
                "stage": self.stage.as_deref().unwrap_or("$default"),
                "timeEpoch": epoch_millis(SystemTime::now()),
            },
            "cookies": (!cookies.is_empty()).then_some(cookies),
            "queryStringParameters": (!query.is_empty()).then_some(query),
            "pathParameters": params,
            "body": body,
            "isBase64Encoded": encoded,
        });
        // Format 2.0 leaves out the fields it has nothing for.
        let fields = event.as_object_mut().expect("built as an object");
        fields.retain(|_, value| !value.is_null());
        event
    }
}

/// The route of `routes` for `method` and `path` (as sent, percent-encoded), and its decoded
/// path parameters, by the project's one path matcher. API Gateway would prefer the most
/// specific of several matching routes; ours never overlap, so the first match is the
/// only one.
pub fn match_route<'a>(
    routes: &'a [Route],
    method: &str,
    path: &str,
) -> Option<(&'a Route, PathParams)> {
    routes
        .iter()
        .filter(|route| route.method == "ANY" || route.method == method)
        .find_map(|route| Some((route, match_template(&route.path, path)?)))
}

/// Format 2.0 joins repeated headers and query parameters with commas.
fn push_joined(map: &mut BTreeMap<String, String>, key: String, value: &str) {
    map.entry(key)
        .and_modify(|joined| {
            joined.push(',');
            joined.push_str(value);
        })
        .or_insert_with(|| value.to_string());
}

/// A UUID-shaped request id, unique within the process.
pub fn fresh_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let count = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("00000000-0000-4000-8000-{count:012x}")
}

pub fn epoch_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_routes_like_api_gateway() {
        let routes = [
            Route::new("POST", "/api/{serviceId}/logout", "logout"),
            Route::new("ANY", "/health", "health"),
        ];
        let (found, params) = match_route(&routes, "POST", "/api/a%20b/logout").expect("match");
        assert_eq!(found.function, "logout");
        assert_eq!(params.get("serviceId"), Some("a b"));
        let (found, params) = match_route(&routes, "DELETE", "/health").expect("ANY");
        assert_eq!(
            (found.function.as_str(), params.iter().count()),
            ("health", 0)
        );
        assert!(match_route(&routes, "GET", "/api/1/logout").is_none());
        assert!(match_route(&routes, "POST", "/api//logout").is_none());
        assert!(match_route(&routes, "POST", "/api/1/logout/more").is_none());
    }

    #[test]
    fn builds_a_v2_event() {
        let routes = [Route::new("POST", "/api/{serviceId}/logout", "logout")];
        let request = HttpApiEvent::post("/api/7%2e/logout?a=1&a=2&b=%41")
            .header("Authorization", "Bearer t")
            .header("X-Many", "one")
            .header("X-Many", "two")
            .header("Cookie", "c1=x; c2=y")
            .header("User-Agent", "test")
            .body("{\"k\":1}");
        let (found, event) = request.routed_by(&routes);
        assert_eq!(found, Some(&routes[0]));
        assert_eq!(event["routeKey"], "POST /api/{serviceId}/logout");
        assert_eq!(event["requestContext"]["routeKey"], event["routeKey"]);
        assert_eq!(event["requestContext"]["stage"], "$default");
        assert_eq!(event["rawPath"], "/api/7./logout");
        assert_eq!(event["requestContext"]["http"]["path"], "/api/7./logout");
        assert_eq!(event["rawQueryString"], "a=1&a=2&b=%41");
        assert_eq!(
            event["queryStringParameters"],
            json!({ "a": "1,2", "b": "A" })
        );
        assert_eq!(event["pathParameters"], json!({ "serviceId": "7." }));
        assert_eq!(event["headers"]["authorization"], "Bearer t");
        assert_eq!(event["headers"]["x-many"], "one,two");
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(event["cookies"], json!(["c1=x", "c2=y"]));
        assert_eq!(event["requestContext"]["http"]["userAgent"], "test");
        assert_eq!(event["body"], "{\"k\":1}");
        assert_eq!(event["isBase64Encoded"], false);

        let (found, event) = HttpApiEvent::get("/x").body([0xff, 0]).routed_by(&routes);
        assert!(found.is_none());
        assert_eq!(event["routeKey"], "$default");
        assert_eq!(event["body"], "/wA=");
        assert_eq!(event["isBase64Encoded"], true);
        assert!(event.get("pathParameters").is_none() && event.get("cookies").is_none());
        let (_, event) = HttpApiEvent::get("/x").routed_by(&routes);
        assert!(event.get("body").is_none() && event.get("queryStringParameters").is_none());
        // A malformed escape is kept as written.
        let (_, event) = HttpApiEvent::get("/x/100%25%zz?q=%zz").routed_by(&routes);
        assert_eq!(event["rawPath"], "/x/100%%zz");
        assert_eq!(event["queryStringParameters"], json!({ "q": "%zz" }));
    }

    #[test]
    fn builds_the_default_route_and_named_stage_forms() {
        let routes = [Route::new("POST", "/api/{serviceId}/logout", "logout")];
        let (_, event) = HttpApiEvent::post("/api/a%2Fb/logout")
            .default_route()
            .routed_by(&routes);
        assert_eq!(event["routeKey"], "$default");
        assert_eq!(event["pathParameters"], json!({ "serviceId": "a/b" }));
        let (_, event) = HttpApiEvent::post("/api/7/logout")
            .stage("prod")
            .routed_by(&routes);
        assert_eq!(event["routeKey"], "POST /api/{serviceId}/logout");
        assert_eq!(event["rawPath"], "/prod/api/7/logout");
        assert_eq!(event["requestContext"]["stage"], "prod");
    }

    #[test]
    fn the_runtime_turns_it_into_the_request_handlers_get() {
        use lambda_http::RequestExt;
        let request = HttpApiEvent::post("/api/42/nativesso/logout")
            .stage("prod")
            .header("content-type", "application/json")
            .body("{}")
            .request();
        assert_eq!(request.method(), "POST");
        assert_eq!(request.raw_http_path(), "/prod/api/42/nativesso/logout");
        assert_eq!(
            request
                .path_parameters_ref()
                .and_then(|p| p.first("serviceId")),
            Some("42")
        );
        assert_eq!(request.headers()["content-type"], "application/json");
    }
}
