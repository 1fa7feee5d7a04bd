//! The background purge behind a cutoff, with every part real: the embedded emulator over
//! HTTP, moto's SQS server with a dead-letter queue, the `purge` function binary under the
//! local Runtime API, `signoff-queue-runner` feeding it as Lambda's event source mapping
//! would, and `signoff-admin` starting the purge and reading its progress.

use std::time::{Duration, Instant};

use signoff_store::cutoffs::Cutoff;
use signoff_store::model::{TokenRecord, TokenType};
use signoff_store::purge::{PurgeJob, PurgeProgress};
use signoff_tests::admin::run_admin;
use signoff_tests::db::TestDb;
use signoff_tests::gateway::Gateway;
use signoff_tests::paths::binaries_dir;
use signoff_tests::queue::TestQueue;
use signoff_tests::seed;

const TENANT: &str = "715948317";
const OTHER_TENANT: &str = "715948318";

/// `count` tokens of `client_id` in `tenant`, for 7 subjects, issued at `issued_at`.
fn tokens(
    tenant: &str,
    client_id: &str,
    prefix: &str,
    count: usize,
    issued_at: i64,
) -> Vec<TokenRecord> {
    (0..count)
        .map(|i| TokenRecord {
            subject: Some(format!("user-{}", i % 7)),
            issued_at,
            ..seed::token(
                tenant,
                &format!("{prefix}-{i}"),
                TokenType::Access,
                client_id,
            )
        })
        .collect()
}

/// Runs `signoff-admin` with `args` against `db` and `queue`: (success, stdout, stderr).
async fn admin(db: &TestDb, queue: &TestQueue, args: &[&str]) -> (bool, String, String) {
    let run = run_admin(db, args, &queue.env()).await;
    (run.ok, run.stdout, run.stderr)
}

