//! The cohort step shared by `run` and `merge`: join the response table to the clinical
//! table and run the survival analyses of the contract (shared/interface.md §5) per
//! endpoint. This is where RECIST categories become ordinary covariates, so `survival`
//! never needs to know what a best overall response is.

use std::collections::BTreeMap;

use super::clinical::{ClinicalRow, ClinicalTable};
use super::config::SurvivalConfig;
use crate::report::{Analysis, EndpointResults, GroupingResults};
use crate::response::PatientRow;
use crate::survival::{
    CoxFit, CoxOptions, Design, KmFit, KmOptions, LogRank, LogRankOptions, SurvData, Ties, cox,
    kaplan_meier, log_rank, median_follow_up,
};

/// Best overall responses that enter the response analyses, in display order. NE and
/// NON-CR/NON-PD patients are left out (contract §5).
const RESPONSE_LEVELS: [&str; 4] = ["CR", "PR", "SD", "PD"];
/// The reference level of `cox_response`.
const RESPONSE_REFERENCE: &str = "PR";

/// One patient's data entering one endpoint.
#[derive(Debug, Clone)]
struct Subject<'a> {
    time: f64,
    event: bool,
    patient: &'a PatientRow,
    clinical: &'a ClinicalRow,
}

/// Runs every analysis of every configured endpoint. `landmark_days` gives, per patient,
/// the days from baseline of the D landmark assessment; it is used only when the
/// configuration asks for landmark times (`survival.landmark = "assessment"`).
pub fn survival_analyses(
    patients: &[PatientRow],
    clinical: &ClinicalTable,
    endpoints: &[super::config::EndpointConfig],
    cfg: &SurvivalConfig,
    landmark_days: &BTreeMap<String, f64>,
) -> Vec<EndpointResults> {
    let ties = if cfg.ties == "breslow" {
        Ties::Breslow
    } else {
        Ties::Efron
    };
    let from_assessment = cfg.landmark == "assessment";
    endpoints
        .iter()
        .enumerate()
        .map(|(k, ep)| {
            let mut subjects = Vec::new();
            for p in patients.iter().filter(|p| p.evaluable) {
                let Some(row) = clinical.patients.get(&p.patient_id) else {
                    continue;
                };
                let o = row.outcomes[k];
                let (Some(mut time), Some(event)) = (o.time, o.event) else {
                    continue;
                };
                if from_assessment {
                    let Some(&l) = landmark_days.get(&p.patient_id) else {
                        continue;
                    };
                    // Landmark analysis: only patients still at risk at the assessment.
                    if time <= l {
                        continue;
                    }
                    time -= l;
                }
                subjects.push(Subject {
                    time,
                    event: event == 1,
                    patient: p,
                    clinical: row,
                });
            }
            let mut results = endpoint_results(&ep.name, &subjects, ties, cfg.d_per);
            if !subjects.is_empty() {
                for name in &cfg.groupings {
                    let column = clinical.columns.iter().position(|c| c == name);
                    results
                        .by_grouping
                        .insert(name.clone(), grouping_results(name, column, &subjects));
                }
            }
            results
        })
        .collect()
}

