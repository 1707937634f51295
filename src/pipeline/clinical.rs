//! The clinical outcomes table: one row per patient, joined to the imaging results by
//! patient id. Bad cells never stop a run: a cell that is not a valid time or 0/1 event is
//! treated as missing for that endpoint (the survival stage drops and counts it) and the
//! problem is reported with its row and column.

use std::collections::BTreeMap;
use std::io::Read;

use super::config::ClinicalConfig;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClinicalError {
    #[error("clinical table: {0}")]
    Csv(#[from] csv::Error),
    #[error("clinical table has no column {column:?} (configured as {role})")]
    MissingColumn { column: String, role: String },
}

/// One endpoint of one patient; `None` where the cell was empty, NA or invalid.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Outcome {
    pub time: Option<f64>,
    pub event: Option<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClinicalRow {
    /// 1-based data row (the header is row 0), for messages.
    pub row: usize,
    /// Outcomes in the order of the configured endpoints.
    pub outcomes: Vec<Outcome>,
    /// Every column except the patient id, as written, carried into patients.csv.
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClinicalTable {
    /// Column names except the patient id, in file order.
    pub columns: Vec<String>,
    pub patients: BTreeMap<String, ClinicalRow>,
    /// Problems found (bad cells, duplicate patients), one line each naming row and column.
    pub warnings: Vec<String>,
}

impl ClinicalTable {
    pub fn read<R: Read>(reader: R, cfg: &ClinicalConfig) -> Result<ClinicalTable, ClinicalError> {
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .flexible(false)
            .from_reader(reader);
        let headers = rdr.headers()?.clone();
        let find = |name: &str, role: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| ClinicalError::MissingColumn {
                    column: name.to_string(),
                    role: role.to_string(),
                })
        };
        let id_col = find(&cfg.patient_id, "patient id")?;
        let mut endpoint_cols = Vec::new();
        for ep in &cfg.endpoints {
            endpoint_cols.push((
                find(&ep.time, &format!("{} time", ep.name))?,
                find(&ep.event, &format!("{} event", ep.name))?,
            ));
        }
        let columns: Vec<String> = headers
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != id_col)
            .map(|(_, h)| h.to_string())
            .collect();
        let mut patients = BTreeMap::new();
        let mut warnings = Vec::new();
        for (i, rec) in rdr.records().enumerate() {
            let row = i + 1;
            let rec = rec?;
            let id = rec.get(id_col).unwrap_or("").to_string();
            if id.is_empty() {
                warnings.push(format!("clinical row {row}: empty patient id, row ignored"));
                continue;
            }
            let mut outcomes = Vec::with_capacity(endpoint_cols.len());
            for (k, &(tc, ec)) in endpoint_cols.iter().enumerate() {
                let ep = &cfg.endpoints[k];
                let time = parse_time(rec.get(tc).unwrap_or("")).unwrap_or_else(|e| {
                    warnings.push(format!(
                        "clinical row {row}, column {:?}: {e}; treated as missing",
                        ep.time
                    ));
                    None
                });
                let event = parse_event(rec.get(ec).unwrap_or("")).unwrap_or_else(|e| {
                    warnings.push(format!(
                        "clinical row {row}, column {:?}: {e}; treated as missing",
                        ep.event
                    ));
                    None
                });
                outcomes.push(Outcome { time, event });
            }
            let fields = rec
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != id_col)
                .map(|(_, v)| v.to_string())
                .collect();
            if patients.contains_key(&id) {
                warnings.push(format!(
                    "clinical row {row}: patient {id} appears again; this row is ignored"
                ));
                continue;
            }
            patients.insert(
                id,
                ClinicalRow {
                    row,
                    outcomes,
                    fields,
                },
            );
        }
        Ok(ClinicalTable {
            columns,
            patients,
            warnings,
        })
    }
}

fn is_missing(s: &str) -> bool {
    matches!(s, "" | "NA" | "na" | "NaN" | "nan" | "." | "NULL" | "null")
}

fn parse_time(s: &str) -> Result<Option<f64>, String> {
    if is_missing(s) {
        return Ok(None);
    }
    match s.parse::<f64>() {
        Ok(t) if t.is_finite() && t >= 0.0 => Ok(Some(t)),
        Ok(t) => Err(format!("time {t} is negative or not finite")),
        Err(_) => Err(format!("time {s:?} is not a number")),
    }
}

fn parse_event(s: &str) -> Result<Option<u8>, String> {
    if is_missing(s) {
        return Ok(None);
    }
    match s {
        "0" | "0.0" => Ok(Some(0)),
        "1" | "1.0" => Ok(Some(1)),
        other => Err(format!("event {other:?} is not 0 or 1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<ClinicalTable, ClinicalError> {
        ClinicalTable::read(text.as_bytes(), &ClinicalConfig::default())
    }

    #[test]
    fn reads_outcomes_and_carries_other_columns() {
        let t = read(
            "patient_id,dfs_time,dfs_event,os_time,os_event,arm\nP1,100,1,200,0,A\nP2,NA,,50,1,B\n",
        )
        .unwrap();
        assert_eq!(
            t.columns,
            ["dfs_time", "dfs_event", "os_time", "os_event", "arm"]
        );
        let p1 = &t.patients["P1"];
        assert_eq!(
            p1.outcomes[0],
            Outcome {
                time: Some(100.0),
                event: Some(1)
            }
        );
        assert_eq!(
            p1.outcomes[1],
            Outcome {
                time: Some(200.0),
                event: Some(0)
            }
        );
        assert_eq!(p1.fields.last().unwrap(), "A");
        assert_eq!(
            t.patients["P2"].outcomes[0],
            Outcome {
                time: None,
                event: None
            }
        );
        assert!(t.warnings.is_empty());
    }

    #[test]
    fn bad_cells_become_missing_with_a_warning_naming_row_and_column() {
        let t = read("patient_id,dfs_time,dfs_event,os_time,os_event\nP1,-3,2,abc,1\n").unwrap();
        assert_eq!(
            t.patients["P1"].outcomes[0],
            Outcome {
                time: None,
                event: None
            }
        );
        assert_eq!(t.warnings.len(), 3);
        assert!(
            t.warnings[0].contains("row 1") && t.warnings[0].contains("dfs_time"),
            "{:?}",
            t.warnings
        );
        assert!(t.warnings[1].contains("dfs_event"));
        assert!(t.warnings[2].contains("os_time"));
    }

    #[test]
    fn duplicate_patient_keeps_first_row() {
        let t = read("patient_id,dfs_time,dfs_event,os_time,os_event\nP1,1,1,1,1\nP1,2,0,2,0\n")
            .unwrap();
        assert_eq!(t.patients["P1"].row, 1);
        assert!(t.warnings[0].contains("appears again"));
    }

    #[test]
    fn missing_column_is_named() {
        let err = read("patient_id,dfs_time,dfs_event,os_time\nP1,1,1,1\n").unwrap_err();
        assert!(err.to_string().contains("\"os_event\""), "{err}");
    }
}
