//! `oncometry survival km|logrank|cox` (shared/interface.md §4): read a CSV, drop rows with a
//! missing value in a used column, run the analysis and print JSON or tables for people.
//! Unknown columns, bad flag values and a missing file are usage errors (exit 2); problems in
//! the data (negative time, event not 0/1, one group, no events) are fatal (exit 3).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::anyhow;
use oncometry::survival::input::Table;
use oncometry::survival::{
    ConfType, CoxFit, CoxOptions, Design, KmFit, KmOptions, LogRank, LogRankOptions, SurvError,
    Ties, cox, kaplan_meier, log_rank,
};

use super::{EXIT_OK, usage};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Box<SurvCommand>,
}

#[derive(Debug, clap::Subcommand)]
enum SurvCommand {
    /// Kaplan–Meier curves (per --group), medians with CI, survival at --times, RMST.
    Km(Common),
    /// Log-rank test (--rho 1: Peto–Peto) between --group levels, optionally --strata.
    Logrank(Common),
    /// Cox proportional hazards: coefficients, HR with 95% CI, tests, concordance, cox.zph.
    Cox(Common),
    /// Time a fit inside the process (CSV reading excluded); prints elapsed_s=<s>.
    #[command(hide = true)]
    Bench { task: String, csv: PathBuf },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Json,
    Table,
}

#[derive(Debug, clap::Args)]
struct Common {
    /// Input table (CSV with a header row).
    #[arg(long, value_name = "CSV")]
    data: PathBuf,
    /// Follow-up time column (non-negative numbers).
    #[arg(long, value_name = "COL")]
    time: String,
    /// Event column: 1 = event, 0 = censored.
    #[arg(long, value_name = "COL")]
    event: String,
    /// Grouping column (km, logrank).
    #[arg(long, value_name = "COL")]
    group: Option<String>,
    /// Continuous covariate (cox); `COL:per=K` reports the HR per K units. Repeatable.
    #[arg(long = "covariate", value_name = "COL[:per=K]")]
    covariates: Vec<String>,
    /// Categorical covariate with its reference level (cox), e.g. `sex:male`. Repeatable.
    #[arg(long = "categorical", value_name = "COL:REFLEVEL")]
    categoricals: Vec<String>,
    /// Stratify by this column (cox, logrank).
    #[arg(long, value_name = "COL")]
    strata: Option<String>,
    /// Tie handling (cox).
    #[arg(long, default_value = "efron", value_parser = ["efron", "breslow"])]
    ties: String,
    /// Confidence interval of the survival curve (km).
    #[arg(long, default_value = "log", value_parser = ["log", "log-log"])]
    conf_type: String,
    /// Survival and number at risk at these times (km), comma separated.
    #[arg(long, value_name = "T1,T2,...", value_delimiter = ',')]
    times: Vec<f64>,
    /// 0 = log-rank, 1 = Peto–Peto (logrank).
    #[arg(long, default_value_t = 0.0)]
    rho: f64,
    /// Restricted mean survival time up to this horizon (km).
    #[arg(long, value_name = "T")]
    rmst_tau: Option<f64>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match *args.command {
        SurvCommand::Km(c) => run_km(&c),
        SurvCommand::Logrank(c) => run_logrank(&c),
        SurvCommand::Cox(c) => run_cox(&c),
        SurvCommand::Bench { task, csv } => run_bench(&task, &csv),
    }
}

/// Library errors that are the caller's fault (a column or option that does not exist) are
/// usage errors; the rest are problems of the data.
fn classify(e: SurvError) -> anyhow::Error {
    match e {
        SurvError::UnknownColumn { .. }
        | SurvError::UnknownLevel { .. }
        | SurvError::BadOption(_)
        | SurvError::BadPer { .. } => usage(e.to_string()),
        other => anyhow!(other),
    }
}

fn read_table(path: &Path) -> anyhow::Result<Table> {
    if !path.is_file() {
        return Err(usage(format!("{}: no such file", path.display())));
    }
    Table::from_path(path).map_err(|e| anyhow!(e))
}

fn print_out(s: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(s.as_bytes())?;
    out.flush()?;
    Ok(())
}

fn reject(flag: &str, given: bool, cmd: &str) -> anyhow::Result<()> {
    if given {
        return Err(usage(format!("{flag} does not apply to `survival {cmd}`")));
    }
    Ok(())
}

