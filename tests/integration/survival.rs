//! Integration tests: survival. Every number of every `reference.json` in
//! fixtures/survival/ (R 4.2.2, survival 3.5-3) is compared with the library's result,
//! iterating over the JSON so that a reference entry without an implementation fails.

use std::path::PathBuf;

use oncometry::survival::input::Table;
use oncometry::survival::{
    ConfType, CoxFit, CoxOptions, Design, KmOptions, LogRankOptions, Ties, cox, kaplan_meier,
    log_rank,
};
use serde_json::Value;

use crate::util::{fixture, oncometry};

const CASES: &[&str] = &[
    "lung_sex",
    "monotone_likelihood",
    "ovarian_small",
    "pbc_strata",
    "rossi_ties",
    "veteran_celltype",
];

fn case_dir(case: &str) -> PathBuf {
    fixture(&format!("survival/{case}"))
}

fn reference(case: &str) -> Value {
    let text = std::fs::read_to_string(case_dir(case).join("reference.json")).expect("reference");
    serde_json::from_str(&text).expect("json")
}

fn table(case: &str) -> Table {
    Table::from_path(&case_dir(case).join("data.csv")).expect("data.csv")
}

/// A JSON scalar as text, the way the CSV spells it (levels may be numbers in the JSON).
fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn arr(v: &Value) -> &Vec<Value> {
    v.as_array().expect("array")
}

#[track_caller]
fn close(what: &str, got: f64, want: f64, rel: f64) {
    let ok = got == want
        || (got - want).abs() <= rel * want.abs().max(1e-300)
        || (want == 0.0 && got.abs() < 1e-12);
    assert!(ok, "{what}: got {got:.15e}, R {want:.15e} (rel tol {rel})");
}

/// Optional number against R's value where null = NA / not reached.
#[track_caller]
fn close_opt(what: &str, got: Option<f64>, want: &Value, rel: f64) {
    match (got, num(want)) {
        (None, None) => {}
        (Some(g), Some(w)) => close(what, g, w, rel),
        (g, _) => panic!("{what}: got {g:?}, R {want}"),
    }
}

#[track_caller]
fn exact_opt(what: &str, got: Option<f64>, want: &Value) {
    assert_eq!(got, num(want), "{what}");
}

fn fit_cox(case: &str, t: &Table, c: &Value, zph: bool) -> CoxFit {
    let time = c["endpoint"]["time"].as_str().expect("time");
    let event = c["endpoint"]["event"].as_str().expect("event");
    let mut used = vec![time, event];
    for cv in arr(&c["covariates"]) {
        used.push(cv["name"].as_str().expect("name"));
    }
    if let Some(s) = c["strata"].as_str() {
        used.push(s);
    }
    let sel = t.select(&used).expect("select");
    let data = sel.surv(time, event).expect("surv");
    let mut design = Design::new(sel.len());
    for cv in arr(&c["covariates"]) {
        let name = cv["name"].as_str().expect("name");
        design = match cv["type"].as_str() {
            Some("continuous") => design
                .continuous(name, &sel.numeric(name).expect("numeric"))
                .expect("continuous"),
            Some("categorical") => {
                let levels: Vec<String> = arr(&cv["levels"]).iter().map(as_text).collect();
                design
                    .categorical_levels(name, &sel.text(name).expect("text"), &levels)
                    .expect("categorical")
            }
            other => panic!("{case}: unknown covariate type {other:?}"),
        };
    }
    if let Some(s) = c["strata"].as_str() {
        design = design
            .strata(&sel.text(s).expect("strata"))
            .expect("strata");
    }
    let ties: Ties = c["ties"].as_str().expect("ties").parse().expect("ties");
    let opts = CoxOptions {
        ties,
        zph,
        ..CoxOptions::default()
    };
    cox(&data, &design, &opts).expect("cox")
}

