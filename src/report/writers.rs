//! CSV and JSON text of the run's tables. Bytes only: the pipeline writes them with its
//! atomic-write helper. Column order is the serde field order of the row types, which is
//! the contract's column order (shared/interface.md §2–§5).

use serde::Serialize;
use serde_json::{Map, Value};

use super::input::{Analysis, EndpointResults, QuarantinedFile};

/// Why a table could not be turned into text.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot write {table} as CSV: {source}")]
    Csv {
        table: String,
        #[source]
        source: csv::Error,
    },
    #[error("cannot write {table} as JSON: {source}")]
    Json {
        table: String,
        #[source]
        source: serde_json::Error,
    },
}

/// `rows` as CSV with a header line (written even for zero rows when `header` is given,
/// so an empty table is still a valid table with the contract's columns).
pub fn csv_string<T: Serialize>(
    table: &str,
    header: &[&str],
    rows: &[T],
) -> Result<String, WriteError> {
    let err = |source| WriteError::Csv {
        table: table.to_string(),
        source,
    };
    let mut w = csv::WriterBuilder::new()
        .has_headers(!rows.is_empty())
        .from_writer(Vec::new());
    if rows.is_empty() && !header.is_empty() {
        w.write_record(header).map_err(err)?;
    }
    for r in rows {
        w.serialize(r).map_err(err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| err(csv::Error::from(e.into_error())))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The contract's columns, owned by the response stage that writes the rows.
pub const PATIENTS_HEADER: &[&str] = &crate::response::write::PATIENTS_HEADER;

/// The contract's columns, owned by the response stage that writes the rows.
pub const TIMEPOINTS_HEADER: &[&str] = &crate::response::write::TIMEPOINTS_HEADER;

pub const LESIONS_HEADER: &[&str] = &[
    "patient_id",
    "study_uid",
    "study_date",
    "source",
    "sop_instance_uid",
    "lesion_id",
    "label",
    "is_node",
    "organ",
    "long_axis_mm",
    "short_axis_mm",
    "slice_position_mm",
    "n_components",
    "la_x1",
    "la_y1",
    "la_z1",
    "la_x2",
    "la_y2",
    "la_z2",
    "slice_thickness_mm",
    "sa_x1",
    "sa_y1",
    "sa_z1",
    "sa_x2",
    "sa_y2",
    "sa_z2",
    "referenced_series_uid",
    "path",
];

pub const QUARANTINE_HEADER: &[&str] = &["path", "reason"];

/// `quarantine.csv`: one row per file the run could not use, sorted by path.
pub fn quarantine_csv(files: &[QuarantinedFile]) -> Result<String, WriteError> {
    let mut v: Vec<&QuarantinedFile> = files.iter().collect();
    v.sort_by(|a, b| a.path.cmp(&b.path).then_with(|| a.reason.cmp(&b.reason)));
    csv_string("quarantine.csv", QUARANTINE_HEADER, &v)
}

fn put<T: Serialize>(
    m: &mut Map<String, Value>,
    skipped: &mut Map<String, Value>,
    key: &str,
    a: &Analysis<T>,
) -> Result<(), serde_json::Error> {
    m.insert(key.to_string(), serde_json::to_value(a)?);
    if let Some(r) = a.reason() {
        skipped.insert(key.to_string(), Value::String(r.to_string()));
    }
    Ok(())
}

/// `survival.json` (shared/interface.md §5): `{"endpoints": {name: {...}}}` with every
/// analysis as its §4 object, or `null` when not computed; the reasons are in an extra
/// `not_computed` object per endpoint. Keys are sorted, so the text is deterministic.
pub fn survival_json(endpoints: &[EndpointResults]) -> Result<String, WriteError> {
    let build = || -> Result<Value, serde_json::Error> {
        let mut eps = Map::new();
        for ep in endpoints {
            let mut m = Map::new();
            let mut skipped = Map::new();
            m.insert("n".into(), Value::from(ep.n));
            m.insert("events".into(), Value::from(ep.events));
            put(&mut m, &mut skipped, "km_by_response", &ep.km_by_response)?;
            put(
                &mut m,
                &mut skipped,
                "logrank_by_response",
                &ep.logrank_by_response,
            )?;
            put(&mut m, &mut skipped, "cox_response", &ep.cox_response)?;
            put(&mut m, &mut skipped, "km_by_d_high", &ep.km_by_d_high)?;
            put(
                &mut m,
                &mut skipped,
                "logrank_by_d_high",
                &ep.logrank_by_d_high,
            )?;
            put(&mut m, &mut skipped, "cox_d_high", &ep.cox_d_high)?;
            put(
                &mut m,
                &mut skipped,
                "cox_d_continuous",
                &ep.cox_d_continuous,
            )?;
            put(
                &mut m,
                &mut skipped,
                "median_follow_up",
                &ep.median_follow_up,
            )?;
            if !ep.by_grouping.is_empty() {
                let mut groupings = Map::new();
                for (name, g) in &ep.by_grouping {
                    let mut gm = Map::new();
                    let mut gskipped = Map::new();
                    put(&mut gm, &mut gskipped, "km", &g.km)?;
                    put(&mut gm, &mut gskipped, "logrank", &g.logrank)?;
                    gm.insert("not_computed".into(), Value::Object(gskipped));
                    groupings.insert(name.clone(), Value::Object(gm));
                }
                m.insert("by_grouping".into(), Value::Object(groupings));
            }
            m.insert("not_computed".into(), Value::Object(skipped));
            eps.insert(ep.name.clone(), Value::Object(m));
        }
        let mut root = Map::new();
        root.insert("endpoints".into(), Value::Object(eps));
        Ok(Value::Object(root))
    };
    let err = |source| WriteError::Json {
        table: "survival.json".to_string(),
        source,
    };
    let v = build().map_err(err)?;
    let mut s = serde_json::to_string_pretty(&v).map_err(err)?;
    s.push('\n');
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::PatientRow;
    use crate::survival::MedianCi;

    #[test]
    fn patients_csv_has_contract_columns_and_empty_for_none() {
        let rows = vec![PatientRow {
            patient_id: "P,1".into(),
            n_timepoints: 2,
            baseline_sum_mm: Some(41.5),
            best_overall_response: "PR".into(),
            d_percent: None,
            d_high: None,
            evaluable: false,
            reason: "target L1 not evaluated at timepoint 1".into(),
        }];
        let s = csv_string("patients.csv", PATIENTS_HEADER, &rows).unwrap();
        let mut lines = s.lines();
        assert_eq!(lines.next().unwrap(), PATIENTS_HEADER.join(","));
        assert_eq!(
            lines.next().unwrap(),
            "\"P,1\",2,41.5,PR,,,false,target L1 not evaluated at timepoint 1"
        );
        let empty: Vec<PatientRow> = vec![];
        assert_eq!(
            csv_string("patients.csv", PATIENTS_HEADER, &empty).unwrap(),
            format!("{}\n", PATIENTS_HEADER.join(","))
        );
    }

    /// The header written for an empty table must be the one serde writes for a full one,
    /// or an empty shard would not merge with a full one.
    #[test]
    fn empty_table_headers_match_serde_headers() {
        use crate::report::LesionRow;
        use crate::response::TimepointRow;
        fn first_line<T: Serialize>(row: T) -> String {
            csv_string("t", &[], &[row])
                .unwrap()
                .lines()
                .next()
                .unwrap()
                .to_string()
        }
        assert_eq!(first_line(LesionRow::default()), LESIONS_HEADER.join(","));
        let tp = TimepointRow {
            patient_id: String::new(),
            timepoint: 0,
            study_date: String::new(),
            days_from_baseline: 0,
            sum_mm: None,
            baseline_sum_mm: None,
            nadir_mm: None,
            pct_change_from_baseline: None,
            target_response: String::new(),
            nontarget_response: String::new(),
            new_lesions: false,
            overall_response: String::new(),
        };
        assert_eq!(first_line(tp), TIMEPOINTS_HEADER.join(","));
        let q = QuarantinedFile {
            path: "a".into(),
            reason: "b".into(),
        };
        assert_eq!(first_line(q), QUARANTINE_HEADER.join(","));
    }

    #[test]
    fn survival_json_nulls_and_reasons() {
        let mut ep = EndpointResults::empty("os", "fewer than 2 events");
        ep.median_follow_up = Analysis::Computed(MedianCi {
            time: Some(12.0),
            lower: Some(10.0),
            upper: None,
        });
        let s = survival_json(&[ep]).unwrap();
        let v: Value = serde_json::from_str(&s).unwrap();
        assert!(v["endpoints"]["os"]["cox_d_high"].is_null());
        assert_eq!(
            v["endpoints"]["os"]["not_computed"]["cox_d_high"],
            "fewer than 2 events"
        );
        assert_eq!(v["endpoints"]["os"]["median_follow_up"]["time"], 12.0);
        assert!(v["endpoints"]["os"]["median_follow_up"]["upper"].is_null());
        assert!(
            v["endpoints"]["os"]["not_computed"]
                .get("median_follow_up")
                .is_none()
        );
    }
}
