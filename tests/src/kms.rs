//! A local KMS for the signing-key tests: moto's server (pinned in
//! `tests/clients/requirements.txt`), one fresh process per test, spoken to over HTTP by
//! the real `aws-sdk-kms` client, as DynamoDB is by the emulators.
//!
//! moto differs from KMS in ways the tests avoid depending on: it ignores
//! `MessageType::DIGEST` (Signoff signs RAW), still signs with a disabled key, and names the
//! key spec only in the deprecated `CustomerMasterKeySpec`.

use std::process::Stdio;

use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kms::types::{KeySpec, KeyUsageType};

use crate::db::RequestCounter;
use crate::paths::test_python;

/// A running moto server and a client for it (requests counted by operation).
pub struct TestKms {
    pub client: aws_sdk_kms::Client,
    pub endpoint: String,
    pub requests: RequestCounter,
    _server: tokio::process::Child,
}

impl TestKms {
    pub async fn start() -> Self {
        let (server, endpoint) = start_moto().await;
        let requests = RequestCounter::default();
        let client = aws_sdk_kms::Client::from_conf(
            client_config(&endpoint)
                .interceptor(requests.clone())
                .build(),
        );
        Self {
            client,
            endpoint,
            requests,
            _server: server,
        }
    }

    /// Creates a signing key of `spec` under `alias` (`alias/...`); returns its key id.
    pub async fn create_key(&self, spec: KeySpec, alias: &str) -> String {
        self.create_key_for(spec, KeyUsageType::SignVerify, alias)
            .await
    }

    /// Creates a symmetric encryption key under `alias`, as template.yaml's
    /// ReceiverSecretsKey; returns its key id.
    pub async fn create_secrets_key(&self, alias: &str) -> String {
        self.create_key_for(
            KeySpec::SymmetricDefault,
            KeyUsageType::EncryptDecrypt,
            alias,
        )
        .await
    }

    async fn create_key_for(&self, spec: KeySpec, usage: KeyUsageType, alias: &str) -> String {
        let key_id = self
            .client
            .create_key()
            .key_spec(spec)
            .key_usage(usage)
            .description("Signoff test key")
            .send()
            .await
            .expect("CreateKey")
            .key_metadata
            .expect("key metadata")
            .key_id;
        self.client
            .create_alias()
            .alias_name(alias)
            .target_key_id(&key_id)
            .send()
            .await
            .expect("CreateAlias");
        self.requests.reset();
        key_id
    }
}

/// Starts a moto server (every service it emulates on one port) on a free port of
/// 127.0.0.1 and waits until it listens; the process dies with the returned handle.
pub async fn start_moto() -> (tokio::process::Child, String) {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("bound").port()
    };
    let moto = std::path::Path::new(&test_python()).with_file_name("moto_server");
    let server = tokio::process::Command::new(&moto)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", moto.display()));
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "moto's server did not start on {endpoint}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    (server, endpoint)
}

/// SDK configuration for a local KMS endpoint with dummy credentials.
pub fn client_config(endpoint: &str) -> aws_sdk_kms::config::Builder {
    aws_sdk_kms::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "local",
            "local",
            None,
            None,
            "signoff-tests",
        ))
}
