//! The lesions table the response stage reads: the contract's minimal columns, the full
//! `lesions.csv` of `oncometry measure`, or a reader's own table with `role` and `state`.
//!
//! A bad cell never fails the read: it is kept on the row as an [`InputIssue`] so that only
//! that row's patient becomes not evaluable. Only a missing required column or an
//! unreadable stream fails the whole table.

use std::fmt;
use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::report::lesions::LesionRow;

/// A reader's designation of a lesion (optional `role` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Target,
    NonTarget,
    New,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        Some(
            match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
                "target" => Role::Target,
                "non-target" | "nontarget" => Role::NonTarget,
                "new" => Role::New,
                _ => return None,
            },
        )
    }
}

/// A reader's statement about a lesion at one timepoint (optional `state` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LesionState {
    /// The diameters in the row are the measurement.
    Measured,
    /// Present but too small to measure: counts as `too_small_mm` (5 mm).
    TooSmall,
    /// Gone: 0 mm.
    Disappeared,
    NotEvaluated,
    /// Non-target states.
    Present,
    Absent,
    UnequivocalProgression,
    /// Extension: a new lesion that is not yet unequivocal. It becomes PD only when a later
    /// timepoint shows it again, and PD is then dated back to this timepoint.
    Equivocal,
}

impl LesionState {
    pub fn parse(s: &str) -> Option<LesionState> {
        Some(
            match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
                "measured" => LesionState::Measured,
                "too-small" => LesionState::TooSmall,
                "disappeared" => LesionState::Disappeared,
                "not-evaluated" => LesionState::NotEvaluated,
                "present" => LesionState::Present,
                "absent" => LesionState::Absent,
                "unequivocal-progression" => LesionState::UnequivocalProgression,
                "equivocal" => LesionState::Equivocal,
                _ => return None,
            },
        )
    }
}

/// A cell that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputIssue {
    BadNumber { column: &'static str, value: String },
    BadBool { column: &'static str, value: String },
    Empty { column: &'static str },
    UnknownRole(String),
    UnknownState(String),
}

impl fmt::Display for InputIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputIssue::BadNumber { column, value } => {
                write!(f, "{column} is not a number: {value:?}")
            }
            InputIssue::BadBool { column, value } => {
                write!(f, "{column} is not true/false: {value:?}")
            }
            InputIssue::Empty { column } => write!(f, "{column} is empty"),
            InputIssue::UnknownRole(v) => {
                write!(f, "unknown role {v:?} (expected target, non-target, new)")
            }
            InputIssue::UnknownState(v) => write!(
                f,
                "unknown state {v:?} (expected measured, too-small, disappeared, \
                 not-evaluated, present, absent, unequivocal-progression, equivocal)"
            ),
        }
    }
}

/// One lesion seen by one annotation object at one study date.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LesionInput {
    /// 1-based data row (the header is not counted), for error messages.
    pub row: usize,
    /// 1-based line in the file (0 when the row did not come from a file).
    pub line: u64,
    pub patient_id: String,
    /// As written; parsed during evaluation so that a bad date only affects its patient.
    pub study_date: String,
    pub lesion_id: String,
    pub is_node: bool,
    pub organ: String,
    pub long_axis_mm: Option<f64>,
    pub short_axis_mm: Option<f64>,
    pub slice_thickness_mm: Option<f64>,
    pub role: Option<Role>,
    pub state: Option<LesionState>,
    /// The annotation object (SOP Instance UID) the row came from; empty when unknown.
    /// Several rows of one lesion at one date from one object are fragments of a split
    /// lesion (summed); from different objects they are duplicates.
    pub source_object: String,
    pub issues: Vec<InputIssue>,
}