fn run_km(c: &Common) -> anyhow::Result<ExitCode> {
    reject("--covariate", !c.covariates.is_empty(), "km")?;
    reject("--categorical", !c.categoricals.is_empty(), "km")?;
    reject("--strata", c.strata.is_some(), "km")?;
    let t = read_table(&c.data)?;
    let mut used = vec![c.time.as_str(), c.event.as_str()];
    used.extend(c.group.as_deref());
    let sel = t.select(&used).map_err(classify)?;
    let data = sel.surv(&c.time, &c.event).map_err(classify)?;
    let groups = match &c.group {
        Some(g) => Some(sel.text(g).map_err(classify)?),
        None => None,
    };
    let opts = KmOptions {
        conf_type: c.conf_type.parse().map_err(classify)?,
        times: c.times.clone(),
        rmst_tau: c.rmst_tau,
        ..KmOptions::default()
    };
    let mut fit = kaplan_meier(&data, groups.as_deref(), &opts).map_err(classify)?;
    fit.n_dropped = sel.n_dropped;
    match c.format {
        Format::Json => print_out(&(serde_json::to_string_pretty(&fit)? + "\n"))?,
        Format::Table => print_out(&km_table(&fit, c.group.as_deref()))?,
    }
    Ok(ExitCode::from(EXIT_OK))
}

fn run_logrank(c: &Common) -> anyhow::Result<ExitCode> {
    reject("--covariate", !c.covariates.is_empty(), "logrank")?;
    reject("--categorical", !c.categoricals.is_empty(), "logrank")?;
    let Some(group) = &c.group else {
        return Err(usage("`survival logrank` needs --group COL"));
    };
    let t = read_table(&c.data)?;
    let mut used = vec![c.time.as_str(), c.event.as_str(), group.as_str()];
    used.extend(c.strata.as_deref());
    let sel = t.select(&used).map_err(classify)?;
    let data = sel.surv(&c.time, &c.event).map_err(classify)?;
    let g = sel.text(group).map_err(classify)?;
    let s = match &c.strata {
        Some(s) => Some(sel.text(s).map_err(classify)?),
        None => None,
    };
    let opts = LogRankOptions {
        rho: c.rho,
        levels: None,
    };
    let mut lr = log_rank(&data, &g, s.as_deref(), &opts).map_err(classify)?;
    lr.n_dropped = sel.n_dropped;
    match c.format {
        Format::Json => print_out(&(serde_json::to_string_pretty(&lr)? + "\n"))?,
        Format::Table => print_out(&logrank_table(&lr, group))?,
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// One covariate of the model, in command-line order.
enum Spec {
    Continuous { col: String, per: f64 },
    Categorical { col: String, reference: String },
}

fn parse_continuous(s: &str) -> anyhow::Result<Spec> {
    match s.split_once(":per=") {
        None => Ok(Spec::Continuous {
            col: s.to_string(),
            per: 1.0,
        }),
        Some((col, k)) => {
            let per: f64 = k
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v != 0.0)
                .ok_or_else(|| {
                    usage(format!("--covariate {s}: per={k} is not a non-zero number"))
                })?;
            Ok(Spec::Continuous {
                col: col.to_string(),
                per,
            })
        }
    }
}

fn parse_categorical(s: &str) -> anyhow::Result<Spec> {
    match s.split_once(':') {
        Some((col, r)) if !col.is_empty() && !r.is_empty() => Ok(Spec::Categorical {
            col: col.to_string(),
            reference: r.to_string(),
        }),
        _ => Err(usage(format!(
            "--categorical {s}: expected COL:REFLEVEL (e.g. sex:male)"
        ))),
    }
}

/// Covariates in the order they were typed (R's formula order), recovered from the raw
/// command line because clap keeps the two flags apart.
fn ordered_specs(c: &Common) -> anyhow::Result<Vec<Spec>> {
    let raw: Vec<String> = std::env::args().collect();
    let mut seq: Vec<(bool, String)> = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let a = &raw[i];
        for (flag, cat) in [("--covariate", false), ("--categorical", true)] {
            if a == flag {
                if let Some(v) = raw.get(i + 1) {
                    seq.push((cat, v.clone()));
                }
            } else if let Some(v) = a.strip_prefix(&format!("{flag}=")) {
                seq.push((cat, v.to_string()));
            }
        }
        i += 1;
    }
    let mut want_cont = c.covariates.clone();
    let mut want_cat = c.categoricals.clone();
    let mut got_cont: Vec<String> = seq.iter().filter(|s| !s.0).map(|s| s.1.clone()).collect();
    let mut got_cat: Vec<String> = seq.iter().filter(|s| s.0).map(|s| s.1.clone()).collect();
    want_cont.sort();
    want_cat.sort();
    got_cont.sort();
    got_cat.sort();
    let ordered: Vec<(bool, String)> = if want_cont == got_cont && want_cat == got_cat {
        seq
    } else {
        c.covariates
            .iter()
            .map(|s| (false, s.clone()))
            .chain(c.categoricals.iter().map(|s| (true, s.clone())))
            .collect()
    };
    ordered
        .into_iter()
        .map(|(cat, s)| {
            if cat {
                parse_categorical(&s)
            } else {
                parse_continuous(&s)
            }
        })
        .collect()
}

