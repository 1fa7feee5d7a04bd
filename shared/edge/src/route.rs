//! Which endpoint a request is for, decided once, in one place, from the function's route
//! table: the same `METHOD /template` pairs as template.yaml and the local router
//! (`[workspace.metadata.lambda.watch.router]` in Cargo.toml).
//!
//! Behind the template's HTTP API, API Gateway names the route it matched in the event's
//! `routeKey` (`POST /nidp/oauth/nam/revoke/{device_id}`) and hands the decoded path
//! parameters over: that is used as it is. Where no route is named (`$default`: what
//! `cargo lambda watch` sends, with the path parameters it matched, or an API with a
//! catch-all route), the method and path are matched against the same templates, segment
//! by segment. A named stage prefixes `rawPath` (`/prod/oauth2/revoke`); the event says
//! which stage, so exactly that prefix is removed, never "whatever ends with the route".

use lambda_http::http::Method;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use percent_encoding::percent_decode_str;

/// One entry of a function's route table.
#[derive(Clone, Debug)]
pub struct Route<E> {
    pub method: Method,
    /// The path as template.yaml writes it: `/api/{serviceId}/nativesso/logout`.
    pub template: &'static str,
    pub endpoint: E,
}

impl<E> Route<E> {
    pub const fn new(method: Method, template: &'static str, endpoint: E) -> Self {
        Self {
            method,
            template,
            endpoint,
        }
    }
}

/// The path parameters of a routed request, decoded as API Gateway hands them over.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathParams(Vec<(String, String)>);

impl PathParams {
    /// Each parameter and its value, in template order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Where a request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Routed<E> {
    Found {
        endpoint: E,
        params: PathParams,
    },
    /// The path is one of the function's routes, but not with this method. `allow` lists
    /// the methods it has, for the `Allow` header; `params` are the path's parameters,
    /// for an error message that names the path.
    MethodNotAllowed {
        allow: String,
        params: PathParams,
    },
    NotFound,
}

/// Routes `request` by `routes`.
pub fn route<E: Clone>(routes: &[Route<E>], request: &Request) -> Routed<E> {
    let (route_key, stage) = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            (context.route_key.as_deref(), context.stage.as_deref())
        }
        _ => (None, None),
    };
    let given = request.path_parameters_ref();
    if let Some((method, template)) = route_key
        .filter(|key| *key != "$default")
        .and_then(|key| key.split_once(' '))
    {
        return by_route_key(routes, request.method(), method, template, given);
    }
    let path = match request.raw_http_path() {
        "" => request.uri().path(),
        raw => raw,
    };
    by_path(routes, request.method(), strip_stage(path, stage), given)
}

fn by_route_key<E: Clone>(
    routes: &[Route<E>],
    method: &Method,
    key_method: &str,
    template: &str,
    given: Option<&lambda_http::aws_lambda_events::query_map::QueryMap>,
) -> Routed<E> {
    let Some(found) = routes.iter().find(|r| {
        r.template == template && (r.method.as_str() == key_method || key_method == "ANY")
    }) else {
        return Routed::NotFound;
    };
    let mut params = PathParams::default();
    for name in parameter_names(template) {
        match given.and_then(|g| g.first(name)).filter(|v| !v.is_empty()) {
            Some(value) => params.0.push((name.to_owned(), value.to_owned())),
            None => return Routed::NotFound,
        }
    }
    if found.method != *method {
        return Routed::MethodNotAllowed {
            allow: allowed(routes, template),
            params,
        };
    }
    Routed::Found {
        endpoint: found.endpoint.clone(),
        params,
    }
}

fn by_path<E: Clone>(
    routes: &[Route<E>],
    method: &Method,
    path: &str,
    given: Option<&lambda_http::aws_lambda_events::query_map::QueryMap>,
) -> Routed<E> {
    // One trailing slash names the same resource.
    let path = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    };
    let mut path_matched: Option<(&str, PathParams)> = None;
    for candidate in routes {
        let Some(mut params) = match_template(candidate.template, path) else {
            continue;
        };
        // Values the local router already decoded win, as API Gateway's would.
        for (name, value) in &mut params.0 {
            if let Some(given) = given.and_then(|g| g.first(name)) {
                given.clone_into(value);
            }
        }
        if candidate.method == *method {
            return Routed::Found {
                endpoint: candidate.endpoint.clone(),
                params,
            };
        }
        path_matched.get_or_insert((candidate.template, params));
    }
    match path_matched {
        Some((template, params)) => Routed::MethodNotAllowed {
            allow: allowed(routes, template),
            params,
        },
        None => Routed::NotFound,
    }
}

/// The parameters of `path` if it is `template`, segment for segment: a parameter is one
/// non-empty segment, percent-decoded. The one path matcher of the project: the functions
/// route with it, and the tests' API Gateway stand-in picks routes with it.
pub fn match_template(template: &str, path: &str) -> Option<PathParams> {
    let mut want = template.split('/');
    let mut got = path.split('/');
    let mut params = PathParams::default();
    loop {
        match (want.next(), got.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(g)) => match w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                Some(_) if g.is_empty() => return None,
                Some(name) => params.0.push((name.to_owned(), decode_segment(g))),
                None if w == g => {}
                None => return None,
            },
            _ => return None,
        }
    }
}

/// A path segment's `%XX` escapes decoded; one that does not decode to UTF-8 is kept as it
/// came, and so is an escape that is not one (`%zz`).
pub fn decode_segment(segment: &str) -> String {
    percent_decode_str(segment)
        .decode_utf8()
        .map(|s| s.into_owned())
        .unwrap_or_else(|_| segment.to_owned())
}

