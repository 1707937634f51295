//! `oncometry index` (shared/interface.md §1): walk an export, print the index JSON.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::{EXIT_OK, EXIT_PARTIAL, usage};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The export folder (searched recursively; files with or without `.dcm`, DICOMDIR).
    pub export_dir: PathBuf,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !args.export_dir.is_dir() {
        return Err(usage(format!(
            "{}: no such directory",
            args.export_dir.display()
        )));
    }
    let idx = oncometry::pipeline::measure_stage::index_export(&args.export_dir, args.jobs)
        .with_context(|| format!("indexing {}", args.export_dir.display()))?;
    for q in &idx.quarantined {
        eprintln!("quarantined: {}: {}", q.path, q.reason);
    }
    for w in &idx.warnings {
        eprintln!("warning: {}: {}", w.path, w.reason);
    }
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &idx)?;
    writeln!(out)?;
    out.flush()?;
    Ok(ExitCode::from(if idx.quarantined.is_empty() {
        EXIT_OK
    } else {
        EXIT_PARTIAL
    }))
}
