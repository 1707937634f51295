//! Axis scaling: data → pixel maps and "nice" tick positions (1, 2, 2.5, 5 × 10^k steps),
//! so axes read like a hand-drawn figure and never show 0.30000000000000004.

/// A linear map from the data interval `[d0, d1]` onto the pixel interval `[r0, r1]`
/// (`r1 < r0` is allowed: SVG's y axis points down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearScale {
    pub d0: f64,
    pub d1: f64,
    pub r0: f64,
    pub r1: f64,
}

impl LinearScale {
    /// A degenerate domain (d0 == d1, or non-finite) is widened by one unit so that a
    /// cohort where every value is equal still gets a drawable axis.
    pub fn new(d0: f64, d1: f64, r0: f64, r1: f64) -> Self {
        let (d0, d1) = sanitize(d0, d1);
        Self { d0, d1, r0, r1 }
    }

    pub fn map(&self, v: f64) -> f64 {
        self.r0 + (v - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)
    }

    /// `map`, but clamped to the pixel range so off-scale values stay inside the frame.
    pub fn map_clamped(&self, v: f64) -> f64 {
        let (lo, hi) = if self.r0 <= self.r1 {
            (self.r0, self.r1)
        } else {
            (self.r1, self.r0)
        };
        self.map(v).clamp(lo, hi)
    }
}

/// A log10 map from `[d0, d1]` (both > 0) onto `[r0, r1]`, for hazard ratios.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogScale {
    pub d0: f64,
    pub d1: f64,
    pub r0: f64,
    pub r1: f64,
}

impl LogScale {
    /// Non-positive or non-finite bounds fall back to [0.1, 10], the usual HR window.
    pub fn new(d0: f64, d1: f64, r0: f64, r1: f64) -> Self {
        let ok = |v: f64| v.is_finite() && v > 0.0;
        let (mut d0, mut d1) = if ok(d0) && ok(d1) {
            (d0.min(d1), d0.max(d1))
        } else {
            (0.1, 10.0)
        };
        if d0 == d1 {
            d0 /= 2.0;
            d1 *= 2.0;
        }
        Self { d0, d1, r0, r1 }
    }

    pub fn map(&self, v: f64) -> f64 {
        let (l0, l1) = (self.d0.log10(), self.d1.log10());
        self.r0 + (v.log10() - l0) / (l1 - l0) * (self.r1 - self.r0)
    }

    /// `map` clamped to the pixel range; 0, negative and infinite values go to the edge.
    pub fn map_clamped(&self, v: f64) -> f64 {
        let (lo, hi) = if self.r0 <= self.r1 {
            (self.r0, self.r1)
        } else {
            (self.r1, self.r0)
        };
        if v.is_nan() {
            return lo;
        }
        if v <= 0.0 {
            return if self.r0 <= self.r1 { lo } else { hi };
        }
        if v.is_infinite() {
            return if self.r0 <= self.r1 { hi } else { lo };
        }
        self.map(v).clamp(lo, hi)
    }
}

fn sanitize(d0: f64, d1: f64) -> (f64, f64) {
    let (d0, d1) = match (d0.is_finite(), d1.is_finite()) {
        (true, true) => (d0, d1),
        (true, false) => (d0, d0 + 1.0),
        (false, true) => (d1 - 1.0, d1),
        (false, false) => (0.0, 1.0),
    };
    if d0 == d1 {
        (d0 - 0.5, d1 + 0.5)
    } else {
        (d0, d1)
    }
}

