//! One patient, from lesion rows to timepoint rows, best overall response and D.
//!
//! Any defect in the patient's rows (unknown state, negative diameter, duplicate lesion at
//! one date, unparsable date, no baseline) makes the patient not evaluable with every
//! reason named; nothing is guessed.

use std::collections::{BTreeMap, BTreeSet};

use super::best::{Assessment, BorRules, best_overall_response};
use super::category::Response;
use super::config::{Landmark, Resolved};
use super::date::Date;
use super::exact::{Length, PctChange};
use super::input::{LesionInput, LesionState, Role};
use super::rules::{
    Measurability, NonTargetStatus, TargetValue, measurability, nontarget_response,
    overall_nontarget_only, overall_with_targets, target_response,
};
use super::selection::{Candidate, check_limits, organ_key, select_targets};
use super::types::{PatientRow, TimepointRow};

/// What one row (or the fragments of one split lesion) says about a lesion at one date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Obs {
    Measured { ld: Length, sa: Length },
    TooSmall,
    Disappeared,
    NotEvaluated,
    Present,
    Absent,
    Unequivocal,
    Equivocal,
}

impl Obs {
    fn name(self) -> &'static str {
        match self {
            Obs::Measured { .. } => "measured",
            Obs::TooSmall => "too-small",
            Obs::Disappeared => "disappeared",
            Obs::NotEvaluated => "not-evaluated",
            Obs::Present => "present",
            Obs::Absent => "absent",
            Obs::Unequivocal => "unequivocal-progression",
            Obs::Equivocal => "equivocal",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    Target(Length),
    NonTarget,
    New,
}

#[derive(Debug)]
struct Track {
    id: String,
    is_node: bool,
    organ_key: String,
    /// Timepoint index (0 = baseline) → observation and the first row it came from.
    obs: BTreeMap<usize, (Obs, String)>,
    role: Option<Role>,
    thickness: Option<Length>,
}

/// The evaluation of one patient; `row.d_high` is filled in by the cohort.
#[derive(Debug, Clone)]
pub(crate) struct PatientEval {
    pub timepoints: Vec<TimepointRow>,
    pub row: PatientRow,
    pub d: Option<PctChange>,
    /// The timepoint (index, 1-based after baseline) whose change is D.
    pub d_timepoint: Option<usize>,
}

fn not_evaluable(pid: &str, n_timepoints: usize, problems: Vec<String>) -> PatientEval {
    PatientEval {
        timepoints: Vec::new(),
        row: PatientRow {
            patient_id: pid.to_string(),
            n_timepoints,
            baseline_sum_mm: None,
            best_overall_response: Response::Ne.as_str().to_string(),
            d_percent: None,
            d_high: None,
            evaluable: false,
            reason: problems.join("; "),
        },
        d: None,
        d_timepoint: None,
    }
}

fn length(v: f64, what: &str) -> Result<Length, String> {
    match Length::from_mm(v) {
        Some(n) if n.0 >= 0 => Ok(n),
        _ => Err(format!("negative or invalid {what} {v}")),
    }
}

/// The observation a row states, from its `state` or, without one, from its diameters.
fn observe(r: &LesionInput) -> Result<Obs, String> {
    let measured = |r: &LesionInput| -> Result<Obs, String> {
        let ld = r
            .long_axis_mm
            .ok_or("long_axis_mm is empty for a measured lesion")?;
        let ld = length(ld, "long_axis_mm")?;
        let sa = match (r.short_axis_mm, r.is_node) {
            (Some(v), _) => length(v, "short_axis_mm")?,
            (None, true) if ld == Length::ZERO => Length::ZERO,
            (None, true) => return Err("short_axis_mm is empty for a measured node".into()),
            (None, false) => Length::ZERO,
        };
        Ok(Obs::Measured { ld, sa })
    };
    // Diameters are checked even when a state makes them unused: a negative value is
    // a defect in the table either way.
    for (v, what) in [
        (r.long_axis_mm, "long_axis_mm"),
        (r.short_axis_mm, "short_axis_mm"),
    ] {
        if let Some(v) = v {
            length(v, what)?;
        }
    }
    Ok(match r.state {
        None => match r.long_axis_mm {
            None => return Err("long_axis_mm is empty and there is no state".into()),
            Some(0.0) => Obs::Disappeared,
            Some(_) => measured(r)?,
        },
        Some(LesionState::Measured) => measured(r)?,
        Some(LesionState::TooSmall) => Obs::TooSmall,
        Some(LesionState::Disappeared) => Obs::Disappeared,
        Some(LesionState::NotEvaluated) => Obs::NotEvaluated,
        Some(LesionState::Present) => Obs::Present,
        Some(LesionState::Absent) => Obs::Absent,
        Some(LesionState::UnequivocalProgression) => Obs::Unequivocal,
        Some(LesionState::Equivocal) => Obs::Equivocal,
    })
}

/// Fragments of a split lesion from one annotation object: diameters add up (a fragment
/// that disappeared adds 0).
fn combine_fragments(parts: &[Obs]) -> Option<Obs> {
    let first = *parts.first()?;
    if parts.iter().all(|&p| p == first) && !matches!(first, Obs::Measured { .. }) {
        return Some(first);
    }
    let mut ld = Length::ZERO;
    let mut sa = Length::ZERO;
    for p in parts {
        match *p {
            Obs::Measured { ld: l, sa: s } => {
                ld = ld + l;
                sa = sa + s;
            }
            Obs::Disappeared => {}
            _ => return None,
        }
    }
    Some(Obs::Measured { ld, sa })
}

/// Whether a node value counts as pathological.
fn node_present(v: Length, cfg: &Resolved) -> bool {
    v >= cfg.node_pathological_min
}

/// A new lesion's appearance at one timepoint: Some(true) unequivocal, Some(false)
/// equivocal, None not there (nodes must be pathological, ≥ 10 mm SA).
fn appearance(obs: Obs, is_node: bool, cfg: &Resolved) -> Option<bool> {
    match obs {
        Obs::Measured { ld, sa } => {
            let seen = if is_node {
                node_present(sa, cfg)
            } else {
                ld > Length::ZERO
            };
            seen.then_some(true)
        }
        Obs::TooSmall => (!is_node || node_present(cfg.too_small, cfg)).then_some(true),
        Obs::Present | Obs::Unequivocal => Some(true),
        Obs::Equivocal => Some(false),
        _ => None,
    }
}

pub(crate) fn evaluate_patient(pid: &str, rows: &[&LesionInput], cfg: &Resolved) -> PatientEval {
    let mut problems: Vec<String> = Vec::new();
    let at = |r: &LesionInput| {
        let lesion = if r.lesion_id.is_empty() {
            "(none)"
        } else {
            &r.lesion_id
        };
        format!("patient {pid}, lesion {lesion}, {}", r.location())
    };

    // 1. Row-level defects and dates.
    let mut dated: Vec<(Date, &LesionInput)> = Vec::new();
    let raw_dates: BTreeSet<&str> = rows.iter().map(|r| r.study_date.as_str()).collect();
    for r in rows {
        for issue in &r.issues {
            problems.push(format!("{}: {issue}", at(r)));
        }
        if let Some(t) = r.slice_thickness_mm
            && t < 0.0
        {
            problems.push(format!("{}: negative slice_thickness_mm {t}", at(r)));
        }
        match Date::parse(&r.study_date) {
            Some(d) => dated.push((d, r)),
            None => problems.push(format!(
                "{}: unparsable study_date {:?} (expected YYYY-MM-DD)",
                at(r),
                r.study_date
            )),
        }
    }
    if !problems.is_empty() {
        return not_evaluable(pid, raw_dates.len(), problems);
    }

    // 2. Timepoints: baseline is the first study, or the last on or before treatment start.
    let dates: Vec<Date> = dated
        .iter()
        .map(|(d, _)| *d)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let base_idx = match cfg.treatment_start.get(pid) {
        None => 0,
        Some(start) => match dates.iter().rposition(|d| d <= start) {
            Some(i) => i,
            None => {
                return not_evaluable(
                    pid,
                    dates.len(),
                    vec![format!(
                        "patient {pid}: no study on or before the treatment start {start} \
                         (first study {})",
                        dates[0]
                    )],
                );
            }
        },
    };
    let tps: Vec<Date> = dates[base_idx..].to_vec();
    let tp_of = |d: &Date| tps.iter().position(|x| x == d);
    if tps.is_empty() {
        return not_evaluable(pid, 0, vec![format!("patient {pid}: no study")]);
    }

    // 3. Lesion tracks: one observation per lesion and timepoint.
    let mut by_lesion: BTreeMap<&str, Vec<(usize, &LesionInput)>> = BTreeMap::new();
    for (d, r) in &dated {
        if let Some(k) = tp_of(d) {
            by_lesion
                .entry(r.lesion_id.as_str())
                .or_default()
                .push((k, r));
        }
    }
    let mut tracks: Vec<Track> = Vec::new();
    for (id, lrows) in &by_lesion {
        let first = lrows
            .iter()
            .min_by_key(|(k, r)| (*k, r.row))
            .map(|(_, r)| *r);
        let Some(first) = first else { continue };
        let mut track = Track {
            id: id.to_string(),
            is_node: first.is_node,
            organ_key: organ_key(first.is_node, &first.organ),
            obs: BTreeMap::new(),
            role: None,
            thickness: None,
        };
        for (_, r) in lrows {
            if r.is_node != first.is_node {
                problems.push(format!(
                    "{}: is_node={} but {} says is_node={}",
                    at(r),
                    r.is_node,
                    first.location(),
                    first.is_node
                ));
            }
            if let Some(role) = r.role {
                match track.role {
                    Some(prev) if prev != role => problems.push(format!(
                        "{}: role {role:?} contradicts the lesion's earlier role {prev:?}",
                        at(r)
                    )),
                    _ => track.role = Some(role),
                }
            }
        }
        let mut per_tp: BTreeMap<usize, Vec<&LesionInput>> = BTreeMap::new();
        for (k, r) in lrows {
            per_tp.entry(*k).or_default().push(r);
        }
        for (k, trs) in per_tp {
            // Group by annotation object; rows without one are each their own object.
            let mut by_source: BTreeMap<String, Vec<&LesionInput>> = BTreeMap::new();
            for r in &trs {
                let key = if r.source_object.is_empty() {
                    format!("\u{0}row{}", r.row)
                } else {
                    r.source_object.clone()
                };
                by_source.entry(key).or_default().push(r);
            }
            let mut per_source: Vec<(Obs, &LesionInput)> = Vec::new();
            for srows in by_source.values() {
                let mut parts = Vec::new();
                for r in srows {
                    match observe(r) {
                        Ok(o) => parts.push(o),
                        Err(e) => problems.push(format!("{}: {e}", at(r))),
                    }
                }
                if parts.len() != srows.len() {
                    continue;
                }
                match combine_fragments(&parts) {
                    Some(o) => per_source.push((o, srows[0])),
                    None => problems.push(format!(
                        "{}: fragments of one lesion from one annotation object have \
                         incompatible states ({})",
                        at(srows[0]),
                        parts
                            .iter()
                            .map(|p| p.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                }
            }
            let Some(&(o, r0)) = per_source.first() else {
                continue;
            };
            if per_source.iter().any(|(p, _)| *p != o) {
                let locs: Vec<String> = per_source.iter().map(|(_, r)| r.location()).collect();
                problems.push(format!(
                    "patient {pid}, lesion {id}: {} different measurements at {} from \
                     different annotation objects ({}); keep one",
                    per_source.len(),
                    tps[k],
                    locs.join(", ")
                ));
                continue;
            }
            if k == 0 {
                track.thickness = match r0.slice_thickness_mm {
                    Some(t) => Length::from_mm(t),
                    None => None,
                };
            }
            track.obs.insert(k, (o, at(r0)));
        }
        tracks.push(track);
    }
    if !problems.is_empty() {
        return not_evaluable(pid, tps.len(), problems);
    }

    // 4. Roles: `non-target` and `new` designations are always followed; targets are the
    //    designated ones when the patient has any, else chosen by the RECIST rules among
    //    the undesignated lesions.
    let designated = tracks.iter().any(|t| t.role == Some(Role::Target));
    let mut cats: Vec<Category> = Vec::with_capacity(tracks.len());
    let mut candidates: Vec<(usize, Candidate)> = Vec::new();
    for (i, t) in tracks.iter().enumerate() {
        let thickness = t.thickness.unwrap_or(cfg.default_slice_thickness);
        let base = t.obs.get(&0);
        let class = match base {
            None => Category::New,
            Some((Obs::Measured { ld, sa }, _)) => {
                match measurability(t.is_node, *ld, *sa, thickness, cfg) {
                    Measurability::Measurable(v) => Category::Target(v),
                    Measurability::NonMeasurable => Category::NonTarget,
                    Measurability::NotRecorded => Category::New,
                }
            }
            Some((Obs::TooSmall, _)) => {
                if !t.is_node || node_present(cfg.too_small, cfg) {
                    Category::NonTarget
                } else {
                    Category::New
                }
            }
            Some((Obs::Disappeared | Obs::Absent, _)) => Category::New,
            Some((Obs::Present | Obs::NotEvaluated, _)) => Category::NonTarget,
            Some((o @ (Obs::Unequivocal | Obs::Equivocal), loc)) => {
                problems.push(format!(
                    "{loc}: state {} is not possible at baseline",
                    o.name()
                ));
                Category::NonTarget
            }
        };
        let cat = match (t.role, class) {
            (Some(Role::Target), Category::Target(v)) => Category::Target(v),
            (Some(Role::Target), _) => {
                let what = match base {
                    None => "has no row at baseline".to_string(),
                    Some((o, loc)) => format!(
                        "is not measurable at baseline ({loc}: {})",
                        match o {
                            Obs::Measured { sa, .. } if t.is_node => format!("short axis {sa}"),
                            Obs::Measured { ld, .. } => format!("long axis {ld}"),
                            o => o.name().to_string(),
                        }
                    ),
                };
                problems.push(format!(
                    "patient {pid}, lesion {}: designated target {what}",
                    t.id
                ));
                Category::NonTarget
            }
            (Some(Role::NonTarget), _) => {
                if base.is_none() {
                    problems.push(format!(
                        "patient {pid}, lesion {}: designated non-target has no row at baseline",
                        t.id
                    ));
                }
                Category::NonTarget
            }
            (Some(Role::New), c) => {
                if c != Category::New {
                    problems.push(format!(
                        "patient {pid}, lesion {}: designated new lesion is present at baseline",
                        t.id
                    ));
                }
                Category::New
            }
            // Targets designated elsewhere: an undesignated measurable lesion is non-target.
            (None, Category::Target(_)) if designated => Category::NonTarget,
            (None, Category::Target(v)) => {
                candidates.push((
                    i,
                    Candidate {
                        lesion_id: t.id.clone(),
                        organ_key: t.organ_key.clone(),
                        value: v,
                    },
                ));
                Category::NonTarget
            }
            (None, c) => c,
        };
        cats.push(cat);
    }
    if designated {
        let keys: Vec<String> = tracks
            .iter()
            .zip(&cats)
            .filter(|(_, c)| matches!(c, Category::Target(_)))
            .map(|(t, _)| t.organ_key.clone())
            .collect();
        if let Some(why) = check_limits(&keys, cfg.max_targets, cfg.max_targets_per_organ) {
            problems.push(format!("patient {pid}: {why}"));
        }
    } else {
        let cands: Vec<Candidate> = candidates.iter().map(|(_, c)| c.clone()).collect();
        for j in select_targets(&cands, cfg.max_targets, cfg.max_targets_per_organ) {
            cats[candidates[j].0] = Category::Target(cands[j].value);
        }
    }
    let targets: Vec<usize> = (0..tracks.len())
        .filter(|&i| matches!(cats[i], Category::Target(_)))
        .collect();
    let nontargets: Vec<usize> = (0..tracks.len())
        .filter(|&i| cats[i] == Category::NonTarget)
        .collect();
    let news: Vec<usize> = (0..tracks.len())
        .filter(|&i| cats[i] == Category::New)
        .collect();
    if targets.is_empty() && nontargets.is_empty() {
        problems.push(format!(
            "patient {pid}: no target or non-target lesion at baseline"
        ));
    }
    if !problems.is_empty() {
        return not_evaluable(pid, tps.len(), problems);
    }

    // 5. New lesions per timepoint; an equivocal one counts from its first sighting once a
    //    later timepoint shows it unequivocally.
    let mut new_at = vec![false; tps.len()];
    for &i in &news {
        let t = &tracks[i];
        let seen: Vec<(usize, bool)> = t
            .obs
            .iter()
            .filter(|(k, _)| **k > 0)
            .filter_map(|(k, (o, _))| appearance(*o, t.is_node, cfg).map(|u| (*k, u)))
            .collect();
        let last_unequivocal = seen.iter().filter(|(_, u)| *u).map(|(k, _)| *k).max();
        for (k, unequivocal) in seen {
            if unequivocal || last_unequivocal.is_some_and(|l| l > k) {
                new_at[k] = true;
            }
        }
    }

    // 6. Timepoints.
    let baseline_sum: Option<Length> = (!targets.is_empty()).then(|| {
        targets
            .iter()
            .map(|&i| match cats[i] {
                Category::Target(v) => v,
                _ => Length::ZERO,
            })
            .sum()
    });
    let base_day = tps[0].days();
    let mut rows_out = Vec::with_capacity(tps.len());
    let mut sums: Vec<Option<Length>> = vec![baseline_sum];
    let mut assessments = Vec::new();
    let mut after_cr = false;
    rows_out.push(TimepointRow {
        patient_id: pid.to_string(),
        timepoint: 0,
        study_date: tps[0].to_string(),
        days_from_baseline: 0,
        sum_mm: baseline_sum.map(Length::mm),
        baseline_sum_mm: baseline_sum.map(Length::mm),
        nadir_mm: None,
        pct_change_from_baseline: baseline_sum.map(|_| 0.0),
        target_response: String::new(),
        nontarget_response: String::new(),
        new_lesions: false,
        overall_response: String::new(),
    });
    for (k, date) in tps.iter().enumerate().skip(1) {
        let day = date.days() - base_day;
        let nadir = sums.iter().flatten().min().copied();
        let (target, sum) = match (baseline_sum, nadir) {
            (Some(b), Some(n)) => {
                let mut values = Vec::with_capacity(targets.len());
                for &i in &targets {
                    let t = &tracks[i];
                    let value = match t.obs.get(&k) {
                        None => None,
                        Some((o, loc)) => match o {
                            Obs::Measured { ld, sa } => Some(if t.is_node { *sa } else { *ld }),
                            Obs::TooSmall => Some(cfg.too_small),
                            Obs::Disappeared | Obs::Absent => Some(Length::ZERO),
                            Obs::NotEvaluated => None,
                            o => {
                                problems.push(format!(
                                    "{loc}: state {} is not valid for a target lesion",
                                    o.name()
                                ));
                                None
                            }
                        },
                    };
                    values.push(TargetValue {
                        is_node: t.is_node,
                        value,
                    });
                }
                let (r, s) = target_response(&values, b, n, after_cr, cfg);
                after_cr |= r == Response::Cr;
                (Some(r), s)
            }
            _ => (None, None),
        };
        sums.push(sum);
        let mut statuses = Vec::with_capacity(nontargets.len());
        for &i in &nontargets {
            let t = &tracks[i];
            let s = match t.obs.get(&k) {
                None => NonTargetStatus::NotEvaluated,
                Some((o, loc)) => match *o {
                    Obs::Measured { ld, sa } => {
                        let present = if t.is_node {
                            node_present(sa, cfg)
                        } else {
                            ld > Length::ZERO
                        };
                        if present {
                            NonTargetStatus::Present
                        } else {
                            NonTargetStatus::Absent
                        }
                    }
                    Obs::TooSmall => {
                        if !t.is_node || node_present(cfg.too_small, cfg) {
                            NonTargetStatus::Present
                        } else {
                            NonTargetStatus::Absent
                        }
                    }
                    Obs::Disappeared | Obs::Absent => NonTargetStatus::Absent,
                    Obs::Present => NonTargetStatus::Present,
                    Obs::NotEvaluated => NonTargetStatus::NotEvaluated,
                    Obs::Unequivocal => NonTargetStatus::UnequivocalProgression,
                    Obs::Equivocal => {
                        problems.push(format!("{loc}: state equivocal is only for new lesions"));
                        NonTargetStatus::NotEvaluated
                    }
                },
            };
            statuses.push(s);
        }
        let nontarget = nontarget_response(&statuses);
        let overall = match target {
            Some(tr) => overall_with_targets(tr, nontarget, new_at[k]),
            None => overall_nontarget_only(nontarget.unwrap_or(Response::Ne), new_at[k]),
        };
        assessments.push(Assessment {
            response: overall,
            day,
        });
        rows_out.push(TimepointRow {
            patient_id: pid.to_string(),
            timepoint: k,
            study_date: date.to_string(),
            days_from_baseline: day,
            sum_mm: sum.map(Length::mm),
            baseline_sum_mm: baseline_sum.map(Length::mm),
            nadir_mm: baseline_sum.and(nadir).map(Length::mm),
            pct_change_from_baseline: match (sum, baseline_sum) {
                (Some(s), Some(b)) => PctChange::new(s, b).map(PctChange::to_f64),
                _ => None,
            },
            target_response: target.map(|r| r.as_str().to_string()).unwrap_or_default(),
            nontarget_response: nontarget
                .map(|r| r.as_str().to_string())
                .unwrap_or_default(),
            new_lesions: new_at[k],
            overall_response: overall.as_str().to_string(),
        });
    }
    if !problems.is_empty() {
        return not_evaluable(pid, tps.len(), problems);
    }

    // 7. Best overall response and D.
    let bor = best_overall_response(
        &assessments,
        &BorRules {
            confirmation: cfg.confirmation,
            confirmation_min_days: cfg.confirmation_min_days,
            sd_min_days: cfg.sd_min_days,
        },
    );
    let landmark = baseline_sum.and_then(|b| {
        let change = |k: usize| {
            sums.get(k)
                .copied()
                .flatten()
                .and_then(|s| PctChange::new(s, b))
                .map(|c| (k, c))
        };
        match cfg.landmark {
            Landmark::Nth => change(cfg.landmark_nth - 1),
            Landmark::LastBefore => {
                let limit = cfg.landmark_dates.get(pid).copied().or(cfg.landmark_date)?;
                let k = tps.iter().rposition(|d| *d <= limit).filter(|&k| k > 0)?;
                change(k)
            }
            // the earliest of equal best changes
            Landmark::Best => (1..tps.len())
                .filter_map(change)
                .min_by(|a, b| a.1.cmp_exact(b.1)),
        }
    });
    let d = landmark.map(|(_, c)| c);
    PatientEval {
        timepoints: rows_out,
        row: PatientRow {
            patient_id: pid.to_string(),
            n_timepoints: tps.len(),
            baseline_sum_mm: baseline_sum.map(Length::mm),
            best_overall_response: bor.as_str().to_string(),
            d_percent: d.map(PctChange::to_f64),
            d_high: None,
            evaluable: true,
            reason: String::new(),
        },
        d,
        d_timepoint: landmark.map(|(k, _)| k),
    }
}
