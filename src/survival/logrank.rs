//! The k-group log-rank test and its Peto–Peto (rho = 1) weighting, optionally stratified,
//! as R's `survdiff`.

use super::dist::chisq_p;
use super::error::{Result, SurvError};
use super::levels::{codes, sorted_levels};
use super::linalg::Ldl;
use super::{LogRank, LogRankGroup, SurvData};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogRankOptions {
    /// 0 = log-rank, 1 = Peto–Peto (weights S(t−)^rho from the pooled Kaplan–Meier).
    pub rho: f64,
    /// Group order (default: R's factor order of the values present).
    pub levels: Option<Vec<String>>,
}

/// Compare the survival of groups; with `strata`, observed/expected/variance are summed over
/// strata (the stratified test).
pub fn log_rank(
    data: &SurvData,
    groups: &[String],
    strata: Option<&[String]>,
    opts: &LogRankOptions,
) -> Result<LogRank> {
    data.check_len("group", groups.len())?;
    if !(opts.rho.is_finite() && opts.rho >= 0.0) {
        return Err(SurvError::BadOption(format!(
            "rho {} must be a non-negative number",
            opts.rho
        )));
    }
    let levels = match &opts.levels {
        Some(l) => l.clone(),
        None => sorted_levels(groups),
    };
    let gcode: Vec<usize> = codes(groups, &levels)
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            c.ok_or_else(|| SurvError::UnknownLevel {
                column: "group".into(),
                level: groups[i].clone(),
                levels: levels.join(", "),
            })
        })
        .collect::<Result<_>>()?;
    let k = levels.len();
    let present = {
        let mut p = vec![false; k];
        gcode.iter().for_each(|&g| p[g] = true);
        p.iter().filter(|&&x| x).count()
    };
    if present < 2 {
        return Err(SurvError::SingleLevel {
            column: "group".into(),
            level: groups.first().cloned().unwrap_or_default(),
        });
    }
    if data.n_events() == 0 {
        return Err(SurvError::NoEvents);
    }
    let n = data.len();
    let scode: Vec<usize> = match strata {
        None => vec![0; n],
        Some(s) => {
            data.check_len("strata", s.len())?;
            let sl = sorted_levels(s);
            codes(s, &sl).into_iter().map(|c| c.unwrap_or(0)).collect()
        }
    };
    let time = data.time();
    let event = data.event();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        scode[a]
            .cmp(&scode[b])
            .then_with(|| time[a].total_cmp(&time[b]))
    });
    let mut obs = vec![0.0; k];
    let mut exp = vec![0.0; k];
    let mut var = vec![0.0; k * k];
    let mut count = vec![0usize; k];
    gcode.iter().for_each(|&g| count[g] += 1);
    let mut risk = vec![0.0; k];
    let mut deaths_g = vec![0.0; k];
    let mut start = 0;
    while start < n {
        let s = scode[order[start]];
        let mut end = start;
        while end < n && scode[order[end]] == s {
            end += 1;
        }
        let idx = &order[start..end];
        // Number at risk per group at the first time: everyone in the stratum.
        risk.iter_mut().for_each(|r| *r = 0.0);
        idx.iter().for_each(|&i| risk[gcode[i]] += 1.0);
        let mut km = 1.0f64;
        let mut i = 0;
        let m = idx.len();
        while i < m {
            let t = time[idx[i]];
            let mut j = i;
            deaths_g.iter_mut().for_each(|d| *d = 0.0);
            while j < m && time[idx[j]] == t {
                if event[idx[j]] {
                    deaths_g[gcode[idx[j]]] += 1.0;
                }
                j += 1;
            }
            let nrisk: f64 = risk.iter().sum();
            let deaths: f64 = deaths_g.iter().sum();
            // Weight from the left-continuous pooled KM of the stratum.
            let wt = if opts.rho == 0.0 {
                1.0
            } else {
                km.powf(opts.rho)
            };
            if deaths > 0.0 {
                for g in 0..k {
                    obs[g] += wt * deaths_g[g];
                    exp[g] += wt * deaths * risk[g] / nrisk;
                }
                if nrisk > 1.0 {
                    let w2 = wt * wt;
                    for a in 0..k {
                        let tmp =
                            w2 * deaths * risk[a] * (nrisk - deaths) / (nrisk * (nrisk - 1.0));
                        var[a * k + a] += tmp;
                        for b in 0..k {
                            var[a * k + b] -= tmp * risk[b] / nrisk;
                        }
                    }
                }
                km *= (nrisk - deaths) / nrisk;
            }
            for &r in &idx[i..j] {
                risk[gcode[r]] -= 1.0;
            }
            i = j;
        }
        start = end;
    }
    // Chi-square on the groups with expected > 0, dropping the first (R's survdiff).
    let keep: Vec<usize> = (0..k).filter(|&g| exp[g] > 0.0).collect();
    let chisq = if keep.len() < 2 {
        0.0
    } else {
        let sub: Vec<usize> = keep[1..].to_vec();
        let q = sub.len();
        let mut v = vec![0.0; q * q];
        for (a, &ga) in sub.iter().enumerate() {
            for (b, &gb) in sub.iter().enumerate() {
                v[a * q + b] = var[ga * k + gb];
            }
        }
        let diff: Vec<f64> = sub.iter().map(|&g| obs[g] - exp[g]).collect();
        let f = Ldl::new(&v, q, 1e-12);
        let mut sol = diff.clone();
        f.solve(&mut sol);
        sol.iter().zip(&diff).map(|(a, b)| a * b).sum()
    };
    let df = keep.len().saturating_sub(1);
    let groups_out = (0..k)
        .filter(|&g| count[g] > 0 || opts.levels.is_some())
        .map(|g| LogRankGroup {
            group: levels[g].clone(),
            n: count[g],
            observed: obs[g],
            expected: exp[g],
        })
        .collect();
    let var_rows = (0..k).map(|a| var[a * k..(a + 1) * k].to_vec()).collect();
    Ok(LogRank {
        chisq,
        df,
        p: chisq_p(chisq, df),
        groups: groups_out,
        rho: opts.rho,
        n_dropped: 0,
        var: var_rows,
        stratified: strata.is_some(),
    })
}
