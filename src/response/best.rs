//! Best overall response (RECIST 1.1 §4.4), without confirmation (the default: randomized
//! trials) and with confirmation (RECIST Table 3).
//!
//! Common rules: assessments after the first PD are ignored; SD (and NON-CR/NON-PD for
//! non-target-only disease) counts only at ≥ `sd_min_days` after baseline; when it does
//! not, BOR is PD if a PD follows and NE otherwise.

use super::category::Response;

/// One follow-up assessment: overall response and days from baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assessment {
    pub response: Response,
    pub day: i64,
}

/// The thresholds BOR needs.
#[derive(Debug, Clone, Copy)]
pub struct BorRules {
    pub confirmation: bool,
    pub confirmation_min_days: i64,
    pub sd_min_days: i64,
}

/// Best overall response over the follow-up assessments (baseline excluded), in date
/// order.
pub fn best_overall_response(seq: &[Assessment], rules: &BorRules) -> Response {
    let end = seq
        .iter()
        .position(|a| a.response == Response::Pd)
        .map_or(seq.len(), |i| i + 1);
    let mut seq: Vec<Assessment> = seq[..end].to_vec();
    if rules.confirmation {
        // Table 3, "CR then SD": disease seen after a CR is progression (footnote a).
        let mut after_cr = false;
        for a in &mut seq {
            if after_cr && a.response == Response::Sd {
                a.response = Response::Pd;
            }
            after_cr |= a.response == Response::Cr;
        }
        if let Some(i) = seq.iter().position(|a| a.response == Response::Pd) {
            seq.truncate(i + 1);
        }
        if confirmed(
            &seq,
            rules,
            &[Response::Cr],
            &[Response::Cr],
            &[Response::Cr],
        ) {
            return Response::Cr;
        }
        // "CR then PR" counts as a confirmed PR (the first CR reclassified as PR, Table 3
        // footnote a's second reading).
        let pr_like = [Response::Cr, Response::Pr];
        if confirmed(&seq, rules, &pr_like, &pr_like, &pr_like) {
            return Response::Pr;
        }
    } else {
        if seq.iter().any(|a| a.response == Response::Cr) {
            return Response::Cr;
        }
        if seq.iter().any(|a| a.response == Response::Pr) {
            return Response::Pr;
        }
    }
    // Stable disease: any non-progression response at ≥ the minimum duration.
    let stable = seq
        .iter()
        .filter(|a| a.day >= rules.sd_min_days)
        .find_map(|a| match a.response {
            Response::Cr | Response::Pr | Response::Sd => Some(Response::Sd),
            Response::NonCrNonPd => Some(Response::NonCrNonPd),
            _ => None,
        });
    if let Some(r) = stable {
        // Non-target-only disease reads NON-CR/NON-PD even when the qualifying
        // assessment was an unconfirmed CR.
        let nt_only = seq.iter().any(|a| a.response == Response::NonCrNonPd);
        return if nt_only { Response::NonCrNonPd } else { r };
    }
    if seq.iter().any(|a| a.response == Response::Pd) {
        return Response::Pd;
    }
    Response::Ne
}

/// A `first` assessment followed, at least `confirmation_min_days` later (not necessarily
/// at the next assessment), by a `confirm` one, with only `between` or NE in between.
fn confirmed(
    seq: &[Assessment],
    rules: &BorRules,
    first: &[Response],
    confirm: &[Response],
    between: &[Response],
) -> bool {
    seq.iter().enumerate().any(|(i, a)| {
        first.contains(&a.response)
            && seq[i + 1..]
                .iter()
                .take_while(|b| between.contains(&b.response) || b.response == Response::Ne)
                .any(|b| {
                    confirm.contains(&b.response) && b.day - a.day >= rules.confirmation_min_days
                })
    })
}

#[cfg(test)]
mod tests {
    use super::Response::*;
    use super::*;

    const UNCONFIRMED: BorRules = BorRules {
        confirmation: false,
        confirmation_min_days: 28,
        sd_min_days: 42,
    };
    const CONFIRMED: BorRules = BorRules {
        confirmation: true,
        ..UNCONFIRMED
    };

    fn seq(v: &[(Response, i64)]) -> Vec<Assessment> {
        v.iter()
            .map(|&(response, day)| Assessment { response, day })
            .collect()
    }
    fn bor(v: &[(Response, i64)], r: &BorRules) -> Response {
        best_overall_response(&seq(v), r)
    }

    // ---- Unconfirmed ----

    #[test]
    fn unconfirmed_best_is_the_best_rank() {
        assert_eq!(bor(&[(Sd, 56), (Pr, 112), (Sd, 168)], &UNCONFIRMED), Pr);
        assert_eq!(bor(&[(Pr, 56), (Cr, 112)], &UNCONFIRMED), Cr);
        assert_eq!(bor(&[(Pr, 20)], &UNCONFIRMED), Pr);
    }

    #[test]
    fn responses_after_the_first_pd_are_ignored() {
        assert_eq!(bor(&[(Sd, 56), (Pd, 112), (Cr, 168)], &UNCONFIRMED), Sd);
        assert_eq!(bor(&[(Pd, 56), (Pr, 112)], &UNCONFIRMED), Pd);
    }

