//! Whole-patient tests through `read_lesions` → `evaluate`: every rule that needs more
//! than one function (timepoints, selection, states, new lesions, BOR, D, bad input).

use super::*;

const H: &str = "patient_id,study_date,lesion_id,is_node,organ,long_axis_mm,short_axis_mm";
const HS: &str = "patient_id,study_date,lesion_id,is_node,organ,long_axis_mm,short_axis_mm,state";
const HR: &str =
    "patient_id,study_date,lesion_id,is_node,organ,long_axis_mm,short_axis_mm,role,state";

fn run_cfg(header: &str, rows: &[&str], cfg: &Config) -> CohortResponse {
    let text = format!("{header}\n{}\n", rows.join("\n"));
    let lesions = read_lesions(text.as_bytes()).unwrap();
    evaluate(&lesions, cfg).unwrap()
}
fn run(header: &str, rows: &[&str]) -> CohortResponse {
    run_cfg(header, rows, &Config::default())
}
fn tp<'a>(r: &'a CohortResponse, pid: &str, k: usize) -> &'a TimepointRow {
    r.timepoints
        .iter()
        .find(|t| t.patient_id == pid && t.timepoint == k)
        .unwrap_or_else(|| panic!("no timepoint {k} for {pid}: {:#?}", r))
}
fn pat<'a>(r: &'a CohortResponse, pid: &str) -> &'a PatientRow {
    r.patients.iter().find(|p| p.patient_id == pid).unwrap()
}
fn overall(r: &CohortResponse, pid: &str) -> Vec<String> {
    r.timepoints
        .iter()
        .filter(|t| t.patient_id == pid && t.timepoint > 0)
        .map(|t| t.overall_response.clone())
        .collect()
}

// ---- Timepoints and baseline ----

#[test]
fn timepoints_are_ordered_by_date_with_days_from_baseline() {
    let r = run(
        H,
        &[
            "P1,2024-03-01,L1,false,liver,40,20",
            "P1,2024-01-01,L1,false,liver,50,20",
            "P1,20240501,L1,false,liver,45,20",
        ],
    );
    let dates: Vec<(&str, i64)> = r
        .timepoints
        .iter()
        .map(|t| (t.study_date.as_str(), t.days_from_baseline))
        .collect();
    assert_eq!(
        dates,
        [("2024-01-01", 0), ("2024-03-01", 60), ("2024-05-01", 121)]
    );
    let b = tp(&r, "P1", 0);
    assert_eq!(
        (b.sum_mm, b.baseline_sum_mm, b.nadir_mm),
        (Some(50.0), Some(50.0), None)
    );
    assert_eq!(b.overall_response, "");
    assert_eq!(pat(&r, "P1").n_timepoints, 3);
}

#[test]
fn baseline_is_the_last_study_on_or_before_treatment_start() {
    let mut cfg = Config {
        treatment_start: Some(PatientDates::Map(
            [("P1".to_string(), "2024-02-01".to_string())].into(),
        )),
        ..Config::default()
    };
    let rows = [
        "P1,2024-01-01,L1,false,liver,80,20",
        "P1,2024-02-01,L1,false,liver,50,20",
        "P1,2024-04-01,L1,false,liver,35,20",
        "P2,2024-01-01,L1,false,liver,50,20",
        "P2,2024-04-01,L1,false,liver,35,20",
    ];
    let r = run_cfg(H, &rows, &cfg);
    let b = tp(&r, "P1", 0);
    assert_eq!(
        (b.study_date.as_str(), b.sum_mm),
        ("2024-02-01", Some(50.0))
    );
    assert_eq!(tp(&r, "P1", 1).days_from_baseline, 60);
    assert_eq!(tp(&r, "P1", 1).overall_response, "PR");
    // A patient missing from the map keeps the first study.
    assert_eq!(tp(&r, "P2", 0).study_date, "2024-01-01");

    cfg.treatment_start = Some(PatientDates::Map(
        [("P1".to_string(), "2023-12-01".to_string())].into(),
    ));
    let r = run_cfg(H, &rows, &cfg);
    let p = pat(&r, "P1");
    assert!(!p.evaluable);
    assert!(p.reason.contains("treatment start"), "{}", p.reason);
    assert!(pat(&r, "P2").evaluable);
}

