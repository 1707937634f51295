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
        let time = merge_near_ties(time);
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

/// R's `aeqSurv` (the `timefix = TRUE` default of survfit, coxph and survdiff): times that
/// differ only by floating-point noise (≤ √ε absolutely or relative to the mean |time|) are
/// the same time, so that e.g. days/30.44 computed two ways still tie as R ties them. Each
/// time is replaced by the first of its run of near-equal times.
fn merge_near_ties(mut time: Vec<f64>) -> Vec<f64> {
    let tol = f64::EPSILON.sqrt();
    let max = time.iter().fold(0.0f64, |m, &t| m.max(t));
    // Whole numbers below 1/tol can never be near-ties: skip the sort (the usual case, days).
    if max < 0.5 / tol && time.iter().all(|t| t.fract() == 0.0) {
        return time;
    }
    let mut y = time.clone();
    y.sort_by(f64::total_cmp);
    y.dedup();
    let mean_abs = y.iter().map(|v| v.abs()).sum::<f64>() / y.len() as f64;
    let mut cuts = Vec::with_capacity(y.len());
    cuts.push(y[0]);
    for w in y.windows(2) {
        let dy = w[1] - w[0];
        let tied = dy <= tol || (mean_abs > 0.0 && dy / mean_abs <= tol);
        if !tied {
            cuts.push(w[1]);
        }
    }
    if cuts.len() == y.len() {
        return time;
    }
    for t in time.iter_mut() {
        let k = cuts.partition_point(|c| *c <= *t);
        *t = cuts[k.saturating_sub(1)];
    }
    time
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_equal_times_tie_as_in_r() {
        let a = 10.0 / 3.0;
        let b = a + 4.0 * f64::EPSILON;
        assert_ne!(a, b);
        let d = SurvData::new(vec![a, b, 5.5, 1.25], vec![true, true, false, true]).expect("ok");
        assert_eq!(d.time(), &[a, a, 5.5, 1.25]);
        let d = SurvData::new(vec![3.0, 2.0], vec![true, false]).expect("ok");
        assert_eq!(d.time(), &[3.0, 2.0]);
    }
}