    #[test]
    fn sd_needs_the_minimum_duration() {
        assert_eq!(bor(&[(Sd, 42)], &UNCONFIRMED), Sd);
        assert_eq!(bor(&[(Sd, 41)], &UNCONFIRMED), Ne);
        assert_eq!(bor(&[(Sd, 30), (Pd, 60)], &UNCONFIRMED), Pd);
        assert_eq!(bor(&[(Sd, 30), (Ne, 60)], &UNCONFIRMED), Ne);
        assert_eq!(bor(&[(Sd, 30), (Sd, 60)], &UNCONFIRMED), Sd);
        assert_eq!(bor(&[], &UNCONFIRMED), Ne);
    }

    #[test]
    fn non_target_only_disease_gives_noncr_nonpd_with_the_same_duration_rule() {
        assert_eq!(bor(&[(NonCrNonPd, 56)], &UNCONFIRMED), NonCrNonPd);
        assert_eq!(bor(&[(NonCrNonPd, 28)], &UNCONFIRMED), Ne);
        assert_eq!(bor(&[(NonCrNonPd, 56), (Cr, 84)], &UNCONFIRMED), Cr);
    }

    // ---- RECIST Table 3 (confirmation required): one test per row ----
    // First timepoint at day 56 (SD duration met) unless the row is about the other branch.

    #[test]
    fn table3_row01_cr_cr_is_cr() {
        assert_eq!(bor(&[(Cr, 56), (Cr, 84)], &CONFIRMED), Cr);
    }
    #[test]
    fn table3_row02_cr_pr_is_pr() {
        // "SD, PD or PR": the engine already turns disease reappearing after a CR into PD
        // at the target level; a CR followed by PR here is read as an unconfirmed CR
        // reclassified as PR (footnote a), confirmed by the PR.
        assert_eq!(bor(&[(Cr, 56), (Pr, 84)], &CONFIRMED), Pr);
        // Too close together to confirm: falls back to SD.
        assert_eq!(bor(&[(Cr, 56), (Pr, 70)], &CONFIRMED), Sd);
    }
    #[test]
    fn table3_row03_cr_sd_is_sd_if_duration_met_else_pd() {
        assert_eq!(bor(&[(Cr, 56), (Sd, 84)], &CONFIRMED), Sd);
        assert_eq!(bor(&[(Cr, 28), (Sd, 35)], &CONFIRMED), Pd);
    }
    #[test]
    fn table3_row04_cr_pd_is_sd_if_duration_met_else_pd() {
        assert_eq!(bor(&[(Cr, 56), (Pd, 84)], &CONFIRMED), Sd);
        assert_eq!(bor(&[(Cr, 28), (Pd, 56)], &CONFIRMED), Pd);
    }
    #[test]
    fn table3_row05_cr_ne_is_sd_if_duration_met_else_ne() {
        assert_eq!(bor(&[(Cr, 56), (Ne, 84)], &CONFIRMED), Sd);
        assert_eq!(bor(&[(Cr, 28), (Ne, 56)], &CONFIRMED), Ne);
    }
    #[test]
    fn table3_row06_pr_cr_is_pr() {
        assert_eq!(bor(&[(Pr, 56), (Cr, 84)], &CONFIRMED), Pr);
    }
    #[test]
    fn table3_row07_pr_pr_is_pr() {
        assert_eq!(bor(&[(Pr, 56), (Pr, 84)], &CONFIRMED), Pr);
    }
    #[test]
    fn table3_row08_pr_sd_is_sd() {
        assert_eq!(bor(&[(Pr, 56), (Sd, 84)], &CONFIRMED), Sd);
    }
    #[test]
    fn table3_row09_pr_pd_is_sd_if_duration_met_else_pd() {
        assert_eq!(bor(&[(Pr, 56), (Pd, 84)], &CONFIRMED), Sd);
        assert_eq!(bor(&[(Pr, 28), (Pd, 56)], &CONFIRMED), Pd);
    }
    #[test]
    fn table3_row10_pr_ne_is_sd_if_duration_met_else_ne() {
        assert_eq!(bor(&[(Pr, 56), (Ne, 84)], &CONFIRMED), Sd);
        assert_eq!(bor(&[(Pr, 28), (Ne, 56)], &CONFIRMED), Ne);
    }
    #[test]
    fn table3_row11_ne_ne_is_ne() {
        assert_eq!(bor(&[(Ne, 56), (Ne, 84)], &CONFIRMED), Ne);
    }

    #[test]
    fn confirmation_needs_the_interval_and_may_skip_an_ne() {
        // 27 days is not ≥ 28.
        assert_eq!(bor(&[(Cr, 56), (Cr, 83)], &CONFIRMED), Sd);
        // Subsequent, not necessarily next: CR, CR (14 d), CR (35 d).
        assert_eq!(bor(&[(Cr, 56), (Cr, 70), (Cr, 91)], &CONFIRMED), Cr);
        // An intervening NE does not break the confirmation.
        assert_eq!(bor(&[(Pr, 56), (Ne, 70), (Pr, 98)], &CONFIRMED), Pr);
        // An intervening SD does.
        assert_eq!(bor(&[(Pr, 56), (Sd, 70), (Pr, 98)], &CONFIRMED), Sd);
        // A PD before the confirming scan ends the search.
        assert_eq!(bor(&[(Pr, 56), (Pd, 70), (Pr, 98)], &CONFIRMED), Sd);
    }

    #[test]
    fn confirmation_changes_an_unconfirmed_pr_into_sd() {
        let s = [(Pr, 56), (Sd, 84)];
        assert_eq!(bor(&s, &UNCONFIRMED), Pr);
        assert_eq!(bor(&s, &CONFIRMED), Sd);
    }
}