/// The "nice" step for covering `span` with about `target` intervals.
pub fn nice_step(span: f64, target: usize) -> f64 {
    let target = target.max(1) as f64;
    if !(span.is_finite() && span > 0.0) {
        return 1.0;
    }
    let raw = span / target;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let m = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 2.5 {
        2.5
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// Nice ticks covering `[lo, hi]`: the first tick ≤ lo, the last ≥ hi, about `target`
/// intervals. Ticks are computed as `i * step` (not by repeated addition), then rounded
/// to the step's decimals, so they are exact decimal numbers.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let (lo, hi) = sanitize(lo.min(hi), hi.max(lo));
    let step = nice_step(hi - lo, target);
    let i0 = (lo / step + 1e-9).floor() as i64;
    let i1 = (hi / step - 1e-9).ceil() as i64;
    let decimals = step_decimals(step);
    let p = 10f64.powi(decimals as i32);
    (i0..=i1)
        .map(|i| ((i as f64 * step) * p).round() / p)
        .map(|v| if v == 0.0 { 0.0 } else { v })
        .collect()
}

/// Number of decimals needed to print multiples of `step` exactly (2.5 → 1, 0.25 → 2).
pub fn step_decimals(step: f64) -> usize {
    let mut d = 0;
    let mut s = step;
    while d < 10 && (s - s.round()).abs() > 1e-9 * s.abs().max(1.0) {
        s *= 10.0;
        d += 1;
    }
    d
}

/// Log-axis ticks inside `[lo, hi]`: 1, 2, 5 × 10^k, thinned to 1 × 10^k when the range
/// spans more than two and a half decades.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && hi > lo) {
        return vec![];
    }
    let k0 = lo.log10().floor() as i32;
    let k1 = hi.log10().ceil() as i32;
    let mults: &[f64] = if (hi / lo).log10() > 2.5 {
        &[1.0]
    } else {
        &[1.0, 2.0, 5.0]
    };
    let mut out = Vec::new();
    for k in k0..=k1 {
        for m in mults {
            let v = m * 10f64.powi(k);
            // Round to kill 0.30000000000000004-style noise in 10^k for negative k.
            let decimals = (-k).max(0) + 1;
            let p = 10f64.powi(decimals);
            let v = (v * p).round() / p;
            if v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9) {
                out.push(v);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_maps_endpoints_and_midpoint() {
        let s = LinearScale::new(0.0, 1.0, 300.0, 100.0);
        assert_eq!(s.map(0.0), 300.0);
        assert_eq!(s.map(1.0), 100.0);
        assert_eq!(s.map(0.5), 200.0);
        assert_eq!(s.map_clamped(2.0), 100.0);
    }

    #[test]
    fn degenerate_domain_is_widened() {
        let s = LinearScale::new(5.0, 5.0, 0.0, 100.0);
        assert_eq!(s.map(5.0), 50.0);
    }

    #[test]
    fn nice_ticks_are_round_numbers() {
        assert_eq!(nice_ticks(0.0, 1.0, 4), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(nice_ticks(0.0, 37.0, 5), vec![0.0, 10.0, 20.0, 30.0, 40.0]);
        assert_eq!(
            nice_ticks(-62.0, 41.0, 6),
            vec![-80.0, -60.0, -40.0, -20.0, 0.0, 20.0, 40.0, 60.0]
        );
        let t = nice_ticks(0.0, 0.3, 3);
        assert_eq!(t, vec![0.0, 0.1, 0.2, 0.3]);
    }

    #[test]
    fn log_scale_is_symmetric_around_one() {
        let s = LogScale::new(0.1, 10.0, 0.0, 200.0);
        assert!((s.map(1.0) - 100.0).abs() < 1e-9);
        assert!((s.map(0.1) - 0.0).abs() < 1e-9);
        assert!((s.map(10.0) - 200.0).abs() < 1e-9);
        assert!((s.map(2.0) - 100.0 * (1.0 + 2f64.log10())).abs() < 1e-9);
        assert_eq!(s.map_clamped(f64::INFINITY), 200.0);
        assert_eq!(s.map_clamped(0.0), 0.0);
    }

    #[test]
    fn log_ticks_cover_range() {
        assert_eq!(
            log_ticks(0.1, 10.0),
            vec![0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]
        );
        assert_eq!(log_ticks(0.01, 100.0), vec![0.01, 0.1, 1.0, 10.0, 100.0]);
    }
}