// ---- Duplicates, split and merged lesions (edge case 6) ----

#[test]
fn duplicate_lesion_from_two_annotation_objects_makes_the_patient_not_evaluable() {
    let h = format!("{H},sop_instance_uid");
    let r = run(
        &h,
        &[
            "P1,2024-01-01,L1,false,liver,50,20,1.1",
            "P1,2024-01-01,L1,false,liver,48,20,1.2",
            "P2,2024-01-01,L1,false,liver,50,20,2.1",
        ],
    );
    let p = pat(&r, "P1");
    assert!(!p.evaluable);
    assert!(p.reason.contains("patient P1"), "{}", p.reason);
    assert!(p.reason.contains("lesion L1"), "{}", p.reason);
    assert!(
        p.reason.contains("row 1") && p.reason.contains("row 2"),
        "{}",
        p.reason
    );
    assert!(r.timepoints.iter().all(|t| t.patient_id != "P1"));
    assert!(pat(&r, "P2").evaluable);
}

#[test]
fn identical_duplicates_count_once() {
    let h = format!("{H},sop_instance_uid");
    let r = run(
        &h,
        &[
            "P1,2024-01-01,L1,false,liver,50,20,1.1",
            "P1,2024-01-01,L1,false,liver,50,20,1.2",
        ],
    );
    assert!(pat(&r, "P1").evaluable);
    assert_eq!(pat(&r, "P1").baseline_sum_mm, Some(50.0));
}

#[test]
fn edge6_split_lesion_fragments_from_one_object_are_summed() {
    let h = format!("{H},sop_instance_uid");
    let r = run(
        &h,
        &[
            "P1,2024-01-01,L1,false,liver,50,20,1.1",
            "P1,2024-03-01,L1,false,liver,20,8,1.2",
            "P1,2024-03-01,L1,false,liver,15.5,8,1.2",
        ],
    );
    assert_eq!(tp(&r, "P1", 1).sum_mm, Some(35.5));
    assert_eq!(tp(&r, "P1", 1).target_response, "SD");
}

#[test]
fn edge6_merged_lesions_one_gets_the_diameter_the_others_zero() {
    let r = run(
        H,
        &[
            "P1,2024-01-01,L1,false,liver,30,20",
            "P1,2024-01-01,L2,false,liver,20,20",
            "P1,2024-03-01,L1,false,liver,45,20",
            "P1,2024-03-01,L2,false,liver,0,0",
        ],
    );
    assert_eq!(tp(&r, "P1", 1).sum_mm, Some(45.0));
    assert_eq!(tp(&r, "P1", 1).target_response, "SD");
}

#[test]
fn edge6_changed_lesion_ids_give_ne_target_and_a_new_lesion() {
    // L1 is not found again; "L1b" appears: the target is missing and L1b is new → PD.
    let r = run(
        H,
        &[
            "P1,2024-01-01,L1,false,liver,30,20",
            "P1,2024-03-01,L1b,false,liver,28,20",
        ],
    );
    let t = tp(&r, "P1", 1);
    assert_eq!(t.target_response, "NE");
    assert!(t.new_lesions);
    assert_eq!(t.overall_response, "PD");
}

// ---- Lesion states (edge case 5) ----

#[test]
fn edge5_too_small_disappeared_and_small_numbers_are_distinct() {
    let r = run(
        HS,
        &[
            "P1,2024-01-01,A,false,liver,20,10,",
            "P1,2024-01-01,B,false,lung,20,10,",
            "P1,2024-01-01,C,false,bone,20,10,",
            "P1,2024-03-01,A,false,liver,,,too-small",
            "P1,2024-03-01,B,false,lung,,,disappeared",
            "P1,2024-03-01,C,false,bone,3,2,",
        ],
    );
    // 5 (too small) + 0 (disappeared) + 3 (numeric, kept as is, not raised to 5).
    assert_eq!(tp(&r, "P1", 1).sum_mm, Some(8.0));
    assert_eq!(tp(&r, "P1", 1).target_response, "PR");
}

