//! `oncometry response` (shared/interface.md §3).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{EXIT_FATAL, EXIT_OK, EXIT_PARTIAL, usage};
use oncometry::response::{self, Config, ReadError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Lesions table (CSV): at least patient_id,study_date,lesion_id,is_node,organ,
    /// long_axis_mm,short_axis_mm; optional slice_thickness_mm, role, state. The
    /// lesions.csv of `oncometry measure` is accepted as is.
    pub lesions: PathBuf,
    /// Output folder for timepoints.csv and patients.csv (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Project config; its [response] table sets the thresholds (default: RECIST 1.1).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = match &args.config {
        None => Config::default(),
        Some(p) => {
            if !p.is_file() {
                return Err(usage(format!("config file not found: {}", p.display())));
            }
            Config::load(p).map_err(|e| usage(e.to_string()))?
        }
    };
    if !args.lesions.is_file() {
        return Err(usage(format!(
            "lesions table not found (or not a file): {}",
            args.lesions.display()
        )));
    }
    let file = std::fs::File::open(&args.lesions).map_err(|e| {
        usage(format!(
            "cannot open lesions table {}: {e}",
            args.lesions.display()
        ))
    })?;
    let lesions = match response::read_lesions(std::io::BufReader::new(file)) {
        Ok(l) => l,
        Err(e @ (ReadError::MissingColumn { .. } | ReadError::DuplicateColumn { .. })) => {
            return Err(usage(format!("{}: {e}", args.lesions.display())));
        }
        Err(e) => return Err(e).with_context(|| args.lesions.display().to_string()),
    };
    let res = response::evaluate(&lesions, &cfg).map_err(|e| usage(e.to_string()))?;
    response::write_dir(&args.out, &res)?;

    let n = res.patients.len();
    let bad = res.n_not_evaluable();
    for p in res.patients.iter().filter(|p| !p.evaluable) {
        eprintln!("oncometry response: not evaluable: {}", p.reason);
    }
    eprintln!(
        "oncometry response: {n} patients, {} evaluable, {} timepoints → {}",
        n - bad,
        res.timepoints.len(),
        args.out.display()
    );
    Ok(ExitCode::from(if n == 0 || bad == n {
        EXIT_FATAL
    } else if bad > 0 {
        EXIT_PARTIAL
    } else {
        EXIT_OK
    }))
}
