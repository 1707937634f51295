//! RECIST 1.1's per-timepoint rules as pure functions: measurability at baseline, target
//! response, non-target response, and the overall response of Tables 1 and 2.

use super::category::Response;
use super::config::Resolved;
use super::exact::{Length, decrease_at_least, increase_at_least};

/// What a baseline lesion can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measurability {
    /// Can be a target; carries the diameter that enters the sum (LD, or SA for a node).
    Measurable(Length),
    /// Pathological but not measurable (small lesion, node with SA 10 to < 15 mm).
    NonMeasurable,
    /// A node with SA < 10 mm, or nothing there: not recorded.
    NotRecorded,
}

/// Classifies a measured baseline lesion. The non-nodal minimum is
/// `max(10 mm, factor × slice thickness)` once slices are thicker than 5 mm (Appendix II);
/// every comparison is inclusive.
pub fn measurability(
    is_node: bool,
    long_axis: Length,
    short_axis: Length,
    slice_thickness: Length,
    cfg: &Resolved,
) -> Measurability {
    if is_node {
        if short_axis >= cfg.node_measurable_min {
            Measurability::Measurable(short_axis)
        } else if short_axis >= cfg.node_pathological_min {
            Measurability::NonMeasurable
        } else {
            Measurability::NotRecorded
        }
    } else {
        let min = if slice_thickness > cfg.thick_slice_above {
            let thick = Length((slice_thickness.0 as f64 * cfg.thick_slice_factor).round() as i64);
            cfg.measurable_min.max(thick)
        } else {
            cfg.measurable_min
        };
        if long_axis >= min {
            Measurability::Measurable(long_axis)
        } else if long_axis > Length::ZERO {
            Measurability::NonMeasurable
        } else {
            Measurability::NotRecorded
        }
    }
}

/// One target at one follow-up timepoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetValue {
    pub is_node: bool,
    /// LD (non-node) or SA (node) in use for the sum; `None` = not evaluated / missing.
    pub value: Option<Length>,
}

/// Target response and the sum (None unless every target is known).
///
/// Order PD → CR → PR → SD. PD is against the nadir (smallest earlier sum, baseline
/// included), PR against the baseline. A missing target makes the timepoint NE unless the
/// measured ones already prove PD (missing lesions can only add to the sum). After a CR
/// any reappearing disease (a non-node > 0 mm, a node ≥ 10 mm SA) is PD (Table 3,
/// footnote a).
pub fn target_response(
    targets: &[TargetValue],
    baseline: Length,
    nadir: Length,
    after_cr: bool,
    cfg: &Resolved,
) -> (Response, Option<Length>) {
    let known: Length = targets.iter().filter_map(|t| t.value).sum();
    let complete = targets.iter().all(|t| t.value.is_some());
    let sum = complete.then_some(known);
    let present = |t: &TargetValue| {
        t.value.is_some_and(|v| {
            if t.is_node {
                v >= cfg.node_pathological_min
            } else {
                v > Length::ZERO
            }
        })
    };
    if increase_at_least(known, nadir, cfg.pd_increase, cfg.pd_min_increase)
        || (after_cr && targets.iter().any(present))
    {
        return (Response::Pd, sum);
    }
    if !complete {
        return (Response::Ne, None);
    }
    if !targets.iter().any(present) {
        return (Response::Cr, sum);
    }
    if decrease_at_least(known, baseline, cfg.pr_decrease) {
        return (Response::Pr, sum);
    }
    (Response::Sd, sum)
}

/// One non-target lesion at one follow-up timepoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonTargetStatus {
    Present,
    /// Gone, or a node back below 10 mm SA.
    Absent,
    UnequivocalProgression,
    NotEvaluated,
}

/// Non-target response: PD if any lesion progresses unequivocally, NE if any is not
/// evaluated ("not all evaluated"), CR if all are gone (nodes < 10 mm), else
/// NON-CR/NON-PD. `None` when there are no non-target lesions.
pub fn nontarget_response(lesions: &[NonTargetStatus]) -> Option<Response> {
    if lesions.is_empty() {
        return None;
    }
    let any = |s| lesions.contains(&s);
    Some(if any(NonTargetStatus::UnequivocalProgression) {
        Response::Pd
    } else if any(NonTargetStatus::NotEvaluated) {
        Response::Ne
    } else if any(NonTargetStatus::Present) {
        Response::NonCrNonPd
    } else {
        Response::Cr
    })
}

