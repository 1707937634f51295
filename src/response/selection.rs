//! Choosing target lesions at baseline (RECIST 1.1 §4.3.1): the largest measurable
//! lesions, at most 5 in total and 2 per organ, all lymph nodes together counting as one
//! organ. The guideline also asks for "suitability for reproducible repeated
//! measurement", which no table records: size alone decides, ties by lesion id so that
//! the choice is reproducible.

use std::collections::BTreeMap;

use super::exact::Length;

/// The organ under which the per-organ limit counts a lesion. Organ names are compared
/// case-insensitively with whitespace collapsed; a laterality word (`left`, `right`,
/// `bilateral`, `l`, `r`) is dropped so that paired organs (`Left lung`, `lung, right`)
/// count as one organ, as the EORTC Q&A asks. An empty organ is one organ.
pub fn organ_key(is_node: bool, organ: &str) -> String {
    if is_node {
        return "lymph node".to_string();
    }
    let lower = organ.to_lowercase();
    lower
        .split(|c: char| c.is_whitespace() || c == ',' || c == '_' || c == '-')
        .filter(|w| !w.is_empty())
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| !matches!(*w, "left" | "right" | "bilateral" | "l" | "r"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A measurable baseline lesion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub lesion_id: String,
    pub organ_key: String,
    /// LD (non-node) or SA (node).
    pub value: Length,
}

/// Indices (into `candidates`) of the chosen targets, largest first.
pub fn select_targets(
    candidates: &[Candidate],
    max_total: usize,
    max_per_organ: usize,
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&candidates[a], &candidates[b]);
        b.value
            .cmp(&a.value)
            .then_with(|| a.lesion_id.cmp(&b.lesion_id))
    });
    let mut per_organ: BTreeMap<&str, usize> = BTreeMap::new();
    let mut chosen = Vec::new();
    for i in order {
        if chosen.len() == max_total {
            break;
        }
        let n = per_organ
            .entry(candidates[i].organ_key.as_str())
            .or_default();
        if *n < max_per_organ {
            *n += 1;
            chosen.push(i);
        }
    }
    chosen
}

/// Why a reader's designated targets break the limits, if they do.
pub fn check_limits(
    organ_keys: &[String],
    max_total: usize,
    max_per_organ: usize,
) -> Option<String> {
    if organ_keys.len() > max_total {
        return Some(format!(
            "{} designated targets (at most {max_total})",
            organ_keys.len()
        ));
    }
    let mut per_organ: BTreeMap<&str, usize> = BTreeMap::new();
    for k in organ_keys {
        *per_organ.entry(k.as_str()).or_default() += 1;
    }
    per_organ
        .into_iter()
        .find(|&(_, n)| n > max_per_organ)
        .map(|(k, n)| {
            let k = if k.is_empty() { "(no organ)" } else { k };
            format!("{n} designated targets in organ {k} (at most {max_per_organ})")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: &str, node: bool, organ: &str, mm: f64) -> Candidate {
        Candidate {
            lesion_id: id.into(),
            organ_key: organ_key(node, organ),
            value: Length::from_mm(mm).unwrap(),
        }
    }
    fn ids(c: &[Candidate], chosen: &[usize]) -> Vec<String> {
        chosen.iter().map(|&i| c[i].lesion_id.clone()).collect()
    }

    #[test]
    fn at_most_five_in_total_largest_first() {
        let c: Vec<Candidate> = (0..7)
            .map(|i| {
                cand(
                    &format!("L{i}"),
                    false,
                    &format!("organ{i}"),
                    10.0 + i as f64,
                )
            })
            .collect();
        assert_eq!(
            ids(&c, &select_targets(&c, 5, 2)),
            ["L6", "L5", "L4", "L3", "L2"]
        );
    }

    #[test]
    fn at_most_two_per_organ() {
        let c = vec![
            cand("A", false, "Liver", 50.0),
            cand("B", false, "liver ", 40.0),
            cand("C", false, "LIVER", 45.0),
            cand("D", false, "lung", 12.0),
        ];
        assert_eq!(ids(&c, &select_targets(&c, 5, 2)), ["A", "C", "D"]);
    }

    #[test]
    fn all_lymph_nodes_count_as_one_organ() {
        let c = vec![
            cand("N1", true, "axilla", 30.0),
            cand("N2", true, "mediastinum", 25.0),
            cand("N3", true, "neck", 20.0),
            cand("L1", false, "liver", 15.0),
        ];
        assert_eq!(ids(&c, &select_targets(&c, 5, 2)), ["N1", "N2", "L1"]);
    }

    #[test]
    fn paired_organs_count_as_one_organ() {
        assert_eq!(organ_key(false, "Left lung"), "lung");
        assert_eq!(organ_key(false, "lung, right"), "lung");
        assert_eq!(organ_key(false, "R. kidney"), "kidney");
        assert_eq!(organ_key(false, "  Soft  tissue "), "soft tissue");
        let c = vec![
            cand("A", false, "left lung", 30.0),
            cand("B", false, "right lung", 25.0),
            cand("C", false, "Lung", 20.0),
        ];
        assert_eq!(ids(&c, &select_targets(&c, 5, 2)), ["A", "B"]);
    }

    #[test]
    fn ties_are_broken_by_lesion_id() {
        let c = vec![
            cand("b", false, "x", 20.0),
            cand("a", false, "x", 20.0),
            cand("c", false, "x", 20.0),
        ];
        assert_eq!(ids(&c, &select_targets(&c, 5, 2)), ["a", "b"]);
    }

    #[test]
    fn designated_limits_are_checked() {
        let k = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_limits(&k(&["a", "b", "c", "d", "e"]), 5, 2).is_none());
        assert!(check_limits(&k(&["a", "b", "c", "d", "e", "f"]), 5, 2).is_some());
        let m = check_limits(&k(&["lymph node", "lymph node", "lymph node"]), 5, 2).unwrap();
        assert!(m.contains("lymph node"), "{m}");
    }
}
