//! `oncometry merge DIR1 DIR2 ... --out DIR`: combine the folders of `run --shard I/N` into
//! the single-run result (statistics recomputed on the merged tables).

use std::path::PathBuf;
use std::process::ExitCode;

use super::{EXIT_LOCKED, EXIT_OK, EXIT_PARTIAL, usage};
use oncometry::pipeline::lock::LockError;
use oncometry::pipeline::merge::merge;
use oncometry::pipeline::run::RunError;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output folders of `oncometry run --shard I/N`, one per shard.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Where the merged outputs go.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    for s in &args.shards {
        if !s.join("lesions.csv").is_file() {
            return Err(usage(format!(
                "{}: not an `oncometry run` output folder (no lesions.csv)",
                s.display()
            )));
        }
    }
    let summary = match merge(&args.shards, &args.out) {
        Ok(s) => s,
        Err(RunError::Locked(e @ LockError::Held { .. })) => {
            eprintln!("oncometry: {e}");
            return Ok(ExitCode::from(EXIT_LOCKED));
        }
        Err(e) => return Err(e.into()),
    };
    eprintln!(
        "oncometry merge: {} shard folders; {} patients ({} evaluable); report: {}",
        args.shards.len(),
        summary.patients,
        summary.evaluable,
        args.out.join("report.html").display()
    );
    let partial = !summary.not_evaluable.is_empty()
        || !summary.only_clinical.is_empty()
        || !summary.only_images.is_empty();
    Ok(ExitCode::from(if partial { EXIT_PARTIAL } else { EXIT_OK }))
}