fn check_cox(case: &str, c: &Value, fit: &CoxFit) {
    let id = format!("{case}/{}", c["id"].as_str().unwrap_or("?"));
    let rel = 1e-6;
    assert_eq!(fit.n as u64, c["n"].as_u64().expect("n"), "{id} n");
    assert_eq!(
        fit.events as u64,
        c["nevent"].as_u64().expect("nevent"),
        "{id} nevent"
    );
    assert_eq!(
        fit.iterations as u64,
        c["iter"].as_u64().expect("iter"),
        "{id} iter"
    );
    assert!(
        fit.warnings.is_empty(),
        "{id}: unexpected warnings {:?}",
        fit.warnings
    );
    let terms: Vec<String> = arr(&c["terms"]).iter().map(as_text).collect();
    let got_terms: Vec<String> = fit.coefficients.iter().map(|t| t.term.clone()).collect();
    assert_eq!(got_terms, terms, "{id} terms");
    for (k, t) in fit.coefficients.iter().enumerate() {
        let w = |key: &str| num(&c[key][k]).unwrap_or_else(|| panic!("{id} {key}[{k}]"));
        close(&format!("{id} coef {}", t.term), t.coef, w("coef"), rel);
        close(&format!("{id} se {}", t.term), t.se, w("se"), rel);
        close(&format!("{id} hr {}", t.term), t.hr, w("hr"), rel);
        close(
            &format!("{id} ci_lower {}", t.term),
            t.ci_lower,
            w("hr_lower95"),
            rel,
        );
        close(
            &format!("{id} ci_upper {}", t.term),
            t.ci_upper,
            w("hr_upper95"),
            rel,
        );
        close(&format!("{id} z {}", t.term), t.z, w("z"), rel);
        close(&format!("{id} p {}", t.term), t.p, w("p"), rel);
        assert!(!t.may_be_infinite, "{id} {} flagged infinite", t.term);
    }
    for (i, row) in arr(&c["var"]).iter().enumerate() {
        for (j, v) in arr(row).iter().enumerate() {
            close(
                &format!("{id} var[{i}][{j}]"),
                fit.var[i][j],
                num(v).expect("var"),
                rel,
            );
        }
    }
    close(
        &format!("{id} loglik_null"),
        fit.loglik[0],
        num(&c["loglik_null"]).expect("ll0"),
        rel,
    );
    close(
        &format!("{id} loglik"),
        fit.loglik[1],
        num(&c["loglik"]).expect("ll"),
        rel,
    );
    for (name, got, key) in [
        ("lr", fit.tests.lr, "lrt"),
        ("wald", fit.tests.wald, "wald"),
        ("score", fit.tests.score, "score"),
    ] {
        close(
            &format!("{id} {name} stat"),
            got.stat,
            num(&c[key]["stat"]).expect("stat"),
            rel,
        );
        assert_eq!(
            got.df as u64,
            c[key]["df"].as_u64().expect("df"),
            "{id} {name} df"
        );
        close(
            &format!("{id} {name} p"),
            got.p,
            num(&c[key]["p"]).expect("p"),
            rel,
        );
    }
    let cc = &c["concordance"];
    close(
        &format!("{id} concordance"),
        fit.concordance.c,
        num(&cc["c"]).expect("c"),
        rel,
    );
    close(
        &format!("{id} concordance se"),
        fit.concordance.se,
        num(&cc["se"]).expect("se"),
        rel,
    );
    for (key, got) in [
        ("concordant", fit.concordance.concordant),
        ("discordant", fit.concordance.discordant),
        ("tied_x", fit.concordance.tied_x),
        ("tied_y", fit.concordance.tied_y),
        ("tied_xy", fit.concordance.tied_xy),
    ] {
        close(
            &format!("{id} concordance {key}"),
            got,
            num(&cc[key]).expect(key),
            1e-12,
        );
    }
    if let Some(z) = c.get("cox_zph_km").filter(|z| !z.is_null()) {
        let zph = fit.zph.as_ref().unwrap_or_else(|| panic!("{id}: no zph"));
        let names: Vec<String> = arr(&z["terms"]).iter().map(as_text).collect();
        let got: Vec<String> = zph.rows.iter().map(|r| r.term.clone()).collect();
        assert_eq!(got, names, "{id} zph terms");
        for (k, r) in zph.rows.iter().enumerate() {
            close(
                &format!("{id} zph chisq {}", r.term),
                r.chisq,
                num(&z["chisq"][k]).expect("chisq"),
                rel,
            );
            assert_eq!(
                r.df as f64,
                num(&z["df"][k]).expect("df"),
                "{id} zph df {}",
                r.term
            );
            close(
                &format!("{id} zph p {}", r.term),
                r.p,
                num(&z["p"][k]).expect("p"),
                rel,
            );
        }
    }
}

#[test]
fn golden_cox_every_number() {
    let mut checked = 0;
    for case in CASES.iter().filter(|c| **c != "monotone_likelihood") {
        let r = reference(case);
        let t = table(case);
        for c in arr(&r["cox"]) {
            let fit = fit_cox(case, &t, c, true);
            check_cox(case, c, &fit);
            checked += 1;
        }
    }
    assert_eq!(checked, 14, "every Cox reference entry is checked");
}

