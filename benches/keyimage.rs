//! Key image benchmark (issue 8): decode + render + PNG-encode N slices from files, the
//! same work as bench/images/peer_pydicom_pillow.py. One run, no harness. Two modes:
//!
//! pydicom test files with a synthetic lesion (the peer's `make-inputs` / `run`):
//!
//!     python bench/images/peer_pydicom_pillow.py make-inputs /tmp/oncometry-bench-images
//!     cargo bench --bench keyimage -- /tmp/oncometry-bench-images
//!
//! the demo export's real key images (the peer's `make-demo-inputs` / `run-demo`; or all of
//! it with bench/images/run_demo.sh):
//!
//!     python bench/images/peer_pydicom_pillow.py make-demo-inputs /tmp/oncometry-bench-demo
//!     cargo bench --bench keyimage -- demo /tmp/oncometry-bench-demo
//!
//! Prints one JSON line per mode: one thread (like the Python peer), then a rayon pool.

use std::path::{Path, PathBuf};
use std::time::Instant;

use oncometry::dicom::pixels::decode_slice;
use oncometry::measure::types::PlaneGrid;
use oncometry::report::keyimage::{
    KeyImageOptions, Outline, Overlay, SliceImage, Window, WindowChoice, render_key_image,
};
use rayon::prelude::*;

fn plane_point(g: &PlaneGrid, u: f64, v: f64) -> [f64; 3] {
    let mut p = g.origin;
    for (k, pk) in p.iter_mut().enumerate() {
        *pk += u * g.row_dir[k] + v * g.col_dir[k];
    }
    p
}

fn render(path: &Path) -> Result<Vec<u8>, String> {
    let d = decode_slice(path, 0).map_err(|e| e.to_string())?;
    let grid = d.grid.ok_or("no geometry")?;
    let img = SliceImage::new(
        grid.clone(),
        d.values,
        d.modality,
        d.window.map(|(center, width)| Window { center, width }),
        d.photometric_interpretation == "MONOCHROME1",
    )
    .map_err(|e| e.to_string())?;
    // The peer's lesion: ellipse at the centre, semi-axes 10 % / 6 % of the field width.
    let w = grid.cols as f64 * grid.spacing[1];
    let (cu, cv) = (w / 2.0, grid.rows as f64 * grid.spacing[0] / 2.0);
    let (a, b, ang) = (0.10 * w, 0.06 * w, 0.4f64);
    let (ca, sa) = (ang.cos(), ang.sin());
    let pt = |t: f64, n: f64| plane_point(&grid, cu + t * ca - n * sa, cv + t * sa + n * ca);
    let poly = (0..72)
        .map(|i| {
            let th = i as f64 / 72.0 * std::f64::consts::TAU;
            pt(a * th.cos(), b * th.sin())
        })
        .collect();
    let overlay = Overlay {
        label: "L1".into(),
        long_axis: Some([pt(-a, 0.0), pt(a, 0.0)]),
        long_axis_mm: 2.0 * a,
        short_axis: Some([pt(0.0, -b), pt(0.0, b)]),
        short_axis_mm: 2.0 * b,
        outline: Outline::Polygons(vec![poly]),
    };
    // The peer always uses soft tissue 40/400.
    let opts = KeyImageOptions {
        window: WindowChoice::Fixed(Window {
            center: 40.0,
            width: 400.0,
        }),
        ..KeyImageOptions::default()
    };
    render_key_image(&img, &overlay, &opts).map_err(|e| e.to_string())
}

/// One key image of the demo manifest: the CT file and what is drawn on it (patient mm).
struct DemoImage {
    ct: PathBuf,
    overlay: Overlay,
}

fn point(v: &serde_json::Value) -> [f64; 3] {
    let c = |i: usize| v[i].as_f64().expect("coordinate");
    [c(0), c(1), c(2)]
}

fn axis(v: &serde_json::Value) -> Option<[[f64; 3]; 2]> {
    v.as_array().map(|a| [point(&a[0]), point(&a[1])])
}

fn read_demo_manifest(dir: &Path) -> Result<Vec<DemoImage>, String> {
    let path = dir.join("demo_manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e}\nrun: python bench/images/peer_pydicom_pillow.py make-demo-inputs {}",
            path.display(),
            dir.display()
        )
    })?;
    let m: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let export = PathBuf::from(m["export"].as_str().ok_or("export")?);
    let images = m["images"].as_array().ok_or("images")?;
    Ok(images
        .iter()
        .map(|e| DemoImage {
            ct: export.join(e["ct"].as_str().expect("ct")),
            overlay: Overlay {
                label: e["label"].as_str().unwrap_or_default().to_string(),
                long_axis: axis(&e["la"]),
                long_axis_mm: e["la_mm"].as_f64().unwrap_or(0.0),
                short_axis: axis(&e["sa"]),
                short_axis_mm: e["sa_mm"].as_f64().unwrap_or(0.0),
                outline: Outline::Polygons(
                    e["outline"]
                        .as_array()
                        .expect("outline")
                        .iter()
                        .map(|p| p.as_array().expect("polygon").iter().map(point).collect())
                        .collect(),
                ),
            },
        })
        .collect())
}