#[test]
fn without_state_long_axis_zero_is_disappeared() {
    let r = run(
        H,
        &[
            "P1,2024-01-01,A,false,liver,20,10",
            "P1,2024-03-01,A,false,liver,0,0",
        ],
    );
    assert_eq!(tp(&r, "P1", 1).target_response, "CR");
    assert_eq!(tp(&r, "P1", 1).sum_mm, Some(0.0));
}

#[test]
fn not_evaluated_target_makes_the_timepoint_ne() {
    let r = run(
        HS,
        &[
            "P1,2024-01-01,A,false,liver,40,10,",
            "P1,2024-01-01,B,false,lung,40,10,",
            "P1,2024-03-01,A,false,liver,10,5,",
            "P1,2024-03-01,B,false,lung,,,not-evaluated",
        ],
    );
    let t = tp(&r, "P1", 1);
    assert_eq!((t.target_response.as_str(), t.sum_mm), ("NE", None));
    assert_eq!(t.overall_response, "NE");
    assert_eq!(pat(&r, "P1").best_overall_response, "NE");
}

// ---- Target selection through evaluate ----

#[test]
fn selection_five_total_two_per_organ_nodes_one_organ() {
    let r = run(
        H,
        &[
            "P1,2024-01-01,Liv1,false,liver,60,30",
            "P1,2024-01-01,Liv2,false,liver,50,30",
            "P1,2024-01-01,Liv3,false,liver,45,30",
            "P1,2024-01-01,N1,true,axilla,40,30",
            "P1,2024-01-01,N2,true,mediastinum,40,25",
            "P1,2024-01-01,N3,true,neck,40,20",
            "P1,2024-01-01,Lung1,false,lung,12,8",
            "P1,2024-01-01,Bone1,false,bone,11,8",
        ],
    );
    // Liv1 60 + Liv2 50 + N1 SA 30 + N2 SA 25 + Lung1 12 = 177 (Liv3, N3, Bone1 non-target).
    assert_eq!(pat(&r, "P1").baseline_sum_mm, Some(177.0));
}

#[test]
fn thick_slices_raise_the_measurability_minimum() {
    let h = format!("{H},slice_thickness_mm");
    let r = run(
        &h,
        &[
            "P1,2024-01-01,A,false,liver,13,8,7",
            "P1,2024-01-01,B,false,lung,14,8,7",
            "P1,2024-01-01,C,false,bone,10,8,",
        ],
    );
    // A (13 < 2×7) is non-target; B (14) and C (10 at the assumed 2.5 mm) are targets.
    assert_eq!(pat(&r, "P1").baseline_sum_mm, Some(24.0));
}

#[test]
fn nodes_ten_to_fifteen_are_non_target_and_below_ten_not_recorded() {
    let r = run(
        H,
        &[
            "P1,2024-01-01,T,false,liver,30,20",
            "P1,2024-01-01,N12,true,neck,20,12",
            "P1,2024-01-01,N8,true,axilla,12,8",
            "P1,2024-03-01,T,false,liver,0,0",
            "P1,2024-03-01,N12,true,neck,20,12",
            "P1,2024-03-01,N8,true,axilla,12,8",
        ],
    );
    assert_eq!(pat(&r, "P1").baseline_sum_mm, Some(30.0));
    let t = tp(&r, "P1", 1);
    // N12 is a non-target node still ≥ 10 mm: non-target NON-CR/NON-PD; N8 is not new.
    assert_eq!(t.nontarget_response, "NON-CR/NON-PD");
    assert!(!t.new_lesions);
    assert_eq!(t.overall_response, "PR");
}