fn run_cox(c: &Common) -> anyhow::Result<ExitCode> {
    reject("--group", c.group.is_some(), "cox")?;
    reject("--times", !c.times.is_empty(), "cox")?;
    reject("--rmst-tau", c.rmst_tau.is_some(), "cox")?;
    let specs = ordered_specs(c)?;
    if specs.is_empty() {
        return Err(usage(
            "`survival cox` needs at least one --covariate COL or --categorical COL:REF",
        ));
    }
    let t = read_table(&c.data)?;
    let mut used = vec![c.time.as_str(), c.event.as_str()];
    for s in &specs {
        match s {
            Spec::Continuous { col, .. } | Spec::Categorical { col, .. } => used.push(col),
        }
    }
    used.extend(c.strata.as_deref());
    let sel = t.select(&used).map_err(classify)?;
    let data = sel.surv(&c.time, &c.event).map_err(classify)?;
    let mut design = Design::new(sel.len());
    for s in &specs {
        design = match s {
            Spec::Continuous { col, per } => {
                let v = sel.numeric(col).map_err(classify)?;
                design.continuous_per(col, &v, *per).map_err(classify)?
            }
            Spec::Categorical { col, reference } => {
                let v = sel.text(col).map_err(classify)?;
                design.categorical(col, &v, reference).map_err(classify)?
            }
        };
    }
    if let Some(s) = &c.strata {
        design = design
            .strata(&sel.text(s).map_err(classify)?)
            .map_err(classify)?;
    }
    let opts = CoxOptions {
        ties: c.ties.parse::<Ties>().map_err(classify)?,
        zph: true,
        ..CoxOptions::default()
    };
    let mut fit = cox(&data, &design, &opts).map_err(classify)?;
    fit.n_dropped = sel.n_dropped;
    for w in &fit.warnings {
        eprintln!("oncometry: warning: {w}");
    }
    match c.format {
        Format::Json => print_out(&(serde_json::to_string_pretty(&fit)? + "\n"))?,
        Format::Table => print_out(&cox_table(&fit))?,
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// The benchmark hook of bench/survival: `cox` = Efron Cox on x1 + x2 + x3 (as R's coxph:
/// coefficients, variance, tests and concordance); `km_lr` = KM by group with log-log CI and
/// medians, plus the 3-group log-rank. CSV reading is not timed.
fn run_bench(task: &str, csv: &Path) -> anyhow::Result<ExitCode> {
    let t = read_table(csv)?;
    match task {
        "cox" => {
            let sel = t
                .select(&["time", "event", "x1", "x2", "x3"])
                .map_err(classify)?;
            let data = sel.surv("time", "event").map_err(classify)?;
            let cols: Vec<Vec<f64>> = ["x1", "x2", "x3"]
                .iter()
                .map(|c| sel.numeric(c).map_err(classify))
                .collect::<anyhow::Result<_>>()?;
            let t0 = Instant::now();
            let design = Design::new(sel.len())
                .continuous("x1", &cols[0])?
                .continuous("x2", &cols[1])?
                .continuous("x3", &cols[2])?;
            let fit = cox(&data, &design, &CoxOptions::default())?;
            let el = t0.elapsed().as_secs_f64();
            println!("elapsed_s={el:.6} check={:.10}", fit.coefficients[0].coef);
        }
        "km_lr" => {
            let sel = t.select(&["time", "event", "group"]).map_err(classify)?;
            let data = sel.surv("time", "event").map_err(classify)?;
            let g = sel.text("group").map_err(classify)?;
            let t0 = Instant::now();
            let opts = KmOptions {
                conf_type: ConfType::LogLog,
                ..KmOptions::default()
            };
            let km = kaplan_meier(&data, Some(&g), &opts)?;
            let lr = log_rank(&data, &g, None, &LogRankOptions::default())?;
            let el = t0.elapsed().as_secs_f64();
            let medians: Vec<String> = km
                .groups
                .iter()
                .map(|g| format!("{}:{:?}", g.group, g.median.time))
                .collect();
            println!(
                "elapsed_s={el:.6} check={:.10} medians={}",
                lr.chisq,
                medians.join(",")
            );
        }
        other => {
            return Err(usage(format!(
                "bench task '{other}': expected cox or km_lr"
            )));
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}

// ---------------------------------------------------------------- tables for people

/// `digits` significant digits, as R's print does, without trailing exponent noise.
fn sig(x: f64, digits: usize) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "NA".into()
        } else {
            "Inf".into()
        };
    }
    if x == 0.0 {
        return "0".into();
    }
    let mag = x.abs().log10().floor() as i32;
    if !(-5..=9).contains(&mag) {
        return format!("{:.*e}", digits.saturating_sub(1), x);
    }
    let decimals = (digits as i32 - 1 - mag).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn pval(p: f64) -> String {
    if p.is_nan() {
        "NA".into()
    } else if p < 2e-16 {
        "<2e-16".into()
    } else if p < 1e-4 {
        format!("{p:.2e}")
    } else {
        sig(p, 3)
    }
}

fn opt(x: Option<f64>, digits: usize) -> String {
    x.map(|v| sig(v, digits)).unwrap_or_else(|| "NA".into())
}

/// Right-aligned columns with a left-aligned first column.
fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let ncol = header.len();
    let mut w: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (j, c) in r.iter().enumerate().take(ncol) {
            w[j] = w[j].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<String>, out: &mut String| {
        for (j, c) in cells.iter().enumerate() {
            if j == 0 {
                let _ = write!(out, "{c:<width$}", width = w[0]);
            } else {
                let _ = write!(out, "  {c:>width$}", width = w[j]);
            }
        }
        out.push('\n');
    };
    line(header.iter().map(|s| s.to_string()).collect(), &mut out);
    for r in rows {
        line(r.clone(), &mut out);
    }
    out
}

fn cox_table(f: &CoxFit) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Cox proportional hazards (ties: {}{})\n  n = {}, events = {}, rows dropped (missing) = {}\n",
        f.ties,
        f.strata
            .map(|k| format!(", {k} strata"))
            .unwrap_or_default(),
        f.n,
        f.events,
        f.n_dropped
    );
    let rows: Vec<Vec<String>> = f
        .coefficients
        .iter()
        .map(|t| {
            vec![
                format!(
                    "{}{}{}",
                    t.term,
                    t.per
                        .map(|k| format!(" (per {})", sig(k, 6)))
                        .unwrap_or_default(),
                    if t.may_be_infinite { " (!)" } else { "" }
                ),
                sig(t.coef, 4),
                if t.may_be_infinite {
                    "diverges".to_string()
                } else {
                    sig(t.hr, 4)
                },
                sig(t.se, 4),
                sig(t.z, 3),
                pval(t.p),
            ]
        })
        .collect();
    s += &render(
        &["", "coef", "exp(coef)", "se(coef)", "z", "Pr(>|z|)"],
        &rows,
    );
    s.push('\n');
    let rows: Vec<Vec<String>> = f
        .coefficients
        .iter()
        .map(|t| {
            if t.may_be_infinite {
                // A diverging coefficient has no meaningful HR or interval: say so.
                let d = "diverges".to_string();
                return vec![t.term.clone(), d.clone(), d.clone(), d.clone(), d];
            }
            vec![
                t.term.clone(),
                sig(t.hr, 4),
                sig(1.0 / t.hr, 4),
                sig(t.ci_lower, 4),
                sig(t.ci_upper, 4),
            ]
        })
        .collect();
    s += &render(
        &["", "exp(coef)", "exp(-coef)", "lower .95", "upper .95"],
        &rows,
    );
    let _ = writeln!(
        s,
        "\nConcordance = {} (se = {})",
        sig(f.concordance.c, 3),
        sig(f.concordance.se, 3)
    );
    for (name, t) in [
        ("Likelihood ratio test", f.tests.lr),
        ("Wald test            ", f.tests.wald),
        ("Score (logrank) test ", f.tests.score),
    ] {
        let _ = writeln!(
            s,
            "{name} = {}  on {} df,   p = {}",
            sig(t.stat, 4),
            t.df,
            pval(t.p)
        );
    }
    let _ = writeln!(
        s,
        "Log-likelihood: null {}, model {} ({} iterations)",
        sig(f.loglik[0], 7),
        sig(f.loglik[1], 7),
        f.iterations
    );
    if let Some(z) = &f.zph {
        let _ = writeln!(
            s,
            "\nProportional hazards test (cox.zph, transform = \"{}\"):",
            z.transform
        );
        let rows: Vec<Vec<String>> = z
            .rows
            .iter()
            .map(|r| vec![r.term.clone(), sig(r.chisq, 4), r.df.to_string(), pval(r.p)])
            .collect();
        s += &render(&["", "chisq", "df", "p"], &rows);
    }
    if !f.warnings.is_empty() {
        s += "\nWarnings:\n";
        for w in &f.warnings {
            let _ = writeln!(s, "  - {w}");
        }
    }
    s
}

