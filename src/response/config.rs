//! Every threshold of the response stage, named, with RECIST 1.1's values as defaults.
//! In the project-wide `oncometry.toml` these keys live in the `[response]` table; unknown
//! keys are an error (a misspelt threshold must never silently fall back to the default).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::date::Date;
use super::exact::{Length, Pct};

/// Which follow-up timepoint defines the percent dimensional variation D.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Landmark {
    /// The `landmark_nth` timepoint, counting the baseline as the first (default 2: the
    /// first follow-up, in ISG-STS 1001 the scan after the third cycle).
    #[default]
    Nth,
    /// The last timepoint on or before `landmark_date` (or the patient's date in
    /// `landmark_dates`), e.g. the last pre-operative scan.
    LastBefore,
    /// The follow-up timepoint with the smallest evaluable sum.
    Best,
}

/// Per-patient dates: a CSV file (`patient_id,<date>`; relative paths are taken from the
/// config file's folder) or an inline map `{ P001 = "2024-01-31" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PatientDates {
    File(PathBuf),
    Map(BTreeMap<String, String>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Minimum longest diameter of a measurable non-nodal lesion (mm).
    pub measurable_min_mm: f64,
    /// Slices thicker than this (mm) raise the minimum to `thick_slice_factor` × thickness.
    pub thick_slice_above_mm: f64,
    pub thick_slice_factor: f64,
    /// Assumed where `slice_thickness_mm` is absent or empty.
    pub default_slice_thickness_mm: f64,
    /// Node short axis from which a node is measurable (can be a target).
    pub node_measurable_min_sa_mm: f64,
    /// Node short axis from which a node is pathological; smaller nodes are normal.
    pub node_pathological_min_sa_mm: f64,
    pub max_targets: usize,
    /// All lymph nodes together count as one organ.
    pub max_targets_per_organ: usize,
    /// The value recorded for a lesion that is present but too small to measure.
    pub too_small_mm: f64,
    /// PR: at least this decrease of the sum from baseline (%).
    pub pr_decrease_pct: f64,
    /// PD: at least this increase of the sum from the nadir (%)...
    pub pd_increase_pct: f64,
    /// ...and at least this absolute increase (mm).
    pub pd_min_increase_mm: f64,
    /// Best overall response with confirmation of CR/PR (RECIST Table 3). Off by default,
    /// as in randomized trials.
    pub confirmation: bool,
    pub confirmation_min_days: i64,
    /// SD (or NON-CR/NON-PD) counts as best response only this many days after baseline.
    pub sd_min_days: i64,
    /// Treatment start per patient: the baseline is the last study on or before it
    /// (default: the first study).
    pub treatment_start: Option<PatientDates>,
    pub landmark: Landmark,
    pub landmark_nth: usize,
    /// For `landmark = "last-before"`: one date for the whole cohort...
    pub landmark_date: Option<String>,
    /// ...or one per patient (takes precedence).
    pub landmark_dates: Option<PatientDates>,
    /// Fixed cut-off for `d_high` (%); default: the cohort median.
    pub d_cutoff_pct: Option<f64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            measurable_min_mm: 10.0,
            thick_slice_above_mm: 5.0,
            thick_slice_factor: 2.0,
            default_slice_thickness_mm: 2.5,
            node_measurable_min_sa_mm: 15.0,
            node_pathological_min_sa_mm: 10.0,
            max_targets: 5,
            max_targets_per_organ: 2,
            too_small_mm: 5.0,
            pr_decrease_pct: 30.0,
            pd_increase_pct: 20.0,
            pd_min_increase_mm: 5.0,
            confirmation: false,
            confirmation_min_days: 28,
            sd_min_days: 42,
            treatment_start: None,
            landmark: Landmark::Nth,
            landmark_nth: 2,
            landmark_date: None,
            landmark_dates: None,
            d_cutoff_pct: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {path}: {message}")]
    Toml { path: String, message: String },
    #[error("config [response] {key}: {message}")]
    Invalid { key: &'static str, message: String },
    #[error("config [response] {key}: dates file {path}: {message}")]
    DatesFile {
        key: &'static str,
        path: PathBuf,
        message: String,
    },
}

/// The configuration with every threshold converted to exact units and every date parsed
/// (what the rule functions take; build it with [`Config::resolve`]).
#[derive(Debug, Clone)]
pub struct Resolved {
    pub measurable_min: Length,
    pub thick_slice_above: Length,
    pub thick_slice_factor: f64,
    pub default_slice_thickness: Length,
    pub node_measurable_min: Length,
    pub node_pathological_min: Length,
    pub max_targets: usize,
    pub max_targets_per_organ: usize,
    pub too_small: Length,
    pub pr_decrease: Pct,
    pub pd_increase: Pct,
    pub pd_min_increase: Length,
    pub confirmation: bool,
    pub confirmation_min_days: i64,
    pub sd_min_days: i64,
    pub treatment_start: BTreeMap<String, Date>,
    pub landmark: Landmark,
    pub landmark_nth: usize,
    pub landmark_date: Option<Date>,
    pub landmark_dates: BTreeMap<String, Date>,
    pub d_cutoff: Option<Pct>,
}

fn length(key: &'static str, v: f64) -> Result<Length, ConfigError> {
    match Length::from_mm(v) {
        Some(n) if n.0 >= 0 => Ok(n),
        _ => Err(ConfigError::Invalid {
            key,
            message: format!("must be a finite length ≥ 0 mm, got {v}"),
        }),
    }
}

fn percent(key: &'static str, v: f64, max: f64) -> Result<Pct, ConfigError> {
    match Pct::from_pct(v) {
        Some(p) if (0.0..=max).contains(&v) => Ok(p),
        _ => Err(ConfigError::Invalid {
            key,
            message: format!("must be a percentage in 0..={max}, got {v}"),
        }),
    }
}

fn days(key: &'static str, v: i64) -> Result<i64, ConfigError> {
    if v < 0 {
        return Err(ConfigError::Invalid {
            key,
            message: format!("must be ≥ 0 days, got {v}"),
        });
    }
    Ok(v)
}

fn date_map(
    key: &'static str,
    d: &Option<PatientDates>,
) -> Result<BTreeMap<String, Date>, ConfigError> {
    match d {
        None => Ok(BTreeMap::new()),
        Some(PatientDates::File(p)) => Err(ConfigError::Invalid {
            key,
            message: format!(
                "dates file {} was not loaded (use Config::load or Config::resolve_files)",
                p.display()
            ),
        }),
        Some(PatientDates::Map(m)) => m
            .iter()
            .map(|(pid, s)| {
                Date::parse(s)
                    .map(|d| (pid.clone(), d))
                    .ok_or_else(|| ConfigError::Invalid {
                        key,
                        message: format!("patient {pid}: unparsable date {s:?}"),
                    })
            })
            .collect(),
    }
}

/// Reads `patient_id,<date>` rows (header required; the date is the second column).
fn read_dates_file(key: &'static str, path: &Path) -> Result<PatientDates, ConfigError> {
    let err = |message: String| ConfigError::DatesFile {
        key,
        path: path.to_path_buf(),
        message,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| err(e.to_string()))?;
    let mut map = BTreeMap::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| err(e.to_string()))?;
        let (Some(pid), Some(date)) = (rec.get(0), rec.get(1)) else {
            return Err(err(format!("row {}: expected patient_id,date", i + 1)));
        };
        let pid = pid.trim();
        if pid.is_empty() {
            continue;
        }
        if map
            .insert(pid.to_string(), date.trim().to_string())
            .is_some()
        {
            return Err(err(format!("row {}: patient {pid} listed twice", i + 1)));
        }
    }
    Ok(PatientDates::Map(map))
}