#[test]
fn edge4_nodes_are_summed_by_short_axis_and_keep_it_below_ten() {
    let r = run(
        H,
        &[
            "P1,2024-01-01,N1,true,neck,40,20",
            "P1,2024-01-01,T,false,liver,30,20",
            "P1,2024-03-01,N1,true,neck,14,7.5",
            "P1,2024-03-01,T,false,liver,0,0",
        ],
    );
    assert_eq!(pat(&r, "P1").baseline_sum_mm, Some(50.0)); // SA 20 + LD 30, not LD 40.
    let t = tp(&r, "P1", 1);
    assert_eq!(t.sum_mm, Some(7.5)); // the node keeps its 7.5 mm, not 0
    assert_eq!(t.target_response, "CR");
    assert_eq!(t.overall_response, "CR");
}

#[test]
fn edge4_non_target_node_at_ten_mm_blocks_overall_cr() {
    let r = run(
        H,
        &[
            "P1,2024-01-01,T,false,liver,30,20",
            "P1,2024-01-01,N,true,neck,20,12",
            "P1,2024-03-01,T,false,liver,0,0",
            "P1,2024-03-01,N,true,neck,15,10",
            "P1,2024-05-01,T,false,liver,0,0",
            "P1,2024-05-01,N,true,neck,14,9.9",
        ],
    );
    assert_eq!(tp(&r, "P1", 1).target_response, "CR");
    assert_eq!(tp(&r, "P1", 1).nontarget_response, "NON-CR/NON-PD");
    assert_eq!(overall(&r, "P1"), ["PR", "CR"]);
}

// ---- Threshold sequences through evaluate (edge cases 1–3, 11) ----

#[test]
fn qa_165_63_65_stays_pr() {
    let r = run(
        H,
        &[
            "P1,2024-01-01,T,false,liver,165,20",
            "P1,2024-03-01,T,false,liver,63,20",
            "P1,2024-05-01,T,false,liver,65,20",
        ],
    );
    assert_eq!(overall(&r, "P1"), ["PR", "PR"]);
    assert_eq!(tp(&r, "P1", 2).nadir_mm, Some(63.0));
}

#[test]
fn baseline_100_nadir_40_sum_50_is_pd() {
    let r = run(
        H,
        &[
            "P1,2024-01-01,T,false,liver,100,20",
            "P1,2024-03-01,T,false,liver,40,20",
            "P1,2024-05-01,T,false,liver,50,20",
        ],
    );
    assert_eq!(overall(&r, "P1"), ["PR", "PD"]);
    assert_eq!(pat(&r, "P1").best_overall_response, "PR");
}

#[test]
fn edge1_nadir_excludes_the_current_timepoint_and_includes_earlier_ones() {
    let r = run(
        H,
        &[
            "P1,2024-01-01,T,false,liver,50,20",
            "P1,2024-03-01,T,false,liver,60,20",
            "P1,2024-05-01,T,false,liver,45,20",
            "P1,2024-07-01,T,false,liver,54,20",
        ],
    );
    // 60 vs 50: +20 %, +10 mm → PD. 54 vs nadir 45: +20 %, +9 mm → PD.
    assert_eq!(overall(&r, "P1"), ["PD", "SD", "PD"]);
    assert_eq!(tp(&r, "P1", 1).nadir_mm, Some(50.0));
    assert_eq!(tp(&r, "P1", 3).nadir_mm, Some(45.0));
}

#[test]
fn minus_thirty_point_zero_percent_through_decimal_inputs_is_pr() {
    let r = run(
        H,
        &[
            "P1,2024-01-01,A,false,liver,33.3,1",
            "P1,2024-01-01,B,false,lung,66.7,1",
            "P1,2024-03-01,A,false,liver,0.1,1",
            "P1,2024-03-01,B,false,lung,69.9,1",
        ],
    );
    let t = tp(&r, "P1", 1);
    assert_eq!(t.sum_mm, Some(70.0));
    assert_eq!(t.pct_change_from_baseline, Some(-30.0));
    assert_eq!(t.target_response, "PR");
}

// ---- Non-target follow-up, new lesions (edge case 9) ----

