//! `oncometry merge`: the shard outputs of `run --shard I/N` combined into exactly what one
//! unsharded run writes. Shards hold whole patients, so the merged lesion table is the
//! union of theirs; response and survival are then recomputed over the whole cohort (the
//! D median and every statistic need all patients at once).

use std::path::{Path, PathBuf};

use super::atomic::{clean_stale_temps, write_atomic};
use super::clinical::ClinicalTable;
use super::config::Config;
use super::keyimages::{SourceBy, StoredImage};
use super::lock::OutputLock;
use super::outputs::{
    CohortInputs, CohortSummary, IMAGES_INDEX, ImageIndexRow, quarantine_rows, write_cohort_outputs,
};
use super::run::{RunError, sort_lesions};
use crate::dicom::index::ExportIndex;
use crate::report::{DataQuality, LesionRow};
use crate::response;

/// Inputs that `run` keeps in its output folder so that `merge` needs nothing else.
pub const INPUTS_DIR: &str = "inputs";
pub const CLINICAL_COPY: &str = "clinical.csv";
pub const CONFIG_COPY: &str = "oncometry.toml";

pub fn merge(shards: &[PathBuf], out: &Path) -> Result<CohortSummary, RunError> {
    let _lock = OutputLock::acquire(out)?;
    // what a killed or failed merge into this folder left (the next merge rewrites it all)
    clean_stale_temps(out)?;
    let first = shards
        .first()
        .ok_or_else(|| RunError::Config("no shard folder given".into()))?;
    let clinical_text = read(&first.join(INPUTS_DIR).join(CLINICAL_COPY))?;
    let config_text = read(&first.join(INPUTS_DIR).join(CONFIG_COPY))?;
    for s in &shards[1..] {
        if read(&s.join(INPUTS_DIR).join(CLINICAL_COPY))? != clinical_text
            || read(&s.join(INPUTS_DIR).join(CONFIG_COPY))? != config_text
        {
            return Err(RunError::Config(format!(
                "{} was run with another clinical table or configuration than {}",
                s.display(),
                first.display()
            )));
        }
    }
    let config = Config::parse(&config_text).map_err(RunError::Config)?;
    let response_cfg = response_config(&config, first)?;
    let clinical =
        ClinicalTable::read(clinical_text.as_bytes(), &config.clinical).map_err(|source| {
            RunError::Clinical {
                path: first.join(INPUTS_DIR).join(CLINICAL_COPY),
                source,
            }
        })?;

    let mut index = ExportIndex::default();
    let mut lesions: Vec<LesionRow> = Vec::new();
    let mut problems = Vec::new();
    let mut images = Vec::new();
    for s in shards {
        images.extend(read_images(s)?);
        let part: ExportIndex = serde_json::from_str(&read(&s.join("index.json"))?)
            .map_err(|e| RunError::Config(format!("{}: {e}", s.join("index.json").display())))?;
        index.files_seen += part.files_seen;
        index.ignored += part.ignored;
        index.indexed += part.indexed;
        index.quarantined.extend(part.quarantined);
        index.patients.extend(part.patients);
        index.annotations.extend(part.annotations);
        index.dicomdirs.extend(part.dicomdirs);
        index.warnings.extend(part.warnings);
        let mut rdr = csv::Reader::from_path(s.join("lesions.csv"))
            .map_err(|e| RunError::Config(format!("{}: {e}", s.join("lesions.csv").display())))?;
        for row in rdr.deserialize::<LesionRow>() {
            lesions.push(row.map_err(|e| {
                RunError::Config(format!("{}: {e}", s.join("lesions.csv").display()))
            })?);
        }
        let mut q = csv::Reader::from_path(s.join("quarantine.csv")).map_err(|e| {
            RunError::Config(format!("{}: {e}", s.join("quarantine.csv").display()))
        })?;
        for rec in q.records() {
            let rec = rec.map_err(|e| {
                RunError::Config(format!("{}: {e}", s.join("quarantine.csv").display()))
            })?;
            problems.push((
                rec.get(0).unwrap_or("").to_string(),
                rec.get(1).unwrap_or("").to_string(),
            ));
        }
    }
    // The orders of a single run's index.
    index
        .patients
        .sort_by(|a, b| a.patient_id.cmp(&b.patient_id));
    index.annotations.sort_by(|a, b| {
        (&a.patient_id, &a.study_date, a.kind, &a.sop_instance_uid).cmp(&(
            &b.patient_id,
            &b.study_date,
            b.kind,
            &b.sop_instance_uid,
        ))
    });
    index.quarantined.sort();
    index.warnings.sort();
    index.dicomdirs.sort();
    sort_lesions(&mut lesions);

    let quality = DataQuality {
        files_seen: index.files_seen,
        files_indexed: index.indexed,
        files_ignored: index.ignored,
        quarantined: quarantine_rows(problems),
        patients_indexed: index.patients.len(),
        config: config_summary(&config, "merged"),
        ..DataQuality::default()
    };
    std::fs::create_dir_all(out.join(INPUTS_DIR)).map_err(|source| RunError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    write_atomic(
        &out.join(INPUTS_DIR).join(CLINICAL_COPY),
        clinical_text.as_bytes(),
    )?;
    write_atomic(
        &out.join(INPUTS_DIR).join(CONFIG_COPY),
        config_text.as_bytes(),
    )?;
    write_atomic(
        &out.join("index.json"),
        &serde_json::to_vec_pretty(&index).map_err(|e| RunError::Config(e.to_string()))?,
    )?;
    Ok(write_cohort_outputs(
        out,
        CohortInputs {
            lesions: &lesions,
            quality,
            clinical: &clinical,
            config: &config,
            response: &response_cfg,
            images,
        },
    )?)
}

/// A shard's key images, back from `images/index.csv` and its PNG files.
fn read_images(dir: &Path) -> Result<Vec<StoredImage>, RunError> {
    let index = dir.join(IMAGES_INDEX);
    if !index.is_file() {
        return Ok(Vec::new());
    }
    let bad = |e: String| RunError::Config(format!("{}: {e}", index.display()));
    let mut rdr = csv::Reader::from_path(&index).map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::new();
    for row in rdr.deserialize::<ImageIndexRow>() {
        let row = row.map_err(|e| bad(e.to_string()))?;
        let path = dir.join(&row.file);
        let png = std::fs::read(&path).map_err(|source| RunError::Io { path, source })?;
        out.push(StoredImage {
            patient_id: row.patient_id,
            study_date: row.study_date,
            lesion_id: row.lesion_id,
            caption: row.caption,
            png,
            source_by: SourceBy::parse(&row.source_by),
            source_sop_instance_uid: row.source_sop_instance_uid,
        });
    }
    Ok(out)
}

fn read(path: &Path) -> Result<String, RunError> {
    std::fs::read_to_string(path).map_err(|source| RunError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The `[response]` table of the configuration as the response stage's own config, with
/// dates files resolved relative to `base`.
pub fn response_config(config: &Config, base: &Path) -> Result<response::Config, RunError> {
    let mut cfg: response::Config = toml::Value::Table(config.response.clone())
        .try_into()
        .map_err(|e: toml::de::Error| RunError::Config(format!("[response]: {}", e.message())))?;
    cfg.resolve_files(base)
        .map_err(|e| RunError::Config(e.to_string()))?;
    cfg.validate()
        .map_err(|e| RunError::Config(e.to_string()))?;
    Ok(cfg)
}

/// The run configuration as shown in the report.
pub fn config_summary(config: &Config, shard: &str) -> Vec<(String, String)> {
    vec![
        ("point set".into(), config.measure.point_set.clone()),
        (
            "survival times from".into(),
            config.survival.landmark.clone(),
        ),
        ("Cox ties".into(), config.survival.ties.clone()),
        ("shard".into(), shard.into()),
    ]
}
