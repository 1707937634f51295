//! Small dense symmetric solves for p×p information matrices (p is the number of Cox
//! coefficients, rarely above 20). A generalized LDLᵀ Cholesky in the manner of R's
//! `cholesky2`/`chsolve2`/`chinv2`: a pivot below `toler × max diagonal` marks a column as
//! redundant and its solution component is set to zero, which is what lets Newton–Raphson
//! keep going through a monotone likelihood exactly as R does. Hand-written rather than a
//! linear-algebra crate because this behaviour (not a plain failure) is what we need.

/// A symmetric matrix stored row-major, factored in place as L D Lᵀ.
#[derive(Debug, Clone)]
pub struct Ldl {
    n: usize,
    a: Vec<f64>,
    /// Columns whose pivot fell below the tolerance.
    singular: Vec<bool>,
}

impl Ldl {
    /// Factor a symmetric `n×n` matrix (only the upper triangle `a[i*n+j], j>=i` is read).
    pub fn new(mat: &[f64], n: usize, toler: f64) -> Self {
        let mut a = mat.to_vec();
        for i in 0..n {
            for j in (i + 1)..n {
                a[j * n + i] = a[i * n + j];
            }
        }
        let mut eps = 0.0f64;
        for i in 0..n {
            if a[i * n + i] > eps {
                eps = a[i * n + i];
            }
        }
        eps = if eps == 0.0 { toler } else { eps * toler };
        let mut singular = vec![false; n];
        for i in 0..n {
            let pivot = a[i * n + i];
            if !pivot.is_finite() || pivot < eps {
                a[i * n + i] = 0.0;
                singular[i] = true;
            } else {
                for j in (i + 1)..n {
                    let temp = a[j * n + i] / pivot;
                    a[j * n + i] = temp;
                    a[j * n + j] -= temp * temp * pivot;
                    for k in (j + 1)..n {
                        a[k * n + j] -= temp * a[k * n + i];
                    }
                }
            }
        }
        Self { n, a, singular }
    }

    #[cfg(test)]
    pub fn rank(&self) -> usize {
        self.singular.iter().filter(|&&s| !s).count()
    }

    pub fn singular(&self) -> &[bool] {
        &self.singular
    }

    /// Solve A x = b in place; components of redundant columns come out as 0.
    pub fn solve(&self, b: &mut [f64]) {
        let n = self.n;
        let a = &self.a;
        for i in 0..n {
            let mut temp = b[i];
            for j in 0..i {
                temp -= b[j] * a[i * n + j];
            }
            b[i] = temp;
        }
        for i in (0..n).rev() {
            if a[i * n + i] == 0.0 {
                b[i] = 0.0;
            } else {
                let mut temp = b[i] / a[i * n + i];
                for j in (i + 1)..n {
                    temp -= b[j] * a[j * n + i];
                }
                b[i] = temp;
            }
        }
    }

    /// The (generalized) inverse, row-major; rows/columns of redundant columns are zero.
    pub fn inverse(&self) -> Vec<f64> {
        let n = self.n;
        let mut inv = vec![0.0; n * n];
        let mut e = vec![0.0; n];
        for j in 0..n {
            e.iter_mut().for_each(|v| *v = 0.0);
            e[j] = 1.0;
            self.solve(&mut e);
            for i in 0..n {
                inv[i * n + j] = e[i];
            }
        }
        for i in 0..n {
            if self.singular[i] {
                for j in 0..n {
                    inv[i * n + j] = 0.0;
                    inv[j * n + i] = 0.0;
                }
            }
        }
        inv
    }
}

/// x' A⁻¹ x for a symmetric positive (semi)definite A.
pub fn quad_form_inv(mat: &[f64], n: usize, x: &[f64], toler: f64) -> f64 {
    let f = Ldl::new(mat, n, toler);
    let mut s = x.to_vec();
    f.solve(&mut s);
    s.iter().zip(x).map(|(a, b)| a * b).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_and_inverts_spd() {
        let m = [4.0, 2.0, 0.6, 2.0, 2.0, 0.5, 0.6, 0.5, 3.0];
        let f = Ldl::new(&m, 3, 1e-12);
        assert_eq!(f.rank(), 3);
        let inv = f.inverse();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| m[i * 3 + k] * inv[k * 3 + j]).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((v - want).abs() < 1e-12, "{i},{j}: {v}");
            }
        }
    }

    #[test]
    fn flags_redundant_column() {
        // third column = first + second
        let m = [1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 2.0];
        let f = Ldl::new(&m, 3, 1e-10);
        assert_eq!(f.rank(), 2);
        assert!(f.singular()[2]);
    }
}