fn km_table(f: &KmFit, group: Option<&str>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Kaplan-Meier (conf.type = {}, 95% CI); rows dropped (missing) = {}\n",
        f.conf_type, f.n_dropped
    );
    let name = |g: &str| match group {
        Some(col) => format!("{col}={g}"),
        None => g.to_string(),
    };
    let has_rmst = f.groups.iter().any(|g| g.rmst.is_some());
    let mut header = vec!["", "n", "events", "median", "0.95LCL", "0.95UCL"];
    if has_rmst {
        header.extend(["rmean", "se(rmean)", "tau"]);
    }
    let rows: Vec<Vec<String>> = f
        .groups
        .iter()
        .map(|g| {
            let mut r = vec![
                name(&g.group),
                g.n.to_string(),
                g.events.to_string(),
                opt(g.median.time, 6),
                opt(g.median.lower, 6),
                opt(g.median.upper, 6),
            ];
            if has_rmst {
                match &g.rmst {
                    Some(m) => r.extend([sig(m.value, 5), sig(m.se, 4), sig(m.tau, 6)]),
                    None => r.extend(["NA".into(), "NA".into(), "NA".into()]),
                }
            }
            r
        })
        .collect();
    s += &render(&header, &rows);
    s += "(median NA = not reached)\n";
    for g in &f.groups {
        let _ = writeln!(s, "\n{}", name(&g.group));
        if !g.at_times.is_empty() {
            let rows: Vec<Vec<String>> = g
                .at_times
                .iter()
                .map(|a| {
                    vec![
                        sig(a.time, 6),
                        sig(a.n_risk, 9),
                        sig(a.surv, 4),
                        opt(a.std_err, 4),
                        opt(a.lower, 4),
                        opt(a.upper, 4),
                    ]
                })
                .collect();
            s += &render(
                &[
                    "time",
                    "n.risk",
                    "survival",
                    "std.err",
                    "lower 95% CI",
                    "upper 95% CI",
                ],
                &rows,
            );
        } else {
            let rows: Vec<Vec<String>> = g
                .table
                .iter()
                .filter(|r| r.n_event > 0.0)
                .map(|r| {
                    vec![
                        sig(r.time, 6),
                        sig(r.n_risk, 9),
                        sig(r.n_event, 9),
                        sig(r.surv, 4),
                        opt(r.std_err.map(|e| e * r.surv), 4),
                        opt(r.lower, 4),
                        opt(r.upper, 4),
                    ]
                })
                .collect();
            s += &render(
                &[
                    "time",
                    "n.risk",
                    "n.event",
                    "survival",
                    "std.err",
                    "lower 95% CI",
                    "upper 95% CI",
                ],
                &rows,
            );
        }
    }
    s
}

fn logrank_table(l: &LogRank, group: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}{}; rows dropped (missing) = {}\n",
        if l.rho == 0.0 {
            "Log-rank test".to_string()
        } else {
            format!("G-rho test (rho = {}, Peto-Peto)", sig(l.rho, 3))
        },
        if l.stratified { ", stratified" } else { "" },
        l.n_dropped
    );
    let rows: Vec<Vec<String>> = l
        .groups
        .iter()
        .enumerate()
        .map(|(k, g)| {
            let d = g.observed - g.expected;
            let v = l
                .var
                .get(k)
                .and_then(|r| r.get(k))
                .copied()
                .unwrap_or(f64::NAN);
            vec![
                format!("{group}={}", g.group),
                g.n.to_string(),
                sig(g.observed, 5),
                sig(g.expected, 5),
                sig(d * d / g.expected, 3),
                sig(d * d / v, 3),
            ]
        })
        .collect();
    s += &render(
        &["", "N", "Observed", "Expected", "(O-E)^2/E", "(O-E)^2/V"],
        &rows,
    );
    let _ = writeln!(
        s,
        "\n Chisq = {}  on {} degrees of freedom, p = {}",
        sig(l.chisq, 4),
        l.df,
        pval(l.p)
    );
    s
}