/// `/prod/oauth2/revoke` with stage `prod` is `/oauth2/revoke`; `$default` has no prefix.
fn strip_stage<'p>(path: &'p str, stage: Option<&str>) -> &'p str {
    match stage.filter(|s| !s.is_empty() && *s != "$default") {
        Some(stage) => path
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(stage))
            .filter(|rest| rest.starts_with('/'))
            .unwrap_or(path),
        None => path,
    }
}

fn parameter_names(template: &str) -> impl Iterator<Item = &str> {
    template
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

/// The methods `template` has in the table, for an `Allow` header.
fn allowed<E>(routes: &[Route<E>], template: &str) -> String {
    let mut methods: Vec<&str> = routes
        .iter()
        .filter(|r| r.template == template)
        .map(|r| r.method.as_str())
        .collect();
    methods.sort_unstable();
    methods.dedup();
    methods.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Body;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum E {
        Revoke,
        Device,
        Preflight,
    }

    const ROUTES: &[Route<E>] = &[
        Route::new(Method::POST, "/oauth2/revoke", E::Revoke),
        Route::new(Method::OPTIONS, "/oauth2/revoke", E::Preflight),
        Route::new(
            Method::POST,
            "/nidp/oauth/nam/revoke/{device_id}",
            E::Device,
        ),
    ];

    /// A request as lambda_http builds it from an HTTP API (v2) event.
    fn event(method: &str, raw_path: &str, route_key: &str, stage: &str, params: &str) -> Request {
        let event = format!(
            r#"{{"version":"2.0","routeKey":"{route_key}","rawPath":"{raw_path}","rawQueryString":"",
            "headers":{{}},"pathParameters":{params},"isBase64Encoded":false,
            "requestContext":{{"http":{{"method":"{method}","path":"{raw_path}","protocol":"HTTP/1.1","sourceIp":"127.0.0.1","userAgent":"t"}},
            "routeKey":"{route_key}","stage":"{stage}","requestId":"r","timeEpoch":0}}}}"#
        );
        lambda_http::request::from_str(&event).expect("a valid HTTP API event")
    }

    fn found(routed: Routed<E>) -> (E, PathParams) {
        match routed {
            Routed::Found { endpoint, params } => (endpoint, params),
            other => panic!("not routed: {other:?}"),
        }
    }

    #[test]
    fn a_named_route_key_is_used_as_it_is() {
        let request = event(
            "POST",
            "/prod/nidp/oauth/nam/revoke/dev%201",
            "POST /nidp/oauth/nam/revoke/{device_id}",
            "prod",
            r#"{"device_id":"dev 1"}"#,
        );
        let (endpoint, params) = found(route(ROUTES, &request));
        assert_eq!(endpoint, E::Device);
        assert_eq!(params.get("device_id"), Some("dev 1"));
    }

    #[test]
    fn the_default_route_matches_the_path_without_its_stage() {
        let request = event("POST", "/prod/oauth2/revoke", "$default", "prod", "{}");
        assert_eq!(found(route(ROUTES, &request)).0, E::Revoke);
        let request = event("OPTIONS", "/oauth2/revoke/", "$default", "$default", "{}");
        assert_eq!(found(route(ROUTES, &request)).0, E::Preflight);
        // cargo lambda watch: `$default`, with the parameters its router matched.
        let request = event(
            "POST",
            "/nidp/oauth/nam/revoke/a%2Fb",
            "$default",
            "$default",
            r#"{"device_id":"a/b"}"#,
        );
        assert_eq!(
            found(route(ROUTES, &request)).1.get("device_id"),
            Some("a/b")
        );
    }

    #[test]
    fn only_exact_paths_route() {
        for path in [
            "/xoauth2/revoke",
            "/oauth2/revoke/more",
            "/other/oauth2/revoke",
            "/nidp/oauth/nam/revoke/",
            "/nidp/oauth/nam/revoke//",
        ] {
            let request = event("POST", path, "$default", "$default", "{}");
            assert_eq!(route(ROUTES, &request), Routed::NotFound, "{path}");
        }
        // A stage prefix the event does not name is part of the path.
        let request = event("POST", "/prod/oauth2/revoke", "$default", "$default", "{}");
        assert_eq!(route(ROUTES, &request), Routed::NotFound);
    }

    #[test]
    fn another_method_on_a_known_path_is_405_with_the_paths_methods() {
        let request = event("GET", "/oauth2/revoke", "$default", "$default", "{}");
        assert_eq!(
            route(ROUTES, &request),
            Routed::MethodNotAllowed {
                allow: "OPTIONS, POST".into(),
                params: PathParams::default(),
            }
        );
        let request = event(
            "GET",
            "/nidp/oauth/nam/revoke/d1",
            "$default",
            "$default",
            "{}",
        );
        let Routed::MethodNotAllowed { allow, params } = route(ROUTES, &request) else {
            panic!("405")
        };
        assert_eq!(
            (allow.as_str(), params.get("device_id")),
            ("POST", Some("d1"))
        );
    }

    #[test]
    fn requests_built_without_an_event_route_by_their_path() {
        let request = lambda_http::http::Request::builder()
            .method("POST")
            .uri("https://x/nidp/oauth/nam/revoke/d%C3%A9v")
            .body(Body::Empty)
            .unwrap();
        assert_eq!(
            found(route(ROUTES, &request)).1.get("device_id"),
            Some("d\u{e9}v")
        );
    }

    #[test]
    fn segments_decode_leniently() {
        assert_eq!(decode_segment("a%20b%C3%A9%zz"), "a b\u{e9}%zz");
        assert_eq!(decode_segment("%FF"), "%FF");
        let params = match_template("/api/{serviceId}/x", "/api/a%2Fb/x").unwrap();
        assert_eq!(params.get("serviceId"), Some("a/b"));
        assert!(match_template("/api/{serviceId}/x", "/api//x").is_none());
    }
}
