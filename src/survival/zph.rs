//! Test of proportional hazards as R's `cox.zph(fit, transform = "km", terms = TRUE)`
//! (survival ≥ 3): a score test, at the fitted β, for adding x·g(t) to the model, where g is
//! 1 − the left-continuous Kaplan–Meier of the pooled data, centred over the event times.
//! One test per term (all of a categorical term's contrasts together) and a global test.

use super::cox::{Sorted, TOLER_CHOL, Ties};
use super::design::Design;
use super::dist::chisq_p;
use super::error::Result;
use super::linalg::quad_form_inv;
use super::{CoxZph, SurvData, ZphRow};

pub(crate) fn cox_zph(
    data: &SurvData,
    design: &Design,
    stratum: &[usize],
    coef: &[f64],
    ties: Ties,
) -> Result<CoxZph> {
    let n = data.len();
    let p = design.n_coef();
    let time = data.time();
    let event = data.event();
    // g(t) = 1 − S(t−) from the KM of everyone (strata ignored, as R does).
    let order = super::km::sorted_order(time);
    let mut g = vec![0.0; n];
    let mut surv = 1.0;
    let mut i = 0;
    while i < n {
        let t = time[order[i]];
        let at_risk = (n - i) as f64;
        let mut j = i;
        let mut d = 0.0;
        while j < n && time[order[j]] == t {
            g[order[j]] = 1.0 - surv;
            if event[order[j]] {
                d += 1.0;
            }
            j += 1;
        }
        surv *= (at_risk - d) / at_risk;
        i = j;
    }
    let (sum_g, n_ev) = g
        .iter()
        .zip(event)
        .filter(|(_, e)| **e)
        .fold((0.0, 0.0), |(s, c), (gv, _)| (s + gv, c + 1.0));
    let gmean = sum_g / n_ev;
    // Covariates centred over all subjects, and the fitted linear predictor.
    let cols: Vec<Vec<f64>> = design
        .columns
        .iter()
        .map(|c| {
            let m = c.iter().sum::<f64>() / n as f64;
            c.iter().map(|v| v - m).collect()
        })
        .collect();
    let sorted = Sorted::new(data, &cols, stratum);
    let eta: Vec<f64> = (0..n)
        .map(|r| (0..p).map(|j| coef[j] * sorted.x[r * p + j]).sum())
        .collect();
    let gt: Vec<f64> = sorted.order.iter().map(|&i| g[i] - gmean).collect();
    let q = 2 * p;
    let mut u = vec![0.0; q];
    let mut imat = vec![0.0; q * q];
    let mut a = vec![0.0; p];
    let mut a2 = vec![0.0; p];
    let mut cmat = vec![0.0; p * p];
    let mut cmat2 = vec![0.0; p * p];
    let mut denom = 0.0;
    let mut cur = usize::MAX;
    let x = &sorted.x;
    for &(s, e) in sorted.blocks.iter().rev() {
        if sorted.stratum[s] != cur {
            cur = sorted.stratum[s];
            denom = 0.0;
            a.iter_mut().for_each(|v| *v = 0.0);
            cmat.iter_mut().for_each(|v| *v = 0.0);
        }
        let tw = gt[s];
        let mut nd = 0usize;
        let mut denom2 = 0.0;
        for r in (s..e).rev() {
            let xr = &x[r * p..(r + 1) * p];
            let risk = eta[r].exp();
            if !sorted.status[r] {
                denom += risk;
                for i in 0..p {
                    a[i] += risk * xr[i];
                    for j in 0..=i {
                        cmat[i * p + j] += risk * xr[i] * xr[j];
                    }
                }
            } else {
                nd += 1;
                denom2 += risk;
                for i in 0..p {
                    u[i] += xr[i];
                    u[i + p] += tw * xr[i];
                    a2[i] += risk * xr[i];
                    for j in 0..=i {
                        cmat2[i * p + j] += risk * xr[i] * xr[j];
                    }
                }
            }
        }
        if nd == 0 {
            continue;
        }
        let mut add = |a: &[f64], cmat: &[f64], denom: f64, w: f64, u: &mut [f64]| {
            for i in 0..p {
                let mean = a[i] / denom;
                u[i] -= w * mean;
                u[i + p] -= tw * w * mean;
                for j in 0..=i {
                    let temp = w * (cmat[i * p + j] - mean * a[j]) / denom;
                    imat[j * q + i] += temp;
                    imat[j * q + i + p] += temp * tw;
                    imat[(j + p) * q + i + p] += temp * tw * tw;
                }
            }
        };
        match ties {
            Ties::Breslow => {
                denom += denom2;
                for i in 0..p {
                    a[i] += a2[i];
                    for j in 0..=i {
                        cmat[i * p + j] += cmat2[i * p + j];
                    }
                }
                add(&a, &cmat, denom, nd as f64, &mut u);
            }
            Ties::Efron => {
                let ndf = nd as f64;
                for _ in 0..nd {
                    denom += denom2 / ndf;
                    for i in 0..p {
                        a[i] += a2[i] / ndf;
                        for j in 0..=i {
                            cmat[i * p + j] += cmat2[i * p + j] / ndf;
                        }
                    }
                    add(&a, &cmat, denom, 1.0, &mut u);
                }
            }
        }
        a2.iter_mut().for_each(|v| *v = 0.0);
        cmat2.iter_mut().for_each(|v| *v = 0.0);
    }
    // Complete the symmetric 2p×2p information from its upper triangle.
    for i in 0..p {
        for j in 0..i {
            imat[i * q + j] = imat[j * q + i];
            imat[i * q + j + p] = imat[j * q + i + p];
            imat[(i + p) * q + j + p] = imat[(j + p) * q + i + p];
        }
    }
    for i in 0..p {
        for j in 0..p {
            imat[(i + p) * q + j] = imat[j * q + i + p];
        }
    }
    let mut rows = Vec::new();
    for term in design.terms() {
        let kk: Vec<usize> = (0..p).chain(term.columns.clone().map(|j| j + p)).collect();
        let m = kk.len();
        let mut sub = vec![0.0; m * m];
        for (a, &ka) in kk.iter().enumerate() {
            for (b, &kb) in kk.iter().enumerate() {
                sub[a * m + b] = imat[ka * q + kb];
            }
        }
        let uu: Vec<f64> = (0..p)
            .map(|_| 0.0)
            .chain(term.columns.clone().map(|j| u[j + p]))
            .collect();
        let stat = quad_form_inv(&sub, m, &uu, TOLER_CHOL);
        let df = term.columns.len();
        rows.push(ZphRow {
            term: term.name.clone(),
            chisq: stat,
            df,
            p: chisq_p(stat, df),
        });
    }
    let uu: Vec<f64> = (0..p)
        .map(|_| 0.0)
        .chain((0..p).map(|j| u[j + p]))
        .collect();
    let stat = quad_form_inv(&imat, q, &uu, TOLER_CHOL);
    rows.push(ZphRow {
        term: "GLOBAL".into(),
        chisq: stat,
        df: p,
        p: chisq_p(stat, p),
    });
    Ok(CoxZph {
        transform: "km".into(),
        rows,
    })
}
