//! `oncometry.toml`: one file, one table per stage. Every key has a default, so a run
//! without a config file is RECIST 1.1 with the contract's column names. Unknown keys are
//! errors: a typo in a threshold must not silently fall back to a default.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::measure::PointSet;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
}

/// The whole configuration. Each stage receives only its own table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub run: RunConfig,
    pub measure: MeasureConfig,
    /// Passed through to `response::Config`, which owns its keys and defaults.
    pub response: toml::Table,
    pub clinical: ClinicalConfig,
    pub survival: SurvivalConfig,
    pub images: ImagesConfig,
}

impl Config {
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<Config, String> {
        let c: Config =
            toml::from_str(text).map_err(|e| e.to_string().trim().replace('\n', " "))?;
        if !matches!(c.survival.landmark.as_str(), "baseline" | "assessment") {
            return Err(format!(
                "[survival] landmark = {:?}: expected \"baseline\" or \"assessment\"",
                c.survival.landmark
            ));
        }
        if !matches!(c.survival.ties.as_str(), "efron" | "breslow") {
            return Err(format!(
                "[survival] ties = {:?}: expected \"efron\" or \"breslow\"",
                c.survival.ties
            ));
        }
        if !(c.survival.d_per.is_finite() && c.survival.d_per > 0.0) {
            return Err(format!(
                "[survival] d_per = {}: must be a positive number",
                c.survival.d_per
            ));
        }
        Ok(c)
    }

    /// A fingerprint of everything that changes derived per-study results: cached
    /// results are reused only under the same measurement settings, and, since a study's
    /// key images are stored with its result, with key images drawn the same way (or not
    /// at all): a run that turns them on draws them for every study, and one that turns
    /// them off shows none left from before.
    pub fn result_fingerprint(&self) -> String {
        let images = if self.run.images {
            format!(
                "on,window_center={:?},window_width={:?}",
                self.images.window_center, self.images.window_width
            )
        } else {
            "off".to_string()
        };
        format!(
            "point_set={:?};min_component_mm3={};seg_fraction_threshold={:?};images={images};v1",
            self.measure.point_set(),
            self.measure.min_component_mm3,
            self.measure.seg_fraction_threshold
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// A study whose newest file is younger than this is still arriving: left for the next
    /// run (Orthanc's StableAge).
    pub stable_age_minutes: f64,
    /// Write key images (PNG) of every lesion and put them in the report.
    pub images: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            stable_age_minutes: 10.0,
            images: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeasureConfig {
    /// `edges` (pyradiomics), `centers` (ITK) or `corners`.
    pub point_set: String,
    pub min_component_mm3: f64,
    /// Fractional SEG threshold as a fraction of MaximumFractionalValue (default one half).
    pub seg_fraction_threshold: Option<f64>,
}

impl Default for MeasureConfig {
    fn default() -> Self {
        MeasureConfig {
            point_set: "edges".into(),
            min_component_mm3: 10.0,
            seg_fraction_threshold: None,
        }
    }
}

impl MeasureConfig {
    pub fn point_set(&self) -> Result<PointSet, String> {
        parse_point_set(&self.point_set)
    }
}

pub fn parse_point_set(s: &str) -> Result<PointSet, String> {
    match s {
        "edges" => Ok(PointSet::Edges),
        "centers" => Ok(PointSet::Centers),
        "corners" => Ok(PointSet::Corners),
        other => Err(format!(
            "unknown point set {other:?} (expected edges, centers or corners)"
        )),
    }
}

/// Column names of the clinical table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClinicalConfig {
    pub patient_id: String,
    pub endpoints: Vec<EndpointConfig>,
}

impl Default for ClinicalConfig {
    fn default() -> Self {
        ClinicalConfig {
            patient_id: "patient_id".into(),
            endpoints: vec![
                EndpointConfig {
                    name: "dfs".into(),
                    time: "dfs_time".into(),
                    event: "dfs_event".into(),
                },
                EndpointConfig {
                    name: "os".into(),
                    time: "os_time".into(),
                    event: "os_event".into(),
                },
            ],
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    pub name: String,
    pub time: String,
    pub event: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SurvivalConfig {
    /// `baseline` (times as in the clinical table) or `assessment`: times measured from the
    /// D landmark assessment, dropping patients with no follow-up after it, to avoid
    /// guarantee-time bias.
    pub landmark: String,
    /// Ties method for Cox: `efron` or `breslow`.
    pub ties: String,
    /// Percentage points per HR unit for continuous D.
    pub d_per: f64,
    /// Clinical columns (e.g. `histology`, `arm`) to compare survival by: Kaplan–Meier and
    /// log-rank per endpoint over the column's values, in `survival.json` under
    /// `by_grouping`. Patients with an empty cell are left out of that grouping.
    pub groupings: Vec<String>,
}

impl Default for SurvivalConfig {
    fn default() -> Self {
        SurvivalConfig {
            landmark: "baseline".into(),
            ties: "efron".into(),
            d_per: 10.0,
            groupings: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImagesConfig {
    /// Window centre/width override (HU) for key images; default: the series' own window,
    /// else soft tissue 40/400 for CT.
    pub window_center: Option<f64>,
    pub window_width: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_recist_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.measure.point_set().unwrap(), PointSet::Edges);
        assert_eq!(c.clinical.endpoints.len(), 2);
        assert_eq!(c.clinical.endpoints[1].time, "os_time");
        assert_eq!(c.run.stable_age_minutes, 10.0);
    }

    #[test]
    fn unknown_key_is_an_error_that_names_it() {
        let err = Config::parse("[measure]\npoint_sets = \"edges\"\n").unwrap_err();
        assert!(err.contains("point_sets"), "{err}");
    }

    #[test]
    fn survival_choices_are_checked() {
        assert!(
            Config::parse("[survival]\nlandmark = \"asessment\"\n")
                .unwrap_err()
                .contains("landmark")
        );
        assert!(
            Config::parse("[survival]\nties = \"exact\"\n")
                .unwrap_err()
                .contains("ties")
        );
        assert!(
            Config::parse("[survival]\nd_per = 0\n")
                .unwrap_err()
                .contains("d_per")
        );
        assert_eq!(
            Config::parse("[survival]\nlandmark = \"assessment\"\n")
                .unwrap()
                .survival
                .landmark,
            "assessment"
        );
    }

    #[test]
    fn response_table_is_passed_through() {
        let c = Config::parse("[response]\nsd_min_days = 56\n").unwrap();
        assert_eq!(
            c.response.get("sd_min_days").and_then(|v| v.as_integer()),
            Some(56)
        );
    }

    #[test]
    fn fingerprint_changes_with_point_set_and_key_images() {
        let fp = |toml: &str| Config::parse(toml).unwrap().result_fingerprint();
        let default = fp("");
        assert_eq!(default, fp("[run]\nimages = true\n"));
        assert_eq!(default, fp("[run]\nstable_age_minutes = 3\n"));
        assert_ne!(default, fp("[measure]\npoint_set = \"centers\"\n"));
        assert_ne!(default, fp("[run]\nimages = false\n"));
        assert_ne!(
            default,
            fp("[images]\nwindow_center = -600\nwindow_width = 1500\n")
        );
        // the window of images not drawn changes nothing
        assert_eq!(
            fp("[run]\nimages = false\n"),
            fp("[run]\nimages = false\n[images]\nwindow_center = -600\nwindow_width = 1500\n")
        );
    }
}
