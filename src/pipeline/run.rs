//! `oncometry run`: index → measure → response → survival → report over one export, made
//! safe to schedule every night. The output folder is locked; the manifest remembers every
//! file and every study's measurements so that a re-run only re-measures studies whose
//! files changed (then recomputes response and survival over everything); every output is
//! replaced atomically; SIGINT/SIGTERM stop between studies with what was done kept.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::atomic::{AtomicError, clean_stale_temps, write_atomic};
use super::clinical::{ClinicalError, ClinicalTable};
use super::config::Config;
use super::keyimages::{SeriesImages, StoredImage, render_annotation};
use super::lock::{LockError, OutputLock};
use super::manifest::{MANIFEST_FILE, Manifest, ManifestError, StudyImage, StudyWork};
use super::measure_stage::{index_export, measure_annotation_keeping};
use super::outputs::{
    CohortInputs, CohortSummary, OutputError, quarantine_rows, write_cohort_outputs,
};
use super::runlog::RunLog;
use super::scan::{ScanOptions, config_hash, scan_export};
use super::shard::Shard;
use super::signals::{StopFlag, StopSignal};
use crate::dicom::index::{ExportIndex, IndexError, Quarantined};
use crate::dicom::seg::SegOptions;
use crate::measure::MeasureOptions;
use crate::report::keyimage::{KeyImageOptions, Window, WindowChoice};
use crate::report::{DataQuality, LesionRow};
use crate::response;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error(transparent)]
    Locked(#[from] LockError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Outputs(#[from] OutputError),
    #[error(transparent)]
    Atomic(#[from] AtomicError),
    #[error("{}: {source}", path.display())]
    Clinical {
        path: PathBuf,
        source: ClinicalError,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("scanning the export: {0}")]
    Scan(String),
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Everything `run` needs, validated by the CLI.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub export: PathBuf,
    pub clinical: PathBuf,
    pub out: PathBuf,
    pub config: Config,
    /// The configuration file's text (empty for defaults), kept for `merge`.
    pub config_text: String,
    pub response: response::Config,
    pub jobs: usize,
    pub shard: Shard,
    /// Forget the manifest and recompute everything.
    pub full: bool,
    pub stable_age: Duration,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    pub quiet: bool,
}

/// How the run ended, for the exit code and the summary line.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub interrupted: Option<StopSignal>,
    pub files_seen: usize,
    pub quarantined: usize,
    pub studies_measured: usize,
    pub studies_reused: usize,
    pub studies_waiting: usize,
    pub lesions: usize,
    pub cohort: Option<CohortSummary>,
}

impl RunOutcome {
    /// Partial (exit 1): something was quarantined, a patient is not evaluable, a patient is
    /// on one side of the clinical join only, or a study is still arriving.
    pub fn is_partial(&self) -> bool {
        self.quarantined > 0
            || self.studies_waiting > 0
            || self.cohort.as_ref().is_some_and(|c| {
                !c.not_evaluable.is_empty()
                    || !c.only_clinical.is_empty()
                    || !c.only_images.is_empty()
            })
    }
}

/// A measured study with its result serialised for the manifest.
type Measured<'a> = (&'a StudyWork, StudyResult, serde_json::Result<Vec<u8>>);

/// What is stored per study in the manifest: its lesion rows and what could not be measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct StudyResult {
    rows: Vec<LesionRow>,
    quarantined: Vec<Quarantined>,
    /// Stored beside the result, as blobs (`Manifest::images`).
    #[serde(skip)]
    images: Vec<StoredImage>,
    /// Lesions without a key image, and why (logged; the numbers are unaffected).
    #[serde(default)]
    no_image: Vec<String>,
}