/// R's monotone-likelihood case: the coefficient of a level without events diverges. We
/// test that it is detected and named; R's finite numbers are an arbitrary stopping point.
#[test]
fn golden_monotone_likelihood_is_detected() {
    let case = "monotone_likelihood";
    let r = reference(case);
    let t = table(case);
    let entries = arr(&r["cox"]);
    assert_eq!(entries.len(), 2);
    for c in entries {
        let fit = fit_cox(case, &t, c, false);
        let id = c["id"].as_str().unwrap_or("?");
        assert!(
            !arr(&c["warnings"]).is_empty(),
            "{id}: R warned (precondition)"
        );
        let b = fit
            .coefficients
            .iter()
            .find(|t| t.term == "groupB")
            .expect("groupB");
        assert!(b.may_be_infinite, "{id}: groupB not flagged");
        assert!(
            b.coef < -10.0,
            "{id}: groupB coefficient should run off to -inf: {}",
            b.coef
        );
        let x = fit.coefficients.iter().find(|t| t.term == "x").expect("x");
        assert!(!x.may_be_infinite, "{id}: x wrongly flagged");
        assert!(
            fit.warnings
                .iter()
                .any(|w| w.contains("monotone") && w.contains("groupB")),
            "{id}: warnings {:?}",
            fit.warnings
        );
        // The null log-likelihood and the converged (limiting) log-likelihood are well
        // defined, so these must still match R.
        close(
            &format!("{id} loglik_null"),
            fit.loglik[0],
            num(&c["loglik_null"]).expect("ll0"),
            1e-9,
        );
        close(
            &format!("{id} loglik"),
            fit.loglik[1],
            num(&c["loglik"]).expect("ll"),
            1e-6,
        );
        close(
            &format!("{id} score"),
            fit.tests.score.stat,
            num(&c["score"]["stat"]).expect("sc"),
            1e-9,
        );
        close(
            &format!("{id} concordance"),
            fit.concordance.c,
            num(&c["concordance"]["c"]).expect("c"),
            1e-9,
        );
    }
}

fn km_options(k: &Value, conf: ConfType) -> KmOptions {
    let levels = if k["group"].is_null() {
        None
    } else {
        Some(arr(&k["group_levels"]).iter().map(as_text).collect())
    };
    let times = k
        .get("at_times")
        .map(|a| arr(&a["times"]).iter().filter_map(num).collect())
        .unwrap_or_default();
    let tau = k["curves"][0].get("rmst").and_then(|r| num(&r["tau"]));
    KmOptions {
        conf_type: conf,
        conf_level: 0.95,
        times,
        rmst_tau: tau,
        levels,
    }
}

