//! Kaplan–Meier estimates as R's `survfit` prints them: one row per distinct time, the
//! Greenwood standard error of the cumulative hazard, `log` / `log-log` intervals, the median
//! and its interval by R's rules, survival at fixed times and the restricted mean.

use super::dist::z_for_level;
use super::error::{Result, SurvError};
use super::levels::{codes, sorted_levels};
use super::{KmAtTime, KmFit, KmGroup, KmRow, MedianCi, Rmst, SurvData};

/// The transformation the pointwise confidence interval is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConfType {
    /// exp(log S ± z·se), upper bound truncated at 1 (R's default).
    #[default]
    Log,
    /// exp(−exp(log(−log S) ± z·se/log S)) (SAS's default, lifelines' "exponential Greenwood").
    LogLog,
}

impl ConfType {
    pub fn as_str(self) -> &'static str {
        match self {
            ConfType::Log => "log",
            ConfType::LogLog => "log-log",
        }
    }
}

impl std::str::FromStr for ConfType {
    type Err = SurvError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "log" => Ok(ConfType::Log),
            "log-log" | "loglog" => Ok(ConfType::LogLog),
            _ => Err(SurvError::BadOption(format!(
                "conf-type '{s}': expected log or log-log"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct KmOptions {
    pub conf_type: ConfType,
    /// Confidence level of the intervals (0.95).
    pub conf_level: f64,
    /// Times at which to report survival and number at risk.
    pub times: Vec<f64>,
    /// Horizon of the restricted mean survival time.
    pub rmst_tau: Option<f64>,
    /// Order of the groups (default: R's factor order of the values present).
    pub levels: Option<Vec<String>>,
}

impl Default for KmOptions {
    fn default() -> Self {
        Self {
            conf_type: ConfType::Log,
            conf_level: 0.95,
            times: Vec::new(),
            rmst_tau: None,
            levels: None,
        }
    }
}

/// Kaplan–Meier curves, one per group (a single group "all" when `groups` is `None`).
pub fn kaplan_meier(data: &SurvData, groups: Option<&[String]>, opts: &KmOptions) -> Result<KmFit> {
    if !(opts.conf_level > 0.0 && opts.conf_level < 1.0) {
        return Err(SurvError::BadOption(format!(
            "confidence level {} must be between 0 and 1",
            opts.conf_level
        )));
    }
    if let Some(tau) = opts.rmst_tau
        && !(tau.is_finite() && tau > 0.0)
    {
        return Err(SurvError::BadOption(format!(
            "rmst tau {tau} must be a positive number"
        )));
    }
    let z = z_for_level(opts.conf_level);
    let n = data.len();
    // Sort once by time; each group's rows are then a filtered pass over the same order.
    let order = sorted_order(data.time());
    let (levels, code): (Vec<String>, Vec<usize>) = match groups {
        None => (vec!["all".to_string()], vec![0; n]),
        Some(g) => {
            data.check_len("group", g.len())?;
            let levels = match &opts.levels {
                Some(l) => l.clone(),
                None => sorted_levels(g),
            };
            let c = codes(g, &levels);
            let mut code = Vec::with_capacity(n);
            for (i, ci) in c.iter().enumerate() {
                match ci {
                    Some(k) => code.push(*k),
                    None => {
                        return Err(SurvError::UnknownLevel {
                            column: "group".into(),
                            level: g[i].clone(),
                            levels: levels.join(", "),
                        });
                    }
                }
            }
            (levels, code)
        }
    };
    let mut per_group: Vec<Vec<usize>> = vec![Vec::new(); levels.len()];
    for &i in &order {
        per_group[code[i]].push(i);
    }
    let mut out = Vec::with_capacity(levels.len());
    for (k, idx) in per_group.iter().enumerate() {
        if idx.is_empty() && groups.is_some() && opts.levels.is_some() {
            continue;
        }
        out.push(km_curve(
            &levels[k],
            data.time(),
            data.event(),
            idx,
            opts,
            z,
        ));
    }
    Ok(KmFit {
        groups: out,
        n_dropped: 0,
        conf_type: opts.conf_type.as_str().to_string(),
    })
}

/// Indices sorted by time (stable, so equal times keep input order).
pub(crate) fn sorted_order(time: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..time.len()).collect();
    order.sort_by(|&a, &b| time[a].total_cmp(&time[b]));
    order
}

/// One curve from the indices of its subjects, already sorted by time.
fn km_curve(
    name: &str,
    time: &[f64],
    event: &[bool],
    idx: &[usize],
    opts: &KmOptions,
    z: f64,
) -> KmGroup {
    let n = idx.len();
    let mut table = Vec::new();
    let mut surv = 1.0f64;
    let mut greenwood = 0.0f64;
    let mut cumhaz = 0.0f64;
    let mut events_total = 0usize;
    let mut i = 0;
    while i < n {
        let t = time[idx[i]];
        let n_risk = (n - i) as f64;
        let mut d = 0usize;
        let mut c = 0usize;
        while i < n && time[idx[i]] == t {
            if event[idx[i]] {
                d += 1;
            } else {
                c += 1;
            }
            i += 1;
        }
        events_total += d;
        let df = d as f64;
        if d > 0 {
            surv *= (n_risk - df) / n_risk;
            greenwood += if n_risk > df {
                df / (n_risk * (n_risk - df))
            } else {
                f64::INFINITY
            };
            cumhaz += df / n_risk;
        }
        let se = greenwood.sqrt();
        let (lower, upper) = conf_band(surv, se, z, opts.conf_type);
        table.push(KmRow {
            time: t,
            n_risk,
            n_event: df,
            n_censor: c as f64,
            surv,
            std_err: se.is_finite().then_some(se),
            lower,
            upper,
            cumhaz,
        });
    }
    let median = median_from_table(&table);
    let at_times = opts
        .times
        .iter()
        .map(|&t| at_time(&table, t, n, z, opts.conf_type))
        .collect();
    let rmst = opts.rmst_tau.map(|tau| rmst(&table, tau));
    KmGroup {
        group: name.to_string(),
        n,
        events: events_total,
        table,
        median,
        at_times,
        rmst,
    }
}

/// Pointwise interval for S with `se` the standard error of the cumulative hazard, exactly as
/// R's `survfit_confint`: NA (None) where S = 0 (both types) or S = 1 (log-log).
pub(crate) fn conf_band(surv: f64, se: f64, z: f64, conf: ConfType) -> (Option<f64>, Option<f64>) {
    let fin = |v: f64| v.is_finite().then_some(v);
    match conf {
        ConfType::Log => {
            if surv == 0.0 || !se.is_finite() {
                return (None, None);
            }
            let lo = (surv.ln() - z * se).exp();
            let hi = (surv.ln() + z * se).exp().min(1.0);
            (fin(lo), fin(hi))
        }
        ConfType::LogLog => {
            if surv == 0.0 || surv == 1.0 || !se.is_finite() {
                return (None, None);
            }
            let ls = surv.ln();
            let c = (-ls).ln();
            let lo = (-(c - z * se / ls).exp()).exp();
            let hi = (-(c + z * se / ls).exp()).exp();
            (fin(lo), fin(hi))
        }
    }
}

/// R's rule (`survmean`'s `minmin`): the first time the curve is ≤ 0.5 (within √ε), except
/// that a curve sitting exactly on 0.5 gives the midpoint to the time it next drops.
fn first_below_half(ys: &[Option<f64>], xs: &[f64]) -> Option<f64> {
    let tol = f64::EPSILON.sqrt();
    let kept: Vec<(f64, f64)> = ys
        .iter()
        .zip(xs)
        .filter_map(|(y, &x)| y.filter(|&v| v < 0.5 + tol).map(|v| (v, x)))
        .collect();
    let (y0, x0) = *kept.first()?;
    if (y0 - 0.5).abs() < tol
        && let Some(&(_, x1)) = kept.iter().find(|(y, _)| *y < y0)
    {
        return Some((x0 + x1) / 2.0);
    }
    Some(x0)
}

fn median_from_table(table: &[KmRow]) -> MedianCi {
    let xs: Vec<f64> = table.iter().map(|r| r.time).collect();
    let s: Vec<Option<f64>> = table.iter().map(|r| Some(r.surv)).collect();
    let lo: Vec<Option<f64>> = table.iter().map(|r| r.lower).collect();
    let hi: Vec<Option<f64>> = table.iter().map(|r| r.upper).collect();
    MedianCi {
        time: first_below_half(&s, &xs),
        // The lower band reaches 0.5 first: it gives the lower limit of the median.
        lower: first_below_half(&lo, &xs),
        upper: first_below_half(&hi, &xs),
    }
}

/// As R's `summary(fit, times = t, extend = TRUE)`.
fn at_time(table: &[KmRow], t: f64, n: usize, z: f64, conf: ConfType) -> KmAtTime {
    // Last row with time <= t.
    let k = table.partition_point(|r| r.time <= t);
    let n_risk = table
        .get(k)
        .map(|r| r.n_risk)
        .unwrap_or(if table.is_empty() { n as f64 } else { 0.0 });
    // n_risk at t is the number still under observation at t: the next row at or after t.
    let n_risk = if k > 0 && table[k - 1].time == t {
        table[k - 1].n_risk
    } else {
        n_risk
    };
    if k == 0 {
        let (lower, upper) = conf_band(1.0, 0.0, z, conf);
        return KmAtTime {
            time: t,
            n_risk,
            surv: 1.0,
            std_err: Some(0.0),
            lower,
            upper,
        };
    }
    let r = &table[k - 1];
    KmAtTime {
        time: t,
        n_risk,
        surv: r.surv,
        std_err: r.std_err.map(|se| se * r.surv),
        lower: r.lower,
        upper: r.upper,
    }
}

/// Area under the curve up to tau with R's (print.survfit `rmean`) standard error.
fn rmst(table: &[KmRow], tau: f64) -> Rmst {
    let keep: Vec<&KmRow> = table.iter().filter(|r| r.time <= tau).collect();
    let mut times = Vec::with_capacity(keep.len() + 1);
    let mut survs = Vec::with_capacity(keep.len() + 1);
    let mut hh = Vec::with_capacity(keep.len() + 1);
    if keep.is_empty() {
        times.push(tau);
        survs.push(1.0);
        hh.push(0.0);
    } else {
        for r in &keep {
            times.push(r.time);
            survs.push(r.surv);
            let d = r.n_risk - r.n_event;
            hh.push(if d == 0.0 {
                0.0
            } else {
                r.n_event / (r.n_risk * d)
            });
        }
        times.push(tau);
        survs.push(keep[keep.len() - 1].surv);
        hh.push(0.0);
    }
    let m = times.len();
    let mut rect = Vec::with_capacity(m);
    let mut prev_t = 0.0;
    for j in 0..m {
        let s_before = if j == 0 { 1.0 } else { survs[j - 1] };
        rect.push((times[j] - prev_t) * s_before);
        prev_t = times[j];
    }
    let value: f64 = rect.iter().sum();
    // varmean = sum over j>=1 of (sum of rectangles after j)^2 * hh[j-1] — R's reversed cumsum.
    let mut var = 0.0;
    let mut tail = 0.0;
    for j in (1..m).rev() {
        tail += rect[j];
        var += tail * tail * hh[j - 1];
    }
    Rmst {
        tau,
        value,
        se: var.sqrt(),
    }
}

/// Median follow-up by the reverse Kaplan–Meier method: censoring is the "event" and events
/// are censored, so the median is that of the potential follow-up time (with its log CI).
pub fn median_follow_up(time: &[f64], event: &[bool]) -> Result<MedianCi> {
    let rev: Vec<bool> = event.iter().map(|e| !e).collect();
    let data = SurvData::new(time.to_vec(), rev)?;
    let fit = kaplan_meier(&data, None, &KmOptions::default())?;
    Ok(fit
        .groups
        .into_iter()
        .next()
        .map(|g| g.median)
        .unwrap_or_default())
}