impl LesionInput {
    /// The pipeline's path: a `measure` row (row = its 1-based position in the table).
    pub fn from_lesion_row(row: usize, r: &LesionRow) -> LesionInput {
        LesionInput {
            row,
            line: 0,
            patient_id: r.patient_id.clone(),
            study_date: r.study_date.clone(),
            lesion_id: r.lesion_id.clone(),
            is_node: r.is_node,
            organ: r.organ.clone(),
            long_axis_mm: Some(r.long_axis_mm),
            short_axis_mm: Some(r.short_axis_mm),
            slice_thickness_mm: r.slice_thickness_mm,
            role: None,
            state: None,
            source_object: r.sop_instance_uid.clone(),
            issues: Vec::new(),
        }
    }

    /// Where the row came from, for messages: `row 3 (line 4)`.
    pub fn location(&self) -> String {
        if self.line > 0 {
            format!("row {} (line {})", self.row, self.line)
        } else {
            format!("row {}", self.row)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("lesions table has no `{column}` column (required: {required})")]
    MissingColumn {
        column: &'static str,
        required: String,
    },
    #[error("lesions table has the column `{column}` twice")]
    DuplicateColumn { column: String },
    #[error("cannot read lesions table: {0}")]
    Csv(#[from] csv::Error),
}

/// Columns every table must have.
pub const REQUIRED_COLUMNS: [&str; 7] = [
    "patient_id",
    "study_date",
    "lesion_id",
    "is_node",
    "organ",
    "long_axis_mm",
    "short_axis_mm",
];

fn parse_opt_f64(column: &'static str, s: &str, issues: &mut Vec<InputIssue>) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Some(v),
        _ => {
            issues.push(InputIssue::BadNumber {
                column,
                value: s.to_string(),
            });
            None
        }
    }
}

fn parse_bool(column: &'static str, s: &str, issues: &mut Vec<InputIssue>) -> bool {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" | "t" => true,
        "false" | "0" | "no" | "n" | "f" => false,
        "" => {
            issues.push(InputIssue::Empty { column });
            false
        }
        other => {
            issues.push(InputIssue::BadBool {
                column,
                value: other.to_string(),
            });
            false
        }
    }
}

