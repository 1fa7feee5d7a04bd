//! The back-channel logout path for the tests, with the real parts `scripts/dev` runs:
//! the function binaries behind the local gateway, the table's stream read through the
//! real SDK by `signoff-stream-runner` (Lambda's DynamoDB Streams event source),
//! moto's SQS server holding the deliveries and undelivered queues, fed to the delivery
//! function by `signoff-queue-runner`, and receivers (`tests/clients/node/
//! logout_receiver.mjs`) that validate every logout token with an independent JOSE
//! library.

use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;

use crate::db::TestDb;
use crate::gateway::{router_table, Gateway};
use crate::kms::TestKms;
use crate::paths::{binaries_dir, spawn_binary, workspace};

/// The issuer the delivery signs logout tokens as (the authorization server's).
pub const ISSUER: &str = "https://as.example";
/// Signoff's public URL: where its SSF metadata is, and `iss` of its SETs.
pub const SSF_ISSUER: &str = "https://signoff.example";
/// The signing key's alias in the test KMS.
pub const KEY_ALIAS: &str = "alias/backchannel";
/// The alias of the key that seals SSF receivers' authorization headers.
pub const SECRETS_KEY_ALIAS: &str = "alias/receiver-secrets";

/// Receivers of back-channel logouts: one Node server playing every relying party.
pub struct Receivers {
    base: String,
    /// Where the same receivers take POSTs over HTTPS, when started with a certificate.
    tls_base: Option<String>,
    http: reqwest::Client,
    _process: tokio::process::Child,
}

impl Receivers {
    /// Receivers that validate tokens against the keys `jwks_uri` publishes, logout tokens
    /// as `issuer`'s and SETs as `ssf_issuer`'s; with `tls`, also over HTTPS with that
    /// certificate.
    pub async fn start(
        jwks_uri: &str,
        issuer: &str,
        ssf_issuer: &str,
        tls: Option<&TestCa>,
    ) -> Self {
        let dir = workspace().join("tests/clients/node");
        assert!(
            dir.join("node_modules").is_dir(),
            "tests/clients/node/node_modules is missing: run the suite with scripts/test, which installs the Node clients"
        );
        let mut process = tokio::process::Command::new("node")
            .arg(dir.join("logout_receiver.mjs"))
            .arg(
                json!({
                    "jwks_uri": jwks_uri,
                    "issuer": issuer,
                    "ssf_issuer": ssf_issuer,
                    "tls": tls.map(|ca| json!({"cert": ca.cert, "key": ca.key})),
                })
                .to_string(),
            )
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs the logout receiver");
        let stdout = process.stdout.take().expect("piped stdout");
        let mut line = String::new();
        tokio::time::timeout(
            Duration::from_secs(30),
            tokio::io::BufReader::new(stdout).read_line(&mut line),
        )
        .await
        .expect("the receiver starts")
        .expect("its port is printed");
        let ports = serde_json::from_str::<Value>(&line).expect("a JSON line");
        let port = ports["port"].as_u64().expect("a port");
        Self {
            base: format!("http://127.0.0.1:{port}"),
            // The certificate names localhost.
            tls_base: ports["tls_port"]
                .as_u64()
                .map(|port| format!("https://localhost:{port}")),
            http: reqwest::Client::new(),
            _process: process,
        }
    }

    /// Where `client_id`'s relying party hears of logouts.
    pub fn uri(&self, client_id: &str) -> String {
        format!("{}/rp/{client_id}/logout", self.base)
    }

    /// Makes `client_id`'s relying party answer `status` after `delay`.
    pub async fn answer(&self, client_id: &str, status: u16, delay: Duration) {
        self.http
            .put(format!("{}/control/{client_id}", self.base))
            .json(&json!({"status": status, "delay_ms": delay.as_millis() as u64}))
            .send()
            .await
            .expect("the receiver takes control");
    }

    /// Where `client_id`'s relying party hears of logouts over HTTPS (receivers started
    /// with a certificate).
    pub fn https_uri(&self, client_id: &str) -> String {
        let base = self
            .tls_base
            .as_ref()
            .expect("receivers started with a certificate");
        format!("{base}/rp/{client_id}/logout")
    }

    /// Where SSF receiver `receiver_id` takes pushed SETs.
    pub fn ssf_uri(&self, receiver_id: &str) -> String {
        format!("{}/ssf/{receiver_id}", self.base)
    }

