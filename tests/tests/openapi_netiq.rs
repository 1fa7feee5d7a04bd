//! `docs/openapi.yaml` held to what the functions answer: NetIQ's token and device
//! revocation, RFC 7009's, and their CORS preflights, through the real handler (requests
//! as API Gateway sends them), against a fresh embedded DynamoDB emulator, a missing table
//! and an unreachable store. Every documented status and closed set of codes of these
//! operations must be provoked here (see `signoff_tests::openapi`).

use signoff_revoke::settings::DeviceRevocationAuth;
use signoff_store::model::TokenType;
use signoff_tests::openapi::{
    event, fresh_db, request, revocation_config, Api, Recorder, Spec, ALLOWED_ORIGIN, FORM_TYPE,
    FROM_APP, REVOCATION,
};
use signoff_tests::seed::{self, basic, form};

const TENANT: &str = "nam";
const NETIQ: &str = "/nidp/oauth/nam/revoke";
const RFC7009: &str = "/oauth2/revoke";
const DEVICE: &str = "/nidp/oauth/nam/revoke/dev-1";

async fn revocation(rec: &mut Recorder) {
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
    let api = Api::new(
        &db.store,
        revocation_config(TENANT, DeviceRevocationAuth::Client, ALLOWED_ORIGIN),
    );
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
    let open = Api::new(
        &db.store,
        revocation_config(TENANT, DeviceRevocationAuth::None, ""),
    );
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
    let off = Api::new(
        &db.store,
        revocation_config(TENANT, DeviceRevocationAuth::Client, ""),
    );
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
    let trouble = [
        (NETIQ, with(&[("token", "at-1")])),
        (RFC7009, with(&[("token", "at-1")])),
        (DEVICE, with(&alice)),
    ]
    .map(|(path, body)| (event("POST", path, &[FORM_TYPE, FROM_APP], &body), 500, 503));
    rec.expect_store_trouble(&api, &trouble).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_revocation_response_is_what_the_functions_answer() {
    let mut rec = Recorder::new(Spec::load());
    revocation(&mut rec).await;
    rec.assert_vendor_covered(&REVOCATION);
}