#[test]
fn golden_km_every_number() {
    let tol = 1e-9;
    let mut curves_checked = 0;
    for case in CASES {
        let r = reference(case);
        let t = table(case);
        for k in arr(&r["km"]) {
            let id = format!("{case}/{}", k["id"].as_str().unwrap_or("?"));
            let time = k["endpoint"]["time"].as_str().expect("time");
            let event = k["endpoint"]["event"].as_str().expect("event");
            let group = k["group"].as_str();
            let mut used = vec![time, event];
            used.extend(group);
            let sel = t.select(&used).expect("select");
            let data = sel.surv(time, event).expect("surv");
            let g = group.map(|g| sel.text(g).expect("group"));
            let fl = kaplan_meier(&data, g.as_deref(), &km_options(k, ConfType::Log)).expect("km");
            let fll =
                kaplan_meier(&data, g.as_deref(), &km_options(k, ConfType::LogLog)).expect("km");
            let curves = arr(&k["curves"]);
            assert_eq!(fl.groups.len(), curves.len(), "{id} number of curves");
            for (ci, c) in curves.iter().enumerate() {
                let (a, b) = (&fl.groups[ci], &fll.groups[ci]);
                let cid = format!("{id}[{}]", as_text(&c["group"]));
                assert_eq!(a.group, as_text(&c["group"]), "{cid} group");
                assert_eq!(a.n as f64, num(&c["n"]).expect("n"), "{cid} n");
                assert_eq!(
                    a.events as f64,
                    num(&c["events"]).expect("events"),
                    "{cid} events"
                );
                let rt = arr(&c["time"]);
                assert_eq!(a.table.len(), rt.len(), "{cid} rows");
                for (i, row) in a.table.iter().enumerate() {
                    let rid = format!("{cid} row {i} (t={})", row.time);
                    let w = |key: &str| &c[key][i];
                    assert_eq!(row.time, num(w("time")).expect("time"), "{rid} time");
                    assert_eq!(
                        row.n_risk,
                        num(w("n_risk")).expect("n_risk"),
                        "{rid} n_risk"
                    );
                    assert_eq!(row.n_event, num(w("n_event")).expect("e"), "{rid} n_event");
                    assert_eq!(
                        row.n_censor,
                        num(w("n_censor")).expect("c"),
                        "{rid} n_censor"
                    );
                    close(
                        &format!("{rid} surv"),
                        row.surv,
                        num(w("surv")).expect("s"),
                        tol,
                    );
                    close(
                        &format!("{rid} cumhaz"),
                        row.cumhaz,
                        num(w("cumhaz_nelson_aalen")).expect("h"),
                        tol,
                    );
                    close_opt(
                        &format!("{rid} std_err"),
                        row.std_err,
                        w("std_err_cumhaz"),
                        tol,
                    );
                    close_opt(
                        &format!("{rid} std_err_surv"),
                        row.std_err.map(|s| s * row.surv),
                        w("std_err_surv"),
                        tol,
                    );
                    close_opt(&format!("{rid} lower_log"), row.lower, w("lower_log"), tol);
                    close_opt(&format!("{rid} upper_log"), row.upper, w("upper_log"), tol);
                    let rl = &b.table[i];
                    close_opt(
                        &format!("{rid} lower_loglog"),
                        rl.lower,
                        w("lower_loglog"),
                        tol,
                    );
                    close_opt(
                        &format!("{rid} upper_loglog"),
                        rl.upper,
                        w("upper_loglog"),
                        tol,
                    );
                }
                exact_opt(&format!("{cid} median"), a.median.time, &c["median"]);
                exact_opt(
                    &format!("{cid} median (log-log fit)"),
                    b.median.time,
                    &c["median"],
                );
                exact_opt(
                    &format!("{cid} median lower log"),
                    a.median.lower,
                    &c["median_lower_log"],
                );
                exact_opt(
                    &format!("{cid} median upper log"),
                    a.median.upper,
                    &c["median_upper_log"],
                );
                exact_opt(
                    &format!("{cid} median lower loglog"),
                    b.median.lower,
                    &c["median_lower_loglog"],
                );
                exact_opt(
                    &format!("{cid} median upper loglog"),
                    b.median.upper,
                    &c["median_upper_loglog"],
                );
                match c.get("rmst") {
                    Some(rm) => {
                        let got = a.rmst.as_ref().unwrap_or_else(|| panic!("{cid}: no rmst"));
                        close(
                            &format!("{cid} rmst tau"),
                            got.tau,
                            num(&rm["tau"]).expect("tau"),
                            0.0,
                        );
                        close(
                            &format!("{cid} rmst"),
                            got.value,
                            num(&rm["rmean"]).expect("rmean"),
                            tol,
                        );
                        close(
                            &format!("{cid} rmst se"),
                            got.se,
                            num(&rm["se"]).expect("se"),
                            tol,
                        );
                    }
                    None => assert!(a.rmst.is_none(), "{cid}: rmst without a tau"),
                }
                curves_checked += 1;
            }
            if let Some(at) = k.get("at_times") {
                let times = arr(&at["times"]);
                let groups = arr(&at["group"]);
                let mut seen = vec![0usize; fl.groups.len()];
                for (row, gname) in groups.iter().enumerate() {
                    let gname = as_text(gname);
                    let gi = fl
                        .groups
                        .iter()
                        .position(|g| g.group == gname)
                        .unwrap_or_else(|| panic!("{id}: at_times group {gname}"));
                    let j = seen[gi];
                    seen[gi] += 1;
                    let (a, b) = (&fl.groups[gi].at_times[j], &fll.groups[gi].at_times[j]);
                    let rid = format!("{id} at_times {gname} t={}", a.time);
                    let w = |key: &str| &at[key][row];
                    close(
                        &format!("{rid} time"),
                        a.time,
                        num(w("time")).expect("t"),
                        0.0,
                    );
                    close(
                        &format!("{rid} n_risk"),
                        a.n_risk,
                        num(w("n_risk")).expect("n"),
                        0.0,
                    );
                    close(
                        &format!("{rid} surv"),
                        a.surv,
                        num(w("surv")).expect("s"),
                        tol,
                    );
                    close_opt(&format!("{rid} std_err"), a.std_err, w("std_err_surv"), tol);
                    close_opt(&format!("{rid} lower_log"), a.lower, w("lower_log"), tol);
                    close_opt(&format!("{rid} upper_log"), a.upper, w("upper_log"), tol);
                    close_opt(
                        &format!("{rid} lower_loglog"),
                        b.lower,
                        w("lower_loglog"),
                        tol,
                    );
                    close_opt(
                        &format!("{rid} upper_loglog"),
                        b.upper,
                        w("upper_loglog"),
                        tol,
                    );
                }
                for (gi, g) in fl.groups.iter().enumerate() {
                    assert_eq!(
                        seen[gi],
                        g.at_times.len(),
                        "{id} at_times rows for {}",
                        g.group
                    );
                    assert_eq!(g.at_times.len(), times.len(), "{id} at_times per group");
                }
            }
        }
    }
    assert_eq!(
        curves_checked, 20,
        "every KM curve in the references is checked"
    );
}