/// RECIST Table 1 (patients with target disease). `nontarget` is `None` when the patient
/// has no non-target lesions (which counts as non-target CR).
pub fn overall_with_targets(target: Response, nontarget: Option<Response>, new: bool) -> Response {
    if new || target == Response::Pd || nontarget == Some(Response::Pd) {
        return Response::Pd;
    }
    match target {
        Response::Cr => match nontarget {
            None | Some(Response::Cr) => Response::Cr,
            _ => Response::Pr,
        },
        Response::Pr => Response::Pr,
        Response::Sd => Response::Sd,
        _ => Response::Ne,
    }
}

/// RECIST Table 2 (non-target disease only).
pub fn overall_nontarget_only(nontarget: Response, new: bool) -> Response {
    if new || nontarget == Response::Pd {
        return Response::Pd;
    }
    match nontarget {
        Response::Cr => Response::Cr,
        Response::NonCrNonPd => Response::NonCrNonPd,
        _ => Response::Ne,
    }
}

#[cfg(test)]
mod tests {
    use super::Response::*;
    use super::*;
    use crate::response::config::Config;

    fn cfg() -> Resolved {
        Config::default().resolve().unwrap()
    }
    fn mm(x: f64) -> Length {
        Length::from_mm(x).unwrap()
    }
    fn t(v: f64) -> TargetValue {
        TargetValue {
            is_node: false,
            value: Some(mm(v)),
        }
    }
    fn node(v: f64) -> TargetValue {
        TargetValue {
            is_node: true,
            value: Some(mm(v)),
        }
    }
    const MISSING: TargetValue = TargetValue {
        is_node: false,
        value: None,
    };
    fn resp(ts: &[TargetValue], b: f64, n: f64) -> Response {
        target_response(ts, mm(b), mm(n), false, &cfg()).0
    }

    // ---- Measurability (notes §1.1, edge case 13) ----

    #[test]
    fn measurability_thresholds_are_inclusive() {
        let c = cfg();
        let st = mm(2.5);
        let nn = |ld| measurability(false, mm(ld), mm(0.0), st, &c);
        assert_eq!(nn(10.0), Measurability::Measurable(mm(10.0)));
        assert_eq!(nn(9.99), Measurability::NonMeasurable);
        assert_eq!(nn(0.0), Measurability::NotRecorded);
        let nd = |sa| measurability(true, mm(40.0), mm(sa), st, &c);
        assert_eq!(nd(15.0), Measurability::Measurable(mm(15.0)));
        assert_eq!(nd(14.9), Measurability::NonMeasurable);
        assert_eq!(nd(10.0), Measurability::NonMeasurable);
        assert_eq!(nd(9.9), Measurability::NotRecorded);
    }

    #[test]
    fn thick_slices_need_twice_the_thickness() {
        let c = cfg();
        // 5 mm slices: not "thicker than 5 mm", so 10 mm suffices.
        assert_eq!(
            measurability(false, mm(10.0), mm(0.0), mm(5.0), &c),
            Measurability::Measurable(mm(10.0))
        );
        // 7 mm slices: the minimum is 14 mm.
        assert_eq!(
            measurability(false, mm(13.9), mm(0.0), mm(7.0), &c),
            Measurability::NonMeasurable
        );
        assert_eq!(
            measurability(false, mm(14.0), mm(0.0), mm(7.0), &c),
            Measurability::Measurable(mm(14.0))
        );
    }

    // ---- Target response (notes §1.4, edge cases 1–4, 7, 11) ----

    #[test]
    fn exactly_minus_thirty_percent_is_pr() {
        assert_eq!(resp(&[t(70.0)], 100.0, 100.0), Pr);
        assert_eq!(resp(&[t(35.1), t(34.9)], 100.0, 100.0), Pr);
        assert_eq!(resp(&[t(70.1)], 100.0, 100.0), Sd);
    }

    #[test]
    fn float_sum_point_one_plus_point_two_does_not_flip_pr() {
        // 0.1 + 0.2 + 69.7 is 70.00000000000001 in f64; exact sum is 70.
        assert_eq!(resp(&[t(0.1), t(0.2), t(69.7)], 100.0, 100.0), Pr);
    }

    #[test]
    fn plus_twenty_percent_and_five_mm_is_pd() {
        assert_eq!(resp(&[t(30.0)], 25.0, 25.0), Pd);
    }

