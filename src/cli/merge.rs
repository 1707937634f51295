//! `oncometry merge` (shared/interface.md).

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    Err(anyhow::anyhow!("`oncometry merge` is not implemented yet"))
}
