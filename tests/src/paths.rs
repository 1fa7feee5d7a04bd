//! Where the tests find the workspace, the built function binaries and the Python clients.

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

/// Where cargo put the running test's binaries: `target/<profile>/deps/<test>`, so the
/// function binaries of the same profile are two levels up.
pub fn binaries_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_owned()
}

/// The venv python with the pinned client libraries (`tests/clients/requirements.txt`).
pub fn test_python() -> String {
    std::env::var("SIGNOFF_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "SIGNOFF_TEST_PYTHON is not set: run the suite with scripts/test, which installs the Python clients"
        )
    })
}

/// Runs the Python client `tests/clients/<script>` with `request` as JSON on stdin (so no
/// secret or token appears in a process listing) and returns the JSON it prints. authlib's
/// check for plain HTTP is off: the local gateway has no TLS.
pub async fn run_client_script(script: &str, request: &serde_json::Value) -> serde_json::Value {
    let path = workspace().join("tests/clients").join(script);
    run_client(&test_python(), &path, request).await
}

/// [`run_client_script`] for a Node client under `tests/clients/node` (its modules installed
/// by `scripts/test` with `npm ci`).
pub async fn run_node_client(script: &str, request: &serde_json::Value) -> serde_json::Value {
    let dir = workspace().join("tests/clients/node");
    assert!(
        dir.join("node_modules").is_dir(),
        "tests/clients/node/node_modules is missing: run the suite with scripts/test, which installs the Node clients"
    );
    run_client("node", &dir.join(script), request).await
}

/// Runs `program script`, writes `request` to its stdin, and reads its JSON report.
async fn run_client(
    program: &str,
    path: &std::path::Path,
    request: &serde_json::Value,
) -> serde_json::Value {
    use tokio::io::AsyncWriteExt;
    let script = path.display();
    let mut child = tokio::process::Command::new(program)
        .arg(path)
        .env("AUTHLIB_INSECURE_TRANSPORT", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin
        .write_all(request.to_string().as_bytes())
        .await
        .expect("request written");
    drop(stdin);
    let output = child.wait_with_output().await.expect("the script finishes");
    assert!(
        output.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}

/// Starts the workspace binary `binary` (a local stand-in such as a queue or stream
/// runner) with `args` and `env`, its output discarded; it stops when the handle drops.
pub fn spawn_binary(
    binary: &str,
    args: &[&str],
    env: &[(String, String)],
) -> tokio::process::Child {
    let path = binaries_dir().join(binary);
    tokio::process::Command::new(&path)
        .args(args)
        .envs(env.iter().cloned())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {} (run `cargo build --workspace --bins` first): {e}",
                path.display()
            )
        })
}