    /// Makes SSF receiver `receiver_id` expect `audience` and `authorization`, and answer
    /// `status` (`None`: 202 to a valid SET, 400 to any other).
    pub async fn expect_sets(
        &self,
        receiver_id: &str,
        audience: &str,
        authorization: Option<&str>,
        status: Option<u16>,
    ) {
        self.http
            .put(format!("{}/control/ssf:{receiver_id}", self.base))
            .json(&json!({"audience": audience, "authorization": authorization, "status": status}))
            .send()
            .await
            .expect("the receiver takes control");
    }

    /// Every POST received so far, in order.
    pub async fn received(&self) -> Vec<Value> {
        self.http
            .get(format!("{}/received", self.base))
            .send()
            .await
            .expect("the receiver answers")
            .json()
            .await
            .expect("a JSON list")
    }

    /// The POSTs received to `client_id`.
    pub async fn received_by(&self, client_id: &str) -> Vec<Value> {
        self.received()
            .await
            .into_iter()
            .filter(|r| r["client_id"] == client_id)
            .collect()
    }

    /// Waits (up to `within`) until `done` holds for what was received; returns it.
    pub async fn wait_until(
        &self,
        within: Duration,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let received = self.received().await;
            if done(&received) {
                return received;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not received in {within:?}: {received:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A throwaway certificate authority and a certificate for localhost it signed
/// (`tests/clients/make_test_ca.py`), in a directory of their own.
pub struct TestCa {
    pub ca: String,
    pub cert: String,
    pub key: String,
}

impl TestCa {
    pub async fn create() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "signoff-test-ca-{}-{}",
            std::process::id(),
            signoff_store::now_epoch_millis()
        ));
        let status = tokio::process::Command::new(crate::paths::test_python())
            .arg(workspace().join("tests/clients/make_test_ca.py"))
            .arg(&dir)
            .status()
            .await
            .expect("python runs");
        assert!(status.success(), "make_test_ca.py failed");
        let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
        Self {
            ca: path("ca.pem"),
            cert: path("cert.pem"),
            key: path("key.pem"),
        }
    }
}

/// The whole delivery path against `db`, signing for `tenant`.
pub struct LogoutPath {
    pub gateway: Gateway,
    pub receivers: Receivers,
    pub sqs: aws_sdk_sqs::Client,
    pub sqs_endpoint: String,
    pub deliveries_url: String,
    pub undelivered_url: String,
    _runners: Vec<tokio::process::Child>,
}

impl LogoutPath {
    /// Starts every part; retries come after 0.5 to 2 s (not 30 s to 2 h), for
    /// `retry_for`.
    pub async fn start(db: &TestDb, kms: &TestKms, tenant: &str, retry_for: Duration) -> Self {
        Self::start_with(db, kms, tenant, retry_for, None).await
    }

