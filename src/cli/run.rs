//! `oncometry run` (shared/interface.md §5): the whole pipeline on one export.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use super::{EXIT_LOCKED, EXIT_OK, EXIT_PARTIAL, usage};
use oncometry::pipeline::config::Config;
use oncometry::pipeline::lock::LockError;
use oncometry::pipeline::merge::response_config;
use oncometry::pipeline::run::{RunError, RunOptions, run as run_pipeline};
use oncometry::pipeline::runlog::RunLog;
use oncometry::pipeline::shard::Shard;
use oncometry::pipeline::signals::StopFlag;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The export folder (read only: nothing is ever written inside it).
    pub export_dir: PathBuf,
    /// Clinical outcomes, one row per patient (default columns
    /// patient_id,dfs_time,dfs_event,os_time,os_event; other columns are carried through).
    #[arg(long)]
    pub clinical: PathBuf,
    /// Output folder (created; locked while the run lasts).
    #[arg(long)]
    pub out: PathBuf,
    /// oncometry.toml with [run], [measure], [response], [clinical], [survival] tables.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Worker threads measuring studies and drawing key images (default: one per core).
    /// Storing their results and writing the report run beside them on two more threads,
    /// mostly waiting for the disk.
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,
    /// Process only the patients of shard I of N (`I/N`, `auto` for Slurm arrays,
    /// `auto/N` for Kubernetes Indexed Jobs); combine the folders with `oncometry merge`.
    #[arg(long)]
    pub shard: Option<String>,
    /// Forget the manifest and recompute everything.
    #[arg(long)]
    pub full: bool,
    /// No key images (as `[run] images = false`): no PNGs, none in the report.
    #[arg(long)]
    pub no_images: bool,
    /// Minutes a study must have been quiet before it is processed (default from the
    /// config, 10): studies still arriving from the PACS wait for the next run.
    #[arg(long)]
    pub stable_age: Option<f64>,
    /// Name patients in run.jsonl by a stable pseudonym instead of their id.
    #[arg(long)]
    pub pseudonymize: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !args.export_dir.is_dir() {
        return Err(usage(format!(
            "{}: no such directory",
            args.export_dir.display()
        )));
    }
    if !args.clinical.is_file() {
        return Err(usage(format!("{}: no such file", args.clinical.display())));
    }
    let config_text = match &args.config {
        Some(p) => {
            std::fs::read_to_string(p).map_err(|e| usage(format!("{}: {e}", p.display())))?
        }
        None => String::new(),
    };
    let mut config = Config::parse(&config_text).map_err(|e| usage(format!("config: {e}")))?;
    if args.no_images {
        config.run.images = false;
    }
    config
        .measure
        .point_set()
        .map_err(|e| usage(format!("config [measure]: {e}")))?;
    let base = args
        .config
        .as_ref()
        .and_then(|p| p.parent().map(|d| d.to_path_buf()))
        .unwrap_or_default();
    let response = response_config(&config, &base).map_err(|e| usage(format!("config: {e}")))?;
    let shard = match &args.shard {
        None => Shard::all(),
        Some(s) => Shard::parse_with_env(s, |k: &str| std::env::var(k).ok())
            .map_err(|e| usage(format!("--shard: {e}")))?,
    };
    let minutes = args.stable_age.unwrap_or(config.run.stable_age_minutes);
    if !(minutes.is_finite() && minutes >= 0.0) {
        return Err(usage(
            "--stable-age must be a non-negative number of minutes",
        ));
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let log = RunLog::open(Some(&args.out.join("run.jsonl")))
        .with_context(|| format!("cannot open {}", args.out.join("run.jsonl").display()))?
        .with_pseudonyms(args.pseudonymize);
    let stop = StopFlag::install().context("cannot install signal handlers")?;
    let opts = RunOptions {
        export: args.export_dir,
        clinical: args.clinical,
        out: args.out.clone(),
        config,
        config_text,
        response,
        jobs: if args.jobs == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            args.jobs
        },
        shard,
        full: args.full,
        stable_age: Duration::from_secs_f64(minutes * 60.0),
        quiet: args.quiet,
    };
    let outcome = match run_pipeline(&opts, &stop, &log) {
        Ok(o) => o,
        Err(RunError::Locked(e @ LockError::Held { .. })) => {
            eprintln!("oncometry: {e}");
            return Ok(ExitCode::from(EXIT_LOCKED));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(sig) = outcome.interrupted {
        eprintln!(
            "oncometry: stopped by {}; the next run finishes the work",
            sig.name()
        );
        return Ok(ExitCode::from(sig.exit_code()));
    }
    let c = outcome.cohort.as_ref();
    eprintln!(
        "oncometry run: {} files, {} quarantined; {} studies measured, {} reused, {} still arriving; {} lesions; {} patients ({} evaluable); report: {}",
        outcome.files_seen,
        outcome.quarantined,
        outcome.studies_measured,
        outcome.studies_reused,
        outcome.studies_waiting,
        outcome.lesions,
        c.map_or(0, |c| c.patients),
        c.map_or(0, |c| c.evaluable),
        args.out.join("report.html").display()
    );
    Ok(ExitCode::from(if outcome.is_partial() {
        EXIT_PARTIAL
    } else {
        EXIT_OK
    }))
}
