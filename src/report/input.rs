//! What the report is drawn from: plain data the pipeline already holds, nothing computed
//! here. Every analysis is an [`Analysis`] so that one that could not be run (too few
//! events, a single group, a failed fit) shows as "not computed: reason" in the report
//! instead of breaking it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Serialize, Serializer};

use crate::response::{PatientRow, TimepointRow};
use crate::survival::{CoxFit, KmFit, LogRank, MedianCi};

/// One analysis result, or the reason it is missing.
#[derive(Debug, Clone, PartialEq)]
pub enum Analysis<T> {
    Computed(T),
    NotComputed { reason: String },
}

impl<T> Analysis<T> {
    pub fn not_computed(reason: impl Into<String>) -> Self {
        Self::NotComputed {
            reason: reason.into(),
        }
    }

    pub fn as_ref(&self) -> Option<&T> {
        match self {
            Self::Computed(t) => Some(t),
            Self::NotComputed { .. } => None,
        }
    }

    /// The reason, when not computed.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Computed(_) => None,
            Self::NotComputed { reason } => Some(reason),
        }
    }
}

impl<T> From<Result<T, String>> for Analysis<T> {
    fn from(r: Result<T, String>) -> Self {
        match r {
            Ok(t) => Self::Computed(t),
            Err(reason) => Self::NotComputed { reason },
        }
    }
}

/// `survival.json` carries the §4 object, or `null` when not computed (the reason goes
/// into the endpoint's `not_computed` map, see [`crate::report::json`]).
impl<T: Serialize> Serialize for Analysis<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Computed(t) => t.serialize(s),
            Self::NotComputed { .. } => s.serialize_none(),
        }
    }
}

/// The analyses of one endpoint (the keys of `survival.json`'s `endpoints.<name>`).
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointResults {
    /// Short name as in `survival.json`: `dfs`, `os`, ...
    pub name: String,
    /// Human title; empty → derived from `name` ("dfs" → "Disease-free survival").
    pub label: String,
    /// Unit of the time column, for axis labels (e.g. `days`, `months`); may be empty.
    pub time_unit: String,
    /// Patients and events entering the endpoint's analyses.
    pub n: usize,
    pub events: usize,
    pub km_by_response: Analysis<KmFit>,
    pub logrank_by_response: Analysis<LogRank>,
    pub cox_response: Analysis<CoxFit>,
    pub km_by_d_high: Analysis<KmFit>,
    pub logrank_by_d_high: Analysis<LogRank>,
    pub cox_d_high: Analysis<CoxFit>,
    pub cox_d_continuous: Analysis<CoxFit>,
    pub median_follow_up: Analysis<MedianCi>,
    /// Kaplan–Meier and log-rank by each configured clinical grouping column, by name.
    pub by_grouping: BTreeMap<String, GroupingResults>,
}

/// Survival compared across the values of one clinical column (e.g. histology, arm).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupingResults {
    pub km: Analysis<KmFit>,
    pub logrank: Analysis<LogRank>,
}

impl EndpointResults {
    /// An endpoint with every analysis "not computed" for `reason`; the pipeline fills
    /// in what it manages to compute.
    pub fn empty(name: impl Into<String>, reason: &str) -> Self {
        Self {
            name: name.into(),
            label: String::new(),
            time_unit: String::new(),
            n: 0,
            events: 0,
            km_by_response: Analysis::not_computed(reason),
            logrank_by_response: Analysis::not_computed(reason),
            cox_response: Analysis::not_computed(reason),
            km_by_d_high: Analysis::not_computed(reason),
            logrank_by_d_high: Analysis::not_computed(reason),
            cox_d_high: Analysis::not_computed(reason),
            cox_d_continuous: Analysis::not_computed(reason),
            median_follow_up: Analysis::not_computed(reason),
            by_grouping: BTreeMap::new(),
        }
    }

    /// The display title.
    pub fn title(&self) -> String {
        if !self.label.is_empty() {
            return self.label.clone();
        }
        match self.name.to_ascii_lowercase().as_str() {
            "dfs" => "Disease-free survival (DFS)".to_string(),
            "os" => "Overall survival (OS)".to_string(),
            "pfs" => "Progression-free survival (PFS)".to_string(),
            "rfs" => "Recurrence-free survival (RFS)".to_string(),
            "efs" => "Event-free survival (EFS)".to_string(),
            _ => self.name.clone(),
        }
    }

    /// The x-axis label of this endpoint's KM plots.
    pub fn time_label(&self) -> String {
        if self.time_unit.is_empty() {
            "Time".to_string()
        } else {
            format!("Time ({})", self.time_unit)
        }
    }
}

/// One file the run could not use, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantinedFile {
    /// Relative to the export folder (never a patient name).
    pub path: String,
    pub reason: String,
}

/// What the run saw and what it could use: the numbers a reader checks before trusting
/// any statistic.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DataQuality {
    pub files_seen: usize,
    pub files_indexed: usize,
    pub files_ignored: usize,
    pub quarantined: Vec<QuarantinedFile>,
    pub patients_indexed: usize,
    pub patients_evaluable: usize,
    /// Patient ids in the clinical table without images.
    pub patients_only_clinical: Vec<String>,
    /// Patient ids with images but no clinical row.
    pub patients_only_images: Vec<String>,
    pub lesions_measured: usize,
    /// Run configuration as shown to the reader, in display order, e.g.
    /// `("landmark", "timepoint 2")`, `("point set", "edges")`, `("ties", "efron")`.
    pub config: Vec<(String, String)>,
}

/// Where a key image's PNG comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageSource {
    Png(Vec<u8>),
    /// Read at render time; an unreadable file becomes a visible placeholder.
    File(PathBuf),
}

/// One key image: a rendered slice of one lesion at one timepoint.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyImage {
    pub patient_id: String,
    pub lesion_id: String,
    /// 0 = baseline.
    pub timepoint: usize,
    pub study_date: String,
    pub caption: String,
    /// The key image (`keyimage::render_key_image`): the lesion crop with its measurement
    /// drawn, above the whole slice with a box around the crop.
    pub source: ImageSource,
}

/// Everything the HTML report shows.
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    /// Page title, e.g. "oncometry report — trial X".
    pub title: &'a str,
    pub quality: &'a DataQuality,
    pub patients: &'a [PatientRow],
    pub timepoints: &'a [TimepointRow],
    pub endpoints: &'a [EndpointResults],
    pub key_images: &'a [KeyImage],
}