/// What `oncometry run` does per key image once it knows the slice: decode it, place it,
/// render with the default options (the file's own window, else soft tissue for CT).
fn render_demo(d: &DemoImage) -> Result<Vec<u8>, String> {
    let s = decode_slice(&d.ct, 0).map_err(|e| e.to_string())?;
    let img = SliceImage::new(
        s.grid.ok_or("no geometry")?,
        s.values,
        s.modality,
        s.window.map(|(center, width)| Window { center, width }),
        s.photometric_interpretation == "MONOCHROME1",
    )
    .map_err(|e| e.to_string())?;
    render_key_image(&img, &d.overlay, &KeyImageOptions::default()).map_err(|e| e.to_string())
}

fn run_demo(dir: &Path) {
    let images = match read_demo_manifest(dir) {
        Ok(v) if !v.is_empty() => v,
        Ok(_) => return eprintln!("{}: no images", dir.display()),
        Err(e) => return eprintln!("{e}"),
    };
    let n = images.len();
    let t0 = Instant::now();
    render_demo(&images[0]).expect("warm-up render");
    let warm = t0.elapsed().as_secs_f64();

    let pool1 = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let t0 = Instant::now();
    let (bytes, mut per): (usize, Vec<f64>) = pool1.install(|| {
        images
            .iter()
            .map(|d| {
                let t1 = Instant::now();
                let p = render_demo(d).unwrap_or_else(|e| panic!("{}: {e}", d.ct.display()));
                (p.len(), t1.elapsed().as_secs_f64())
            })
            .fold((0, Vec::with_capacity(n)), |(b, mut v), (pb, t)| {
                v.push(t);
                (b + pb, v)
            })
    });
    let one = t0.elapsed().as_secs_f64();
    per.sort_by(f64::total_cmp);
    println!(
        "{{\"oncometry\": \"1 thread\", \"mode\": \"demo\", \"images\": {n}, \"seconds\": {one:.4}, \"ms_per_image\": {:.3}, \"ms_median\": {:.3}, \"png_bytes\": {bytes}, \"warmup_seconds\": {warm:.4}}}",
        1000.0 * one / n as f64,
        1000.0 * per[n / 2]
    );

    let threads = 2;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    let t0 = Instant::now();
    let ok: usize = pool.install(|| {
        images
            .par_iter()
            .map(|d| usize::from(render_demo(d).is_ok()))
            .sum()
    });
    let par = t0.elapsed().as_secs_f64();
    println!(
        "{{\"oncometry\": \"rayon {threads} threads\", \"mode\": \"demo\", \"images\": {ok}, \"seconds\": {par:.4}, \"ms_per_image\": {:.3}}}",
        1000.0 * par / n as f64
    );

    // A few images to look at, outside the timing (the peer writes the same ones to out-py).
    let out = dir.join("out-rs");
    std::fs::create_dir_all(&out).expect("out dir");
    for (i, d) in images.iter().take(4).enumerate() {
        let p = render_demo(d).expect("render");
        std::fs::write(out.join(format!("{i:03}.png")), &p).expect("write");
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if args.first().map(String::as_str) == Some("demo") {
        let dir = args
            .get(1)
            .map_or("/tmp/oncometry-bench-demo", String::as_str);
        return run_demo(Path::new(dir));
    }
    let dir = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/oncometry-bench-images"));
    let manifest: serde_json::Value = match std::fs::read_to_string(dir.join("manifest.json")) {
        Ok(t) => serde_json::from_str(&t).expect("manifest.json"),
        Err(e) => {
            eprintln!(
                "{}: {e}\nrun: python bench/images/peer_pydicom_pillow.py make-inputs {}",
                dir.join("manifest.json").display(),
                dir.display()
            );
            return;
        }
    };
    let files: Vec<PathBuf> = manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| dir.join(f.as_str().expect("file name")))
        .collect();
    let warm = render(&files[0]).expect("warm-up render");
    let out = dir.join("out-rs");
    std::fs::create_dir_all(&out).expect("out dir");
    std::fs::write(out.join("first.png"), &warm).expect("write");

    let pool1 = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let t0 = Instant::now();
    let mut groups: std::collections::BTreeMap<String, f64> = Default::default();
    let bytes: usize = pool1.install(|| {
        files
            .iter()
            .map(|f| {
                let t1 = Instant::now();
                let p = render(f).expect("render");
                let name = f.file_name().map(|n| n.to_string_lossy().to_string());
                let group = name
                    .as_deref()
                    .and_then(|n| n.rsplit_once('_'))
                    .map_or("?", |(g, _)| g)
                    .to_string();
                *groups.entry(group).or_default() += t1.elapsed().as_secs_f64();
                p.len()
            })
            .sum()
    });
    let one = t0.elapsed().as_secs_f64();
    let by_source: Vec<String> = groups
        .iter()
        .map(|(k, v)| format!("\"{k}\": {v:.4}"))
        .collect();
    let last = render(files.last().expect("files")).expect("render");
    std::fs::write(out.join("last.png"), &last).expect("write");
    println!(
        "{{\"oncometry\": \"1 thread\", \"slices\": {}, \"seconds\": {one:.4}, \"ms_per_slice\": {:.3}, \"png_bytes\": {bytes}, \"seconds_by_source\": {{{}}}}}",
        files.len(),
        1000.0 * one / files.len() as f64,
        by_source.join(", ")
    );
    let t0 = Instant::now();
    let n: usize = files
        .par_iter()
        .map(|f| render(f).map(|_| 1).unwrap_or(0))
        .sum();
    let par = t0.elapsed().as_secs_f64();
    println!(
        "{{\"oncometry\": \"rayon {} threads\", \"slices\": {n}, \"seconds\": {par:.4}, \"ms_per_slice\": {:.3}}}",
        rayon::current_num_threads(),
        1000.0 * par / files.len() as f64
    );
}
