//! Long-axis speed vs the numpy reference (`ref_edge`, which equals pyradiomics'
//! Maximum2DDiameterSlice) and vs pyradiomics itself on the anchor's 7 ellipsoids, plus
//! throughput on many lesions. Run through `bench/diameter/run.sh`, which writes the masks
//! and the Python timings first (`masks.py` the masks and ref_edge times, then
//! `pyradiomics_time.py` the pyradiomics times and values, all in `DIR/cases.json`):
//!
//!     cargo bench --bench diameter -- DIR      # DIR from `masks.py bench DIR`

use std::time::{Duration, Instant};

use oncometry::measure::*;
use serde_json::Value;

fn load(dir: &str) -> (Value, Vec<(Value, MaskLesion)>) {
    let doc: Value = serde_json::from_slice(
        &std::fs::read(format!("{dir}/cases.json")).expect("cases.json (run masks.py bench DIR)"),
    )
    .expect("cases.json is JSON");
    let blob = std::fs::read(format!("{dir}/masks.bin")).expect("masks.bin");
    let mut out = vec![];
    for c in doc["cases"].as_array().expect("cases") {
        let dims: Vec<usize> = c["shape"]
            .as_array()
            .expect("shape")
            .iter()
            .map(|x| x.as_u64().expect("dim") as usize)
            .collect();
        let sp: Vec<f64> = c["spacing"]
            .as_array()
            .expect("spacing")
            .iter()
            .map(|x| x.as_f64().expect("spacing"))
            .collect();
        let off = c["offset"].as_u64().expect("offset") as usize;
        let (nz, ny, nx) = (dims[0], dims[1], dims[2]);
        let slices = (0..nz)
            .map(|z| {
                let mask = (0..ny * nx)
                    .map(|i| {
                        let k = z * ny * nx + i;
                        blob[off + k / 8] >> (k % 8) & 1
                    })
                    .collect();
                MaskSlice {
                    grid: PlaneGrid {
                        origin: [0.0, 0.0, z as f64 * sp[2]],
                        row_dir: [1.0, 0.0, 0.0],
                        col_dir: [0.0, 1.0, 0.0],
                        spacing: [sp[1], sp[0]],
                        rows: ny,
                        cols: nx,
                    },
                    mask,
                }
            })
            .collect();
        out.push((c.clone(), MaskLesion { slices }));
    }
    (doc, out)
}

/// Writes `x` with `prec` decimals, or "—" when the value was not measured in this run.
fn opt(x: Option<f64>, prec: usize) -> String {
    x.map_or_else(|| "—".to_string(), |v| format!("{v:.prec$}"))
}

/// Minimum time per call over repeated batches (at least 5, about 0.3 s in all). A batch
/// runs for ≥ 50 µs, so that reading the clock (tens of ns on this VM, more under load) is
/// not counted into a call of about 1 µs, as timing single calls did.
fn time_min(mut f: impl FnMut()) -> Duration {
    f();
    let t = Instant::now();
    f();
    let one = t.elapsed().max(Duration::from_nanos(1));
    let batch = (Duration::from_micros(50).as_nanos() / one.as_nanos()).clamp(1, 10_000) as u32;
    let mut best = Duration::MAX;
    let start = Instant::now();
    let mut n = 0;
    while n < 5 || (start.elapsed() < Duration::from_millis(300) && n < 10_000) {
        let t = Instant::now();
        for _ in 0..batch {
            f();
        }
        best = best.min(t.elapsed() / batch);
        n += 1;
    }
    best
}

