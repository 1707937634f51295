//! Right-censored survival data: the one validated input every analysis takes.

use super::error::{Result, SurvError};

/// Follow-up times with their event indicators, checked once at construction so that every
/// analysis can trust them (finite, non-negative times; one event flag per time).
#[derive(Debug, Clone, PartialEq)]
pub struct SurvData {
    time: Vec<f64>,
    event: Vec<bool>,
}

impl SurvData {
    /// Rejects negative or non-finite times and mismatched lengths. Rows are numbered from 1
    /// in errors, in the order given.
    pub fn new(time: Vec<f64>, event: Vec<bool>) -> Result<Self> {
        if time.len() != event.len() {
            return Err(SurvError::LengthMismatch {
                what: "event".into(),
                expected: time.len(),
                got: event.len(),
            });
        }
        for (i, &t) in time.iter().enumerate() {
            if !t.is_finite() {
                return Err(SurvError::NonFiniteTime {
                    column: "time".into(),
                    row: i + 1,
                });
            }
            if t < 0.0 {
                return Err(SurvError::NegativeTime {
                    column: "time".into(),
                    row: i + 1,
                    value: t,
                });
            }
        }
        if time.is_empty() {
            return Err(SurvError::NoObservations);
        }
        Ok(Self { time, event })
    }

    /// As [`SurvData::new`] with events coded as numbers, which must be exactly 0 or 1.
    pub fn from_codes(time: Vec<f64>, event: &[f64]) -> Result<Self> {
        let mut ev = Vec::with_capacity(event.len());
        for (i, &e) in event.iter().enumerate() {
            if e == 0.0 {
                ev.push(false);
            } else if e == 1.0 {
                ev.push(true);
            } else {
                return Err(SurvError::BadEvent {
                    column: "event".into(),
                    row: i + 1,
                    value: e.to_string(),
                });
            }
        }
        Self::new(time, ev)
    }

    pub fn time(&self) -> &[f64] {
        &self.time
    }

    pub fn event(&self) -> &[bool] {
        &self.event
    }

    pub fn len(&self) -> usize {
        self.time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }

    pub fn n_events(&self) -> usize {
        self.event.iter().filter(|&&e| e).count()
    }

    pub(crate) fn check_len(&self, what: &str, got: usize) -> Result<()> {
        if got != self.len() {
            return Err(SurvError::LengthMismatch {
                what: what.into(),
                expected: self.len(),
                got,
            });
        }
        Ok(())
    }
}