#[test]
fn non_target_only_disease_gives_noncr_nonpd() {
    let r = run(
        H,
        &[
            "P1,2024-01-01,S,false,liver,8,5",
            "P1,2024-03-01,S,false,liver,7,5",
        ],
    );
    let t = tp(&r, "P1", 1);
    assert_eq!(
        (t.target_response.as_str(), t.nontarget_response.as_str()),
        ("", "NON-CR/NON-PD")
    );
    assert_eq!(t.overall_response, "NON-CR/NON-PD");
    assert_eq!(t.sum_mm, None);
    let p = pat(&r, "P1");
    assert_eq!(p.best_overall_response, "NON-CR/NON-PD");
    assert_eq!((p.d_percent, p.d_high), (None, None));
}

#[test]
fn non_target_states_present_absent_and_progression() {
    let r = run(
        HS,
        &[
            "P1,2024-01-01,T,false,liver,30,20,",
            "P1,2024-01-01,NT,false,peritoneum,,,present",
            "P1,2024-03-01,T,false,liver,0,0,",
            "P1,2024-03-01,NT,false,peritoneum,,,absent",
            "P1,2024-05-01,T,false,liver,0,0,",
            "P1,2024-05-01,NT,false,peritoneum,,,unequivocal-progression",
        ],
    );
    assert_eq!(tp(&r, "P1", 1).nontarget_response, "CR");
    assert_eq!(tp(&r, "P1", 2).nontarget_response, "PD");
    assert_eq!(overall(&r, "P1"), ["CR", "PD"]);
}

#[test]
fn new_lesion_is_pd_but_a_new_normal_node_is_not() {
    let r = run(
        H,
        &[
            "P1,2024-01-01,T,false,liver,30,20",
            "P1,2024-03-01,T,false,liver,28,20",
            "P1,2024-03-01,N,true,neck,12,9",
            "P1,2024-05-01,T,false,liver,28,20",
            "P1,2024-05-01,X,false,lung,6,4",
        ],
    );
    assert!(!tp(&r, "P1", 1).new_lesions);
    assert!(tp(&r, "P1", 2).new_lesions);
    assert_eq!(overall(&r, "P1"), ["SD", "PD"]);
}

