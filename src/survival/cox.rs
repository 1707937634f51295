//! Cox proportional hazards by Newton–Raphson on the partial likelihood, following R's
//! `coxph` (coxfit6) step for step so that coefficients, variance, log-likelihoods and tests
//! agree with R to rounding: covariates centred and scaled, start at β = 0, step halving when
//! the log-likelihood drops, convergence when |1 − ℓ_old/ℓ_new| ≤ 1e-9, at most 20 iterations.
//! Data are sorted once; each iteration is one backward O(n·p²) sweep over the risk sets.

use super::concordance::concordance;
use super::design::Design;
use super::dist::{Z975, chisq_p, two_sided_normal_p};
use super::error::{Result, SurvError};
use super::levels::{codes, sorted_levels};
use super::linalg::Ldl;
use super::zph::cox_zph;
use super::{CoxFit, CoxTerm, CoxTests, SurvData, TestStat};

/// How tied event times enter the partial likelihood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ties {
    /// Efron's approximation (R's default).
    #[default]
    Efron,
    /// Breslow's approximation (SAS/SPSS default).
    Breslow,
}

impl Ties {
    pub fn as_str(self) -> &'static str {
        match self {
            Ties::Efron => "efron",
            Ties::Breslow => "breslow",
        }
    }
}

impl std::str::FromStr for Ties {
    type Err = SurvError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "efron" => Ok(Ties::Efron),
            "breslow" => Ok(Ties::Breslow),
            _ => Err(SurvError::BadOption(format!(
                "ties '{s}': expected efron or breslow"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CoxOptions {
    pub ties: Ties,
    /// R's `iter.max`.
    pub max_iter: usize,
    /// R's `eps`: relative change in log-likelihood that counts as converged.
    pub eps: f64,
    /// Also run the proportional-hazards test (R's `cox.zph(fit, transform = "km")`).
    pub zph: bool,
}

impl Default for CoxOptions {
    fn default() -> Self {
        Self {
            ties: Ties::Efron,
            max_iter: 20,
            eps: 1e-9,
            zph: false,
        }
    }
}

/// R's `toler.chol` (`.Machine$double.eps^0.75`).
pub(crate) const TOLER_CHOL: f64 = 1.818_989_403_545_856e-12;

/// Data sorted by (stratum, time), covariates row-major, with the tied-time blocks marked.
pub(crate) struct Sorted {
    pub p: usize,
    /// Covariates, row-major n×p, in sorted order (centred and scaled when `scaled`).
    pub x: Vec<f64>,
    pub status: Vec<bool>,
    pub stratum: Vec<usize>,
    /// [start, end) of each block of equal (stratum, time).
    pub blocks: Vec<(usize, usize)>,
    /// Position in the input of each sorted row.
    pub order: Vec<usize>,
}

impl Sorted {
    pub fn new(data: &SurvData, columns: &[Vec<f64>], stratum: &[usize]) -> Self {
        let n = data.len();
        let p = columns.len();
        let t = data.time();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| {
            stratum[a]
                .cmp(&stratum[b])
                .then_with(|| t[a].total_cmp(&t[b]))
        });
        let mut x = vec![0.0; n * p];
        for (r, &i) in order.iter().enumerate() {
            for (j, col) in columns.iter().enumerate() {
                x[r * p + j] = col[i];
            }
        }
        let time: Vec<f64> = order.iter().map(|&i| t[i]).collect();
        let status: Vec<bool> = order.iter().map(|&i| data.event()[i]).collect();
        let strat: Vec<usize> = order.iter().map(|&i| stratum[i]).collect();
        let mut blocks = Vec::new();
        let mut s = 0;
        while s < n {
            let mut e = s + 1;
            while e < n && time[e] == time[s] && strat[e] == strat[s] {
                e += 1;
            }
            blocks.push((s, e));
            s = e;
        }
        Self {
            p,
            x,
            status,
            stratum: strat,
            blocks,
            order,
        }
    }
}

/// Partial log-likelihood at `beta`, with its score `u` and information `imat` (p×p,
/// row-major, full). One backward sweep: risk-set sums are accumulated as time decreases.
pub(crate) fn evaluate(
    d: &Sorted,
    beta: &[f64],
    ties: Ties,
    u: &mut [f64],
    imat: &mut [f64],
) -> f64 {
    let p = d.p;
    u.iter_mut().for_each(|v| *v = 0.0);
    imat.iter_mut().for_each(|v| *v = 0.0);
    let mut a = vec![0.0; p];
    let mut a2 = vec![0.0; p];
    let mut cmat = vec![0.0; p * p];
    let mut cmat2 = vec![0.0; p * p];
    let mut denom = 0.0;
    let mut loglik = 0.0;
    let mut cur_stratum = usize::MAX;
    for &(s, e) in d.blocks.iter().rev() {
        if d.stratum[s] != cur_stratum {
            cur_stratum = d.stratum[s];
            denom = 0.0;
            a.iter_mut().for_each(|v| *v = 0.0);
            cmat.iter_mut().for_each(|v| *v = 0.0);
        }
        let mut ndead = 0usize;
        let mut denom2 = 0.0;
        for r in (s..e).rev() {
            let xr = &d.x[r * p..(r + 1) * p];
            let mut zbeta = 0.0;
            for i in 0..p {
                zbeta += beta[i] * xr[i];
            }
            let risk = zbeta.exp();
            if !d.status[r] {
                denom += risk;
                for i in 0..p {
                    let rx = risk * xr[i];
                    a[i] += rx;
                    for j in 0..=i {
                        cmat[i * p + j] += rx * xr[j];
                    }
                }
            } else {
                ndead += 1;
                denom2 += risk;
                loglik += zbeta;
                for i in 0..p {
                    let rx = risk * xr[i];
                    u[i] += xr[i];
                    a2[i] += rx;
                    for j in 0..=i {
                        cmat2[i * p + j] += rx * xr[j];
                    }
                }
            }
        }
        if ndead == 0 {
            continue;
        }
        if ties == Ties::Breslow || ndead == 1 {
            denom += denom2;
            let dw = ndead as f64;
            loglik -= dw * denom.ln();
            for i in 0..p {
                a[i] += a2[i];
                let mean = a[i] / denom;
                u[i] -= dw * mean;
                for j in 0..=i {
                    cmat[i * p + j] += cmat2[i * p + j];
                    imat[j * p + i] += dw * (cmat[i * p + j] - mean * a[j]) / denom;
                }
            }
        } else {
            // Efron: the tied deaths enter the risk set as 1/d, 2/d, …, d/d of their weight.
            let nd = ndead as f64;
            for _ in 0..ndead {
                denom += denom2 / nd;
                loglik -= denom.ln();
                for i in 0..p {
                    a[i] += a2[i] / nd;
                    let mean = a[i] / denom;
                    u[i] -= mean;
                    for j in 0..=i {
                        cmat[i * p + j] += cmat2[i * p + j] / nd;
                        imat[j * p + i] += (cmat[i * p + j] - mean * a[j]) / denom;
                    }
                }
            }
        }
        a2.iter_mut().for_each(|v| *v = 0.0);
        cmat2.iter_mut().for_each(|v| *v = 0.0);
    }
    for i in 0..p {
        for j in 0..i {
            imat[i * p + j] = imat[j * p + i];
        }
    }
    loglik
}

/// Result of the Newton–Raphson iterations on the scaled problem, returned on R's scale.
struct NrResult {
    beta: Vec<f64>,
    var: Vec<f64>,
    u: Vec<f64>,
    loglik: [f64; 2],
    score: f64,
    iter: usize,
    converged: bool,
    rank_deficient: Option<usize>,
}

fn newton_raphson(d: &Sorted, scale: &[f64], opts: &CoxOptions) -> NrResult {
    let p = d.p;
    let mut beta = vec![0.0; p];
    let mut newbeta = vec![0.0; p];
    let mut u = vec![0.0; p];
    let mut imat = vec![0.0; p * p];
    let ll0 = evaluate(d, &beta, opts.ties, &mut u, &mut imat);
    let mut best = ll0;
    let f = Ldl::new(&imat, p, TOLER_CHOL);
    let mut step = u.clone();
    f.solve(&mut step);
    let score: f64 = step.iter().zip(&u).map(|(a, b)| a * b).sum();
    for i in 0..p {
        newbeta[i] = beta[i] + step[i];
    }
    let unscale = |b: &[f64], uu: &[f64], ldl: &Ldl| {
        let inv = ldl.inverse();
        let mut var = vec![0.0; p * p];
        for i in 0..p {
            for j in 0..p {
                var[i * p + j] = inv[i * p + j] * scale[i] * scale[j];
            }
        }
        let beta: Vec<f64> = b.iter().zip(scale).map(|(b, s)| b * s).collect();
        let u: Vec<f64> = uu.iter().zip(scale).map(|(u, s)| u / s).collect();
        let rd = ldl.singular().iter().position(|&s| s);
        (beta, var, u, rd)
    };
    if opts.max_iter == 0 || !ll0.is_finite() {
        let (b, var, uu, rd) = unscale(&beta, &u, &f);
        return NrResult {
            beta: b,
            var,
            u: uu,
            loglik: [ll0, ll0],
            score,
            iter: 0,
            converged: false,
            rank_deficient: rd,
        };
    }
    let mut halving = 0usize;
    let mut newlk = ll0;
    let mut last_ldl = f;
    let mut iter = 1;
    while iter <= opts.max_iter {
        newlk = evaluate(d, &newbeta, opts.ties, &mut u, &mut imat);
        let ldl = Ldl::new(&imat, p, TOLER_CHOL);
        let finite = newlk.is_finite()
            && u.iter().all(|v| v.is_finite())
            && imat.iter().all(|v| v.is_finite());
        if finite && (1.0 - best / newlk).abs() <= opts.eps {
            let (b, var, uu, rd) = unscale(&newbeta, &u, &ldl);
            return NrResult {
                beta: b,
                var,
                u: uu,
                loglik: [ll0, newlk],
                score,
                iter,
                converged: true,
                rank_deficient: rd,
            };
        }
        last_ldl = ldl;
        if iter == opts.max_iter {
            break;
        }
        if !finite || newlk < best {
            halving += 1;
            let h = halving as f64;
            for i in 0..p {
                newbeta[i] = (newbeta[i] + h * beta[i]) / (h + 1.0);
            }
        } else {
            halving = 0;
            best = newlk;
            let mut step = u.clone();
            last_ldl.solve(&mut step);
            beta.copy_from_slice(&newbeta);
            for i in 0..p {
                newbeta[i] += step[i];
            }
        }
        iter += 1;
    }
    // Out of iterations: report the last accepted point, as R does.
    let ll = if opts.max_iter > 1 {
        let ll = evaluate(d, &beta, opts.ties, &mut u, &mut imat);
        last_ldl = Ldl::new(&imat, p, TOLER_CHOL);
        ll
    } else {
        newlk
    };
    let (b, var, uu, rd) = unscale(&beta, &u, &last_ldl);
    NrResult {
        beta: b,
        var,
        u: uu,
        loglik: [ll0, ll],
        score,
        iter: iter.min(opts.max_iter),
        converged: false,
        rank_deficient: rd,
    }
}

/// Fit a Cox model of `data` on the covariates (and strata) of `design`.
pub fn cox(data: &SurvData, design: &Design, opts: &CoxOptions) -> Result<CoxFit> {
    data.check_len("design", design.n())?;
    let p = design.n_coef();
    if p == 0 {
        return Err(SurvError::NoCovariates);
    }
    let n = data.len();
    let events = data.n_events();
    if events == 0 {
        return Err(SurvError::NoEvents);
    }
    let stratum: Vec<usize> = match &design.strata {
        None => vec![0; n],
        Some(s) => {
            let lv = sorted_levels(s);
            codes(s, &lv).into_iter().map(|c| c.unwrap_or(0)).collect()
        }
    };
    // Centre and scale as coxph does (0/1 and −1/0/1 columns are left alone): it keeps exp()
    // in range and makes the iterations identical to R's.
    let mut cols = design.columns.clone();
    let mut scale = vec![1.0; p];
    for (j, col) in cols.iter_mut().enumerate() {
        if col.iter().all(|&v| v == 0.0 || v == 1.0 || v == -1.0) {
            continue;
        }
        let mean = col.iter().sum::<f64>() / n as f64;
        col.iter_mut().for_each(|v| *v -= mean);
        let mad: f64 = col.iter().map(|v| v.abs()).sum();
        let s = if mad > 0.0 { n as f64 / mad } else { 1.0 };
        scale[j] = s;
        col.iter_mut().for_each(|v| *v *= s);
    }
    let sorted = Sorted::new(data, &cols, &stratum);
    let nr = newton_raphson(&sorted, &scale, opts);
    if let Some(j) = nr.rank_deficient {
        return Err(SurvError::Collinear {
            term: design.coef_names[j].clone(),
        });
    }
    let var = nr.var;
    let coef = nr.beta;
    let mut warnings = Vec::new();
    let mut infinite = vec![false; p];
    if !nr.converged {
        warnings.push(format!(
            "Ran out of iterations ({}) and did not converge; the estimates are not reliable",
            opts.max_iter
        ));
    } else {
        // R's check: the next Newton step (u·V) is still large relative to the coefficient.
        let toler_inf = opts.eps.sqrt();
        for j in 0..p {
            let s: f64 = (0..p).map(|i| nr.u[i] * var[i * p + j]).sum::<f64>().abs();
            if !nr.u[j].is_finite() || (s > opts.eps && s > toler_inf * coef[j].abs()) {
                infinite[j] = true;
            }
        }
    }
    // A contrast level without events (or where every subject is an event before anyone
    // else's) is the usual cause; name it so the reader knows why.
    for j in 0..p {
        if let Some((var_name, level)) = &design.level_of[j] {
            let ev: usize = design.columns[j]
                .iter()
                .zip(data.event())
                .filter(|(x, e)| **x == 1.0 && **e)
                .count();
            if ev == 0 {
                infinite[j] = true;
                warnings.push(format!(
                    "monotone likelihood: level '{level}' of '{var_name}' has no events, so the coefficient of '{}' diverges to -infinity; its HR, CI and Wald p are meaningless (use the likelihood-ratio test, or Firth's penalised Cox)",
                    design.coef_names[j]
                ));
            }
        }
    }
    for j in 0..p {
        if infinite[j]
            && !warnings
                .iter()
                .any(|w| w.contains(&format!("'{}'", design.coef_names[j])))
        {
            warnings.push(format!(
                "monotone likelihood: the log-likelihood converged before coefficient '{}'; it may be infinite and its HR, CI and Wald p are meaningless",
                design.coef_names[j]
            ));
        }
    }
    let coefficients: Vec<CoxTerm> = (0..p)
        .map(|j| {
            let se = var[j * p + j].sqrt();
            let z = coef[j] / se;
            CoxTerm {
                term: design.coef_names[j].clone(),
                coef: coef[j],
                se,
                hr: coef[j].exp(),
                ci_lower: (coef[j] - Z975 * se).exp(),
                ci_upper: (coef[j] + Z975 * se).exp(),
                z,
                p: two_sided_normal_p(z),
                may_be_infinite: infinite[j],
                per: design
                    .terms
                    .iter()
                    .find(|t| t.columns.contains(&j))
                    .and_then(|t| t.per),
            }
        })
        .collect();
    let lr = 2.0 * (nr.loglik[1] - nr.loglik[0]);
    let wald = crate::survival::linalg::quad_form_inv(&var, p, &coef, TOLER_CHOL);
    // Linear predictor on the covariates as given (per-scaled), for the concordance.
    let lp: Vec<f64> = (0..n)
        .map(|i| (0..p).map(|j| coef[j] * design.columns[j][i]).sum())
        .collect();
    let conc = concordance(data.time(), data.event(), &lp, &stratum);
    let zph = if opts.zph {
        Some(cox_zph(data, design, &stratum, &coef, opts.ties)?)
    } else {
        None
    };
    Ok(CoxFit {
        n,
        events,
        n_dropped: 0,
        ties: opts.ties.as_str().to_string(),
        coefficients,
        loglik: nr.loglik,
        tests: CoxTests {
            lr: TestStat {
                stat: lr,
                df: p,
                p: chisq_p(lr, p),
            },
            wald: TestStat {
                stat: wald,
                df: p,
                p: chisq_p(wald, p),
            },
            score: TestStat {
                stat: nr.score,
                df: p,
                p: chisq_p(nr.score, p),
            },
        },
        concordance: conc,
        warnings,
        iterations: nr.iter,
        var: (0..p).map(|i| var[i * p..(i + 1) * p].to_vec()).collect(),
        strata: design.strata.as_ref().map(|s| sorted_levels(s).len()),
        zph,
    })
}