#[test]
fn golden_logrank_every_number() {
    let tol = 1e-9;
    let mut checked = 0;
    for case in CASES {
        let r = reference(case);
        let t = table(case);
        for l in arr(&r["logrank"]) {
            let id = format!("{case}/{}", l["id"].as_str().unwrap_or("?"));
            let time = l["endpoint"]["time"].as_str().expect("time");
            let event = l["endpoint"]["event"].as_str().expect("event");
            let group = l["group"].as_str().expect("group");
            let strata = l["strata"].as_str();
            let mut used = vec![time, event, group];
            used.extend(strata);
            let sel = t.select(&used).expect("select");
            let data = sel.surv(time, event).expect("surv");
            let g = sel.text(group).expect("group");
            let s = strata.map(|s| sel.text(s).expect("strata"));
            let opts = LogRankOptions {
                rho: num(&l["rho"]).expect("rho"),
                levels: Some(arr(&l["groups"]).iter().map(as_text).collect()),
            };
            let lr = log_rank(&data, &g, s.as_deref(), &opts).expect("logrank");
            assert_eq!(lr.stratified, strata.is_some(), "{id} stratified");
            for (k, grp) in lr.groups.iter().enumerate() {
                assert_eq!(grp.group, as_text(&l["groups"][k]), "{id} group order");
                assert_eq!(grp.n as f64, num(&l["n"][k]).expect("n"), "{id} n");
                close(
                    &format!("{id} observed {}", grp.group),
                    grp.observed,
                    num(&l["observed"][k]).expect("o"),
                    tol,
                );
                close(
                    &format!("{id} expected {}", grp.group),
                    grp.expected,
                    num(&l["expected"][k]).expect("e"),
                    tol,
                );
                for (j, v) in arr(&l["var"][k]).iter().enumerate() {
                    close(
                        &format!("{id} var[{k}][{j}]"),
                        lr.var[k][j],
                        num(v).expect("v"),
                        tol,
                    );
                }
            }
            assert_eq!(lr.groups.len(), arr(&l["groups"]).len(), "{id} groups");
            close(
                &format!("{id} chisq"),
                lr.chisq,
                num(&l["chisq"]).expect("chisq"),
                tol,
            );
            assert_eq!(lr.df as f64, num(&l["df"]).expect("df"), "{id} df");
            close(&format!("{id} p"), lr.p, num(&l["p"]).expect("p"), 1e-7);
            checked += 1;
        }
    }
    assert_eq!(checked, 10, "every log-rank reference entry is checked");
}

// ------------------------------------------------------------------ median follow-up

/// Reverse Kaplan–Meier; expected values from R 4.2.2 / survival 3.5-3:
/// `summary(survfit(Surv(time, 1 - status) ~ 1, data = d))$table` on the fixtures' data.
#[test]
fn median_follow_up_matches_r_reverse_km() {
    for (case, time, event, want) in [
        (
            "lung_sex",
            "time",
            "status",
            (Some(588.0), Some(511.0), Some(1010.0)),
        ),
        (
            "ovarian_small",
            "futime",
            "fustat",
            (Some(803.0), Some(769.0), None),
        ),
    ] {
        let t = table(case);
        let sel = t.select(&[time, event]).expect("select");
        let d = sel.surv(time, event).expect("surv");
        let m = oncometry::survival::median_follow_up(d.time(), d.event()).expect("mfu");
        assert_eq!((m.time, m.lower, m.upper), want, "{case}");
    }
}

// ------------------------------------------------------------------ the command line

