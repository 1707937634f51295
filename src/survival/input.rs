//! Reading an analysis table from CSV: pick the columns an analysis uses, drop the rows
//! where any of them is missing (and count them), and parse values with errors that name
//! the column and the data row (1-based, header not counted).

use std::io::Read;
use std::path::Path;

use super::SurvData;
use super::error::{Result, SurvError};

/// Cell values read as missing, as R's `read.csv` and common exports write them.
pub const MISSING: &[&str] = &["", "NA", "NaN", "nan", "N/A", "NULL", "null", "."];

fn is_missing(v: &str) -> bool {
    MISSING.contains(&v.trim())
}

/// A CSV table held as raw records.
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<csv::StringRecord>,
}

impl Table {
    pub fn from_path(path: &Path) -> Result<Self> {
        let f = std::fs::File::open(path)
            .map_err(|e| SurvError::Csv(format!("{}: {e}", path.display())))?;
        Self::from_reader(std::io::BufReader::with_capacity(1 << 20, f))
            .map_err(|e| SurvError::Csv(format!("{}: {e}", path.display())))
    }

    pub fn from_reader<R: Read>(r: R) -> Result<Self> {
        let mut rdr = csv::ReaderBuilder::new().flexible(false).from_reader(r);
        let headers: Vec<String> = rdr
            .headers()
            .map_err(|e| SurvError::Csv(e.to_string()))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        let mut rows = Vec::new();
        for rec in rdr.records() {
            rows.push(rec.map_err(|e| SurvError::Csv(e.to_string()))?);
        }
        Ok(Self { headers, rows })
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    pub fn n_rows(&self) -> usize {
        self.rows.len()
    }

    pub fn column(&self, name: &str) -> Result<usize> {
        self.headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| SurvError::UnknownColumn {
                column: name.into(),
                available: self.headers.join(", "),
            })
    }

    /// The rows complete in every `used` column (each must exist).
    pub fn select(&self, used: &[&str]) -> Result<Selection<'_>> {
        let idx: Vec<usize> = used.iter().map(|c| self.column(c)).collect::<Result<_>>()?;
        let rows: Vec<usize> = (0..self.rows.len())
            .filter(|&r| {
                idx.iter()
                    .all(|&c| !is_missing(self.rows[r].get(c).unwrap_or("")))
            })
            .collect();
        Ok(Selection {
            n_dropped: self.rows.len() - rows.len(),
            table: self,
            rows,
        })
    }
}

/// The complete rows of a table for one analysis.
#[derive(Debug, Clone)]
pub struct Selection<'a> {
    table: &'a Table,
    rows: Vec<usize>,
    /// Rows dropped for a missing value in a used column.
    pub n_dropped: usize,
}

impl Selection<'_> {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Data-row numbers (1-based) of the kept rows.
    pub fn row_numbers(&self) -> Vec<usize> {
        self.rows.iter().map(|r| r + 1).collect()
    }

    pub fn text(&self, column: &str) -> Result<Vec<String>> {
        let c = self.table.column(column)?;
        Ok(self
            .rows
            .iter()
            .map(|&r| self.table.rows[r].get(c).unwrap_or("").trim().to_string())
            .collect())
    }

    pub fn numeric(&self, column: &str) -> Result<Vec<f64>> {
        let c = self.table.column(column)?;
        self.rows
            .iter()
            .map(|&r| {
                let v = self.table.rows[r].get(c).unwrap_or("").trim();
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| SurvError::NotANumber {
                        column: column.into(),
                        row: r + 1,
                        value: v.into(),
                    })
            })
            .collect()
    }

    /// Times and 0/1 events, validated with the offending data row named.
    pub fn surv(&self, time_col: &str, event_col: &str) -> Result<SurvData> {
        let time = self.numeric(time_col)?;
        let ev = self.numeric(event_col)?;
        let mut event = Vec::with_capacity(ev.len());
        for (k, (&t, &e)) in time.iter().zip(&ev).enumerate() {
            let row = self.rows[k] + 1;
            if t < 0.0 {
                return Err(SurvError::NegativeTime {
                    column: time_col.into(),
                    row,
                    value: t,
                });
            }
            if e == 0.0 {
                event.push(false);
            } else if e == 1.0 {
                event.push(true);
            } else {
                return Err(SurvError::BadEvent {
                    column: event_col.into(),
                    row,
                    value: self.table.rows[self.rows[k]]
                        .get(self.table.column(event_col)?)
                        .unwrap_or("")
                        .trim()
                        .to_string(),
                });
            }
        }
        if time.is_empty() {
            return Err(SurvError::NoObservations);
        }
        SurvData::new(time, event)
    }
}
