//! `signoff-admin`: provisions Signoff's table, tenants, credentials, clients and tokens.
//!
//! It talks to DynamoDB through the SDK's standard configuration, so the same commands
//! work against real AWS (credentials, `AWS_REGION`/`AWS_PROFILE`) and a local emulator
//! (`AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000`). Secrets it issues are printed once
//! and stored only as SHA-256 hashes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use signoff_jose::{Algorithm, Jwk, SigningKey};
use signoff_store::credentials::{CredentialScope, Tenant};
use signoff_store::item_key::TokenHash;
use signoff_store::model::{DeviceBinding, TokenRecord, TokenType};
use signoff_store::project_keys::RefreshTokenSpec;
use signoff_store::trusted_parties::TrustedParty;
use signoff_store::{Config, Store};

#[derive(Parser)]
#[command(name = "signoff-admin", version, about)]
struct Cli {
    /// The Signoff table.
    #[arg(
        long,
        env = "SIGNOFF_TABLE_NAME",
        default_value = "signoff",
        global = true
    )]
    table: String,
    /// The purge queue (template.yaml's PurgeQueueUrl output): a cutoff starts a
    /// background purge of the records it made unusable. Without it they stay until
    /// they expire.
    #[arg(long, env = "SIGNOFF_PURGE_QUEUE_URL", global = true)]
    purge_queue_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

/// What `list-tokens --status` lists (Authlete's `tokenStatus`).
#[derive(Clone, Copy, Debug, ValueEnum)]
enum ListedState {
    Valid,
    Invalid,
    All,
}

