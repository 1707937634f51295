//! Sorting helpers: sort once by packed integer keys (cache-friendly, no indirect compares).
//! Times are validated non-negative and finite, so their IEEE bits order like the values.

/// Order-preserving map of any f64 (total order) to u64.
pub(crate) fn f64_key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

/// Indices sorted by (group, time) ascending.
pub(crate) fn by_group_time(group: &[usize], time: &[f64]) -> Vec<usize> {
    let mut keyed: Vec<(u32, u64, u32)> = (0..time.len())
        .map(|i| (group[i] as u32, f64_key(time[i]), i as u32))
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, _, i)| i as usize).collect()
}

/// Indices sorted by time ascending.
pub(crate) fn by_time(time: &[f64]) -> Vec<usize> {
    let mut keyed: Vec<(u64, u32)> = (0..time.len())
        .map(|i| (f64_key(time[i]), i as u32))
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| i as usize).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_order() {
        let v = [-3.5, -0.0, 0.0, 1e-300, 2.0, 1e300];
        for w in v.windows(2) {
            assert!(f64_key(w[0]) <= f64_key(w[1]), "{w:?}");
        }
        assert_eq!(by_time(&[3.0, 1.0, 2.0]), vec![1, 2, 0]);
        assert_eq!(by_group_time(&[1, 0, 0], &[1.0, 5.0, 2.0]), vec![2, 1, 0]);
    }
}