fn endpoint_results(name: &str, all: &[Subject<'_>], ties: Ties, d_per: f64) -> EndpointResults {
    if all.is_empty() {
        return EndpointResults::empty(
            name,
            "no evaluable patient has this endpoint in the clinical table",
        );
    }
    let mut ep = EndpointResults::empty(name, "");
    ep.time_unit = "days".into();
    ep.n = all.len();
    ep.events = all.iter().filter(|s| s.event).count();
    let times: Vec<f64> = all.iter().map(|s| s.time).collect();
    let events: Vec<bool> = all.iter().map(|s| s.event).collect();
    ep.median_follow_up = median_follow_up(&times, &events)
        .map_err(|e| e.to_string())
        .into();

    // By best overall response.
    let by_response: Vec<&Subject<'_>> = all
        .iter()
        .filter(|s| RESPONSE_LEVELS.contains(&s.patient.best_overall_response.as_str()))
        .collect();
    let responses: Vec<String> = by_response
        .iter()
        .map(|s| s.patient.best_overall_response.clone())
        .collect();
    let levels: Vec<String> = RESPONSE_LEVELS
        .iter()
        .filter(|l| responses.iter().any(|r| r == *l))
        .map(|l| l.to_string())
        .collect();
    match data_of(&by_response) {
        Err(e) => {
            let reason = format!("response analyses: {e}");
            ep.km_by_response = Analysis::not_computed(&reason);
            ep.logrank_by_response = Analysis::not_computed(&reason);
            ep.cox_response = Analysis::not_computed(&reason);
        }
        Ok(data) => {
            ep.km_by_response = km(&data, &responses, &levels);
            ep.logrank_by_response = logrank(&data, &responses, &levels);
            ep.cox_response = if !levels.iter().any(|l| l == RESPONSE_REFERENCE) {
                Analysis::not_computed("no patient with PR, the reference level")
            } else {
                let mut order = vec![RESPONSE_REFERENCE.to_string()];
                order.extend(levels.iter().filter(|l| *l != RESPONSE_REFERENCE).cloned());
                fit(&data, ties, |d| {
                    d.categorical_levels("best_overall_response", &responses, &order)
                })
            };
        }
    }

    // By D: dichotomised at the cohort median, and continuous per `d_per` points.
    let with_d: Vec<&Subject<'_>> = all
        .iter()
        .filter(|s| s.patient.d_percent.is_some())
        .collect();
    let d_high: Vec<f64> = with_d
        .iter()
        .map(|s| f64::from(s.patient.d_high.unwrap_or(0)))
        .collect();
    let d_groups: Vec<String> = d_high.iter().map(|&h| format!("{h}")).collect();
    let d: Vec<f64> = with_d.iter().filter_map(|s| s.patient.d_percent).collect();
    match data_of(&with_d) {
        Err(e) => {
            let reason = format!("D analyses: {e}");
            ep.km_by_d_high = Analysis::not_computed(&reason);
            ep.logrank_by_d_high = Analysis::not_computed(&reason);
            ep.cox_d_high = Analysis::not_computed(&reason);
            ep.cox_d_continuous = Analysis::not_computed(&reason);
        }
        Ok(data) => {
            let levels: Vec<String> = ["0", "1"]
                .iter()
                .filter(|l| d_groups.iter().any(|g| g == *l))
                .map(|l| l.to_string())
                .collect();
            ep.km_by_d_high = km(&data, &d_groups, &levels);
            ep.logrank_by_d_high = logrank(&data, &d_groups, &levels);
            ep.cox_d_high = fit(&data, ties, |x| x.continuous("d_high", &d_high));
            ep.cox_d_continuous = fit(&data, ties, |x| x.continuous_per("d_percent", &d, d_per));
        }
    }
    ep
}

/// Kaplan–Meier and log-rank across the values of the clinical column `name` (index
/// `column` of the clinical fields, `None` when the table has no such column; levels in
/// sorted order; patients with an empty cell left out).
fn grouping_results<'a>(name: &str, column: Option<usize>, all: &[Subject<'a>]) -> GroupingResults {
    let not = |reason: String| GroupingResults {
        km: Analysis::not_computed(&reason),
        logrank: Analysis::not_computed(&reason),
    };
    let Some(column) = column else {
        return not(format!("the clinical table has no column {name:?}"));
    };
    let cell =
        |s: &Subject<'a>| -> &'a str { s.clinical.fields.get(column).map_or("", String::as_str) };
    let with: Vec<&Subject<'a>> = all.iter().filter(|s| !cell(s).is_empty()).collect();
    let values: Vec<String> = with.iter().map(|s| cell(s).to_string()).collect();
    let mut levels = values.clone();
    levels.sort();
    levels.dedup();
    match data_of(&with) {
        Err(e) => not(format!("{name}: {e}")),
        Ok(data) => GroupingResults {
            km: km(&data, &values, &levels),
            logrank: logrank(&data, &values, &levels),
        },
    }
}

