//! Factor levels as R orders them: numerically when every value is a number, otherwise
//! alphabetically (case-insensitive first, as R's collation in an English locale).

use std::cmp::Ordering;
use std::collections::HashMap;

/// Distinct values in R's default factor order.
pub fn sorted_levels(values: &[String]) -> Vec<String> {
    let mut uniq: Vec<String> = {
        let mut seen = std::collections::HashSet::new();
        values
            .iter()
            .filter(|v| seen.insert(v.as_str()))
            .cloned()
            .collect()
    };
    let numeric: Option<Vec<f64>> = uniq.iter().map(|v| v.trim().parse::<f64>().ok()).collect();
    if numeric.is_some() {
        uniq.sort_by(|a, b| {
            let x: f64 = a.trim().parse().unwrap_or(f64::NAN);
            let y: f64 = b.trim().parse().unwrap_or(f64::NAN);
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        });
    } else {
        uniq.sort_by(|a, b| {
            a.to_lowercase()
                .cmp(&b.to_lowercase())
                .then_with(|| a.cmp(b))
        });
    }
    uniq
}

/// Level index of every value, with the levels in the order given (values not among the
/// levels map to `None`).
pub fn codes(values: &[String], levels: &[String]) -> Vec<Option<usize>> {
    let map: HashMap<&str, usize> = levels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    values
        .iter()
        .map(|v| map.get(v.as_str()).copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_levels_sort_as_numbers() {
        let v: Vec<String> = ["10", "2", "1", "2"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(sorted_levels(&v), vec!["1", "2", "10"]);
    }

    #[test]
    fn text_levels_sort_case_insensitively() {
        let v: Vec<String> = ["b", "A", "a", "C"].iter().map(|s| s.to_string()).collect();
        assert_eq!(sorted_levels(&v), vec!["A", "a", "b", "C"]);
    }
}
