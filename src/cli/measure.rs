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
    let mut w = csv::Writer::from_path(&args.out)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    for r in &rows {
        w.serialize(r)?;
    }
    if rows.is_empty() {
        // keep the header so downstream readers see the columns
        w.write_record(lesion_header())?;
    }
    w.flush()?;
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

fn lesion_header() -> Vec<&'static str> {
    vec![
        "patient_id",
        "study_uid",
        "study_date",
        "source",
        "sop_instance_uid",
        "lesion_id",
        "label",
        "is_node",
        "organ",
        "long_axis_mm",
        "short_axis_mm",
        "slice_position_mm",
        "n_components",
        "la_x1",
        "la_y1",
        "la_z1",
        "la_x2",
        "la_y2",
        "la_z2",
        "slice_thickness_mm",
        "sa_x1",
        "sa_y1",
        "sa_z1",
        "sa_x2",
        "sa_y2",
        "sa_z2",
        "referenced_series_uid",
        "path",
    ]
}