    /// [`LogoutPath::start`], with receivers that also take HTTPS with `tls`'s certificate,
    /// and functions that trust its authority alone (`SSL_CERT_FILE`), as a deployed one
    /// trusts the system's roots.
    pub async fn start_with(
        db: &TestDb,
        kms: &TestKms,
        tenant: &str,
        retry_for: Duration,
        tls: Option<&TestCa>,
    ) -> Self {
        kms.create_key(aws_sdk_kms::types::KeySpec::EccNistP256, KEY_ALIAS)
            .await;
        kms.create_secrets_key(SECRETS_KEY_ALIAS).await;
        // SQS on the same moto server as KMS.
        let sqs_endpoint = kms.endpoint.clone();
        let sqs = aws_sdk_sqs::Client::new(&crate::queue::local_sdk(&sqs_endpoint).await);
        let undelivered_url = create_queue(&sqs, "signoff-logouts-undelivered", &[]).await;
        let undelivered_arn = crate::queue::queue_arn(&sqs, &undelivered_url).await;
        let redrive =
            json!({"deadLetterTargetArn": undelivered_arn, "maxReceiveCount": 5}).to_string();
        let deliveries_url = create_queue(
            &sqs,
            "signoff-logouts",
            &[
                // Longer than any invocation takes (the slow receiver holds its batch for
                // 10 s), as the template's is six times the function's timeout: a batch's
                // delivered messages are deleted when the invocation ends.
                (QueueAttributeName::VisibilityTimeout, "30"),
                (QueueAttributeName::RedrivePolicy, &redrive),
            ],
        )
        .await;
        let retry_for = retry_for.as_secs().to_string();
        let mut env = db.function_env();
        env.extend(
            [
                ("SIGNOFF_REVOCATION_TENANT", tenant),
                ("SIGNOFF_ISSUER", ISSUER),
                ("SIGNOFF_SIGNING_KEY_ID", KEY_ALIAS),
                ("AWS_ENDPOINT_URL_KMS", &kms.endpoint),
                ("AWS_ENDPOINT_URL_SQS", &sqs_endpoint),
                ("SIGNOFF_LOGOUT_QUEUE_URL", &deliveries_url),
                ("SIGNOFF_UNDELIVERED_QUEUE_URL", &undelivered_url),
                ("SIGNOFF_SECRETS_KEY_ID", SECRETS_KEY_ALIAS),
                ("SIGNOFF_PUBLIC_BASE_URL", SSF_ISSUER),
                ("SIGNOFF_SSF_ISSUER", SSF_ISSUER),
                ("SIGNOFF_LOGOUT_RETRY_BASE_MS", "500"),
                ("SIGNOFF_LOGOUT_RETRY_MAX_MS", "2000"),
                ("SIGNOFF_LOGOUT_RETRY_FOR_SECONDS", &retry_for),
                // The receivers run on this machine.
                ("SIGNOFF_LOGOUT_ALLOW_LOOPBACK", "true"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        if let Some(ca) = tls {
            env.push(("SSL_CERT_FILE".into(), ca.ca.clone()));
        }
        // Four sandboxes each, as many as the queue runner's concurrent invocations: a
        // delivery held by a slow receiver holds back no other, as on Lambda.
        let gateway = Gateway::start_with_sandboxes(
            router_table().to_vec(),
            &["logout-fanout", "logout-deliver"],
            4,
            &binaries_dir(),
            &env,
        )
        .await
        .expect("the function binaries start (cargo build --workspace --bins)");
        let invoke_url = gateway.invoke_url();
        let stream_runner = spawn_binary(
            "signoff-stream-runner",
            &[
                "--table",
                db.store.table_name(),
                "--function",
                "logout-fanout",
                "--invoke-url",
                &invoke_url,
                "--filter-pk-prefix",
                "session#",
                "--filter-pk-prefix",
                "user#",
                "--filter-pk-prefix",
                "cutoff#",
                "--filter-pk-prefix",
                "device#",
            ],
            &db.function_env(),
        );
        let queue_runner = spawn_binary(
            "signoff-queue-runner",
            &[
                "--queue-url",
                &deliveries_url,
                "--function",
                "logout-deliver",
                "--invoke-url",
                &invoke_url,
                "--batch-size",
                "10",
            ],
            &[
                ("AWS_ENDPOINT_URL_SQS".into(), sqs_endpoint.clone()),
                ("AWS_REGION".into(), "us-east-1".into()),
                ("AWS_ACCESS_KEY_ID".into(), "local".into()),
                ("AWS_SECRET_ACCESS_KEY".into(), "local".into()),
            ],
        );
        let receivers = Receivers::start(
            &format!("{}/.well-known/jwks.json", gateway.base_url()),
            ISSUER,
            SSF_ISSUER,
            tls,
        )
        .await;
        Self {
            gateway,
            receivers,
            sqs,
            sqs_endpoint,
            deliveries_url,
            undelivered_url,
            _runners: vec![stream_runner, queue_runner],
        }
    }

    /// Messages waiting, in flight or delayed in `url`, as SQS approximates them.
    pub async fn depth(&self, url: &str) -> u64 {
        crate::queue::queue_depth(&self.sqs, url).await
    }

    /// The environment `signoff-admin redeliver`, `ssf-receiver` and `ssf-verify` need.
    pub fn admin_env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL_SQS".into(), self.sqs_endpoint.clone()),
            ("AWS_ENDPOINT_URL_KMS".into(), self.sqs_endpoint.clone()),
            ("SIGNOFF_SECRETS_KEY_ID".into(), SECRETS_KEY_ALIAS.into()),
            (
                "SIGNOFF_LOGOUT_QUEUE_URL".into(),
                self.deliveries_url.clone(),
            ),
            (
                "SIGNOFF_UNDELIVERED_QUEUE_URL".into(),
                self.undelivered_url.clone(),
            ),
        ]
    }
}

async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: &[(QueueAttributeName, &str)],
) -> String {
    let mut request = sqs.create_queue().queue_name(name);
    for (name, value) in attributes {
        request = request.attributes(name.clone(), *value);
    }
    request
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("queue url")
}
