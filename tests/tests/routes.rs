//! Each function's route table (what its router accepts) is exactly what the local router
//! in Cargo.toml sends it, which template.rs holds template.yaml to: the route list is
//! written three times by necessity, and this keeps the copies equal.

use std::collections::BTreeSet;

use signoff_edge::route::Route;
use signoff_tests::gateway::routes_from_manifest;
use signoff_tests::paths;

fn table<E>(routes: &[Route<E>]) -> BTreeSet<(String, String)> {
    routes
        .iter()
        .map(|r| (r.method.as_str().to_owned(), r.template.to_owned()))
        .collect()
}

#[test]
fn every_functions_routes_are_the_router_tables() {
    let manifest = routes_from_manifest(&paths::workspace().join("Cargo.toml")).unwrap();
    let declared = |function: &str| -> BTreeSet<(String, String)> {
        manifest
            .iter()
            .filter(|r| r.function == function)
            .map(|r| (r.method.clone(), r.path.clone()))
            .collect()
    };
    let functions = [
        ("nativesso-logout", table(signoff_nativesso::ROUTES)),
        ("token-register", table(signoff_register::ROUTES)),
        ("descope-auth", table(signoff_descope::ROUTES)),
        ("token-revoke", table(signoff_revoke::ROUTES)),
        ("token-introspect", table(signoff_introspect::ROUTES)),
    ];
    for (function, routes) in &functions {
        assert!(!routes.is_empty(), "{function} has no routes");
        assert_eq!(routes, &declared(function), "{function}");
    }
    let covered: BTreeSet<&str> = functions.iter().map(|(f, _)| *f).collect();
    let routed: BTreeSet<&str> = manifest.iter().map(|r| r.function.as_str()).collect();
    assert_eq!(
        covered, routed,
        "a routed function without a route table check"
    );
}
