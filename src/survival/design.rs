//! The covariates of a Cox model: named continuous columns (optionally per K units) and
//! categorical columns expanded into treatment contrasts named as R names them.

use std::ops::Range;

use super::error::{Result, SurvError};
use super::levels::{codes, sorted_levels};

/// One model term: a covariate as the user named it, and the coefficients it owns.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub name: String,
    /// Indices into the coefficient list.
    pub columns: Range<usize>,
    /// Continuous: hazard ratio per this many units.
    pub per: Option<f64>,
    /// Categorical: the reference level followed by the levels with a coefficient.
    pub levels: Option<Vec<String>>,
}

/// A model matrix for `cox`, built term by term. Every column has one value per subject.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Design {
    n: usize,
    /// One column per coefficient.
    pub(crate) columns: Vec<Vec<f64>>,
    pub(crate) coef_names: Vec<String>,
    pub(crate) terms: Vec<Term>,
    pub(crate) strata: Option<Vec<String>>,
    /// For each coefficient of a categorical term: the level it contrasts.
    pub(crate) level_of: Vec<Option<(String, String)>>,
}

impl Design {
    /// An empty design for `n` subjects.
    pub fn new(n: usize) -> Self {
        Self {
            n,
            ..Default::default()
        }
    }

    fn check_len(&self, name: &str, got: usize) -> Result<()> {
        if got != self.n {
            return Err(SurvError::LengthMismatch {
                what: name.into(),
                expected: self.n,
                got,
            });
        }
        Ok(())
    }

    /// A continuous covariate (HR per 1 unit).
    pub fn continuous(self, name: &str, values: &[f64]) -> Result<Self> {
        self.continuous_per(name, values, 1.0)
    }

    /// A continuous covariate whose hazard ratio is reported per `per` units (the column is
    /// divided by `per`, so the coefficient is log HR per `per`).
    pub fn continuous_per(mut self, name: &str, values: &[f64], per: f64) -> Result<Self> {
        self.check_len(name, values.len())?;
        if !(per.is_finite() && per != 0.0) {
            return Err(SurvError::BadPer {
                column: name.into(),
                per,
            });
        }
        for (i, v) in values.iter().enumerate() {
            if !v.is_finite() {
                return Err(SurvError::NotANumber {
                    column: name.into(),
                    row: i + 1,
                    value: v.to_string(),
                });
            }
        }
        if values.windows(2).all(|w| w[0] == w[1]) {
            return Err(SurvError::ConstantCovariate {
                column: name.into(),
            });
        }
        let col: Vec<f64> = if per == 1.0 {
            values.to_vec()
        } else {
            values.iter().map(|v| v / per).collect()
        };
        let k = self.columns.len();
        self.columns.push(col);
        self.coef_names.push(name.to_string());
        self.level_of.push(None);
        self.terms.push(Term {
            name: name.to_string(),
            columns: k..k + 1,
            per: (per != 1.0).then_some(per),
            levels: None,
        });
        Ok(self)
    }

    /// A categorical covariate with `reference` as the baseline; the other levels present
    /// follow in R's factor order, each with a coefficient named `name` + level.
    pub fn categorical(self, name: &str, values: &[String], reference: &str) -> Result<Self> {
        let mut levels = sorted_levels(values);
        let Some(pos) = levels.iter().position(|l| l == reference) else {
            return Err(SurvError::UnknownLevel {
                column: name.into(),
                level: reference.into(),
                levels: levels.join(", "),
            });
        };
        let r = levels.remove(pos);
        levels.insert(0, r);
        self.categorical_levels(name, values, &levels)
    }

    /// A categorical covariate with an explicit level order; the first level is the
    /// reference. Levels absent from the data get no coefficient; values not listed are an
    /// error.
    pub fn categorical_levels(
        mut self,
        name: &str,
        values: &[String],
        levels: &[String],
    ) -> Result<Self> {
        self.check_len(name, values.len())?;
        let Some(reference) = levels.first() else {
            return Err(SurvError::BadOption(format!("'{name}': no levels given")));
        };
        let c = codes(values, levels);
        let mut count = vec![0usize; levels.len()];
        for (i, ci) in c.iter().enumerate() {
            match ci {
                Some(k) => count[*k] += 1,
                None => {
                    return Err(SurvError::UnknownLevel {
                        column: name.into(),
                        level: values[i].clone(),
                        levels: levels.join(", "),
                    });
                }
            }
        }
        if count[0] == 0 {
            return Err(SurvError::UnknownLevel {
                column: name.into(),
                level: reference.clone(),
                levels: sorted_levels(values).join(", "),
            });
        }
        let used: Vec<usize> = (1..levels.len()).filter(|&k| count[k] > 0).collect();
        if used.is_empty() {
            return Err(SurvError::SingleLevel {
                column: name.into(),
                level: reference.clone(),
            });
        }
        let start = self.columns.len();
        for &k in &used {
            let col: Vec<f64> = c
                .iter()
                .map(|ci| if *ci == Some(k) { 1.0 } else { 0.0 })
                .collect();
            self.columns.push(col);
            self.coef_names.push(format!("{name}{}", levels[k]));
            self.level_of
                .push(Some((name.to_string(), levels[k].clone())));
        }
        let mut lv = vec![reference.clone()];
        lv.extend(used.iter().map(|&k| levels[k].clone()));
        self.terms.push(Term {
            name: name.to_string(),
            columns: start..self.columns.len(),
            per: None,
            levels: Some(lv),
        });
        Ok(self)
    }

    /// Fit a separate baseline hazard per stratum (R's `strata()`).
    pub fn strata(mut self, values: &[String]) -> Result<Self> {
        self.check_len("strata", values.len())?;
        self.strata = Some(values.to_vec());
        Ok(self)
    }

    pub fn n(&self) -> usize {
        self.n
    }

    pub fn n_coef(&self) -> usize {
        self.columns.len()
    }

    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    pub fn coef_names(&self) -> &[String] {
        &self.coef_names
    }
}