    #[test]
    fn plus_twenty_percent_and_four_point_nine_mm_is_not_pd() {
        assert_eq!(resp(&[t(29.4)], 24.5, 24.5), Sd);
    }

    #[test]
    fn edge2_ten_to_twelve_point_five_is_not_pd() {
        assert_eq!(resp(&[t(12.5)], 10.0, 10.0), Sd);
    }

    #[test]
    fn edge1_pd_is_against_the_nadir_not_the_baseline() {
        // B = 100, nadir 40, S = 50: PR vs baseline but +25 % / +10 mm vs nadir → PD.
        assert_eq!(resp(&[t(50.0)], 100.0, 40.0), Pd);
        // Against the baseline it would have been PR.
        assert_eq!(resp(&[t(50.0)], 100.0, 100.0), Pr);
    }

    #[test]
    fn edge3_pr_is_against_the_baseline_not_the_nadir() {
        // Q&A: 165 → 63 → 65 stays PR (65 vs nadir 63 is not PD; 65 ≤ 0.7·165).
        assert_eq!(resp(&[t(63.0)], 165.0, 165.0), Pr);
        assert_eq!(resp(&[t(65.0)], 165.0, 63.0), Pr);
        // 80 after nadir 60, baseline 100: +33 % & +20 mm vs nadir → PD, not "still PR".
        assert_eq!(resp(&[t(80.0)], 100.0, 60.0), Pd);
        // 75 after nadir 70: shrinkage vs nadir is irrelevant; vs baseline −25 % → SD.
        assert_eq!(resp(&[t(75.0)], 100.0, 70.0), Sd);
    }

    #[test]
    fn edge4_node_targets_keep_their_short_axis_and_allow_cr() {
        // Node SA 8 mm + non-node gone: CR although the sum is 8 mm, not 0.
        let (r, s) = target_response(&[node(8.0), t(0.0)], mm(40.0), mm(40.0), false, &cfg());
        assert_eq!(r, Cr);
        assert_eq!(s, Some(mm(8.0)));
        // A node still at 10 mm SA blocks CR.
        assert_eq!(resp(&[node(10.0), t(0.0)], 40.0, 40.0), Pr);
        // 9.9 mm is already normal.
        assert_eq!(resp(&[node(9.9), t(0.0)], 40.0, 40.0), Cr);
    }

    #[test]
    fn cr_when_every_non_node_target_is_zero() {
        assert_eq!(resp(&[t(0.0), t(0.0)], 40.0, 40.0), Cr);
    }

    #[test]
    fn edge5_too_small_five_mm_is_not_cr() {
        // "Too small" enters as 5 mm: present, so not CR.
        assert_eq!(resp(&[t(5.0)], 40.0, 40.0), Pr);
    }

    #[test]
    fn edge7_missing_target_is_ne_unless_pd_is_already_proven() {
        assert_eq!(resp(&[t(10.0), MISSING], 100.0, 100.0), Ne);
        let (r, s) = target_response(&[t(10.0), MISSING], mm(100.0), mm(100.0), false, &cfg());
        assert_eq!((r, s), (Ne, None));
        // Measured ones alone are +20 % and +5 mm above the nadir: PD regardless.
        assert_eq!(resp(&[t(60.0), MISSING], 100.0, 50.0), Pd);
        // A PR cannot be declared from a partial sum.
        assert_eq!(resp(&[t(1.0), MISSING], 100.0, 100.0), Ne);
    }

    #[test]
    fn edge10_disease_reappearing_after_cr_is_pd() {
        let c = cfg();
        // After CR (nadir 0), a 3 mm lesion is not +5 mm, yet it is PD.
        let (r, _) = target_response(&[t(3.0), t(0.0)], mm(50.0), mm(0.0), true, &c);
        assert_eq!(r, Pd);
        // A node regrowing to 10 mm after CR is PD; at 9 mm it is still CR.
        assert_eq!(
            target_response(&[node(10.0)], mm(20.0), mm(9.0), true, &c).0,
            Pd
        );
        assert_eq!(
            target_response(&[node(9.0)], mm(20.0), mm(8.0), true, &c).0,
            Cr
        );
    }

    // ---- Non-target response (notes §1.5) ----

