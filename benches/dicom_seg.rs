//! Benchmark (not a test): decode every SEG of an export into per-segment masks, as
//! `oncometry measure` does before measuring. Run through bench/dicom/run.sh, which times the
//! highdicom peer on the same files in the same run.
//!
//! `cargo bench --bench dicom_seg -- EXPORT_DIR [--jobs N]` prints one JSON line.

use std::path::PathBuf;
use std::time::Instant;

use oncometry::dicom::index::AnnotationKind;
use oncometry::dicom::open::open_full;
use oncometry::dicom::seg::{SegOptions, read_seg};
use oncometry::pipeline::measure_stage::index_export;
use rayon::prelude::*;

fn main() {
    let mut dir = None;
    let mut jobs = 0usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--jobs" => jobs = args.next().and_then(|j| j.parse().ok()).unwrap_or(0),
            "--bench" => {}
            other => dir = Some(PathBuf::from(other)),
        }
    }
    let Some(dir) = dir else {
        eprintln!("usage: dicom_seg EXPORT_DIR [--jobs N]");
        std::process::exit(2);
    };
    let t0 = Instant::now();
    let idx = match index_export(&dir, jobs) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(3);
        }
    };
    let index_s = t0.elapsed().as_secs_f64();
    let segs: Vec<_> = idx
        .annotations
        .iter()
        .filter(|a| a.kind == AnnotationKind::Seg)
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .expect("thread pool");
    let t1 = Instant::now();
    let (voxels, failed): (usize, usize) = pool.install(|| {
        segs.par_iter()
            .map(|a| {
                let opened = match open_full(&dir.join(&a.path), &a.path) {
                    Ok(o) => o,
                    Err(_) => return (0, 1),
                };
                match read_seg(&opened.obj, &a.path, &SegOptions::default()) {
                    Ok(seg) => (
                        seg.segments
                            .iter()
                            .flat_map(|s| &s.lesion.slices)
                            .map(|sl| sl.mask.iter().filter(|&&v| v != 0).count())
                            .sum(),
                        0,
                    ),
                    Err(_) => (0, 1),
                }
            })
            .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    let seg_s = t1.elapsed().as_secs_f64();
    println!(
        "{{\"files_seen\": {}, \"index_s\": {index_s:.4}, \"n_seg\": {}, \"seg_decode_s\": {seg_s:.4}, \"foreground_voxels\": {voxels}, \"failed\": {failed}, \"jobs\": {jobs}}}",
        idx.files_seen,
        segs.len()
    );
}