/// Reads a lesions table. Unknown columns are ignored; cells that cannot be read are kept
/// as issues on their row.
pub fn read_lesions<R: Read>(r: R) -> Result<Vec<LesionInput>, ReadError> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(r);
    let headers: Vec<String> = rdr
        .byte_headers()?
        .iter()
        .map(|h| {
            String::from_utf8_lossy(h)
                .trim_start_matches('\u{feff}')
                .trim()
                .to_string()
        })
        .collect();
    let find = |name: &str| headers.iter().position(|h| h == name);
    for (i, h) in headers.iter().enumerate() {
        if !h.is_empty() && headers[..i].contains(h) {
            return Err(ReadError::DuplicateColumn { column: h.clone() });
        }
    }
    let mut req = [0usize; 7];
    for (slot, name) in req.iter_mut().zip(REQUIRED_COLUMNS) {
        *slot = find(name).ok_or_else(|| ReadError::MissingColumn {
            column: name,
            required: REQUIRED_COLUMNS.join(","),
        })?;
    }
    let [c_pid, c_date, c_lesion, c_node, c_organ, c_long, c_short] = req;
    let c_thick = find("slice_thickness_mm");
    let c_role = find("role");
    let c_state = find("state");
    let c_sop = find("sop_instance_uid");

    let mut out = Vec::new();
    let mut rec = csv::ByteRecord::new();
    let mut row = 0usize;
    while rdr.read_byte_record(&mut rec)? {
        row += 1;
        let line = rec.position().map_or(0, |p| p.line());
        let cell = |i: usize| -> String {
            rec.get(i)
                .map(|b| String::from_utf8_lossy(b).trim().to_string())
                .unwrap_or_default()
        };
        let opt_cell = |i: Option<usize>| i.map(cell).unwrap_or_default();
        let mut issues = Vec::new();
        let patient_id = cell(c_pid);
        if patient_id.is_empty() {
            issues.push(InputIssue::Empty {
                column: "patient_id",
            });
        }
        let lesion_id = cell(c_lesion);
        if lesion_id.is_empty() {
            issues.push(InputIssue::Empty {
                column: "lesion_id",
            });
        }
        let is_node = parse_bool("is_node", &cell(c_node), &mut issues);
        let long_axis_mm = parse_opt_f64("long_axis_mm", &cell(c_long), &mut issues);
        let short_axis_mm = parse_opt_f64("short_axis_mm", &cell(c_short), &mut issues);
        let slice_thickness_mm =
            parse_opt_f64("slice_thickness_mm", &opt_cell(c_thick), &mut issues);
        let role_s = opt_cell(c_role);
        let role = if role_s.is_empty() {
            None
        } else {
            let r = Role::parse(&role_s);
            if r.is_none() {
                issues.push(InputIssue::UnknownRole(role_s));
            }
            r
        };
        let state_s = opt_cell(c_state);
        let state = if state_s.is_empty() {
            None
        } else {
            let s = LesionState::parse(&state_s);
            if s.is_none() {
                issues.push(InputIssue::UnknownState(state_s));
            }
            s
        };
        out.push(LesionInput {
            row,
            line,
            patient_id,
            study_date: cell(c_date),
            lesion_id,
            is_node,
            organ: cell(c_organ),
            long_axis_mm,
            short_axis_mm,
            slice_thickness_mm,
            role,
            state,
            source_object: opt_cell(c_sop),
            issues,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_minimal_table_with_optional_columns() {
        let csv = "patient_id,study_date,lesion_id,is_node,organ,long_axis_mm,short_axis_mm,role,state\n\
                   P1,2024-01-01,L1,false,liver,25.5,12,target,measured\n\
                   P1,2024-03-01,L1,false,liver,,,,too-small\n";
        let rows = read_lesions(csv.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].long_axis_mm, Some(25.5));
        assert_eq!(rows[0].role, Some(Role::Target));
        assert_eq!(rows[1].state, Some(LesionState::TooSmall));
        assert_eq!(rows[1].long_axis_mm, None);
        assert_eq!((rows[1].row, rows[1].line), (2, 3));
        assert!(rows.iter().all(|r| r.issues.is_empty()));
    }

    #[test]
    fn missing_required_column_fails_the_table() {
        let csv = "patient_id,study_date,lesion_id,is_node,organ,long_axis_mm\nP1,2024-01-01,L1,false,x,1\n";
        match read_lesions(csv.as_bytes()) {
            Err(ReadError::MissingColumn { column, .. }) => assert_eq!(column, "short_axis_mm"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_cells_become_row_issues() {
        let csv = "patient_id,study_date,lesion_id,is_node,organ,long_axis_mm,short_axis_mm,state\n\
                   P1,2024-01-01,L1,maybe,liver,abc,1,gone\n";
        let rows = read_lesions(csv.as_bytes()).unwrap();
        let msgs: Vec<String> = rows[0].issues.iter().map(|i| i.to_string()).collect();
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert!(msgs[0].contains("is_node"));
        assert!(msgs[1].contains("long_axis_mm"));
        assert!(msgs[2].contains("gone"));
    }

    #[test]
    fn reads_the_full_measure_lesions_csv() {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.serialize(LesionRow {
            patient_id: "P9".into(),
            study_date: "2024-05-06".into(),
            lesion_id: "1.2.3".into(),
            is_node: true,
            organ: "lymph node".into(),
            long_axis_mm: 21.25,
            short_axis_mm: 16.5,
            slice_thickness_mm: Some(1.25),
            sop_instance_uid: "9.9".into(),
            ..Default::default()
        })
        .unwrap();
        let bytes = w.into_inner().unwrap();
        let rows = read_lesions(bytes.as_slice()).unwrap();
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert!(r.issues.is_empty(), "{:?}", r.issues);
        assert!(r.is_node);
        assert_eq!(r.short_axis_mm, Some(16.5));
        assert_eq!(r.slice_thickness_mm, Some(1.25));
        assert_eq!(r.source_object, "9.9");
    }
}
