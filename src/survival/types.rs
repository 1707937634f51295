//! Result types of the survival analyses. Their serde form is exactly the JSON of the
//! command-line contract (shared/interface.md §4) and of `survival.json`; `report` draws
//! from them. `None` serializes as `null`, which is where R says NA or "not reached".

use serde::{Deserialize, Serialize};

/// A Kaplan–Meier fit, one curve per group (one group named "all" when ungrouped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KmFit {
    pub groups: Vec<KmGroup>,
    /// Rows dropped for a missing value in a used column.
    #[serde(default)]
    pub n_dropped: usize,
    /// "log" or "log-log".
    #[serde(default)]
    pub conf_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KmGroup {
    pub group: String,
    pub n: usize,
    pub events: usize,
    /// One row per distinct time (event or censor-only), as R's survfit.
    pub table: Vec<KmRow>,
    pub median: MedianCi,
    /// Survival at requested times (`--times`), as R's summary.survfit(times=, extend=TRUE).
    #[serde(default)]
    pub at_times: Vec<KmAtTime>,
    /// Restricted mean survival time up to tau (`--rmst-tau`).
    #[serde(default)]
    pub rmst: Option<Rmst>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KmRow {
    pub time: f64,
    pub n_risk: f64,
    pub n_event: f64,
    pub n_censor: f64,
    pub surv: f64,
    /// Standard error of the cumulative hazard (R's `survfit()$std.err`); None where R has Inf/NA.
    pub std_err: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// Nelson–Aalen cumulative hazard (R's `survfit()$cumhaz`).
    #[serde(default)]
    pub cumhaz: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct MedianCi {
    pub time: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KmAtTime {
    pub time: f64,
    pub n_risk: f64,
    pub surv: f64,
    /// Standard error of the survival (R's summary.survfit `std.err`).
    pub std_err: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rmst {
    pub tau: f64,
    pub value: f64,
    pub se: f64,
}

/// A k-group log-rank (rho = 0) or Peto–Peto (rho = 1) test, possibly stratified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRank {
    pub chisq: f64,
    pub df: usize,
    pub p: f64,
    pub groups: Vec<LogRankGroup>,
    #[serde(default)]
    pub rho: f64,
    #[serde(default)]
    pub n_dropped: usize,
    /// Variance–covariance matrix of O − E (R's `survdiff()$var`), groups in output order.
    #[serde(default)]
    pub var: Vec<Vec<f64>>,
    /// Whether O, E and the variance were summed over strata.
    #[serde(default)]
    pub stratified: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRankGroup {
    pub group: String,
    pub n: usize,
    pub observed: f64,
    pub expected: f64,
}

/// A Cox proportional hazards fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoxFit {
    pub n: usize,
    pub events: usize,
    pub n_dropped: usize,
    /// "efron" or "breslow".
    pub ties: String,
    pub coefficients: Vec<CoxTerm>,
    /// `[null, final]` partial log-likelihoods.
    pub loglik: [f64; 2],
    pub tests: CoxTests,
    pub concordance: Concordance,
    /// Problems a reader must see, e.g. monotone likelihood (an infinite coefficient).
    pub warnings: Vec<String>,
    #[serde(default)]
    pub iterations: usize,
    /// Variance–covariance matrix of the coefficients (inverse information), term order.
    #[serde(default)]
    pub var: Vec<Vec<f64>>,
    /// Number of strata when stratified (`--strata`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strata: Option<usize>,
    /// Proportional-hazards test (R's `cox.zph`, transform "km"), when requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zph: Option<CoxZph>,
}

/// R's `cox.zph(fit, transform = "km", terms = TRUE)$table`: one row per term, then GLOBAL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoxZph {
    pub transform: String,
    pub rows: Vec<ZphRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZphRow {
    pub term: String,
    pub chisq: f64,
    pub df: usize,
    pub p: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoxTerm {
    /// R's term name, e.g. `age`, `sexfemale`, `best_overall_responseSD`.
    pub term: String,
    pub coef: f64,
    pub se: f64,
    pub hr: f64,
    pub ci_lower: f64,
    pub ci_upper: f64,
    pub z: f64,
    pub p: f64,
    /// The likelihood is monotone in this coefficient (it diverges): HR, CI and Wald p are
    /// meaningless; see `warnings`.
    #[serde(default)]
    pub may_be_infinite: bool,
    /// Continuous covariate reported per this many units (`--covariate COL:per=K`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoxTests {
    pub lr: TestStat,
    pub wald: TestStat,
    pub score: TestStat,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TestStat {
    pub stat: f64,
    pub df: usize,
    pub p: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Concordance {
    pub c: f64,
    pub se: f64,
    /// Pair counts as R's `coxph()$concordance`.
    #[serde(default)]
    pub concordant: f64,
    #[serde(default)]
    pub discordant: f64,
    #[serde(default)]
    pub tied_x: f64,
    #[serde(default)]
    pub tied_y: f64,
    #[serde(default)]
    pub tied_xy: f64,
}
