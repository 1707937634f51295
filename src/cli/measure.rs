//! `oncometry measure` (shared/interface.md §2): index, read every annotation, measure,
//! write lesions.csv.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use oncometry::dicom::seg::SegOptions;
use oncometry::measure::{MeasureOptions, PointSet};
use oncometry::pipeline::measure_stage::{index_export, measure_export_with};

use super::{EXIT_FATAL, EXIT_OK, EXIT_PARTIAL, usage};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PointSetArg {
    Edges,
    Centers,
    Corners,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The export folder.
    pub export_dir: PathBuf,
    /// Output CSV (one row per lesion per annotation object).
    #[arg(long)]
    pub out: PathBuf,
    /// Which boundary points of a mask are measured.
    #[arg(long, value_enum, default_value = "edges")]
    pub point_set: PointSetArg,
    /// Fractional SEG: inside when value ≥ this fraction of MaximumFractionalValue.
    #[arg(long, default_value_t = 0.5)]
    pub fractional_threshold: f64,
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
    if !(args.fractional_threshold > 0.0 && args.fractional_threshold <= 1.0) {
        return Err(usage("--fractional-threshold must be in (0, 1]"));
    }
    let idx = index_export(&args.export_dir, args.jobs)
        .with_context(|| format!("indexing {}", args.export_dir.display()))?;
    let opts = MeasureOptions {
        point_set: match args.point_set {
            PointSetArg::Edges => PointSet::Edges,
            PointSetArg::Centers => PointSet::Centers,
            PointSetArg::Corners => PointSet::Corners,
        },
        ..MeasureOptions::default()
    };
    let seg_opts = SegOptions {
        fractional_threshold: args.fractional_threshold,
    };
    let (rows, failed) = measure_export_with(&args.export_dir, &idx, &opts, &seg_opts, args.jobs)?;
    for q in idx.quarantined.iter().chain(&failed) {
        eprintln!("quarantined: {}: {}", q.path, q.reason);
    }
    for w in &idx.warnings {
        eprintln!("warning: {}: {}", w.path, w.reason);
    }
    // Same text as `run`'s lesions.csv (header kept for an empty table), written atomically.
    let text = oncometry::report::csv_string(
        "lesions.csv",
        oncometry::report::writers::LESIONS_HEADER,
        &rows,
    )?;
    oncometry::pipeline::atomic::write_atomic(&args.out, text.as_bytes())
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!(
        "measured {} lesion(s) from {} annotation object(s); {} problem(s)",
        rows.len(),
        idx.annotations.len(),
        idx.quarantined.len() + failed.len()
    );
    let code = if rows.is_empty() && !idx.annotations.is_empty() {
        EXIT_FATAL
    } else if idx.quarantined.is_empty() && failed.is_empty() {
        EXIT_OK
    } else {
        EXIT_PARTIAL
    };
    Ok(ExitCode::from(code))
}