#[derive(Subcommand)]
enum Command {
    /// Create the table with its indexes and TTL (does nothing if it exists).
    CreateTable,
    /// Print the table's CloudFormation properties (template.yaml must match them).
    TableSpec,
    /// Create a tenant (an Authlete service / Descope project).
    CreateTenant {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: Option<String>,
        /// Organization whose organization tokens may act on this tenant.
        #[arg(long)]
        organization: Option<String>,
    },
    /// Issue a service access token for one tenant. Printed once; only its hash is kept.
    IssueServiceToken {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Issue an organization token, valid for every tenant of the organization.
    IssueOrganizationToken {
        #[arg(long)]
        organization: String,
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Issue a management key of a Descope-style project (`Bearer <project>:<key>` on
    /// `POST /v1/mgmt/user/logout`), printed once; only its hash is stored.
    IssueManagementKey {
        #[arg(long)]
        project: String,
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Revoke a service or organization token or a management key, given its value.
    RevokeCredential {
        #[arg(long, env = "SIGNOFF_CREDENTIAL", hide_env_values = true)]
        token: String,
    },
    /// Register an OAuth client of a tenant. A confidential client's secret is printed once.
    RegisterClient {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        client_id: String,
        /// A public client (no secret), e.g. a native or browser app.
        #[arg(long)]
        public: bool,
    },
    /// Allow a client (a resource server) to introspect tokens, or with --revoke, no longer.
    AllowIntrospection {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        client_id: String,
        /// Only tokens meant for this audience are shown to it as active (repeat for
        /// several); without it, any token of the tenant.
        #[arg(long = "audience", conflicts_with = "revoke")]
        audiences: Vec<String>,
        #[arg(long)]
        revoke: bool,
    },
    /// Register where a client hears of logouts (OpenID Connect Back-Channel Logout 1.0
    /// client metadata), or with --remove, no longer.
    SetBackchannelLogout {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        client_id: String,
        /// The client's backchannel_logout_uri: https (http only to a loopback host), no
        /// fragment, no user name or password.
        #[arg(long, required_unless_present = "remove", conflicts_with = "remove")]
        uri: Option<String>,
        /// The client needs `sid` in every logout token
        /// (backchannel_logout_session_required).
        #[arg(long, conflicts_with = "remove")]
        session_required: bool,
        /// Also accept a loopback host (localhost, 127.0.0.1, [::1]) over http or https,
        /// for a receiver on the same machine (local runs only).
        #[arg(long, conflicts_with = "remove")]
        allow_loopback: bool,
        #[arg(long)]
        remove: bool,
    },
    /// Configure a Shared Signals receiver of a tenant: its session ends are pushed to it
    /// as CAEP session-revoked SETs (RFC 8935). --remove removes it, --list shows them.
    SsfReceiver {
        #[arg(long)]
        tenant: String,
        /// The receiver's id (its stream id; the verification event's subject).
        #[arg(long, required_unless_present = "list")]
        id: Option<String>,
        /// Where SETs are POSTed: https (http only to a loopback host with
        /// --allow-loopback), no fragment, no user name or password.
        #[arg(long, required_unless_present_any = ["remove", "list"], conflicts_with_all = ["remove", "list"])]
        endpoint: Option<String>,
        /// `aud` of its SETs (default: the endpoint).
        #[arg(long, conflicts_with_all = ["remove", "list"])]
        audience: Option<String>,
        /// The event types it wants, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = signoff_jose::security_event::SESSION_REVOKED_EVENT)]
        events: Vec<String>,
        /// Store it without an authorization header (SIGNOFF_SSF_AUTHORIZATION, read from
        /// the environment only, so that it stays out of shell history and process lists,
        /// sets one; a receiver updated without either keeps the one it had).
        #[arg(long, conflicts_with_all = ["remove", "list"])]
        no_authorization: bool,
        /// template.yaml's ReceiverSecretsKeyId output: the KMS key that seals it.
        #[arg(long, env = "SIGNOFF_SECRETS_KEY_ID")]
        secrets_key_id: Option<String>,
        /// Also accept a loopback host, for a receiver on the same machine (local runs).
        #[arg(long, conflicts_with_all = ["remove", "list"])]
        allow_loopback: bool,
        #[arg(long, conflicts_with = "list")]
        remove: bool,
        #[arg(long)]
        list: bool,
    },
    /// Send a Shared Signals verification event to a receiver (SSF 1.0 section 8.1.4),
    /// through the same queue and delivery as its SETs.
    SsfVerify {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        id: String,
        /// Echoed in the event, for the receiver to match.
        #[arg(long)]
        state: Option<String>,
        /// template.yaml's LogoutDeliveryQueueUrl output.
        #[arg(long, env = "SIGNOFF_LOGOUT_QUEUE_URL")]
        logout_queue_url: String,
    },
    /// Send the back-channel logouts that could not be delivered (the undelivered queue)
    /// again, each with a full retry period; --list only shows them.
    Redeliver {
        /// template.yaml's UndeliveredLogoutQueueUrl output.
        #[arg(long, env = "SIGNOFF_UNDELIVERED_QUEUE_URL")]
        undelivered_queue_url: String,
        /// template.yaml's LogoutDeliveryQueueUrl output.
        #[arg(
            long,
            env = "SIGNOFF_LOGOUT_QUEUE_URL",
            required_unless_present = "list"
        )]
        logout_queue_url: Option<String>,
        /// Only the deliveries to this client; the others stay.
        #[arg(long, conflicts_with = "ssf_receiver")]
        client_id: Option<String>,
        /// Only the deliveries to this Shared Signals receiver; the others stay.
        #[arg(long)]
        ssf_receiver: Option<String>,
        /// Show what waits, changing nothing.
        #[arg(long)]
        list: bool,
    },
    /// Make tokens unusable in one write, however many there are: every token of a client
    /// (--client-id), of a client for one user (--client-id and --subject), or of the whole
    /// tenant (--whole-tenant) issued up to now. Every lookup honours it at once.
    CutOff {
        #[arg(long)]
        tenant: String,
        #[arg(long, required_unless_present = "whole_tenant")]
        client_id: Option<String>,
        #[arg(long, requires = "client_id")]
        subject: Option<String>,
        /// Break-glass: every token of the tenant.
        #[arg(long, conflicts_with_all = ["client_id", "subject"])]
        whole_tenant: bool,
        /// After starting the purge, show its progress until it is done.
        #[arg(long)]
        watch: bool,
    },
    /// Where a background purge stands: matched, deleted, shards finished, state.
    PurgeStatus {
        #[arg(long)]
        tenant: String,
        /// The job id the cutoff printed (ids from before they were hex may begin with
        /// '-', so a value that looks like an option is taken as the id).
        #[arg(long, allow_hyphen_values = true)]
        job: String,
        /// Show a progress bar until the purge is done.
        #[arg(long)]
        watch: bool,
    },
    /// Queue a purge's shards again, after its messages went to the dead-letter queue:
    /// finished shards stay finished, the others resume where they stopped.
    ResumePurge {
        #[arg(long)]
        tenant: String,
        /// As for purge-status.
        #[arg(long, allow_hyphen_values = true)]
        job: String,
    },
    /// Register one issued token (its value or its hash), with the client it was issued to.
    RegisterToken {
        #[arg(long)]
        tenant: String,
        /// The token's value (hashed here, never stored).
        #[arg(
            long,
            conflicts_with = "token_hash",
            required_unless_present = "token_hash"
        )]
        token: Option<String>,
        /// The unpadded base64url SHA-256 of the token.
        #[arg(long)]
        token_hash: Option<String>,
        #[arg(long, value_parser = ["access", "refresh"])]
        r#type: String,
        #[arg(long)]
        client_id: String,
        #[arg(long)]
        subject: Option<String>,
        #[arg(long)]
        session_id: Option<String>,
        /// The authorization grant: revoking a refresh token revokes the grant's tokens.
        #[arg(long)]
        grant_id: Option<String>,
        /// The device the token was issued to (NetIQ's `device_id`), with the user it was
        /// issued for there; device revocation finds tokens by these.
        #[arg(long, requires_all = ["user_store", "user_dn"])]
        device_id: Option<String>,
        /// The user's store (NetIQ's `userstore_name`).
        #[arg(long, requires = "device_id")]
        user_store: Option<String>,
        /// The user's DN (NetIQ's `user_dn`).
        #[arg(long, requires = "device_id")]
        user_dn: Option<String>,
        /// Lifetime in seconds from now.
        #[arg(long, default_value_t = 3600)]
        expires_in: i64,
    },
    /// Register a project's public signing keys, from a JWKS (or single JWK) JSON file or
    /// a PEM public key. Private keys are refused.
    RegisterKeys {
        #[arg(long)]
        project: String,
        #[arg(long)]
        file: PathBuf,
        /// Key id for a PEM key (default: its RFC 7638 thumbprint).
        #[arg(long)]
        kid: Option<String>,
    },
    /// Remove a project's key; refresh JWTs signed with it stop verifying at once.
    RemoveKey {
        #[arg(long)]
        project: String,
        #[arg(long)]
        kid: String,
    },
    /// Generate a signing key pair for a project: the private key is written to --out
    /// (mode 0600; it never reaches the table) and the public key is registered.
    GenerateSigningKey {
        #[arg(long)]
        project: String,
        #[arg(long, value_parser = ["ES256", "RS256"], default_value = "ES256")]
        alg: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        kid: Option<String>,
    },
    /// Mint a refresh JWT (sub, iss, exp, iat, drn) with a project's private key and
    /// register it, as the project's issuer would. Prints the JWT.
    MintRefreshToken {
        #[arg(long)]
        project: String,
        /// The private key (PKCS #8 PEM), e.g. from generate-signing-key.
        #[arg(long)]
        key: PathBuf,
        /// Key id (default: the key's thumbprint, as generate-signing-key registers it).
        #[arg(long)]
        kid: Option<String>,
        #[arg(long)]
        subject: String,
        /// Descope's `dsub`: the user id logout-all acts on, when it differs from sub.
        #[arg(long)]
        dsub: Option<String>,
        #[arg(long)]
        session_id: Option<String>,
        #[arg(long)]
        grant_id: Option<String>,
        #[arg(long, default_value = "descope")]
        client_id: String,
        /// `iss` (default: the project id).
        #[arg(long)]
        issuer: Option<String>,
        /// Lifetime in seconds from now.
        #[arg(long, default_value_t = 30 * 86_400)]
        expires_in: i64,
        /// Print the JWT without registering it.
        #[arg(long)]
        no_register: bool,
    },
    /// Trust a party (an identity provider or security tool) to log users of a tenant out
    /// everywhere through Global Token Revocation: it signs its requests' JWTs with the
    /// key registered here (JWKS or JWK JSON, or a PEM public key). Registering the same
    /// issuer again replaces its keys.
    AddTrustedParty {
        #[arg(long)]
        tenant: String,
        /// The `iss` of the party's JWTs.
        #[arg(long)]
        issuer: String,
        /// The `sub` of its JWTs (default: the issuer, as RFC 7523 client assertions have it).
        #[arg(long)]
        subject: Option<String>,
        #[arg(long)]
        keys: PathBuf,
        /// Key id for a PEM key (default: its RFC 7638 thumbprint).
        #[arg(long)]
        kid: Option<String>,
        /// An issuer whose `sub` values the party may name (`iss_sub`); repeat for several.
        /// Default: the party's own issuer.
        #[arg(long = "subject-issuer")]
        subject_issuers: Vec<String>,
    },
    /// Stop trusting a party: its JWTs are refused at once.
    RemoveTrustedParty {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        issuer: String,
    },
    /// Sign the bearer JWT of one Global Token Revocation request with a party's private
    /// key (PKCS #8 PEM), as the party would: `aud` the endpoint's URL, a fresh `jti`,
    /// short-lived. Prints the JWT.
    SignRevocationAssertion {
        #[arg(long)]
        key: PathBuf,
        /// Key id (default: the key's thumbprint, as add-trusted-party registers a PEM key).
        #[arg(long)]
        kid: Option<String>,
        #[arg(long)]
        issuer: String,
        /// Default: the issuer.
        #[arg(long)]
        subject: Option<String>,
        /// The endpoint's exact URL, e.g. https://signoff.example.com/oauth2/global-token-revocation.
        #[arg(long)]
        audience: String,
        #[arg(long, default_value_t = 120)]
        expires_in: i64,
    },
    /// Revoke one token with the rest of its grant, as Authlete's `/auth/token/revoke`
    /// and `/auth/token/delete` do. The token is named by its hash, or read from standard
    /// input (never on the command line, where shell history and `ps` would keep it).
    RevokeToken {
        #[arg(long)]
        tenant: String,
        /// The token's base64url SHA-256 (Authlete's `accessTokenHash`).
        #[arg(long, group = "token", required = true)]
        token_hash: Option<String>,
        /// Read the token itself from standard input.
        #[arg(long, group = "token")]
        token_stdin: bool,
    },
    /// List the tokens of a subject, a client (or both) or the whole tenant, by hash, each
    /// with its state, as Authlete's `/auth/token/get/list` does (without its 20-a-page
    /// limit).
    ListTokens {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        client_id: Option<String>,
        #[arg(long)]
        subject: Option<String>,
        /// Which tokens: usable ones, records of unusable ones (expired, or revoked and
        /// waiting for the purge), or both.
        #[arg(long, value_enum, default_value_t = ListedState::Valid)]
        status: ListedState,
        /// Position of the first token shown, in issue order.
        #[arg(long, default_value_t = 0)]
        start: usize,
        /// How many to show.
        #[arg(long, default_value_t = 100)]
        count: usize,
        /// The most records the listing may read; a larger scope is refused. Ten times
        /// the function's default (SIGNOFF_TOKEN_LIST_MAX_RECORDS, 10,000): an operator at
        /// a terminal can wait the few seconds 100,000 take.
        #[arg(long, default_value_t = 100_000)]
        max_records: usize,
    },
    /// Log a user out everywhere, as Global Token Revocation does: one write makes every
    /// token of the user unusable, then the records are deleted (in the background, with
    /// a purge queue, when there are many).
    LogOutUser {
        #[arg(long)]
        tenant: String,
        /// The user's subject.
        #[arg(long, group = "user", required = true)]
        subject: Option<String>,
        /// An email address registration recorded for the user.
        #[arg(long, group = "user")]
        email: Option<String>,
        /// A login id registration recorded for the user.
        #[arg(long, group = "user")]
        login_id: Option<String>,
    },
    /// Seed the local demo: a service, its fixed demo credential, a client and a session
    /// holding tokens. Refused unless the endpoint is local.
    SeedDemo {
        #[arg(long, default_value_t = 20)]
        tokens: usize,
        /// Print how to call the local API at this base URL.
        #[arg(long, default_value = "http://127.0.0.1:9000")]
        api_url: String,
        /// Write the demo identity provider's private key here (it signs the printed
        /// Global Token Revocation request).
        #[arg(long)]
        party_key_out: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("signoff-admin: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    match &cli.command {
        Command::TableSpec => {
            println!("{:#}", signoff_store::table::cloudformation_properties());
            return Ok(());
        }
        Command::SignRevocationAssertion {
            key,
            kid,
            issuer,
            subject,
            audience,
            expires_in,
        } => {
            return sign_revocation_assertion(
                key,
                kid.as_deref(),
                issuer,
                subject.as_deref(),
                audience,
                *expires_in,
            )
        }
        _ => {}
    }
    let sdk = signoff_store::config::load_aws_config()
        .await
        .map_err(|e| e.to_string())?;
    let store = Store::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        Config::for_table(&cli.table),
    );
    let purge_queue = cli
        .purge_queue_url
        .filter(|url| !url.is_empty())
        .map(|url| signoff_queue::PurgeQueue::new(&sdk, url));
    match cli.command {
        Command::TableSpec => unreachable!("handled above"),
        Command::CreateTable => {
            let created = signoff_store::table::create_table(store.client(), store.table_name())
                .await
                .map_err(|e| fail(&e))?;
            let verb = if created { "created" } else { "already exists" };
            println!("table {}: {verb}", store.table_name());
        }
        Command::CreateTenant {
            id,
            name,
            organization,
        } => {
            let tenant = Tenant {
                name: name.unwrap_or_else(|| id.clone()),
                id,
                organization,
                created_at: signoff_store::now_epoch_seconds(),
            };
            store.create_tenant(&tenant).await.map_err(|e| fail(&e))?;
            println!("tenant {} created", tenant.id);
        }
        Command::IssueServiceToken { tenant, label } => {
            require_tenant(&store, &tenant).await?;
            let token = store
                .issue_credential(CredentialScope::Service { tenant }, &label)
                .await
                .map_err(|e| fail(&e))?;
            print_secret("service access token", &token);
        }
        Command::IssueOrganizationToken {
            organization,
            label,
        } => {
            let token = store
                .issue_credential(CredentialScope::Organization { organization }, &label)
                .await
                .map_err(|e| fail(&e))?;
            print_secret("organization token", &token);
        }
        Command::IssueManagementKey { project, label } => {
            require_tenant(&store, &project).await?;
            let key = store
                .issue_credential(CredentialScope::Management { project }, &label)
                .await
                .map_err(|e| fail(&e))?;
            print_secret("management key", &key);
        }
        Command::RevokeCredential { token } => {
            let existed = store
                .revoke_credential(&token)
                .await
                .map_err(|e| fail(&e))?;
            println!(
                "{}",
                if existed {
                    "credential revoked"
                } else {
                    "no such credential"
                }
            );
        }
        Command::RegisterClient {
            tenant,
            client_id,
            public,
        } => {
            let secret = store
                .register_client(&tenant, &client_id, !public)
                .await
                .map_err(|e| fail(&e))?;
            println!("client {client_id} registered for tenant {tenant}");
            if let Some(secret) = secret {
                print_secret("client secret", &secret);
            }
        }
        Command::AllowIntrospection {
            tenant,
            client_id,
            audiences,
            revoke,
        } => {
            use signoff_store::credentials::IntrospectionAccess;
            let access = match (revoke, audiences.is_empty()) {
                (true, _) => IntrospectionAccess::Denied,
                (false, true) => IntrospectionAccess::AnyAudience,
                (false, false) => IntrospectionAccess::Audiences(audiences.clone()),
            };
            store
                .set_introspection_access(&tenant, &client_id, &access)
                .await
                .map_err(|e| fail(&e))?;
            match access {
                IntrospectionAccess::Denied => println!(
                    "client {client_id} of tenant {tenant} may no longer introspect tokens"
                ),
                IntrospectionAccess::AnyAudience => {
                    println!("client {client_id} of tenant {tenant} may introspect tokens")
                }
                IntrospectionAccess::Audiences(_) => println!(
                    "client {client_id} of tenant {tenant} may introspect tokens meant for {}",
                    audiences.join(", ")
                ),
            }
        }
        Command::SetBackchannelLogout {
            tenant,
            client_id,
            uri,
            session_required,
            allow_loopback,
            remove: _,
        } => {
            use signoff_store::backchannel::{BackchannelLogout, Reach};
            let reach = if allow_loopback {
                Reach::Loopback
            } else {
                Reach::Public
            };
            let logout = uri
                .map(|uri| BackchannelLogout::new(&uri, session_required, reach))
                .transpose()
                .map_err(|e| fail(&e))?;
            store
                .set_backchannel_logout(&tenant, &client_id, logout.as_ref())
                .await
                .map_err(|e| fail(&e))?;
            match logout {
                Some(logout) => println!(
                    "client {client_id} of tenant {tenant} hears of logouts at {}{}",
                    logout.uri(),
                    if logout.session_required() {
                        " (sid required)"
                    } else {
                        ""
                    }
                ),
                None => {
                    println!("client {client_id} of tenant {tenant} has no back-channel logout URI")
                }
            }
        }
        Command::SsfReceiver {
            tenant,
            id,
            endpoint,
            audience,
            events,
            no_authorization,
            secrets_key_id,
            allow_loopback,
            remove,
            list,
        } => {
            use signoff_store::backchannel::Reach;
            use signoff_store::ssf::{authorization_context, SsfReceiver};
            let show = |r: &SsfReceiver| {
                println!(
                    "SSF receiver {} of tenant {tenant}: {} (aud {}), events {}{}",
                    r.id,
                    r.endpoint.as_str(),
                    r.audience,
                    r.events.join(","),
                    if r.authorization.is_some() {
                        ", with an authorization header"
                    } else {
                        ""
                    }
                )
            };
            if list {
                for receiver in store.ssf_receivers(&tenant).await.map_err(|e| fail(&e))? {
                    show(&receiver);
                }
                return Ok(());
            }
            let id = id.expect("clap requires --id");
            if remove {
                let removed = store
                    .remove_ssf_receiver(&tenant, &id)
                    .await
                    .map_err(|e| fail(&e))?;
                if !removed {
                    return Err(format!("tenant {tenant} has no SSF receiver {id}"));
                }
                println!("SSF receiver {id} of tenant {tenant} removed");
                return Ok(());
            }
            let endpoint = endpoint.expect("clap requires --endpoint");
            let reach = if allow_loopback {
                Reach::Loopback
            } else {
                Reach::Public
            };
            // Checked first: the audience defaults to the endpoint as stored, and the
            // header is sealed to it.
            let checked = SsfReceiver::new(&id, &endpoint, reach, "-", &events, None)
                .map_err(|e| fail(&e))?;
            let endpoint = checked.endpoint.as_str().to_owned();
            let authorization = std::env::var("SIGNOFF_SSF_AUTHORIZATION")
                .ok()
                .filter(|v| !v.is_empty());
            let existing = store
                .ssf_receiver(&tenant, &id)
                .await
                .map_err(|e| fail(&e))?;
            let sealed = match (authorization, no_authorization, existing) {
                (Some(_), true, _) => {
                    return Err(
                        "SIGNOFF_SSF_AUTHORIZATION is set and --no-authorization given: choose one"
                            .into(),
                    )
                }
                (Some(authorization), false, _) => {
                    let key = secrets_key_id.ok_or(
                        "SIGNOFF_SSF_AUTHORIZATION needs --secrets-key-id (or SIGNOFF_SECRETS_KEY_ID): it is never stored in the clear",
                    )?;
                    let secrets = signoff_kms::SecretBox::new(aws_sdk_kms::Client::new(&sdk), key);
                    Some(
                        secrets
                            .seal(
                                &authorization,
                                &authorization_context(&tenant, &id, &endpoint),
                            )
                            .await
                            .map_err(|e| fail(&e))?,
                    )
                }
                (None, true, _) => None,
                (None, false, Some(existing)) if existing.authorization.is_some() => {
                    if existing.endpoint.as_str() != endpoint {
                        return Err(format!(
                            "SSF receiver {id} has an authorization header sealed to {}: give it again for {endpoint} (SIGNOFF_SSF_AUTHORIZATION), or --no-authorization",
                            existing.endpoint.as_str()
                        ));
                    }
                    existing.authorization
                }
                (None, false, _) => None,
            };
            let receiver = SsfReceiver::new(
                &id,
                &endpoint,
                reach,
                audience.as_deref().unwrap_or(&endpoint),
                &events,
                sealed,
            )
            .map_err(|e| fail(&e))?;
            store
                .put_ssf_receiver(&tenant, &receiver)
                .await
                .map_err(|e| fail(&e))?;
            show(&receiver);
        }
        Command::SsfVerify {
            tenant,
            id,
            state,
            logout_queue_url,
        } => {
            if store
                .ssf_receiver(&tenant, &id)
                .await
                .map_err(|e| fail(&e))?
                .is_none()
            {
                return Err(format!("tenant {tenant} has no SSF receiver {id}"));
            }
            let delivery = signoff_queue::logouts::LogoutDelivery::verification(
                &tenant,
                &id,
                state.as_deref(),
                signoff_store::now_epoch_millis(),
            );
            signoff_queue::Queue::new(&sdk, logout_queue_url)
                .send_body(delivery.body(), std::time::Duration::ZERO)
                .await
                .map_err(|e| fail(&e))?;
            println!("verification event queued for SSF receiver {id} of tenant {tenant}");
        }
        Command::CutOff {
            tenant,
            client_id,
            subject,
            whole_tenant,
            watch,
        } => {
            use signoff_store::cutoffs::Cutoff;
            let cutoff = match (&client_id, &subject, whole_tenant) {
                (_, _, true) => Cutoff::Tenant,
                (Some(client_id), Some(subject), _) => Cutoff::ClientSubject { client_id, subject },
                (Some(client_id), None, _) => Cutoff::Client { client_id },
                (None, _, false) => return Err("name --client-id or --whole-tenant".into()),
            };
            cutoff.validate().map_err(|e| e.to_string())?;
            require_tenant(&store, &tenant).await?;
            if let Some(client_id) = &client_id {
                // A typo in an incident must not pass for a cutoff of the intended client;
                // tokens may name a client that was never registered, so it is a warning.
                if !store
                    .client_registered(&tenant, client_id)
                    .await
                    .map_err(|e| fail(&e))?
                {
                    eprintln!(
                        "warning: no client {client_id} is registered in tenant {tenant}; \
                         check the id (tokens registered for it are cut off all the same)"
                    );
                }
            }
            let at = store
                .write_cutoff(&tenant, cutoff)
                .await
                .map_err(|e| fail(&e))?;
            let whose = match cutoff {
                Cutoff::Tenant => format!("every token of tenant {tenant}"),
                Cutoff::Client { client_id } => {
                    format!("every token of client {client_id} in tenant {tenant}")
                }
                Cutoff::ClientSubject { client_id, subject } => {
                    format!("every token of client {client_id} for {subject} in tenant {tenant}")
                }
            };
            println!(
                "{whose} issued at or before {at} (epoch seconds, this machine's clock) is \
                 unusable now"
            );
            let Some(queue) = &purge_queue else {
                println!(
                    "no purge queue configured (--purge-queue-url, SIGNOFF_PURGE_QUEUE_URL): \
                     the records stay until they expire"
                );
                return Ok(());
            };
            let job = store
                .create_purge(&tenant, cutoff, at)
                .await
                .map_err(|e| fail(&e))?;
            signoff_queue::hand_off(&store, queue, &job)
                .await
                .map_err(|e| fail(&e))?;
            println!(
                "purge {} started: the records go in the background; \
                 `signoff-admin purge-status --tenant {tenant} --job {}` shows how far it is",
                job.job_id, job.job_id
            );
            if watch {
                watch_purge(&store, &job).await?;
            }
        }
        Command::PurgeStatus { tenant, job, watch } => {
            let job = find_purge(&store, &tenant, &job).await?;
            if watch {
                watch_purge(&store, &job).await?;
            } else {
                let progress = store.purge_progress(&job).await.map_err(|e| fail(&e))?;
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "job": job.job_id,
                        "covers": job.scope.describe(),
                        "cutoff": job.cutoff,
                        "estimated": job.estimated,
                        "matched": progress.matched,
                        "deleted": progress.deleted,
                        "shardsDone": progress.shards_done,
                        "shards": progress.shards,
                        "state": progress.state(),
                    }))
                    .expect("JSON")
                );
            }
        }
        Command::Redeliver {
            undelivered_queue_url,
            logout_queue_url,
            client_id,
            ssf_receiver,
            list,
        } => {
            let undelivered = signoff_queue::Queue::new(&sdk, undelivered_queue_url);
            let deliveries = logout_queue_url.map(|url| signoff_queue::Queue::new(&sdk, url));
            let (mut moved, mut kept) = (0u64, 0u64);
            // Each message once: a kept one is remembered (and made visible again at the
            // end, for the next run), and the run ends when nothing new comes, even if a
            // long run outlasts the queue's visibility timeout.
            let mut seen = std::collections::HashSet::new();
            let mut left = Vec::new();
            loop {
                let received = undelivered
                    .receive(std::time::Duration::from_secs(1))
                    .await
                    .map_err(|e| fail(&e))?;
                let fresh: Vec<_> = received
                    .into_iter()
                    .filter(|m| seen.insert(m.id.clone()))
                    .collect();
                if fresh.is_empty() {
                    break;
                }
                for message in fresh {
                    let delivery = serde_json::from_str::<signoff_queue::logouts::LogoutDelivery>(
                        &message.body,
                    );
                    let chosen = match &delivery {
                        Ok(d) => match (&client_id, &ssf_receiver) {
                            (Some(c), _) => d.ssf_receiver.is_none() && *c == d.client_id,
                            (_, Some(r)) => d.ssf_receiver.as_ref() == Some(r),
                            (None, None) => true,
                        },
                        Err(_) => false,
                    };
                    match &delivery {
                        Ok(d) => println!(
                            "{} {} of tenant {}: {}{} attempt(s), last: {}",
                            if !chosen {
                                "kept"
                            } else if list {
                                "waiting"
                            } else {
                                "redelivered"
                            },
                            match &d.ssf_receiver {
                                Some(receiver) => format!("SSF receiver {receiver}"),
                                None => format!("client {}", d.client_id),
                            },
                            d.tenant,
                            if d.verification.is_some() {
                                "verification, "
                            } else if d.session_id.is_some() {
                                "session logout, "
                            } else {
                                "user logout, "
                            },
                            d.attempts,
                            d.last_failure.as_deref().unwrap_or("-"),
                        ),
                        Err(e) => println!("kept a message that is not a logout delivery ({e})"),
                    }
                    match (chosen && !list, delivery, &deliveries) {
                        (true, Ok(d), Some(deliveries)) => {
                            let again = d.restarted(signoff_store::now_epoch_millis());
                            deliveries
                                .send_body(again.body(), std::time::Duration::ZERO)
                                .await
                                .map_err(|e| fail(&e))?;
                            undelivered
                                .delete(&message.receipt_handle)
                                .await
                                .map_err(|e| fail(&e))?;
                            moved += 1;
                        }
                        _ => {
                            kept += 1;
                            left.push(message.receipt_handle);
                        }
                    }
                }
            }
            for handle in &left {
                undelivered.release(handle).await.map_err(|e| fail(&e))?;
            }
            println!("{moved} redelivered, {kept} left on the undelivered queue");
        }
        Command::ResumePurge { tenant, job } => {
            let job = find_purge(&store, &tenant, &job).await?;
            let queue = purge_queue
                .as_ref()
                .ok_or("no purge queue configured (--purge-queue-url, SIGNOFF_PURGE_QUEUE_URL)")?;
            queue.fan_out(&job).await.map_err(|e| fail(&e))?;
            println!(
                "purge {} queued again: finished shards stay finished, the others resume",
                job.job_id
            );
        }
        Command::RegisterToken {
            tenant,
            token,
            token_hash,
            r#type,
            client_id,
            subject,
            session_id,
            grant_id,
            device_id,
            user_store,
            user_dn,
            expires_in,
        } => {
            let hash = match (token, token_hash) {
                (Some(token), _) => TokenHash::of(&token),
                (None, Some(hash)) => TokenHash::parse(&hash).map_err(|e| e.to_string())?,
                (None, None) => unreachable!("clap requires one of them"),
            };
            let now = signoff_store::now_epoch_seconds();
            let record = TokenRecord {
                tenant,
                hash,
                token_type: TokenType::parse(&r#type).expect("clap checked the value"),
                client_id,
                subject,
                session_id,
                grant_id,
                device: device_id.map(|device_id| DeviceBinding {
                    device_id,
                    user_store: user_store.unwrap_or_default(),
                    user_dn: user_dn.unwrap_or_default(),
                }),
                issued_at: now,
                expires_at: now + expires_in,
                scope: None,
                audience: Vec::new(),
            };
            record.validate(now).map_err(|e| e.to_string())?;
            store
                .register_tokens(&[record])
                .await
                .map_err(|e| fail(&e))?;
            println!("token {hash} registered");
        }
        Command::RegisterKeys { project, file, kid } => {
            let text = read_text(&file)?;
            let keys = parse_public_keys(&text, kid.as_deref())
                .map_err(|e| format!("{}: {e}", file.display()))?;
            let all = store
                .add_project_keys(&project, &keys)
                .await
                .map_err(|e| fail(&e))?;
            for key in &keys {
                println!(
                    "key {} ({}) registered for project {project}",
                    key.kid, key.alg
                );
            }
            println!("project {project} has {} key(s)", all.len());
        }
        Command::RemoveKey { project, kid } => {
            let removed = store
                .remove_project_key(&project, &kid)
                .await
                .map_err(|e| fail(&e))?;
            println!(
                "{}",
                if removed {
                    format!("key {kid} removed from project {project}")
                } else {
                    format!("project {project} has no key {kid}")
                }
            );
        }
        Command::GenerateSigningKey {
            project,
            alg,
            out,
            kid,
        } => {
            let algorithm = Algorithm::parse(&alg).expect("clap checked the value");
            let key = SigningKey::generate(algorithm, kid.as_deref()).map_err(|e| e.to_string())?;
            // The file first: a key registered without its private half kept would be
            // useless. If registration then fails, the file goes too, so a rerun can
            // write it.
            write_private_key(&out, &key.to_pem())?;
            if let Err(e) = store.add_project_keys(&project, &[key.public_jwk()]).await {
                let _ = std::fs::remove_file(&out);
                return Err(fail(&e));
            }
            println!(
                "{alg} key {} registered for project {project}; private key written to {} (keep it secret)",
                key.kid(),
                out.display()
            );
        }
        Command::MintRefreshToken {
            project,
            key,
            kid,
            subject,
            dsub,
            session_id,
            grant_id,
            client_id,
            issuer,
            expires_in,
            no_register,
        } => {
            let pem = read_text(&key)?;
            let signing_key = match kid {
                Some(kid) => SigningKey::from_pem(&pem, Some(&kid)),
                None => {
                    // The kid the project registered this key under, whatever it is.
                    let public = SigningKey::from_pem(&pem, None)
                        .map_err(|e| format!("{}: {e}", key.display()))?
                        .public_jwk();
                    let registered = store
                        .project_keys(&project)
                        .await
                        .map_err(|e| fail(&e))?
                        .unwrap_or_default();
                    let kid = registered
                        .iter()
                        .find(|k| k.same_material(&public))
                        .map(|k| k.kid.clone())
                        .ok_or_else(|| {
                            format!(
                                "this key is not registered for project {project}: register it, or pass --kid"
                            )
                        })?;
                    SigningKey::from_pem(&pem, Some(&kid))
                }
            }
            .map_err(|e| format!("{}: {e}", key.display()))?;
            let now = signoff_store::now_epoch_seconds();
            let expires_at = now
                .checked_add(expires_in)
                .filter(|_| expires_in > 0)
                .ok_or("--expires-in must be a positive number of seconds")?;
            let spec = RefreshTokenSpec {
                project,
                subject,
                dsub,
                session_id,
                grant_id,
                client_id,
                issuer,
                issued_at: now,
                expires_at,
            };
            let jwt = if no_register {
                let (jwt, record) = spec.mint(&signing_key);
                record.validate(now).map_err(|e| e.to_string())?;
                jwt
            } else {
                let jwt = store
                    .mint_refresh_jwt(&signing_key, &spec)
                    .await
                    .map_err(|e| fail(&e))?;
                eprintln!("refresh token registered (its hash only)");
                jwt
            };
            println!("{jwt}");
        }
        Command::AddTrustedParty {
            tenant,
            issuer,
            subject,
            keys,
            kid,
            subject_issuers,
        } => {
            let text = read_text(&keys)?;
            let keys = parse_public_keys(&text, kid.as_deref())
                .map_err(|e| format!("{}: {e}", keys.display()))?;
            let party = TrustedParty {
                subject: subject.unwrap_or_else(|| issuer.clone()),
                subject_issuers: if subject_issuers.is_empty() {
                    vec![issuer.clone()]
                } else {
                    subject_issuers
                },
                tenant,
                issuer,
                keys,
                created_at: signoff_store::now_epoch_seconds(),
            };
            store
                .put_trusted_party(&party)
                .await
                .map_err(|e| fail(&e))?;
            println!(
                "{} may now log users of tenant {} out everywhere (keys: {})",
                party.issuer,
                party.tenant,
                party
                    .keys
                    .iter()
                    .map(|k| format!("{} {}", k.kid, k.alg))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        Command::RemoveTrustedParty { tenant, issuer } => {
            let removed = store
                .remove_trusted_party(&tenant, &issuer)
                .await
                .map_err(|e| fail(&e))?;
            println!(
                "{}",
                if removed {
                    format!("{issuer} is no longer trusted by tenant {tenant}")
                } else {
                    format!("{issuer} was not a trusted party of tenant {tenant}")
                }
            );
        }
        Command::SignRevocationAssertion { .. } => unreachable!("handled above"),
        Command::RevokeToken {
            tenant,
            token_hash,
            token_stdin,
        } => {
            use signoff_store::item_key::TokenHash;
            require_tenant(&store, &tenant).await?;
            let hash = match (token_hash, token_stdin) {
                (Some(hash), _) => TokenHash::parse(hash.trim())
                    .map_err(|_| "--token-hash is not a base64url SHA-256".to_owned())?,
                (None, true) => {
                    let mut token = String::new();
                    std::io::stdin()
                        .read_line(&mut token)
                        .map_err(|e| format!("reading the token: {e}"))?;
                    let token = token.trim_end_matches(['\r', '\n']);
                    if token.is_empty() {
                        return Err("no token on standard input".into());
                    }
                    TokenHash::of(token)
                }
                (None, false) => return Err("name --token-hash or --token-stdin".into()),
            };
            match store
                .revoke_token_by_hash(&tenant, &hash)
                .await
                .map_err(|e| fail(&e))?
            {
                Some(report) => println!(
                    "token {} of tenant {tenant} revoked with its grant: {} record(s) deleted",
                    hash.encoded(),
                    report.deleted
                ),
                None => return Err(format!("no token {} in tenant {tenant}", hash.encoded())),
            }
        }
        Command::ListTokens {
            tenant,
            client_id,
            subject,
            status,
            start,
            count,
            max_records,
        } => {
            use signoff_store::listing::{ListScope, ListStatus, TokenList};
            require_tenant(&store, &tenant).await?;
            let scope = match (&subject, &client_id) {
                (Some(subject), client_id) => ListScope::Subject {
                    subject,
                    client_id: client_id.as_deref(),
                },
                (None, Some(client_id)) => ListScope::Client(client_id),
                (None, None) => ListScope::Tenant,
            };
            let status = match status {
                ListedState::Valid => ListStatus::Usable,
                ListedState::Invalid => ListStatus::Unusable,
                ListedState::All => ListStatus::All,
            };
            let range = start..start.saturating_add(count);
            let page = match store
                .list_tokens(&tenant, scope, status, range, max_records)
                .await
                .map_err(|e| fail(&e))?
            {
                TokenList::Page(page) => page,
                TokenList::TooMany { limit } => {
                    return Err(format!(
                        "more than {limit} token records in scope: narrow it with --subject, \
                         or raise --max-records"
                    ))
                }
            };
            println!(
                "{} token(s) in scope; showing {} from position {start}",
                page.total,
                page.tokens.len()
            );
            for (record, state) in &page.tokens {
                println!(
                    "{}  {:?}  client={}  subject={}  issued_at={}  expires_at={}  state={state:?}",
                    record.hash.encoded(),
                    record.token_type,
                    record.client_id,
                    record.subject.as_deref().unwrap_or("-"),
                    record.issued_at,
                    record.expires_at,
                );
            }
        }
        Command::LogOutUser {
            tenant,
            subject,
            email,
            login_id,
        } => {
            use signoff_store::users::{AliasKind, UserRef};
            require_tenant(&store, &tenant).await?;
            let user = match (&subject, &email, &login_id) {
                (Some(subject), _, _) => UserRef::Subject(subject),
                (_, Some(email), _) => UserRef::Alias(AliasKind::Email, email),
                (_, _, Some(login_id)) => UserRef::Alias(AliasKind::LoginId, login_id),
                _ => return Err("name --subject, --email or --login-id".into()),
            };
            let Some(subject) = store
                .resolve_user(&tenant, user)
                .await
                .map_err(|e| fail(&e))?
            else {
                return Err(format!("no such user in tenant {tenant}"));
            };
            let handoff = purge_queue.map(|queue| signoff_queue::Handoff {
                queue,
                inline: std::time::Duration::from_secs(10),
            });
            let outcome =
                signoff_queue::log_user_out(&store, handoff.as_ref(), &tenant, &subject, None)
                    .await
                    .map_err(|e| fail(&e))?;
            println!(
                "every token of {subject} in tenant {tenant} is unusable; {} record(s) deleted",
                outcome.logout.report.deleted
            );
            if let Some(job) = outcome.purge {
                println!(
                    "purge {} deletes the rest: `signoff-admin purge-status --tenant {tenant} --job {} --watch`",
                    job.job_id, job.job_id
                );
            }
        }
        Command::SeedDemo {
            tokens,
            api_url,
            party_key_out,
        } => seed_demo(&store, tokens, &api_url, party_key_out.as_deref()).await?,
    }
    Ok(())
}

/// Signs a Global Token Revocation assertion with a trusted party's private key: no AWS
/// call, so it runs without AWS configuration (the demo prints it inside a curl).
fn sign_revocation_assertion(
    key: &Path,
    kid: Option<&str>,
    issuer: &str,
    subject: Option<&str>,
    audience: &str,
    expires_in: i64,
) -> Result<(), String> {
    if !(1..=300).contains(&expires_in) {
        return Err("--expires-in must be 1-300 seconds (Signoff refuses longer)".into());
    }
    let pem = read_text(key)?;
    let signing_key =
        SigningKey::from_pem(&pem, kid).map_err(|e| format!("{}: {e}", key.display()))?;
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(|e| e.to_string())?;
    let jti: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
    let claims = signoff_jose::assertion_claims(
        issuer,
        subject.unwrap_or(issuer),
        audience,
        &jti,
        signoff_store::now_epoch_seconds(),
        expires_in,
    );
    println!("{}", signing_key.sign(&claims));
    Ok(())
}

/// Public keys from a JWKS or JWK (JSON) or a PEM public key (given `kid`, or its
/// thumbprint). Private keys are refused.
fn parse_public_keys(text: &str, kid: Option<&str>) -> Result<Vec<Jwk>, String> {
    if text.trim_start().starts_with('{') {
        if kid.is_some() {
            return Err("--kid is for PEM keys: a JWK carries its own kid".into());
        }
        Jwk::parse_set(text).map_err(|e| e.to_string())
    } else {
        Jwk::from_pem(text, kid)
            .map(|k| vec![k])
            .map_err(|e| e.to_string())
    }
}

/// A text file's contents; an error names the file.
fn read_text(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes a private key readable by its owner only, never over an existing file.
fn write_private_key(path: &Path, pem: &str) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(pem.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn print_secret(what: &str, secret: &str) {
    println!("{what} (shown once; only its hash is stored):");
    println!("{secret}");
}

async fn seed_demo(
    store: &Store,
    tokens: usize,
    api_url: &str,
    party_key_out: Option<&Path>,
) -> Result<(), String> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .unwrap_or_default();
    let endpoints_ignored = std::env::var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    if !signoff_store::config::is_local_endpoint(&endpoint) || endpoints_ignored {
        return Err(
            "seed-demo stores a published demo credential, so it only runs against a local endpoint \
             (set AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000)"
                .into(),
        );
    }
    let bar = ProgressBar::new(tokens as u64).with_style(
        ProgressStyle::with_template("seeding {bar:30} {pos}/{len} tokens ({per_sec})")
            .expect("valid progress template"),
    );
    signoff_store::demo::seed(store, tokens, |done| bar.set_position(done as u64))
        .await
        .map_err(|e| e.to_string())?;
    signoff_store::demo::seed_retired_client(store)
        .await
        .map_err(|e| e.to_string())?;
    signoff_store::demo::seed_global_revocation(store)
        .await
        .map_err(|e| e.to_string())?;
    let lists =
        signoff_edge::status_list::StatusListSettings::from_env().map_err(|e| e.to_string())?;
    let status_entries = signoff_store::demo::seed_status_entries(store, lists.capacity)
        .await
        .map_err(|e| e.to_string())?;
    bar.finish();
    let service = signoff_store::demo::SERVICE_ID;
    let body = json!({ "sessionId": signoff_store::demo::SESSION_ID });
    println!(
        "demo service {service}: session {} holds {tokens} token(s)\n\
         log it out with:\n\n  curl -s -X POST {api_url}/api/{service}/nativesso/logout \\\n    \
         -H 'Authorization: Bearer {}' \\\n    -H 'Content-Type: application/json' \\\n    -d '{body}'\n",
        signoff_store::demo::SESSION_ID,
        signoff_store::demo::SERVICE_TOKEN,
    );
    println!(
        "the demo user signed in to a partner app ({partner}, {n} token(s)); list them (by \
         hash) and remove the app's access the Authlete way:\n\n  curl -s \\\n    \
         '{api_url}/api/{service}/auth/token/get/list?clientIdentifier={partner}&subject={user}' \\\n    \
         -H 'Authorization: Bearer {token}'\n\n  curl -s -X DELETE \\\n    \
         '{api_url}/api/{service}/client/authorization/delete/{partner}?subject={user}' \\\n    \
         -H 'Authorization: Bearer {token}'\n",
        partner = signoff_store::demo::PARTNER_CLIENT_ID,
        n = signoff_store::demo::PARTNER_TOKENS,
        user = signoff_store::demo::SUBJECT,
        token = signoff_store::demo::SERVICE_TOKEN,
    );
    let project = signoff_store::demo::PROJECT_ID;
    let [logout_jwt, logout_all_jwt] = signoff_store::demo::PROJECT_REFRESH_JWTS;
    println!(
        "demo project {project} (Descope-compatible): user {} has 2 sessions of {} token(s)\n\
         log the first session out with:\n\n  curl -s -X POST {api_url}/v1/auth/logout \\\n    \
         -H 'Authorization: Bearer {project}:{logout_jwt}'\n\n\
         log the user out everywhere with:\n\n  curl -s -X POST {api_url}/v1/auth/logoutall \\\n    \
         -H 'Authorization: Bearer {project}:{logout_all_jwt}'\n\n\
         its public keys: curl -s {api_url}/v2/keys/{project}\n\n\
         log the user out everywhere from a backend, with the project's management key:\n\n  \
         curl -s -X POST {api_url}/v1/mgmt/user/logout \\\n    \
         -H 'Authorization: Bearer {project}:{}' \\\n    \
         -H 'Content-Type: application/json' -d '{{\"loginId\":\"{}\"}}'\n",
        signoff_store::demo::PROJECT_USER,
        signoff_store::demo::PROJECT_ACCESS_TOKENS_PER_SESSION + 1,
        signoff_store::demo::PROJECT_MANAGEMENT_KEY,
        signoff_store::demo::PROJECT_USER_LOGIN_ID,
    );
    println!(
        "revoke the demo refresh token (and its grant) the NetIQ way with:\n\n  \
         curl -s -X POST {api_url}/nidp/oauth/nam/revoke \\\n    \
         -u '{}:{}' -d 'token={}'\n",
        signoff_store::demo::WEB_CLIENT_ID,
        signoff_store::demo::WEB_CLIENT_SECRET,
        signoff_store::demo::NETIQ_REFRESH_TOKEN,
    );
    println!(
        "ask, as the demo resource server, whether the demo access token is still good:\n\n  \
         curl -s -X POST {api_url}/oauth2/introspect \\\n    \
         -u '{rs}:{rs_secret}' -d 'token={token}'\n\n\
         (add -H 'Accept: application/token-introspection+jwt' for the signed answer; the keys\n\
         that verify it: curl -s {api_url}/.well-known/jwks.json)\n\
         or as a resource server built on Authlete's SDKs asks (action OK, then UNAUTHORIZED):\n\n  \
         curl -s -X POST {api_url}/api/{service}/auth/introspection \\\n    \
         -H 'Authorization: Bearer {service_token}' -H 'Content-Type: application/json' \\\n    \
         -d '{{\"token\":\"{token}\",\"scopes\":[\"{scope}\"]}}'\n\n\
         revoke it (RFC 7009), then ask again: {{\"active\":false}}\n\n  \
         curl -s -X POST {api_url}/oauth2/revoke \\\n    \
         -u '{web}:{web_secret}' -d 'token={token}'\n",
        rs = signoff_store::demo::RESOURCE_SERVER_ID,
        rs_secret = signoff_store::demo::RESOURCE_SERVER_SECRET,
        web = signoff_store::demo::WEB_CLIENT_ID,
        web_secret = signoff_store::demo::WEB_CLIENT_SECRET,
        token = signoff_store::demo::RFC7009_ACCESS_TOKEN,
        service = signoff_store::demo::SERVICE_ID,
        service_token = signoff_store::demo::SERVICE_TOKEN,
        scope = signoff_store::demo::RFC7009_ACCESS_TOKEN_SCOPE,
    );
    let entry = status_entries[0];
    let list_url = format!(
        "{api_url}/signoff/v1/tenants/{}/statuslists/{}",
        signoff_store::demo::SERVICE_ID,
        entry.list
    );
    println!(
        "resource servers that validate JWTs offline read the Token Status List instead: the demo\n\
         access token holds entry {idx} of list {list} (its JWT would carry\n\
         \"status\":{{\"status_list\":{{\"idx\":{idx},\"uri\":\"{list_url}\"}}}}). Fetch the signed list\n\
         (verify it with the JWKS) and read the entry's bit, 0 VALID, 1 INVALID:\n\n  \
         curl -s {list_url} | python3 -c 'import sys,json,base64,zlib; \\\n    \
         p=json.loads(base64.urlsafe_b64decode(sys.stdin.read().split(\".\")[1]+\"==\")); \\\n    \
         b=zlib.decompress(base64.urlsafe_b64decode(p[\"status_list\"][\"lst\"]+\"==\")); \\\n    \
         print(\"entry {idx}:\", b[{idx}//8]>>({idx}%8)&1)'\n\n\
         after the RFC 7009 revocation above it reads 1 once the list is rebuilt (every {ttl} s here)\n",
        idx = entry.index,
        list = entry.list,
        ttl = lists.ttl.as_secs(),
    );
    if let Some(key_path) = party_key_out {
        write_private_key(key_path, signoff_store::demo::TRUSTED_PARTY_PRIVATE_KEY_PEM)?;
        let endpoint = format!("{api_url}/oauth2/global-token-revocation");
        println!(
            "the demo identity provider ({issuer}) may log users of the demo service out\n\
             everywhere. Log out the departed employee ({tokens} tokens, 3 sessions) with a\n\
             Global Token Revocation request; each needs a freshly signed JWT (jti works once):\n\n  \
             curl -s -i -X POST {endpoint} \\\n    \
             -H \"Authorization: Bearer $(target/debug/signoff-admin sign-revocation-assertion \\\n      \
             --key {key} --kid {kid} --issuer {issuer} --audience {endpoint})\" \\\n    \
             -H 'Content-Type: application/json' \\\n    \
             -d '{{\"sub_id\":{{\"format\":\"email\",\"email\":\"{email}\"}}}}'\n\n\
             (HTTP 204; the endpoint's metadata: curl -s {api_url}/.well-known/oauth-authorization-server)\n",
            issuer = signoff_store::demo::TRUSTED_PARTY_ISSUER,
            tokens = signoff_store::demo::DEPARTED_TOKENS,
            key = key_path.display(),
            kid = signoff_store::demo::TRUSTED_PARTY_KEY_ID,
            email = signoff_store::demo::DEPARTED_EMAIL,
        );
    }
    let (host, port) = api_url
        .trim_start_matches("http://")
        .split_once(':')
        .unwrap_or(("127.0.0.1", "9000"));
    println!(
        "{} token record(s) expired an hour ago and wait for housekeeping; sweep them with:\n\n  \
         cargo lambda invoke housekeeping --invoke-address {host} --invoke-port {} \\\n    \
         --data-file events/housekeeping.json\n",
        signoff_store::demo::EXPIRED_TOKENS,
        port.trim_end_matches('/'),
    );
    Ok(())
}

/// An error and its sources, one line, for the operator.
fn fail(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    message
}

/// The purge job `job` of `tenant`, or a message saying there is none.
async fn find_purge(
    store: &Store,
    tenant: &str,
    job: &str,
) -> Result<signoff_store::purge::PurgeJob, String> {
    store
        .purge_job(tenant, job)
        .await
        .map_err(|e| fail(&e))?
        .ok_or_else(|| format!("no purge {job} in tenant {tenant} (jobs are kept 30 days)"))
}

/// A progress bar of `job`, redrawn every second until every shard is finished: records
/// deleted of those counted when it started, or for a client's purge (which cannot be
/// counted ahead, see `PurgeScope::countable`) shards finished.
async fn watch_purge(store: &Store, job: &signoff_store::purge::PurgeJob) -> Result<(), String> {
    let countable = job.scope.countable();
    let template = if countable {
        "purging {bar:30} {pos}/{len} records ({per_sec}, {elapsed}) {msg}"
    } else {
        "purging {bar:30} {pos}/{len} shards ({elapsed}) {msg}"
    };
    let bar = ProgressBar::new(0)
        .with_style(ProgressStyle::with_template(template).expect("valid progress template"));
    let mut estimated = job.estimated;
    loop {
        // The count is made by the purge's first message: re-read until it is there.
        if countable && estimated.is_none() {
            estimated = store
                .purge_job(&job.tenant, &job.job_id)
                .await
                .map_err(|e| fail(&e))?
                .and_then(|j| j.estimated);
        }
        let progress = store.purge_progress(job).await.map_err(|e| fail(&e))?;
        if countable {
            bar.set_length(estimated.unwrap_or(0).max(progress.deleted));
            bar.set_position(progress.deleted);
            bar.set_message(format!(
                "shards {}/{}",
                progress.shards_done, progress.shards
            ));
        } else {
            bar.set_length(u64::from(progress.shards));
            bar.set_position(u64::from(progress.shards_done));
            bar.set_message(format!("{} records deleted", progress.deleted));
        }
        if progress.is_done() {
            bar.finish();
            println!(
                "purge {} done: {} records deleted",
                job.job_id, progress.deleted
            );
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// Refuses a command for a tenant that does not exist (a typo must not write anything).
async fn require_tenant(store: &Store, tenant: &str) -> Result<(), String> {
    match store.get_tenant(tenant).await.map_err(|e| fail(&e))? {
        Some(_) => Ok(()),
        None => Err(format!("no tenant {tenant}: create it first")),
    }
}