fn main() {
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .unwrap_or_else(|| {
            format!(
                "{}/oncometry-bench-diameter",
                std::env::temp_dir().display()
            )
        });
    let (doc, cases) = load(&dir);
    let opts = MeasureOptions::default();
    if let Ok(k) = std::env::var("DIAMETER_PROFILE_LESION") {
        // Profiling aid: measure one lesion in a loop (for `perf record`).
        let k: usize = k.parse().expect("lesion index");
        let mut sc = Scratch::default();
        let item = LesionInput::Mask {
            lesion: cases[k].1.clone(),
            slice_spacing_mm: None,
        };
        let iters: usize = std::env::var("DIAMETER_PROFILE_ITERS")
            .map_or(200_000, |n| n.parse().expect("iteration count"));
        for _ in 0..iters {
            std::hint::black_box(measure_input(&mut sc, &item, &opts).expect("measurable"));
        }
        return;
    }
    let pyrad = &doc["pyradiomics"];
    let pyrad_measured = cases
        .iter()
        .all(|(c, _)| c["pyradiomics_ms_construct_feature"].is_f64());
    if pyrad_measured {
        println!(
            "\npyradiomics {} measured in this run (C shape module; min of {} runs; SimpleITK {}, numpy {}, Python {}); values differing from ref_edge by > 1e-6 mm: {}",
            pyrad["version"].as_str().unwrap_or("?"),
            pyrad["reps"],
            pyrad["simpleitk"].as_str().unwrap_or("?"),
            pyrad["numpy"].as_str().unwrap_or("?"),
            pyrad["python"].as_str().unwrap_or("?"),
            pyrad["mismatches"]
        );
    } else {
        println!(
            "\npyradiomics was NOT measured in this run (no pyradiomics times in cases.json; see run.sh's PYRAD_PYTHON): its measured columns show —"
        );
    }
    println!(
        "\n| lesion | semi-axes mm | voxels | LD ours (edges) mm | LD ref_edge mm | |Δ| mm | LD pyradiomics mm | |Δ| vs pyradiomics mm | ref_edge ms | ours µs | × ref_edge | pyradiomics ms (measured, construct+feature) | × pyradiomics | pyradiomics feature call alone µs (measured) | pyradiomics ms (recorded in notes §3.3, not this run) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let (mut tot_ours, mut tot_ref, mut tot_py, mut tot_py_rec) = (0.0, 0.0, 0.0, 0.0);
    for (c, lesion) in &cases {
        let m = measure_mask(lesion, &opts).expect("measurable");
        let ref_ld = c["ref_axial"]["edge"][0].as_f64().unwrap_or(f64::NAN);
        let ref_ms = c["ref_edge_ms"].as_f64().unwrap_or(f64::NAN);
        let py_ld = c["pyradiomics_ld_mm"].as_f64();
        let py_ms = c["pyradiomics_ms_construct_feature"].as_f64();
        let py_feature_us = c["pyradiomics_ms_feature"].as_f64().map(|ms| ms * 1e3);
        let py_rec_ms = c["pyradiomics_recorded_ms"].as_f64().unwrap_or(f64::NAN);
        let mut sc = Scratch::default();
        let item = LesionInput::Mask {
            lesion: lesion.clone(),
            slice_spacing_mm: None,
        };
        let ours = time_min(|| {
            std::hint::black_box(measure_input(&mut sc, &item, &opts).expect("measurable"));
        })
        .as_secs_f64()
            * 1e3;
        tot_ours += ours;
        tot_ref += ref_ms;
        tot_py += py_ms.unwrap_or(f64::NAN);
        tot_py_rec += py_rec_ms;
        let axes = c["name"]
            .as_str()
            .unwrap_or("")
            .split("semi-axes ")
            .nth(1)
            .and_then(|s| s.split(" theta").next())
            .unwrap_or("?");
        println!(
            "| {} | {} | {} | {:.6} | {:.6} | {:.1e} | {} | {} | {:.2} | {:.2} | {:.0} | {} | {} | {} | {:.0} |",
            c["lesion"],
            axes,
            c["voxels"],
            m.long_axis_mm,
            ref_ld,
            (m.long_axis_mm - ref_ld).abs(),
            opt(py_ld, 6),
            py_ld.map_or_else(
                || "—".to_string(),
                |v| format!("{:.1e}", (m.long_axis_mm - v).abs())
            ),
            ref_ms,
            ours * 1e3,
            ref_ms / ours,
            opt(py_ms, 2),
            opt(py_ms.map(|p| p / ours), 0),
            opt(py_feature_us, 2),
            py_rec_ms,
        );
    }
    let tot_py = pyrad_measured.then_some(tot_py);
    println!(
        "| all 7 | | | | | | | | {:.1} | {:.1} | {:.0} | {} | {} | | {:.0} |",
        tot_ref,
        tot_ours * 1e3,
        tot_ref / tot_ours,
        opt(tot_py, 1),
        opt(tot_py.map(|p| p / tot_ours), 0),
        tot_py_rec
    );

    // Throughput: the 7 ellipsoids × 20 (140 lesions) through `measure_many`.
    let items: Vec<LesionInput> = (0..20)
        .flat_map(|_| cases.iter())
        .map(|(_, l)| LesionInput::Mask {
            lesion: l.clone(),
            slice_spacing_mm: None,
        })
        .collect();
    println!("\n| threads | lesions | wall s | lesions/s |");
    println!("|---|---|---|---|");
    {
        // Baseline: one thread, borrowed inputs (no move, no drop), data cold in cache.
        let mut sc = Scratch::default();
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let t = Instant::now();
            for it in &items {
                std::hint::black_box(measure_input(&mut sc, it, &opts).expect("measurable"));
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "| 1, plain loop over borrowed inputs | {} | {best:.3} | {:.0} |",
            items.len(),
            items.len() as f64 / best
        );
    }
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let batch = items.clone();
            let t = Instant::now();
            let res = pool.install(|| measure_many(batch, &opts));
            best = best.min(t.elapsed().as_secs_f64());
            assert!(res.iter().all(|r| r.is_ok()));
        }
        println!(
            "| {threads}, `measure_many` (consumes and drops inputs) | {} | {best:.3} | {:.0} |",
            items.len(),
            items.len() as f64 / best
        );
    }
}