async fn wait_for(
    db: &TestDb,
    job: &PurgeJob,
    gateway: &Gateway,
    until: impl Fn(&PurgeProgress) -> bool,
) -> PurgeProgress {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let progress = db.store.purge_progress(job).await.expect("progress");
        if until(&progress) {
            return progress;
        }
        assert!(
            Instant::now() < deadline,
            "the purge did not get there: {progress:?}\n{}",
            gateway.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn stored(db: &TestDb, tenant: &str, prefix: &str, count: usize) -> usize {
    let mut n = 0;
    for i in 0..count {
        n += usize::from(seed::token_stored(&db.store, tenant, &format!("{prefix}-{i}")).await);
    }
    n
}

#[tokio::test]
async fn a_client_cutoff_purges_its_records_in_the_background_and_spares_everything_else() {
    let db = TestDb::start().await;
    let queue = TestQueue::start(2, 5).await;
    seed::tenant(&db.store, TENANT, None).await;
    seed::tenant(&db.store, OTHER_TENANT, None).await;
    seed::client(&db.store, TENANT, "web", true).await.unwrap();
    let now = signoff_store::now_epoch_seconds();
    let mut records = tokens(TENANT, "web", "web", 300, now - 60);
    records.extend(tokens(TENANT, "cli", "cli", 20, now - 60));
    records.extend(tokens(OTHER_TENANT, "web", "other-web", 20, now - 60));
    seed::register(&db.store, records).await;

    let (ok, out, err) = admin(
        &db,
        &queue,
        &["cut-off", "--tenant", TENANT, "--client-id", "web"],
    )
    .await;
    assert!(ok, "{out}{err}");
    let job_id = out
        .split_whitespace()
        .skip_while(|w| *w != "purge")
        .nth(1)
        .unwrap_or_else(|| panic!("the admin tool names the job: {out}"))
        .to_owned();
    let job = db
        .store
        .purge_job(TENANT, &job_id)
        .await
        .unwrap()
        .expect("the job is recorded");
    assert_eq!(job.scope.describe(), "client \"web\"");

    // Registered after the cutoff: the cutoff spares them and so must the purge.
    seed::register(
        &db.store,
        tokens(TENANT, "web", "later", 10, job.cutoff + 1),
    )
    .await;

    // The smallest page (25 keys) and one page per invocation: the margin is the whole
    // 30 s deadline.
    let (gateway, _runner) = queue.purge_worker(&db, 25, 30_000).await;
    let progress = wait_for(&db, &job, &gateway, PurgeProgress::is_done).await;

    assert_eq!(
        stored(&db, TENANT, "web", 300).await,
        0,
        "every covered record is gone"
    );
    assert_eq!(
        stored(&db, TENANT, "later", 10).await,
        10,
        "later tokens stay"
    );
    assert_eq!(
        stored(&db, TENANT, "cli", 20).await,
        20,
        "another client's stay"
    );
    assert_eq!(
        stored(&db, OTHER_TENANT, "other-web", 20).await,
        20,
        "another tenant's stay"
    );
    assert_eq!(
        (progress.matched, progress.deleted),
        (300, 300),
        "{progress:?}"
    );
    let job = db.store.purge_job(TENANT, &job_id).await.unwrap().unwrap();
    assert_eq!(
        job.estimated, None,
        "a client's purge is measured in shards"
    );

    let (ok, out, err) = admin(
        &db,
        &queue,
        &["purge-status", "--tenant", TENANT, "--job", &job_id],
    )
    .await;
    assert!(ok, "{out}{err}");
    let status: serde_json::Value = serde_json::from_str(&out).expect("JSON status");
    assert_eq!(status["state"], "done");
    assert_eq!(status["deleted"], 300);
    assert_eq!(status["shardsDone"], 64);

    // The queue drains, and nothing went to the dead-letter queue.
    let deadline = Instant::now() + Duration::from_secs(10);
    while queue.depth(&queue.queue_url).await > 0 {
        assert!(Instant::now() < deadline, "messages stay queued");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(queue.depth(&queue.dead_letter_url).await, 0);

    // Another tenant cannot read the job.
    let (ok, _, err) = admin(
        &db,
        &queue,
        &["purge-status", "--tenant", OTHER_TENANT, "--job", &job_id],
    )
    .await;
    assert!(!ok && err.contains("no purge"), "{err}");
}

#[tokio::test]
async fn a_purge_killed_midway_resumes_where_it_stopped_and_counts_nothing_twice() {
    let db = TestDb::start().await;
    let queue = TestQueue::start(2, 10).await;
    seed::tenant(&db.store, TENANT, None).await;
    let now = signoff_store::now_epoch_seconds();
    seed::register(&db.store, tokens(TENANT, "web", "web", 3_000, now - 60)).await;
    let cutoff = db.store.write_cutoff(TENANT, Cutoff::Tenant).await.unwrap();
    seed::register(&db.store, tokens(TENANT, "web", "later", 10, cutoff + 1)).await;
    let job = db
        .store
        .create_purge(TENANT, Cutoff::Tenant, cutoff)
        .await
        .unwrap();
    queue.purge_queue().await.start(&job).await.expect("queued");

    // 25 keys a page, one page per invocation, so each shard of about 47 keys goes on in a
    // second message: kill the function and its poller midway.
    let (gateway, runner) = queue.purge_worker(&db, 25, 30_000).await;
    let midway = wait_for(&db, &job, &gateway, |p| p.deleted >= 1_000).await;
    drop(runner);
    gateway.shutdown().await;
    assert!(!midway.is_done(), "{midway:?}");
    let remaining = stored(&db, TENANT, "web", 3_000).await;
    assert!(remaining > 0, "the kill came before the end");

    // A new function and poller: the messages in flight come back after their visibility
    // timeout and every shard resumes from its last checkpoint.
    let (gateway, _runner) = queue.purge_worker(&db, 25, 30_000).await;
    let done = wait_for(&db, &job, &gateway, PurgeProgress::is_done).await;
    assert_eq!(stored(&db, TENANT, "web", 3_000).await, 0, "{done:?}");
    let job = db
        .store
        .purge_job(TENANT, &job.job_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        job.estimated,
        Some(3_010),
        "the count includes the later tokens' entries"
    );
    assert!(
        done.pages > 64,
        "shards went on over several messages: {done:?}"
    );
    assert_eq!(stored(&db, TENANT, "later", 10).await, 10);
    // Nothing counted twice: a page deleted before the kill but not checkpointed is read
    // again and finds its records gone; the count never exceeds what there was.
    assert!(
        done.deleted <= 3_000 && done.deleted == done.matched,
        "{done:?}"
    );
    // The function runs one invocation at a time: at most one page was cut short.
    assert!(done.deleted >= 3_000 - 25, "{done:?}");
    assert_eq!(queue.depth(&queue.dead_letter_url).await, 0);
}

#[tokio::test]
async fn descope_logout_all_answers_at_once_and_the_purge_deletes_the_rest_of_the_users_tokens() {
    use signoff_jose::{Algorithm, SigningKey};
    use signoff_store::project_keys::RefreshTokenSpec;
    use signoff_store::purge::PurgeScope;
    use signoff_store::revocation::TokenState;
    const PROJECT: &str = "P2purge";
    let db = TestDb::start().await;
    let queue = TestQueue::start(2, 5).await;
    seed::tenant(&db.store, PROJECT, None).await;
    let key = SigningKey::generate(Algorithm::Es256, None).unwrap();
    db.store
        .add_project_keys(PROJECT, &[key.public_jwk()])
        .await
        .unwrap();
    // 3,000 tokens of the user in three sessions, and another user's.
    let user = signoff_store::demo::SUBJECT;
    for s in 0..3 {
        seed::session_tokens(
            &db.store,
            PROJECT,
            &format!("s{s}"),
            1_000,
            &format!("u{s}"),
        )
        .await;
    }
    seed::register(
        &db.store,
        tokens(
            PROJECT,
            "web",
            "bystander",
            20,
            signoff_store::now_epoch_seconds(),
        ),
    )
    .await;
    let now = signoff_store::now_epoch_seconds();
    let jwt = db
        .store
        .mint_refresh_jwt(
            &key,
            &RefreshTokenSpec {
                project: PROJECT.into(),
                subject: user.into(),
                dsub: None,
                session_id: Some("s0".into()),
                grant_id: None,
                client_id: "web".into(),
                issuer: None,
                issued_at: now,
                expires_at: now + 3600,
            },
        )
        .await
        .unwrap();

    // No time to delete inline: everything past the first index page is the purge's.
    let mut env = db.function_env();
    env.extend(queue.env());
    env.push(("SIGNOFF_INLINE_DELETE_MS".into(), "0".into()));
    env.push(("SIGNOFF_QUERY_PAGE_SIZE".into(), "100".into()));
    let routes = signoff_tests::gateway::router_table()
        .iter()
        .filter(|r| r.function == "descope-auth")
        .cloned()
        .collect();
    let gateway = Gateway::start_with_unrouted(routes, &["purge"], &binaries_dir(), &env)
        .await
        .expect("the functions start");
    let response = reqwest::Client::new()
        .post(format!("{}/v1/auth/logoutall", gateway.base_url()))
        .header("Authorization", format!("Bearer {PROJECT}:{jwt}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", gateway.logs());

    // Every token of the user is unusable now, deleted or not.
    let now = signoff_store::now_epoch_seconds();
    for value in ["u0-0", "u1-500", "u2-999"] {
        let state = db
            .store
            .lookup_token(PROJECT, &signoff_store::item_key::TokenHash::of(value), now)
            .await
            .unwrap()
            .map(|(_, state)| state);
        assert!(
            matches!(state, None | Some(TokenState::UserLoggedOut)),
            "{value}: {state:?}"
        );
    }
    let marker = db
        .store
        .client()
        .get_item()
        .table_name(db.store.table_name())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(signoff_store::item_key::user_pk(
                PROJECT, user,
            )),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the user's marker");
    let revoked_at: i64 = marker["revoked_at"].as_n().unwrap().parse().unwrap();
    let scope = PurgeScope::User {
        subject: user.into(),
    };
    let job_id = PurgeJob::new(PROJECT, scope, revoked_at, 0).job_id;
    let job = db
        .store
        .purge_job(PROJECT, &job_id)
        .await
        .unwrap()
        .expect("logout-all started a purge");
    assert!(
        stored(&db, PROJECT, "u0", 1_000).await > 0 || stored(&db, PROJECT, "u2", 1_000).await > 0,
        "records were left for the purge"
    );

    // The user signs in again after the logout: that token stays.
    seed::register(
        &db.store,
        tokens(PROJECT, "web", "again", 1, revoked_at + 1)
            .into_iter()
            .map(|r| TokenRecord {
                subject: Some(user.into()),
                ..r
            })
            .collect(),
    )
    .await;

    let _runner = queue.run("purge", &gateway.invoke_url());
    let done = wait_for(&db, &job, &gateway, PurgeProgress::is_done).await;
    for prefix in ["u0", "u1", "u2"] {
        assert_eq!(
            stored(&db, PROJECT, prefix, 1_000).await,
            0,
            "{prefix}: {done:?}"
        );
    }
    assert_eq!(
        stored(&db, PROJECT, "again", 1).await,
        1,
        "signed in after the logout"
    );
    assert_eq!(
        stored(&db, PROJECT, "bystander", 20).await,
        20,
        "another user's stay"
    );
    assert!(done.deleted > 0 && done.deleted <= 3_000, "{done:?}");
}