    #[test]
    fn nontarget_response_rows() {
        use NonTargetStatus::*;
        let cases: &[(&str, &[NonTargetStatus], Option<Response>)] = &[
            ("none", &[], None),
            ("all absent: CR", &[Absent, Absent], Some(Cr)),
            (
                "one persists: NON-CR/NON-PD",
                &[Absent, Present],
                Some(NonCrNonPd),
            ),
            (
                "unequivocal progression: PD",
                &[Present, UnequivocalProgression],
                Some(Pd),
            ),
            (
                "PD wins over NE",
                &[NotEvaluated, UnequivocalProgression],
                Some(Pd),
            ),
            ("not all evaluated: NE", &[Absent, NotEvaluated], Some(Ne)),
            ("present and NE: NE", &[Present, NotEvaluated], Some(Ne)),
        ];
        for (name, input, want) in cases {
            assert_eq!(nontarget_response(input), *want, "{name}");
        }
    }

    // ---- RECIST Table 1: one test per row ----

    #[test]
    fn table1_row1_cr_cr_no_is_cr() {
        assert_eq!(overall_with_targets(Cr, Some(Cr), false), Cr);
        assert_eq!(overall_with_targets(Cr, None, false), Cr);
    }
    #[test]
    fn table1_row2_cr_noncr_nonpd_no_is_pr() {
        assert_eq!(overall_with_targets(Cr, Some(NonCrNonPd), false), Pr);
    }
    #[test]
    fn table1_row3_cr_not_evaluated_no_is_pr() {
        assert_eq!(overall_with_targets(Cr, Some(Ne), false), Pr);
    }
    #[test]
    fn table1_row4_pr_nonpd_or_not_all_evaluated_no_is_pr() {
        for nt in [None, Some(Cr), Some(NonCrNonPd), Some(Ne)] {
            assert_eq!(overall_with_targets(Pr, nt, false), Pr, "{nt:?}");
        }
    }
    #[test]
    fn table1_row5_sd_nonpd_or_not_all_evaluated_no_is_sd() {
        for nt in [None, Some(Cr), Some(NonCrNonPd), Some(Ne)] {
            assert_eq!(overall_with_targets(Sd, nt, false), Sd, "{nt:?}");
        }
    }
    #[test]
    fn table1_row6_not_all_evaluated_nonpd_no_is_ne() {
        for nt in [None, Some(Cr), Some(NonCrNonPd), Some(Ne)] {
            assert_eq!(overall_with_targets(Ne, nt, false), Ne, "{nt:?}");
        }
    }
    #[test]
    fn table1_row7_pd_any_any_is_pd() {
        for nt in [None, Some(Cr), Some(NonCrNonPd), Some(Ne), Some(Pd)] {
            for new in [false, true] {
                assert_eq!(overall_with_targets(Pd, nt, new), Pd);
            }
        }
    }
    #[test]
    fn table1_row8_any_pd_any_is_pd() {
        for tr in [Cr, Pr, Sd, Ne, Pd] {
            for new in [false, true] {
                assert_eq!(overall_with_targets(tr, Some(Pd), new), Pd);
            }
        }
    }
    #[test]
    fn table1_row9_any_any_new_is_pd() {
        for tr in [Cr, Pr, Sd, Ne] {
            for nt in [None, Some(Cr), Some(NonCrNonPd), Some(Ne)] {
                assert_eq!(overall_with_targets(tr, nt, true), Pd);
            }
        }
    }

    // ---- RECIST Table 2: one test per row ----

    #[test]
    fn table2_row1_cr_no_is_cr() {
        assert_eq!(overall_nontarget_only(Cr, false), Cr);
    }
    #[test]
    fn table2_row2_noncr_nonpd_no_is_noncr_nonpd_not_sd() {
        assert_eq!(overall_nontarget_only(NonCrNonPd, false), NonCrNonPd);
    }
    #[test]
    fn table2_row3_not_all_evaluated_no_is_ne() {
        assert_eq!(overall_nontarget_only(Ne, false), Ne);
    }
    #[test]
    fn table2_row4_unequivocal_pd_any_is_pd() {
        assert_eq!(overall_nontarget_only(Pd, false), Pd);
        assert_eq!(overall_nontarget_only(Pd, true), Pd);
    }
    #[test]
    fn table2_row5_any_new_is_pd() {
        for nt in [Cr, NonCrNonPd, Ne] {
            assert_eq!(overall_nontarget_only(nt, true), Pd);
        }
    }
}