fn data_of(subjects: &[&Subject<'_>]) -> Result<SurvData, String> {
    if subjects.is_empty() {
        return Err("no patient".into());
    }
    SurvData::new(
        subjects.iter().map(|s| s.time).collect(),
        subjects.iter().map(|s| s.event).collect(),
    )
    .map_err(|e| e.to_string())
}

fn km(data: &SurvData, groups: &[String], levels: &[String]) -> Analysis<KmFit> {
    let opts = KmOptions {
        levels: Some(levels.to_vec()),
        ..KmOptions::default()
    };
    kaplan_meier(data, Some(groups), &opts)
        .map_err(|e| e.to_string())
        .into()
}

fn logrank(data: &SurvData, groups: &[String], levels: &[String]) -> Analysis<LogRank> {
    if levels.len() < 2 {
        return Analysis::not_computed(format!("only one group ({})", levels.join(", ")));
    }
    let opts = LogRankOptions {
        rho: 0.0,
        levels: Some(levels.to_vec()),
    };
    log_rank(data, groups, None, &opts)
        .map_err(|e| e.to_string())
        .into()
}

fn fit(
    data: &SurvData,
    ties: Ties,
    build: impl FnOnce(Design) -> crate::survival::Result<Design>,
) -> Analysis<CoxFit> {
    let opts = CoxOptions {
        ties,
        ..CoxOptions::default()
    };
    build(Design::new(data.len()))
        .and_then(|design| cox(data, &design, &opts))
        .map_err(|e| e.to_string())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::config::ClinicalConfig;

    fn patient(id: &str, bor: &str, d: f64) -> PatientRow {
        PatientRow {
            patient_id: id.into(),
            n_timepoints: 2,
            baseline_sum_mm: Some(100.0),
            best_overall_response: bor.into(),
            d_percent: Some(d),
            d_high: Some(u8::from(d > 0.0)),
            evaluable: true,
            reason: String::new(),
        }
    }

    fn clinical(rows: &[(&str, f64, u8)]) -> ClinicalTable {
        let mut text = String::from("patient_id,dfs_time,dfs_event,os_time,os_event\n");
        for (id, t, e) in rows {
            text.push_str(&format!("{id},{t},{e},{t},{e}\n"));
        }
        ClinicalTable::read(text.as_bytes(), &ClinicalConfig::default()).unwrap()
    }

    #[test]
    fn landmark_times_start_at_the_assessment_and_drop_earlier_exits() {
        let patients = vec![
            patient("A", "PR", -40.0),
            patient("B", "SD", 5.0),
            patient("C", "PD", 30.0),
            patient("D", "SD", -10.0),
        ];
        // D's event (day 50) comes before its day-60 assessment: not at risk at the landmark.
        let table = clinical(&[
            ("A", 400.0, 0),
            ("B", 300.0, 1),
            ("C", 200.0, 1),
            ("D", 50.0, 1),
        ]);
        let landmarks: BTreeMap<String, f64> = [("A", 60.0), ("B", 60.0), ("C", 70.0), ("D", 60.0)]
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        let eps = &ClinicalConfig::default().endpoints;
        let base = survival_analyses(
            &patients,
            &table,
            eps,
            &SurvivalConfig::default(),
            &landmarks,
        );
        let cfg = SurvivalConfig {
            landmark: "assessment".into(),
            ..SurvivalConfig::default()
        };
        let lm = survival_analyses(&patients, &table, eps, &cfg, &landmarks);
        assert_eq!((base[0].n, base[0].events), (4, 3));
        assert_eq!((lm[0].n, lm[0].events), (3, 2));
        let times = |ep: &EndpointResults| -> Vec<f64> {
            let fit = ep.km_by_d_high.as_ref().expect("km by d_high");
            let mut t: Vec<f64> = fit
                .groups
                .iter()
                .flat_map(|g| g.table.iter().map(|r| r.time))
                .collect();
            t.sort_by(f64::total_cmp);
            t
        };
        assert_eq!(times(&base[0]), [50.0, 200.0, 300.0, 400.0]);
        assert_eq!(times(&lm[0]), [130.0, 240.0, 340.0]);
    }

    #[test]
    fn response_analyses_leave_out_ne_and_use_pr_as_reference() {
        let patients = vec![
            patient("A", "PR", -40.0),
            patient("B", "SD", 5.0),
            patient("C", "PD", 30.0),
            patient("E", "NE", 0.0),
            patient("F", "SD", 1.0),
            patient("G", "PR", -35.0),
        ];
        let table = clinical(&[
            ("A", 400.0, 0),
            ("B", 300.0, 1),
            ("C", 200.0, 1),
            ("E", 10.0, 1),
            ("F", 250.0, 1),
            ("G", 380.0, 1),
        ]);
        let eps = &ClinicalConfig::default().endpoints;
        let r = survival_analyses(
            &patients,
            &table,
            eps,
            &SurvivalConfig::default(),
            &BTreeMap::new(),
        );
        let km = r[0].km_by_response.as_ref().unwrap();
        let groups: Vec<&str> = km.groups.iter().map(|g| g.group.as_str()).collect();
        assert_eq!(groups, ["PR", "SD", "PD"]);
        assert_eq!(km.groups.iter().map(|g| g.n).sum::<usize>(), 5);
        let cox = r[0].cox_response.as_ref().unwrap();
        let terms: Vec<&str> = cox.coefficients.iter().map(|t| t.term.as_str()).collect();
        assert_eq!(
            terms,
            ["best_overall_responseSD", "best_overall_responsePD"]
        );
        // All six patients count for n and the follow-up, NE included.
        assert_eq!(r[0].n, 6);
    }
}
