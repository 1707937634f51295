//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The project root (where Cargo.toml and fixtures/ live).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path under fixtures/.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("fixtures").join(rel)
}

/// The built `oncometry` binary, ready to run.
pub fn oncometry() -> Command {
    Command::new(env!("CARGO_BIN_EXE_oncometry"))
}
