//! Exact arithmetic for RECIST thresholds.
//!
//! Percentages computed in floating point flip at the boundary: 70 mm against 100 mm is
//! exactly −30 % (PR), but `(70.0 - 100.0) / 100.0` and sums such as `0.1 + 0.2` are not
//! exact in binary. Every diameter is therefore quantised once, on input, to whole
//! picometres (1e-9 mm), every sum is an integer sum, and every threshold is a
//! cross-multiplied integer comparison in `i128` (no division, no rounding). For any
//! length below 1 km written with at most 9 decimals (every hand-entered value, and far
//! finer than any pixel), `round(x·1e9)` recovers the written decimal exactly, so the
//! comparisons are exact on the numbers as written; longer binary expansions such as
//! `70.86419752299999` snap to the nearest picometre.
//! Percent thresholds from the configuration are quantised to micro-percent (1e-6 %).

use std::fmt;
use std::ops::{Add, Sub};

/// Length units (picometres) per millimetre.
pub const UNITS_PER_MM: i64 = 1_000_000_000;
/// Micro-percent per percent.
const MICRO_PER_PCT: i128 = 1_000_000;
/// 100 % in micro-percent.
const HUNDRED_PCT: i128 = 100 * MICRO_PER_PCT;
/// Largest magnitude accepted, in mm (1 km): keeps every product far inside `i128`.
const MAX_MM: f64 = 1.0e6;
// With at most 1e15 units per length, `sum·1e8` and `(100·Δ)·den` stay far inside i128.

/// A length in whole picometres (1e-9 mm): the unit in which sums and thresholds are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Length(pub i64);

impl Length {
    pub const ZERO: Length = Length(0);

    /// Rounds a length in mm to the nearest picometre; `None` for NaN, infinities and
    /// absurd magnitudes, so that no later product can overflow.
    pub fn from_mm(mm: f64) -> Option<Length> {
        if !mm.is_finite() || mm.abs() > MAX_MM {
            return None;
        }
        Some(Length((mm * UNITS_PER_MM as f64).round() as i64))
    }

    /// The length in mm, for output (the nearest `f64` to the exact decimal value).
    pub fn mm(self) -> f64 {
        self.0 as f64 / UNITS_PER_MM as f64
    }
}

impl Add for Length {
    type Output = Length;
    fn add(self, rhs: Length) -> Length {
        Length(self.0.saturating_add(rhs.0))
    }
}

impl Sub for Length {
    type Output = Length;
    fn sub(self, rhs: Length) -> Length {
        Length(self.0.saturating_sub(rhs.0))
    }
}

impl std::iter::Sum for Length {
    fn sum<I: Iterator<Item = Length>>(iter: I) -> Length {
        iter.fold(Length::ZERO, |a, b| a + b)
    }
}

impl fmt::Display for Length {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} mm", self.mm())
    }
}

/// A percentage quantised to micro-percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pct(i128);

impl Pct {
    /// `None` for NaN or infinite values.
    pub fn from_pct(p: f64) -> Option<Pct> {
        if !p.is_finite() || p.abs() > 1.0e12 {
            return None;
        }
        Some(Pct((p * MICRO_PER_PCT as f64).round() as i128))
    }
}

/// `S ≤ (1 − p/100)·B`: at least `p` % decrease from the baseline sum (PR).
pub fn decrease_at_least(sum: Length, baseline: Length, p: Pct) -> bool {
    i128::from(sum.0) * HUNDRED_PCT <= i128::from(baseline.0) * (HUNDRED_PCT - p.0)
}

/// `S ≥ (1 + p/100)·N` and `S − N ≥ abs`: at least `p` % and `abs` increase from the nadir
/// (PD).
pub fn increase_at_least(sum: Length, nadir: Length, p: Pct, abs: Length) -> bool {
    i128::from(sum.0) * HUNDRED_PCT >= i128::from(nadir.0) * (HUNDRED_PCT + p.0)
        && i128::from(sum.0) - i128::from(nadir.0) >= i128::from(abs.0)
}

/// An exact percent change `100·(S − B)/B` kept as a fraction, so that comparisons with
/// the cohort median or a cut-off are exact.
#[derive(Debug, Clone, Copy)]
pub struct PctChange {
    num: i128,
    /// Always > 0.
    den: i128,
}