impl Config {
    /// Reads the `[response]` table of a project config (other tables are ignored; a file
    /// without the table gives the defaults). Dates files stay unloaded: see
    /// [`Config::resolve_files`].
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Toml {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        let cfg = match table.get("response") {
            None => Config::default(),
            Some(v) => v
                .clone()
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Toml {
                    path: origin.to_string(),
                    message: format!("[response]: {}", e.message()),
                })?,
        };
        Ok(cfg)
    }

    /// Reads a project config file, loads its dates files (relative to the file's folder)
    /// and checks every value.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut cfg = Config::from_toml_str(&text, &path.display().to_string())?;
        cfg.resolve_files(path.parent().unwrap_or(Path::new(".")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Replaces dates-file references by their contents.
    pub fn resolve_files(&mut self, base: &Path) -> Result<(), ConfigError> {
        for (key, slot) in [
            ("treatment_start", &mut self.treatment_start),
            ("landmark_dates", &mut self.landmark_dates),
        ] {
            if let Some(PatientDates::File(p)) = slot {
                let full = if p.is_absolute() {
                    p.clone()
                } else {
                    base.join(&*p)
                };
                *slot = Some(read_dates_file(key, &full)?);
            }
        }
        Ok(())
    }

    /// Checks every value (constructors reject invalid input).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.resolve().map(|_| ())
    }

    pub fn resolve(&self) -> Result<Resolved, ConfigError> {
        let positive = |key: &'static str, n: usize| {
            if n == 0 {
                Err(ConfigError::Invalid {
                    key,
                    message: "must be ≥ 1".into(),
                })
            } else {
                Ok(n)
            }
        };
        if !(self.thick_slice_factor.is_finite() && self.thick_slice_factor >= 0.0) {
            return Err(ConfigError::Invalid {
                key: "thick_slice_factor",
                message: format!(
                    "must be a finite number ≥ 0, got {}",
                    self.thick_slice_factor
                ),
            });
        }
        let landmark_date = match &self.landmark_date {
            None => None,
            Some(s) => Some(Date::parse(s).ok_or_else(|| ConfigError::Invalid {
                key: "landmark_date",
                message: format!("unparsable date {s:?} (expected YYYY-MM-DD)"),
            })?),
        };
        let landmark_dates = date_map("landmark_dates", &self.landmark_dates)?;
        if self.landmark == Landmark::LastBefore
            && landmark_date.is_none()
            && landmark_dates.is_empty()
        {
            return Err(ConfigError::Invalid {
                key: "landmark",
                message: "\"last-before\" needs landmark_date or landmark_dates".into(),
            });
        }
        let landmark_nth = positive("landmark_nth", self.landmark_nth)?;
        if landmark_nth < 2 {
            return Err(ConfigError::Invalid {
                key: "landmark_nth",
                message: "must be ≥ 2 (timepoint 1 is the baseline)".into(),
            });
        }
        let d_cutoff = match self.d_cutoff_pct {
            None => None,
            Some(v) => Some(Pct::from_pct(v).ok_or_else(|| ConfigError::Invalid {
                key: "d_cutoff_pct",
                message: format!("must be finite, got {v}"),
            })?),
        };
        Ok(Resolved {
            measurable_min: length("measurable_min_mm", self.measurable_min_mm)?,
            thick_slice_above: length("thick_slice_above_mm", self.thick_slice_above_mm)?,
            thick_slice_factor: self.thick_slice_factor,
            default_slice_thickness: length(
                "default_slice_thickness_mm",
                self.default_slice_thickness_mm,
            )?,
            node_measurable_min: length(
                "node_measurable_min_sa_mm",
                self.node_measurable_min_sa_mm,
            )?,
            node_pathological_min: length(
                "node_pathological_min_sa_mm",
                self.node_pathological_min_sa_mm,
            )?,
            max_targets: positive("max_targets", self.max_targets)?,
            max_targets_per_organ: positive("max_targets_per_organ", self.max_targets_per_organ)?,
            too_small: length("too_small_mm", self.too_small_mm)?,
            pr_decrease: percent("pr_decrease_pct", self.pr_decrease_pct, 100.0)?,
            pd_increase: percent("pd_increase_pct", self.pd_increase_pct, 1.0e6)?,
            pd_min_increase: length("pd_min_increase_mm", self.pd_min_increase_mm)?,
            confirmation: self.confirmation,
            confirmation_min_days: days("confirmation_min_days", self.confirmation_min_days)?,
            sd_min_days: days("sd_min_days", self.sd_min_days)?,
            treatment_start: date_map("treatment_start", &self.treatment_start)?,
            landmark: self.landmark,
            landmark_nth,
            landmark_date,
            landmark_dates,
            d_cutoff,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_recist_1_1() {
        let c = Config::default();
        assert_eq!(c.measurable_min_mm, 10.0);
        assert_eq!(c.node_measurable_min_sa_mm, 15.0);
        assert_eq!(c.node_pathological_min_sa_mm, 10.0);
        assert_eq!((c.max_targets, c.max_targets_per_organ), (5, 2));
        assert_eq!(c.too_small_mm, 5.0);
        assert_eq!(
            (c.pr_decrease_pct, c.pd_increase_pct, c.pd_min_increase_mm),
            (30.0, 20.0, 5.0)
        );
        assert!(!c.confirmation);
        assert_eq!((c.confirmation_min_days, c.sd_min_days), (28, 42));
        assert_eq!((c.landmark, c.landmark_nth), (Landmark::Nth, 2));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn reads_the_response_table_and_ignores_other_tables() {
        let text = r#"
[survival]
ties = "breslow"
[response]
sd_min_days = 56
confirmation = true
landmark = "best"
treatment_start = { P1 = "2024-01-10" }
"#;
        let c = Config::from_toml_str(text, "t.toml").unwrap();
        assert_eq!(c.sd_min_days, 56);
        assert!(c.confirmation);
        assert_eq!(c.landmark, Landmark::Best);
        assert_eq!(c.pr_decrease_pct, 30.0);
        let r = c.resolve().unwrap();
        assert_eq!(r.treatment_start["P1"].to_string(), "2024-01-10");
    }

    #[test]
    fn serialises_to_a_response_table_and_back() {
        let c = Config {
            landmark: Landmark::LastBefore,
            landmark_date: Some("2024-06-01".into()),
            d_cutoff_pct: Some(-1.6),
            ..Config::default()
        };
        let mut t = toml::Table::new();
        t.insert("response".into(), toml::Value::try_from(&c).unwrap());
        let text = toml::to_string(&t).unwrap();
        assert!(text.contains("landmark = \"last-before\""), "{text}");
        assert_eq!(Config::from_toml_str(&text, "t").unwrap(), c);
    }

    #[test]
    fn unknown_key_is_a_clear_error() {
        let e = Config::from_toml_str("[response]\npr_decrease = 30\n", "t.toml").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("pr_decrease"), "{msg}");
        assert!(msg.contains("t.toml"), "{msg}");
    }

    #[test]
    fn file_without_response_table_gives_defaults() {
        let c = Config::from_toml_str("[measure]\npoint_set = \"edges\"\n", "t").unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn invalid_values_are_rejected() {
        let bad = |f: fn(&mut Config)| {
            let mut c = Config::default();
            f(&mut c);
            c.validate().is_err()
        };
        assert!(bad(|c| c.measurable_min_mm = -1.0));
        assert!(bad(|c| c.pr_decrease_pct = 130.0));
        assert!(bad(|c| c.max_targets = 0));
        assert!(bad(|c| c.landmark_nth = 1));
        assert!(bad(|c| c.sd_min_days = -3));
        assert!(bad(|c| c.landmark = Landmark::LastBefore));
        assert!(bad(|c| c.landmark_date = Some("2024-02-30".into())));
        assert!(bad(|c| c.d_cutoff_pct = Some(f64::NAN)));
    }

    #[test]
    fn dates_file_is_loaded_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("start.csv"),
            "patient_id,start\nP1,2024-03-01\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("oncometry.toml"),
            "[response]\ntreatment_start = \"start.csv\"\n",
        )
        .unwrap();
        let c = Config::load(&dir.path().join("oncometry.toml")).unwrap();
        let r = c.resolve().unwrap();
        assert_eq!(r.treatment_start["P1"].to_string(), "2024-03-01");
    }
}