#[test]
fn edge9_equivocal_new_lesion_is_pd_only_when_confirmed_and_dated_back() {
    let rows = |later: &str| {
        [
            "P1,2024-01-01,T,false,liver,30,20,".to_string(),
            "P1,2024-03-01,T,false,liver,28,20,".to_string(),
            "P1,2024-03-01,X,false,lung,,,equivocal".to_string(),
            "P1,2024-05-01,T,false,liver,28,20,".to_string(),
            format!("P1,2024-05-01,X,false,lung,{later}"),
        ]
    };
    let confirmed = rows("8,5,");
    let r = run(
        HS,
        &confirmed.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(tp(&r, "P1", 1).new_lesions);
    assert_eq!(overall(&r, "P1"), ["PD", "PD"]);
    assert_eq!(pat(&r, "P1").best_overall_response, "PD");

    let gone = rows(",,absent");
    let r = run(HS, &gone.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!tp(&r, "P1", 1).new_lesions);
    assert_eq!(overall(&r, "P1"), ["SD", "SD"]);
}

#[test]
fn edge10_reappearance_after_cr_is_pd() {
    let r = run(
        H,
        &[
            "P1,2024-01-01,T,false,liver,40,20",
            "P1,2024-03-01,T,false,liver,0,0",
            "P1,2024-05-01,T,false,liver,4,3",
        ],
    );
    assert_eq!(overall(&r, "P1"), ["CR", "PD"]);
    assert_eq!(pat(&r, "P1").best_overall_response, "CR");
}

// ---- Designated roles ----

#[test]
fn designated_roles_override_selection() {
    let r = run(
        HR,
        &[
            "P1,2024-01-01,Big,false,liver,80,20,non-target,",
            "P1,2024-01-01,Small,false,lung,20,10,target,",
            "P1,2024-03-01,Big,false,liver,80,20,,",
            "P1,2024-03-01,Small,false,lung,14,10,,",
            "P1,2024-03-01,Nw,false,bone,,,new,absent",
        ],
    );
    assert_eq!(pat(&r, "P1").baseline_sum_mm, Some(20.0));
    let t = tp(&r, "P1", 1);
    assert_eq!(
        (t.target_response.as_str(), t.nontarget_response.as_str()),
        ("PR", "NON-CR/NON-PD")
    );
    assert!(!t.new_lesions);
}

#[test]
fn designated_targets_beyond_the_limits_are_rejected() {
    let r = run(
        HR,
        &[
            "P1,2024-01-01,A,false,liver,30,20,target,",
            "P1,2024-01-01,B,false,liver,30,20,target,",
            "P1,2024-01-01,C,false,liver,30,20,target,",
        ],
    );
    let p = pat(&r, "P1");
    assert!(!p.evaluable);
    assert!(p.reason.contains("liver"), "{}", p.reason);
}

// ---- BOR through evaluate ----

#[test]
fn bor_sd_minimum_duration_and_confirmation_from_config() {
    let rows = [
        "P1,2024-01-01,T,false,liver,100,20",
        "P1,2024-01-29,T,false,liver,65,20", // day 28: PR
        "P1,2024-03-11,T,false,liver,75,20", // day 70: SD (+15 % vs nadir 65)
    ];
    let r = run(H, &rows);
    assert_eq!(pat(&r, "P1").best_overall_response, "PR");
    let cfg = Config {
        confirmation: true,
        ..Config::default()
    };
    let r = run_cfg(H, &rows, &cfg);
    assert_eq!(pat(&r, "P1").best_overall_response, "SD");
    let cfg = Config {
        confirmation: true,
        sd_min_days: 84,
        ..Config::default()
    };
    let r = run_cfg(H, &rows, &cfg);
    assert_eq!(pat(&r, "P1").best_overall_response, "NE");
}

#[test]
fn baseline_only_patient_has_bor_ne_and_no_d() {
    let r = run(H, &["P1,2024-01-01,T,false,liver,100,20"]);
    let p = pat(&r, "P1");
    assert!(p.evaluable);
    assert_eq!(
        (p.best_overall_response.as_str(), p.d_percent),
        ("NE", None)
    );
}

// ---- D and d_high ----

fn cohort_rows() -> Vec<&'static str> {
    vec![
        // D at the second timepoint: A −50 %, B −10 %, C +10 %, D not evaluable there.
        "A,2024-01-01,T,false,liver,100,1",
        "A,2024-03-01,T,false,liver,50,1",
        "A,2024-05-01,T,false,liver,30,1",
        "B,2024-01-01,T,false,liver,100,1",
        "B,2024-03-01,T,false,liver,90,1",
        "C,2024-01-01,T,false,liver,100,1",
        "C,2024-03-01,T,false,liver,110,1",
        "D,2024-01-01,T,false,liver,100,1",
        "D,2024-01-01,U,false,lung,100,1",
        "D,2024-03-01,T,false,liver,10,1",
        "D,2024-05-01,T,false,liver,10,1",
        "D,2024-05-01,U,false,lung,10,1",
    ]
}

#[test]
fn d_at_the_default_landmark_and_d_high_above_the_median() {
    let r = run(H, &cohort_rows());
    let d: Vec<(Option<f64>, Option<u8>)> = ["A", "B", "C", "D"]
        .iter()
        .map(|p| (pat(&r, p).d_percent, pat(&r, p).d_high))
        .collect();
    assert_eq!(
        d,
        [
            (Some(-50.0), Some(0)),
            (Some(-10.0), Some(0)),
            (Some(10.0), Some(1)),
            (None, None)
        ]
    );
    assert_eq!(r.d_median, Some(-10.0));
}

#[test]
fn d_high_with_an_even_cohort_uses_the_mean_of_the_middle_two() {
    let mut rows = cohort_rows();
    rows.truncate(7); // A, B, C
    rows.push("E,2024-01-01,T,false,liver,100,1");
    rows.push("E,2024-03-01,T,false,liver,80,1"); // −20 %
    let r = run(H, &rows);
    assert_eq!(r.d_median, Some(-15.0));
    let high: Vec<Option<u8>> = ["A", "B", "C", "E"]
        .iter()
        .map(|p| pat(&r, p).d_high)
        .collect();
    assert_eq!(high, [Some(0), Some(1), Some(1), Some(0)]);
}