impl PctChange {
    /// `None` when the baseline is not positive.
    pub fn new(sum: Length, baseline: Length) -> Option<PctChange> {
        (baseline.0 > 0).then(|| PctChange {
            num: 100 * (i128::from(sum.0) - i128::from(baseline.0)),
            den: i128::from(baseline.0),
        })
    }

    pub fn to_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// Exact ordering of two fractions (denominators are positive).
    pub fn cmp_exact(self, other: PctChange) -> std::cmp::Ordering {
        (self.num * other.den).cmp(&(other.num * self.den))
    }

    /// Exact `self > p` for a quantised percentage.
    pub fn gt_pct(self, p: Pct) -> bool {
        self.num * MICRO_PER_PCT > p.0 * self.den
    }

    /// Exact `self > (a + b)/2` (the median of an even-sized cohort), falling back to
    /// floating point only if the triple product would overflow `i128` (sums above ~1 m).
    pub fn gt_mean_of(self, a: PctChange, b: PctChange) -> bool {
        let lhs = (2 * self.num)
            .checked_mul(a.den)
            .and_then(|x| x.checked_mul(b.den));
        let rhs = a
            .num
            .checked_mul(b.den)
            .and_then(|x| x.checked_add(b.num.checked_mul(a.den)?))
            .and_then(|x| x.checked_mul(self.den));
        match (lhs, rhs) {
            (Some(l), Some(r)) => l > r,
            _ => self.to_f64() > (a.to_f64() + b.to_f64()) / 2.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mm(x: f64) -> Length {
        Length::from_mm(x).unwrap()
    }
    fn pct(x: f64) -> Pct {
        Pct::from_pct(x).unwrap()
    }

    #[test]
    fn float_sums_are_exact_after_quantisation() {
        assert_ne!(0.1 + 0.2, 0.3);
        assert_eq!(mm(0.1) + mm(0.2), mm(0.3));
    }

    #[test]
    fn exactly_thirty_percent_decrease_is_pr() {
        assert!(decrease_at_least(mm(70.0), mm(100.0), pct(30.0)));
        // A float-built sum: 0.1 + 0.2 + 69.7 = 70.00000000000001 in f64.
        let s = mm(0.1) + mm(0.2) + mm(69.7);
        assert!(decrease_at_least(s, mm(100.0), pct(30.0)));
        assert!(!decrease_at_least(mm(70.000001), mm(100.0), pct(30.0)));
    }

    #[test]
    fn twenty_percent_and_five_mm_is_pd_but_four_point_nine_is_not() {
        assert!(increase_at_least(mm(30.0), mm(25.0), pct(20.0), mm(5.0)));
        // +20 % exactly but only +4.9 mm: not PD.
        assert!(!increase_at_least(mm(29.4), mm(24.5), pct(20.0), mm(5.0)));
        assert!(increase_at_least(mm(29.4), mm(24.5), pct(20.0), mm(4.9)));
    }

    #[test]
    fn percent_change_fraction_compares_exactly() {
        let a = PctChange::new(mm(70.0), mm(100.0)).unwrap();
        assert_eq!(a.to_f64(), -30.0);
        assert!(!a.gt_pct(pct(-30.0)));
        assert!(a.gt_pct(pct(-30.000001)));
        let b = PctChange::new(mm(90.0), mm(100.0)).unwrap();
        let mid = PctChange::new(mm(80.0), mm(100.0)).unwrap();
        assert!(!mid.gt_mean_of(a, b));
        assert!(b.gt_mean_of(a, b));
    }

    #[test]
    fn nine_decimal_inputs_are_exact() {
        // 0.7 × 101.23456789 = 70.864197523 exactly: PR at exactly −30 %.
        assert!(decrease_at_least(
            mm(70.864197523),
            mm(101.23456789),
            pct(30.0)
        ));
        assert!(decrease_at_least(
            mm(70.86419752299999),
            mm(101.23456789),
            pct(30.0)
        ));
        assert!(!decrease_at_least(
            mm(70.864197524),
            mm(101.23456789),
            pct(30.0)
        ));
    }

    #[test]
    fn rejects_non_finite() {
        assert!(Length::from_mm(f64::NAN).is_none());
        assert!(Length::from_mm(f64::INFINITY).is_none());
        assert!(Pct::from_pct(f64::NAN).is_none());
    }
}