fn run_cli(args: &[&str]) -> (i32, String, String) {
    let out = oncometry().args(args).output().expect("run oncometry");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn data_arg(case: &str) -> String {
    case_dir(case).join("data.csv").display().to_string()
}

#[test]
fn cli_cox_json_matches_r_and_keeps_formula_order() {
    let data = data_arg("lung_sex");
    let (code, out, err) = run_cli(&[
        "survival",
        "cox",
        "--data",
        &data,
        "--time",
        "time",
        "--event",
        "status",
        "--covariate",
        "age",
        "--categorical",
        "sex:male",
        "--covariate",
        "ph_ecog",
    ]);
    assert_eq!(code, 0, "{err}");
    let j: Value = serde_json::from_str(&out).expect("json");
    let r = reference("lung_sex");
    let c = &r["cox"][0];
    for key in [
        "n",
        "events",
        "n_dropped",
        "ties",
        "coefficients",
        "loglik",
        "tests",
        "concordance",
        "warnings",
        "zph",
    ] {
        assert!(j.get(key).is_some(), "missing key {key}");
    }
    assert_eq!(j["ties"], "efron");
    let terms: Vec<&str> = arr(&j["coefficients"])
        .iter()
        .map(|t| t["term"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(terms, ["age", "sexfemale", "ph_ecog"]);
    for (k, t) in arr(&j["coefficients"]).iter().enumerate() {
        for (ours, theirs) in [
            ("coef", "coef"),
            ("se", "se"),
            ("hr", "hr"),
            ("ci_lower", "hr_lower95"),
            ("ci_upper", "hr_upper95"),
            ("z", "z"),
            ("p", "p"),
        ] {
            close(
                &format!("cli {ours}[{k}]"),
                num(&t[ours]).expect("n"),
                num(&c[theirs][k]).expect("r"),
                1e-6,
            );
        }
    }
    close(
        "cli loglik",
        num(&j["loglik"][1]).expect("ll"),
        num(&c["loglik"]).expect("ll"),
        1e-9,
    );
    close(
        "cli lr",
        num(&j["tests"]["lr"]["stat"]).expect("lr"),
        num(&c["lrt"]["stat"]).expect("lr"),
        1e-6,
    );
    close(
        "cli c",
        num(&j["concordance"]["c"]).expect("c"),
        num(&c["concordance"]["c"]).expect("c"),
        1e-9,
    );
}

#[test]
fn cli_per_unit_scales_the_coefficient() {
    let data = data_arg("lung_sex");
    let (code, out, err) = run_cli(&[
        "survival",
        "cox",
        "--data",
        &data,
        "--time",
        "time",
        "--event",
        "status",
        "--covariate",
        "age:per=10",
        "--categorical",
        "sex:male",
        "--covariate",
        "ph_ecog",
        "--ties",
        "breslow",
    ]);
    assert_eq!(code, 0, "{err}");
    let j: Value = serde_json::from_str(&out).expect("json");
    let c = &reference("lung_sex")["cox"][1];
    assert_eq!(c["ties"], "breslow");
    let age = &j["coefficients"][0];
    assert_eq!(age["term"], "age");
    assert_eq!(num(&age["per"]), Some(10.0));
    let b = num(&c["coef"][0]).expect("coef");
    close(
        "age per 10 coef",
        num(&age["coef"]).expect("c"),
        10.0 * b,
        1e-6,
    );
    close(
        "age per 10 hr",
        num(&age["hr"]).expect("hr"),
        (10.0 * b).exp(),
        1e-6,
    );
    close(
        "age per 10 se",
        num(&age["se"]).expect("se"),
        10.0 * num(&c["se"][0]).expect("se"),
        1e-6,
    );
    close(
        "age per 10 p",
        num(&age["p"]).expect("p"),
        num(&c["p"][0]).expect("p"),
        1e-6,
    );
    close(
        "sexfemale unchanged",
        num(&j["coefficients"][1]["coef"]).expect("c"),
        num(&c["coef"][1]).expect("c"),
        1e-6,
    );
}

#[test]
fn cli_km_and_logrank_json_match_r() {
    let data = data_arg("veteran_celltype");
    let (code, out, err) = run_cli(&[
        "survival",
        "km",
        "--data",
        &data,
        "--time",
        "time",
        "--event",
        "status",
        "--group",
        "trt",
        "--conf-type",
        "log-log",
        "--times",
        "30,90",
        "--rmst-tau",
        "365",
    ]);
    assert_eq!(code, 0, "{err}");
    let j: Value = serde_json::from_str(&out).expect("json");
    let k = &reference("veteran_celltype")["km"][1];
    for (gi, g) in arr(&j["groups"]).iter().enumerate() {
        let c = &k["curves"][gi];
        assert_eq!(g["group"], c["group"]);
        for key in [
            "group", "n", "events", "table", "median", "at_times", "rmst",
        ] {
            assert!(g.get(key).is_some(), "km key {key}");
        }
        let row = &g["table"][3];
        for key in [
            "time", "n_risk", "n_event", "n_censor", "surv", "std_err", "lower", "upper",
        ] {
            assert!(row.get(key).is_some(), "km row key {key}");
        }
        close(
            "cli km lower",
            num(&row["lower"]).expect("l"),
            num(&c["lower_loglog"][3]).expect("l"),
            1e-9,
        );
        assert_eq!(num(&g["median"]["time"]), num(&c["median"]));
        assert_eq!(num(&g["median"]["lower"]), num(&c["median_lower_loglog"]));
        assert_eq!(num(&g["median"]["upper"]), num(&c["median_upper_loglog"]));
        close(
            "cli rmst",
            num(&g["rmst"]["value"]).expect("r"),
            num(&c["rmst"]["rmean"]).expect("r"),
            1e-9,
        );
        assert_eq!(arr(&g["at_times"]).len(), 2);
    }
    let (code, out, err) = run_cli(&[
        "survival", "logrank", "--data", &data, "--time", "time", "--event", "status", "--group",
        "celltype",
    ]);
    assert_eq!(code, 0, "{err}");
    let j: Value = serde_json::from_str(&out).expect("json");
    let l = &reference("veteran_celltype")["logrank"][0];
    close(
        "cli logrank chisq",
        num(&j["chisq"]).expect("c"),
        num(&l["chisq"]).expect("c"),
        1e-9,
    );
    assert_eq!(j["df"], 3);
    // R's factor order of the values present: adeno, large, smallcell, squamous.
    let groups: Vec<&str> = arr(&j["groups"])
        .iter()
        .map(|g| g["group"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(groups, ["adeno", "large", "smallcell", "squamous"]);
    for g in arr(&j["groups"]) {
        let k = arr(&l["groups"])
            .iter()
            .position(|x| x == &g["group"])
            .expect("group");
        close(
            "cli observed",
            num(&g["observed"]).expect("o"),
            num(&l["observed"][k]).expect("o"),
            1e-9,
        );
        close(
            "cli expected",
            num(&g["expected"]).expect("e"),
            num(&l["expected"][k]).expect("e"),
            1e-9,
        );
    }
}

#[test]
fn cli_stratified_peto_and_tables() {
    let data = data_arg("pbc_strata");
    let (code, out, err) = run_cli(&[
        "survival", "logrank", "--data", &data, "--time", "time", "--event", "death", "--group",
        "trt", "--strata", "edema",
    ]);
    assert_eq!(code, 0, "{err}");
    let j: Value = serde_json::from_str(&out).expect("json");
    let l = &reference("pbc_strata")["logrank"][1];
    assert_eq!(l["strata"], "edema");
    close(
        "stratified chisq",
        num(&j["chisq"]).expect("c"),
        num(&l["chisq"]).expect("c"),
        1e-9,
    );

    let lung = data_arg("lung_sex");
    let (code, out, err) = run_cli(&[
        "survival", "logrank", "--data", &lung, "--time", "time", "--event", "status", "--group",
        "sex", "--rho", "1", "--format", "table",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Peto") && out.contains("Chisq = 12.27"),
        "{out}"
    );
    let (code, out, err) = run_cli(&[
        "survival",
        "cox",
        "--data",
        &lung,
        "--time",
        "time",
        "--event",
        "status",
        "--categorical",
        "sex:male",
        "--format",
        "table",
    ]);
    assert_eq!(code, 0, "{err}");
    for want in [
        "sexfemale",
        "exp(coef)",
        "lower .95",
        "Concordance",
        "Likelihood ratio test",
        "GLOBAL",
    ] {
        assert!(out.contains(want), "cox table lacks {want}:\n{out}");
    }
    let (code, out, err) = run_cli(&[
        "survival", "km", "--data", &lung, "--time", "time", "--event", "status", "--group", "sex",
        "--format", "table",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("sex=male") && out.contains("median") && out.contains("270"),
        "{out}"
    );
}

#[test]
fn cli_monotone_likelihood_warns_and_hides_the_hr() {
    let data = data_arg("monotone_likelihood");
    let args = [
        "survival",
        "cox",
        "--data",
        data.as_str(),
        "--time",
        "time",
        "--event",
        "status",
        "--categorical",
        "group:A",
        "--covariate",
        "x",
    ];
    let (code, out, err) = run_cli(&args);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("monotone likelihood"), "{err}");
    let j: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(j["coefficients"][0]["may_be_infinite"], true);
    assert!(
        arr(&j["warnings"])
            .iter()
            .any(|w| w.as_str().unwrap_or("").contains("groupB"))
    );
    let mut t = args.to_vec();
    t.extend(["--format", "table"]);
    let (_, out, _) = run_cli(&t);
    assert!(out.contains("diverges"), "{out}");
}

// ------------------------------------------------------------------ bad input

fn temp_csv(text: &str) -> tempfile::NamedTempFile {
    use std::io::Write;
    let mut f = tempfile::NamedTempFile::new().expect("tmp");
    f.write_all(text.as_bytes()).expect("write");
    f
}

#[test]
fn missing_values_are_dropped_and_counted() {
    let f = temp_csv(
        "t,e,g,x\n1,1,a,0.5\n2,NA,a,1\n3,1,b,\n4,0,b,2\n5,1,a,0.1\n,1,b,3\n6,1,b,1.5\n7,0,a,0.2\n",
    );
    let p = f.path().display().to_string();
    let (code, out, err) = run_cli(&[
        "survival", "km", "--data", &p, "--time", "t", "--event", "e", "--group", "g",
    ]);
    assert_eq!(code, 0, "{err}");
    let j: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        j["n_dropped"], 2,
        "rows with missing t or e (x is unused here)"
    );
    let n: u64 = arr(&j["groups"])
        .iter()
        .map(|g| g["n"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(n, 6);
    let (code, out, err) = run_cli(&[
        "survival",
        "cox",
        "--data",
        &p,
        "--time",
        "t",
        "--event",
        "e",
        "--covariate",
        "x",
    ]);
    assert_eq!(code, 0, "{err}");
    let j: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(j["n_dropped"], 3);
    assert_eq!(j["n"], 5);
}

#[track_caller]
fn expect_error(csv: &str, args: &[&str], code: i32, needles: &[&str]) {
    let f = temp_csv(csv);
    let p = f.path().display().to_string();
    let mut a = vec!["survival"];
    a.extend_from_slice(&args[..1]);
    a.extend(["--data", p.as_str()]);
    a.extend_from_slice(&args[1..]);
    let (got, out, err) = run_cli(&a);
    assert_eq!(got, code, "exit code for {args:?}: stderr {err}");
    assert!(out.is_empty(), "no data on stdout on error: {out}");
    assert_eq!(err.trim().lines().count(), 1, "one clear line: {err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks '{n}': {err}");
    }
}

const OK_CSV: &str = "t,e,g,x\n1,1,a,0.5\n2,0,a,1\n3,1,b,0.3\n4,0,b,2\n5,1,a,0.1\n6,1,b,1.5\n";

#[test]
fn negative_time_is_an_error_naming_row() {
    expect_error(
        "t,e,g\n1,1,a\n-2,1,b\n3,0,b\n",
        &["km", "--time", "t", "--event", "e"],
        3,
        &["'t'", "row 2", "negative"],
    );
}

#[test]
fn event_not_zero_one_is_an_error_naming_row() {
    expect_error(
        "t,e,g\n1,1,a\n2,2,b\n3,0,b\n",
        &["logrank", "--time", "t", "--event", "e", "--group", "g"],
        3,
        &["'e'", "row 2", "0 (censored) or 1"],
    );
}

#[test]
fn non_numeric_value_is_an_error_naming_row() {
    expect_error(
        "t,e,g,x\n1,1,a,0.5\n2,1,b,high\n3,0,b,1\n",
        &["cox", "--time", "t", "--event", "e", "--covariate", "x"],
        3,
        &["'x'", "row 2", "high"],
    );
}

#[test]
fn single_level_factor_is_an_error() {
    expect_error(
        "t,e,g\n1,1,a\n2,1,a\n3,0,a\n",
        &["cox", "--time", "t", "--event", "e", "--categorical", "g:a"],
        3,
        &["'g'", "single level"],
    );
    expect_error(
        "t,e,g\n1,1,a\n2,1,a\n3,0,a\n",
        &["logrank", "--time", "t", "--event", "e", "--group", "g"],
        3,
        &["single level"],
    );
}

#[test]
fn zero_events_is_an_error() {
    expect_error(
        "t,e,g,x\n1,0,a,1\n2,0,b,2\n3,0,b,3\n",
        &["cox", "--time", "t", "--event", "e", "--covariate", "x"],
        3,
        &["no events"],
    );
    expect_error(
        "t,e,g,x\n1,0,a,1\n2,0,b,2\n3,0,b,3\n",
        &["logrank", "--time", "t", "--event", "e", "--group", "g"],
        3,
        &["no events"],
    );
}

#[test]
fn unknown_column_is_a_usage_error() {
    expect_error(
        OK_CSV,
        &["cox", "--time", "t", "--event", "e", "--covariate", "age"],
        2,
        &["unknown column 'age'"],
    );
    expect_error(
        OK_CSV,
        &["km", "--time", "time", "--event", "e"],
        2,
        &["unknown column 'time'"],
    );
}

#[test]
fn unknown_reference_level_and_bad_specs_are_usage_errors() {
    expect_error(
        OK_CSV,
        &[
            "cox",
            "--time",
            "t",
            "--event",
            "e",
            "--categorical",
            "g:zzz",
        ],
        2,
        &["'zzz'", "a, b"],
    );
    expect_error(
        OK_CSV,
        &["cox", "--time", "t", "--event", "e", "--categorical", "g"],
        2,
        &["COL:REFLEVEL"],
    );
    expect_error(
        OK_CSV,
        &[
            "cox",
            "--time",
            "t",
            "--event",
            "e",
            "--covariate",
            "x:per=0",
        ],
        2,
        &["per=0"],
    );
    expect_error(
        OK_CSV,
        &["logrank", "--time", "t", "--event", "e"],
        2,
        &["--group"],
    );
    expect_error(
        OK_CSV,
        &["km", "--time", "t", "--event", "e", "--covariate", "x"],
        2,
        &["does not apply"],
    );
}

#[test]
fn missing_file_is_a_usage_error() {
    let (code, _, err) = run_cli(&[
        "survival",
        "km",
        "--data",
        "/nonexistent/x.csv",
        "--time",
        "t",
        "--event",
        "e",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/x.csv"), "{err}");
}

#[test]
fn library_rejects_invalid_input_with_typed_errors() {
    use oncometry::survival::{SurvData, SurvError};
    assert!(matches!(
        SurvData::new(vec![1.0, -1.0], vec![true, false]),
        Err(SurvError::NegativeTime { row: 2, .. })
    ));
    assert!(matches!(
        SurvData::new(vec![1.0, f64::NAN], vec![true, false]),
        Err(SurvError::NonFiniteTime { row: 2, .. })
    ));
    assert!(matches!(
        SurvData::from_codes(vec![1.0, 2.0], &[1.0, 0.5]),
        Err(SurvError::BadEvent { row: 2, .. })
    ));
    assert!(matches!(
        SurvData::new(vec![1.0], vec![true, false]),
        Err(SurvError::LengthMismatch { .. })
    ));
    let d = SurvData::new(vec![1.0, 2.0, 3.0], vec![true, true, false]).expect("data");
    let design = Design::new(3).continuous("x", &[1.0, 1.0, 1.0]);
    assert!(matches!(design, Err(SurvError::ConstantCovariate { .. })));
    // Collinear covariates: x2 = 2·x1.
    let design = Design::new(3)
        .continuous("x1", &[1.0, 2.0, 4.0])
        .and_then(|d| d.continuous("x2", &[2.0, 4.0, 8.0]))
        .expect("design");
    assert!(matches!(
        cox(&d, &design, &CoxOptions::default()),
        Err(SurvError::Collinear { .. })
    ));
}
