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