#[test]
fn d_with_a_fixed_cutoff_best_and_last_before_landmarks() {
    let cfg = Config {
        d_cutoff_pct: Some(-10.0),
        ..Config::default()
    };
    let r = run_cfg(H, &cohort_rows(), &cfg);
    // −10 is not above −10.
    assert_eq!(pat(&r, "B").d_high, Some(0));
    assert_eq!(pat(&r, "C").d_high, Some(1));
    assert_eq!(r.d_median, None);

    let cfg = Config {
        landmark: Landmark::Best,
        ..Config::default()
    };
    let r = run_cfg(H, &cohort_rows(), &cfg);
    assert_eq!(pat(&r, "A").d_percent, Some(-70.0));
    assert_eq!(pat(&r, "D").d_percent, Some(-90.0));

    let cfg = Config {
        landmark: Landmark::LastBefore,
        landmark_date: Some("2024-04-30".into()),
        landmark_dates: Some(PatientDates::Map(
            [("A".to_string(), "2024-05-01".to_string())].into(),
        )),
        ..Config::default()
    };
    let r = run_cfg(H, &cohort_rows(), &cfg);
    assert_eq!(pat(&r, "A").d_percent, Some(-70.0));
    assert_eq!(pat(&r, "B").d_percent, Some(-10.0));

    let cfg = Config {
        landmark_nth: 3,
        ..Config::default()
    };
    let r = run_cfg(H, &cohort_rows(), &cfg);
    assert_eq!(pat(&r, "D").d_percent, Some(-90.0));
    assert_eq!(pat(&r, "B").d_percent, None);
}

/// Survival from the D landmark needs the day D was taken at, straight from the engine.
#[test]
fn the_landmark_day_of_d_is_reported_for_each_landmark_rule() {
    let days = |cfg: &Config, rows: &[&str]| {
        let r = run_cfg(H, rows, cfg);
        ["A", "B", "C", "D", "E"].map(|p| r.d_landmark_days.get(p).copied())
    };
    let mut rows = cohort_rows();
    // E: the same best change twice; the earlier assessment is the landmark.
    rows.extend([
        "E,2024-01-01,T,false,liver,100,1",
        "E,2024-03-01,T,false,liver,50,1",
        "E,2024-05-01,T,false,liver,50,1",
    ]);
    // default: the second timepoint (2024-03-01 is day 60 of the leap year 2024)
    assert_eq!(
        days(&Config::default(), &rows),
        [Some(60), Some(60), Some(60), None, Some(60)]
    );
    let best = Config {
        landmark: Landmark::Best,
        ..Config::default()
    };
    assert_eq!(
        days(&best, &rows),
        [Some(121), Some(60), Some(60), Some(121), Some(60)]
    );
    let before = Config {
        landmark: Landmark::LastBefore,
        landmark_date: Some("2024-04-30".into()),
        landmark_dates: Some(PatientDates::Map(
            [("A".to_string(), "2024-05-01".to_string())].into(),
        )),
        ..Config::default()
    };
    assert_eq!(
        days(&before, &rows),
        [Some(121), Some(60), Some(60), None, Some(60)]
    );
    // every patient with a D has its day, and no other patient
    let r = run_cfg(H, &rows, &best);
    for p in &r.patients {
        assert_eq!(
            p.d_percent.is_some(),
            r.d_landmark_days.contains_key(&p.patient_id),
            "{}",
            p.patient_id
        );
    }
}

#[test]
fn not_evaluable_patients_are_left_out_of_the_median() {
    let mut rows = cohort_rows();
    rows.truncate(7);
    rows.push("Z,2024-01-01,T,false,liver,-100,1");
    let r = run(H, &rows);
    assert_eq!(r.d_median, Some(-10.0));
    assert_eq!(pat(&r, "Z").d_high, None);
}

// ---- Bad input ----

