//! Normal and chi-square tail probabilities, the only distribution functions the survival
//! statistics need (statrs does the numerics).

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

/// R's `qnorm(0.975)` to full double precision: the 95 % intervals must equal R's.
pub const Z975: f64 = 1.959_963_984_540_054;

/// The two-sided normal quantile for a confidence level (exact constant at 0.95).
pub fn z_for_level(level: f64) -> f64 {
    if (level - 0.95).abs() < 1e-15 {
        return Z975;
    }
    match Normal::new(0.0, 1.0) {
        Ok(n) => n.inverse_cdf(1.0 - (1.0 - level) / 2.0),
        Err(_) => f64::NAN,
    }
}

/// Two-sided p for a standard-normal statistic.
pub fn two_sided_normal_p(z: f64) -> f64 {
    if !z.is_finite() {
        return if z.is_nan() { f64::NAN } else { 0.0 };
    }
    match Normal::new(0.0, 1.0) {
        Ok(n) => 2.0 * n.sf(z.abs()),
        Err(_) => f64::NAN,
    }
}

/// Upper tail of a chi-square with `df` degrees of freedom (1 when df = 0 or stat ≤ 0).
pub fn chisq_p(stat: f64, df: usize) -> f64 {
    if df == 0 || stat.is_nan() {
        return f64::NAN;
    }
    if stat <= 0.0 {
        return 1.0;
    }
    if df == 1 {
        // Through the normal tail: exact for tiny p, where the incomplete gamma loses digits.
        return two_sided_normal_p(stat.sqrt());
    }
    match ChiSquared::new(df as f64) {
        Ok(c) => c.sf(stat),
        Err(_) => f64::NAN,
    }
}
