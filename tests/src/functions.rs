//! The function binaries' handlers, called in-process: given a binary's name (as the router
//! table in Cargo.toml names it), a store and the functions' settings, run the request
//! through what that binary runs.

use lambda_http::{Body, Request, Response};
use signoff_store::Store;

/// The settings of the HTTP functions that have any.
#[derive(Clone, Debug)]
pub struct Settings {
    pub authlete: signoff_nativesso::Settings,
    pub descope: signoff_descope::settings::Settings,
    pub revocation: signoff_revoke::settings::Settings,
    /// Introspection for the revocation tenant, issuer [`ISSUER`], no signing key (signed
    /// answers are tested with a local KMS in `tests/tests/introspect.rs`).
    pub introspection: signoff_introspect::settings::Settings,
    /// The signing keys introspection uses, if a test gave it a (local) KMS.
    pub introspection_keys: Option<std::sync::Arc<signoff_kms::KeySet>>,
    /// Registration's settings: status list entries named under [`PUBLIC_BASE_URL`].
    pub registration: signoff_register::Settings,
}

/// The public base URL the in-process functions name status lists under.
pub const PUBLIC_BASE_URL: &str = "https://signoff.example";

/// Status lists under [`PUBLIC_BASE_URL`], with a short settle time (a build waits it),
/// otherwise the defaults.
pub fn status_lists() -> signoff_edge::status_list::StatusListSettings {
    signoff_edge::status_list::StatusListSettings {
        public_base_url: Some(PUBLIC_BASE_URL.into()),
        settle: std::time::Duration::from_millis(300),
        ..Default::default()
    }
}

/// The issuer the in-process introspection reports.
pub const ISSUER: &str = "https://signoff.example";

impl Settings {
    /// The defaults, with `revocation` for the revocation function (which has no default
    /// tenant).
    pub fn with_revocation(revocation: signoff_revoke::settings::Settings) -> Self {
        let introspection = signoff_introspect::settings::Settings {
            tenant: revocation.tenant.clone(),
            issuer: ISSUER.into(),
            signing_key: None,
            previous_signing_keys: Vec::new(),
            introspection_scope: signoff_introspect::settings::DEFAULT_INTROSPECTION_SCOPE.into(),
            status_lists: status_lists(),
            ssf_issuer: None,
        };
        Self {
            authlete: signoff_nativesso::Settings::default(),
            descope: signoff_descope::settings::Settings::default(),
            introspection,
            introspection_keys: None,
            registration: signoff_register::Settings {
                status_lists: status_lists(),
            },
            revocation,
        }
    }

    /// As `scripts/dev` serves the demo data: the demo tenant for revocation, the default
    /// device policy, no CORS.
    pub fn demo() -> Self {
        let revocation = signoff_revoke::settings::Settings::from_lookup(|name| {
            (name == signoff_revoke::settings::REVOCATION_TENANT_VAR)
                .then(|| signoff_store::demo::SERVICE_ID.into())
        })
        .expect("revocation settings");
        Self::with_revocation(revocation)
    }
}

/// Runs `request` through the handler of the binary named `function`.
pub async fn handle(
    function: &str,
    store: &Store,
    settings: &Settings,
    request: Request,
) -> Response<Body> {
    match function {
        "nativesso-logout" => signoff_nativesso::handle(store, &settings.authlete, request).await,
        "token-register" => signoff_register::handle(store, &settings.registration, request).await,
        "descope-auth" => signoff_descope::handle(store, &settings.descope, request).await,
        "token-revoke" => signoff_revoke::handle(store, &settings.revocation, request).await,
        "token-introspect" => {
            let keys = settings.introspection_keys.as_deref();
            signoff_introspect::handle(store, &settings.introspection, keys, request).await
        }
        other => {
            panic!("no handler known for function {other}: add it to signoff_tests::functions")
        }
    }
    .expect("handlers never fail")
}