#[test]
fn bad_rows_make_only_their_patient_not_evaluable() {
    let r = run(
        HS,
        &[
            "OK,2024-01-01,T,false,liver,30,20,",
            "OK,2024-03-01,T,false,liver,20,20,",
            "S,2024-01-01,T,false,liver,30,20,vanished",
            "N,2024-01-01,T,false,liver,-3,20,",
            "D,yesterday,T,false,liver,30,20,",
            "X,2024-01-01,T,false,liver,30,20,",
            "X,2024-03-01,T,false,liver,,,present",
        ],
    );
    assert!(pat(&r, "OK").evaluable);
    assert_eq!(tp(&r, "OK", 1).overall_response, "PR");
    for (pid, needle) in [
        ("S", "vanished"),
        ("N", "negative"),
        ("D", "study_date"),
        ("X", "not valid for a target"),
    ] {
        let p = pat(&r, pid);
        assert!(!p.evaluable, "{pid}");
        assert_eq!(p.best_overall_response, "NE");
        assert!(p.reason.contains(needle), "{pid}: {}", p.reason);
        assert!(p.reason.contains(&format!("patient {pid}")), "{}", p.reason);
        assert!(p.reason.contains("lesion T"), "{}", p.reason);
        assert!(p.reason.contains("row "), "{}", p.reason);
    }
    assert_eq!(r.n_not_evaluable(), 4);
}

#[test]
fn patient_without_any_lesion_at_baseline_is_not_evaluable() {
    let r = run(H, &["P1,2024-01-01,N,true,neck,12,8"]);
    assert!(!pat(&r, "P1").evaluable);
}

#[test]
fn output_is_sorted_by_patient_and_timepoint() {
    let r = run(
        H,
        &[
            "B,2024-03-01,T,false,liver,30,20",
            "A,2024-03-01,T,false,liver,30,20",
            "B,2024-01-01,T,false,liver,30,20",
            "A,2024-01-01,T,false,liver,30,20",
        ],
    );
    let keys: Vec<(String, usize)> = r
        .timepoints
        .iter()
        .map(|t| (t.patient_id.clone(), t.timepoint))
        .collect();
    assert_eq!(
        keys,
        [
            ("A".into(), 0),
            ("A".into(), 1),
            ("B".into(), 0),
            ("B".into(), 1)
        ]
    );
    let pids: Vec<&str> = r.patients.iter().map(|p| p.patient_id.as_str()).collect();
    assert_eq!(pids, ["A", "B"]);
}

#[test]
fn lesion_rows_from_measure_are_accepted() {
    use crate::report::lesions::LesionRow;
    let mk = |date: &str, ld: f64| LesionRow {
        patient_id: "P1".into(),
        study_date: date.into(),
        lesion_id: "L".into(),
        long_axis_mm: ld,
        short_axis_mm: 10.0,
        sop_instance_uid: date.into(),
        ..Default::default()
    };
    let rows = [mk("2024-01-01", 40.0), mk("2024-03-01", 20.0)];
    let inputs: Vec<LesionInput> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| LesionInput::from_lesion_row(i + 1, r))
        .collect();
    let r = evaluate(&inputs, &Config::default()).unwrap();
    assert_eq!(tp(&r, "P1", 1).overall_response, "PR");
    assert_eq!(pat(&r, "P1").d_percent, Some(-50.0));
}

#[test]
fn designating_only_new_or_non_target_lesions_keeps_recist_target_selection() {
    let r = run(
        HR,
        &[
            "P1,2024-01-01,T,false,lung,50,30,,",
            "P1,2024-01-01,M,false,liver,40,30,non-target,",
            "P1,2024-04-01,T,false,lung,48,30,,",
            "P1,2024-04-01,M,false,liver,40,30,,",
            "P1,2024-04-01,X,false,bone,12,10,new,",
        ],
    );
    // T is still chosen as the target; M is non-target by designation; X is new.
    assert_eq!(pat(&r, "P1").baseline_sum_mm, Some(50.0));
    let t = tp(&r, "P1", 1);
    assert_eq!(t.target_response, "SD");
    assert_eq!(t.nontarget_response, "NON-CR/NON-PD");
    assert_eq!(t.overall_response, "PD");
}