pub fn run(opts: &RunOptions, stop: &StopFlag, log: &RunLog) -> Result<RunOutcome, RunError> {
    let t0 = Instant::now();
    let lock = OutputLock::acquire(&opts.out)?;
    if let Some(stale) = lock.took_over() {
        log.warn("stale_lock_taken_over", json!({"previous": stale.raw}));
    }
    for p in clean_stale_temps(&opts.out)? {
        log.info(
            "stale_temp_removed",
            json!({"path": stale_temp_for_log(&opts.out, &p, log)}),
        );
    }
    log.info(
        "run_start",
        json!({"shard": format!("{}/{}", opts.shard.index(), opts.shard.count()), "jobs": opts.jobs, "full": opts.full}),
    );

    let mut clinical = read_clinical(&opts.clinical, &opts.config)?;
    // A shard answers for its own patients only; the others' clinical rows belong to the
    // shards that image them (`merge` joins the whole table).
    clinical.patients.retain(|id, _| opts.shard.contains(id));
    for w in &clinical.warnings {
        log.warn("clinical_cell", json!({"message": w}));
    }

    // 1. What is in the export, compared with what the manifest remembers.
    let manifest_path = opts.out.join(MANIFEST_FILE);
    let mut manifest = match Manifest::open(&manifest_path) {
        Ok(m) => m,
        Err(ManifestError::Corrupt { .. }) => {
            log.warn("manifest_rebuilt", json!({"reason": "corrupt"}));
            Manifest::recreate(&manifest_path)?
        }
        Err(e) => return Err(e.into()),
    };
    if opts.full {
        manifest.clear()?;
    }
    let scan = scan_export(
        &opts.export,
        &ScanOptions {
            exclude: vec![opts.out.clone()],
        },
    )
    .map_err(|e| RunError::Scan(e.to_string()))?;
    let mut plan = manifest.plan(scan)?;

    // 2. Headers of the whole export (cheap: the pixel data is never read).
    let t_index = Instant::now();
    let index = index_export(&opts.export, opts.jobs)?;
    let by_path: BTreeMap<&str, (&str, &str)> = index
        .images
        .values()
        .map(|r| {
            (
                r.path.as_str(),
                (r.study_uid.as_str(), r.patient_id.as_str()),
            )
        })
        .collect();
    let bad: BTreeMap<&str, &str> = index
        .quarantined
        .iter()
        .map(|q| (q.path.as_str(), q.reason.as_str()))
        .collect();
    let pending: Vec<String> = plan.to_index().into_iter().map(str::to_string).collect();
    for p in &pending {
        if let Some((study, patient)) = by_path.get(p.as_str()) {
            plan.set_indexed(p, study, patient, None)?;
        } else if let Some(reason) = bad.get(p.as_str()) {
            plan.set_quarantined(p, reason)?;
        } else {
            plan.set_ignored(p)?;
        }
    }
    let shard = opts.shard;
    let want = move |pid: &str| shard.contains(pid);
    let _ = plan.hash_pending(&want, stop);
    let committed = manifest.commit_files(&plan)?;
    if let Some(sig) = stop.signal() {
        // Stopped while hashing: the hashes done so far are kept for the next run.
        return Ok(interrupted(log, sig, t0, index.files_seen, 0));
    }
    if shard.count() > 1 {
        for s in manifest.retain_patients(&want)? {
            log.info("study_left_shard", json!({"study_uid": s}));
        }
    }
    for s in &committed.removed_studies {
        log.info("study_removed", json!({"study_uid": s}));
    }
    let cfg_hash = config_hash(opts.config.result_fingerprint().as_bytes());
    let studies = manifest.studies(&cfg_hash, SystemTime::now(), opts.stable_age, &want)?;
    log.info(
        "indexed",
        json!({"files_seen": index.files_seen, "quarantined": index.quarantined.len(),
               "studies_ready": studies.ready.len(), "studies_clean": studies.clean.len(),
               "studies_waiting": studies.still_arriving.len(), "seconds": t_index.elapsed().as_secs_f64()}),
    );
    for w in &studies.still_arriving {
        log.info(
            "study_still_arriving",
            json!({"patient_id": log.patient(&w.patient_id), "study_uid": w.study_uid}),
        );
    }

    // 3. Measure the studies that changed, one transaction per study.
    let t_measure = Instant::now();
    let measure_opts = MeasureOptions {
        point_set: opts.config.measure.point_set().map_err(RunError::Config)?,
        min_component_mm3: opts.config.measure.min_component_mm3,
    };
    let seg_opts = match opts.config.measure.seg_fraction_threshold {
        Some(t) => SegOptions {
            fractional_threshold: t,
        },
        None => SegOptions::default(),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs)
        .build()
        .map_err(|e| RunError::Config(format!("thread pool: {e}")))?;
    let images = opts.config.run.images.then(|| {
        (
            SeriesImages::new(&opts.export, &index),
            key_image_options(&opts.config),
        )
    });
    let progress = progress_bar(studies.ready.len(), opts.quiet);
    let mut measured = 0;
    // The key images just stored, by study UID, with the patient of the study: the
    // outputs take them from here instead of reading the PNGs back (they would hold them
    // all in memory either way, for the report).
    let mut fresh_images: HashMap<String, (String, Vec<StoredImage>)> = HashMap::new();
    // Each worker also serialises its study's result, so that only the SQLite write is
    // left to this thread.
    let measure_chunk = |chunk: std::ops::Range<usize>| -> Vec<Measured<'_>> {
        pool.install(|| {
            studies.ready[chunk]
                .par_iter()
                .map(|w| {
                    let r = measure_study(
                        &opts.export,
                        &index,
                        w,
                        &measure_opts,
                        &seg_opts,
                        images.as_ref().map(|(s, o)| (s, o)),
                    );
                    let bytes = serde_json::to_vec(&r);
                    (w, r, bytes)
                })
                .collect()
        })
    };
    // One transaction per chunk: a kill loses at most the chunk being stored and the one
    // being measured.
    let mut store = |results: Vec<Measured<'_>>| -> Result<(), RunError> {
        let mut batch = Vec::with_capacity(results.len());
        for (w, r, bytes) in results {
            for m in &r.no_image {
                log.warn(
                    "no_key_image",
                    json!({"patient_id": log.patient(&w.patient_id), "message": m.replace(&w.patient_id, &log.patient(&w.patient_id))}),
                );
            }
            log.info(
                "study_measured",
                json!({"patient_id": log.patient(&w.patient_id), "study_uid": w.study_uid, "reason": format!("{:?}", w.reason),
                       "lesions": r.rows.len(), "problems": r.quarantined.len()}),
            );
            batch.push((
                w,
                bytes.map_err(|e| RunError::Config(e.to_string()))?,
                r.images,
            ));
        }
        manifest.store_results(&batch, &cfg_hash)?;
        measured += batch.len();
        progress.inc(batch.len() as u64);
        for (w, _, images) in batch {
            fresh_images.insert(w.study_uid.clone(), (w.patient_id.clone(), images));
        }
        Ok(())
    };
    // Chunks of a few studies keep every worker busy, and the stop flag is honoured
    // between chunks. While the workers measure a chunk, this thread stores the one before
    // (with key images, a few hundred kB of PNGs and two fsyncs per transaction), so
    // neither waits for the other; results are still stored in chunk order.
    std::thread::scope(|scope| -> Result<(), RunError> {
        let mut pending: Option<Vec<Measured<'_>>> = None;
        let n = studies.ready.len();
        let size = opts.jobs.max(1) * 16;
        for start in (0..n).step_by(size) {
            if stop.should_stop() {
                break;
            }
            let chunk = start..n.min(start + size);
            let measure_chunk = &measure_chunk;
            let measuring = scope.spawn(move || measure_chunk(chunk));
            if let Some(done) = pending.take() {
                store(done)?;
            }
            pending = Some(
                measuring
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        pending.map_or(Ok(()), &mut store)
    })?;
    progress.finish_and_clear();
    let measure_seconds = t_measure.elapsed().as_secs_f64();

    // Stopped by a signal: what was measured is in the manifest; the previous complete
    // outputs stay as they are (outputs from part of the studies would replace them with
    // a cohort that never existed). The next run measures the rest.
    if let Some(sig) = stop.signal() {
        return Ok(interrupted(log, sig, t0, index.files_seen, measured));
    }

    // 4. Every stored result of this shard (fresh and reused) → the cohort outputs.
    let mut lesions = Vec::new();
    let mut measure_problems = Vec::new();
    let mut read = HashSet::new();
    for stored in manifest.results()? {
        if !want(&stored.patient_id) {
            continue;
        }
        match serde_json::from_slice::<StudyResult>(&stored.result) {
            Ok(r) => {
                lesions.extend(r.rows);
                measure_problems.extend(r.quarantined);
                read.insert(stored.study_uid);
            }
            Err(e) => log.warn(
                "stored_result_unreadable",
                json!({"study_uid": stored.study_uid, "error": e.to_string()}),
            ),
        }
    }
    sort_lesions(&mut lesions);
    // The images of exactly the results read (same shard, same readable studies): those
    // of the studies measured now from memory, the others from the manifest, in the
    // manifest's order (by patient and study, then as stored).
    let mut images = manifest
        .images_where(&|study| read.contains(study) && !fresh_images.contains_key(study))?;
    for (study_uid, (patient_id, fresh)) in fresh_images {
        if read.contains(&study_uid) {
            images.extend(fresh.into_iter().map(|image| StudyImage {
                study_uid: study_uid.clone(),
                patient_id: patient_id.clone(),
                image,
            }));
        }
    }
    // The order decides which of two images wanting one file name gets `_2`
    // (`finish_images`); stable, so a study's images keep the order they were stored in.
    images.sort_by(|a, b| (&a.patient_id, &a.study_uid).cmp(&(&b.patient_id, &b.study_uid)));
    let stored_images: Vec<StoredImage> = images.into_iter().map(|s| s.image).collect();

    let shard_index = shard_index(&index, shard);
    let mut problems: Vec<(String, String)> = Vec::new();
    if shard.index() == 0 {
        problems.extend(
            plan.quarantine_rows()
                .into_iter()
                .map(|q| (q.path, q.reason)),
        );
    }
    problems.extend(measure_problems.into_iter().map(|q| (q.path, q.reason)));
    let quarantined = quarantine_rows(problems);
    for q in &quarantined {
        log.warn("quarantined", json!({"path": q.path, "reason": q.reason}));
    }
    let quality = DataQuality {
        files_seen: shard_index.files_seen,
        files_indexed: shard_index.indexed,
        files_ignored: shard_index.ignored,
        quarantined: quarantined.clone(),
        patients_indexed: shard_index.patients.len(),
        config: super::merge::config_summary(
            &opts.config,
            &format!("{}/{}", shard.index(), shard.count()),
        ),
        ..DataQuality::default()
    };

    let t_cohort = Instant::now();
    // What `merge` needs to recompute the cohort from shard folders.
    let inputs = opts.out.join(super::merge::INPUTS_DIR);
    std::fs::create_dir_all(&inputs).map_err(|source| RunError::Io {
        path: inputs.clone(),
        source,
    })?;
    write_atomic(
        &inputs.join(super::merge::CLINICAL_COPY),
        &read_bytes(&opts.clinical)?,
    )?;
    write_atomic(
        &inputs.join(super::merge::CONFIG_COPY),
        opts.config_text.as_bytes(),
    )?;
    write_atomic(
        &opts.out.join("index.json"),
        &serde_json::to_vec_pretty(&shard_index).map_err(|e| RunError::Config(e.to_string()))?,
    )?;
    // On the run's pool: writing the key-image files is spread over `--jobs` workers.
    let cohort = pool.install(|| {
        write_cohort_outputs(
            &opts.out,
            CohortInputs {
                lesions: &lesions,
                quality,
                clinical: &clinical,
                config: &opts.config,
                response: &opts.response,
                images: stored_images,
            },
        )
    })?;
    for (p, reason) in &cohort.not_evaluable {
        log.warn(
            "patient_not_evaluable",
            json!({"patient_id": log.patient(p), "reason": reason.replace(p.as_str(), &log.patient(p))}),
        );
    }
    for p in &cohort.only_clinical {
        log.warn(
            "patient_only_in_clinical_table",
            json!({"patient_id": log.patient(p)}),
        );
    }
    for p in &cohort.only_images {
        log.warn(
            "patient_only_in_images",
            json!({"patient_id": log.patient(p)}),
        );
    }
    for m in &cohort.stale_images_kept {
        log.warn("stale_key_image_kept", json!({"message": m}));
    }
    for w in &cohort.model_warnings {
        log.warn("model_warning", json!({"message": w}));
    }
    log.info(
        "run_end",
        json!({"seconds": t0.elapsed().as_secs_f64(), "measure_seconds": measure_seconds,
               "cohort_seconds": t_cohort.elapsed().as_secs_f64(), "studies_measured": measured,
               "studies_reused": studies.clean.len(), "lesions": lesions.len(),
               "interrupted": stop.signal().map(|s| s.name())}),
    );
    log.flush();
    drop(lock);
    Ok(RunOutcome {
        interrupted: stop.signal(),
        files_seen: shard_index.files_seen,
        quarantined: quarantined.len(),
        studies_measured: measured,
        studies_reused: studies.clean.len(),
        studies_waiting: studies.still_arriving.len(),
        lesions: lesions.len(),
        cohort: Some(cohort),
    })
}

fn key_image_options(cfg: &Config) -> KeyImageOptions {
    let mut o = KeyImageOptions::default();
    if let (Some(center), Some(width)) = (cfg.images.window_center, cfg.images.window_width) {
        o.window = WindowChoice::Fixed(Window { center, width });
    }
    o
}

/// A removed temporary as the log shows it: relative to the output folder, and under
/// `--pseudonymize` without the key-image folder's name, which is the patient id
/// (`images/<patient>/.<file>.*.oncometry.tmp`, `images/.<patient>.*.oncometry.tmp`).
fn stale_temp_for_log(out: &Path, p: &Path, log: &RunLog) -> String {
    let rel = p.strip_prefix(out).unwrap_or(p);
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match parts.as_slice() {
        [images, _, file] if log.pseudonymizing() && images == "images" => {
            format!("images/(patient)/{file}")
        }
        [images, _] if log.pseudonymizing() && images == "images" => {
            "images/(a patient's folder being written)".to_string()
        }
        _ => parts.join("/"),
    }
}

fn interrupted(
    log: &RunLog,
    sig: StopSignal,
    t0: Instant,
    files_seen: usize,
    measured: usize,
) -> RunOutcome {
    log.warn(
        "run_interrupted",
        json!({"signal": sig.name(), "studies_measured": measured, "seconds": t0.elapsed().as_secs_f64()}),
    );
    log.flush();
    RunOutcome {
        interrupted: Some(sig),
        files_seen,
        quarantined: 0,
        studies_measured: measured,
        studies_reused: 0,
        studies_waiting: 0,
        lesions: 0,
        cohort: None,
    }
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, RunError> {
    std::fs::read(path).map_err(|source| RunError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read_clinical(path: &Path, cfg: &Config) -> Result<ClinicalTable, RunError> {
    let f = std::fs::File::open(path).map_err(|source| RunError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    ClinicalTable::read(f, &cfg.clinical).map_err(|source| RunError::Clinical {
        path: path.to_path_buf(),
        source,
    })
}

/// Measures every annotation object of one study.
fn measure_study(
    export: &Path,
    index: &ExportIndex,
    work: &StudyWork,
    opts: &MeasureOptions,
    seg_opts: &SegOptions,
    images: Option<(&SeriesImages<'_>, &KeyImageOptions)>,
) -> StudyResult {
    let files: BTreeSet<&str> = work.files.iter().map(String::as_str).collect();
    let mut out = StudyResult::default();
    for a in index
        .annotations
        .iter()
        .filter(|a| a.study_uid == work.study_uid && files.contains(a.path.as_str()))
    {
        let m = measure_annotation_keeping(export, index, a, opts, seg_opts, images.is_some());
        if let Some((series, img_opts)) = images {
            let (imgs, missing) = render_annotation(series, a, &m.rows, &m.shapes, img_opts);
            out.images.extend(imgs);
            out.no_image.extend(missing);
        }
        out.rows.extend(m.rows);
        out.quarantined.extend(m.bad);
    }
    out
}

/// The row order of `lesions.csv` (the same as `oncometry measure`).
pub fn sort_lesions(rows: &mut [LesionRow]) {
    crate::report::lesions::sort_lesion_rows(rows)
}

/// The part of the index that belongs to this shard. Files that belong to no patient
/// (ignored, quarantined) are accounted for by shard 0 alone, so that the shards' counts add
/// up to the single run's: `files_seen = indexed + ignored + quarantined` holds in each.
pub fn shard_index(index: &ExportIndex, shard: Shard) -> ExportIndex {
    let mut idx = index.clone();
    if shard.count() <= 1 {
        return idx;
    }
    idx.patients.retain(|p| shard.contains(&p.patient_id));
    idx.annotations.retain(|a| shard.contains(&a.patient_id));
    idx.indexed = idx
        .patients
        .iter()
        .flat_map(|p| &p.studies)
        .flat_map(|s| &s.series)
        .map(|s| s.n_instances)
        .sum();
    if shard.index() != 0 {
        idx.ignored = 0;
        idx.quarantined.clear();
        idx.dicomdirs.clear();
        idx.warnings.clear();
    }
    idx.files_seen = idx.indexed + idx.ignored + idx.quarantined.len();
    idx
}

fn progress_bar(len: usize, quiet: bool) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("measuring {bar:40} {pos}/{len} studies ({eta})")
    {
        pb.set_style(style);
    }
    pb
}
