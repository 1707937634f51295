//! `run.jsonl`: the structured log of every run, one JSON object per line, appended so the
//! history of nightly runs stays in one place. It is the only output that carries times;
//! every data file is a pure function of the inputs. It names patients by id only: no
//! names, birth dates or other header text ever reach it.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;

use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

pub struct RunLog {
    out: Mutex<Option<BufWriter<File>>>,
    run_id: String,
    pseudonymize: bool,
}

impl RunLog {
    /// Opens (appending) the log; `None` gives a log that discards events (used by tests
    /// and by commands that have no output folder).
    pub fn open(path: Option<&Path>) -> std::io::Result<RunLog> {
        let out = match path {
            Some(p) => Some(BufWriter::new(
                OpenOptions::new().create(true).append(true).open(p)?,
            )),
            None => None,
        };
        let run_id = format!(
            "{}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
            std::process::id()
        );
        Ok(RunLog {
            out: Mutex::new(out),
            run_id,
            pseudonymize: false,
        })
    }

    /// Log pseudonyms instead of patient ids (`--pseudonymize`).
    pub fn with_pseudonyms(mut self, on: bool) -> Self {
        self.pseudonymize = on;
        self
    }

    /// How a patient is named in the log: the id, or with `--pseudonymize` a stable
    /// pseudonym (`P-` + 12 hex digits of BLAKE3 of the id) that links the lines of one
    /// patient across nights without showing the id. It is not a secret: whoever has the
    /// id list can recompute it.
    pub fn patient(&self, id: &str) -> String {
        if self.pseudonymize {
            let h = blake3::hash(id.as_bytes()).to_hex();
            format!("P-{}", &h.as_str()[..12])
        } else {
            id.to_string()
        }
    }

    /// Whether patient ids are replaced (`--pseudonymize`): then paths that name a patient
    /// (key-image folders) are logged without that part.
    pub fn pseudonymizing(&self) -> bool {
        self.pseudonymize
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Writes one event. `fields` must be a JSON object (anything else is stored under
    /// `"data"`). Log failures are swallowed: a full disk must not turn into a lost run.
    pub fn event(&self, level: Level, event: &str, fields: Value) {
        let mut line = Map::new();
        line.insert(
            "ts".into(),
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        );
        line.insert("run".into(), Value::String(self.run_id.clone()));
        line.insert("level".into(), Value::String(level.as_str().into()));
        line.insert("event".into(), Value::String(event.into()));
        match fields {
            Value::Object(m) => line.extend(m),
            Value::Null => {}
            other => {
                line.insert("data".into(), other);
            }
        }
        let Ok(mut guard) = self.out.lock() else {
            return;
        };
        if let Some(w) = guard.as_mut() {
            let _ = serde_json::to_writer(&mut *w, &Value::Object(line));
            let _ = w.write_all(b"\n");
        }
    }

    pub fn info(&self, event: &str, fields: Value) {
        self.event(Level::Info, event, fields)
    }

    pub fn warn(&self, event: &str, fields: Value) {
        self.event(Level::Warn, event, fields)
    }

    pub fn flush(&self) {
        if let Ok(mut guard) = self.out.lock()
            && let Some(w) = guard.as_mut()
        {
            let _ = w.flush();
        }
    }
}

impl Drop for RunLog {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_and_hide_the_id() {
        let log = RunLog::open(None).unwrap().with_pseudonyms(true);
        let a = log.patient("DEMO-001");
        assert_eq!(a, log.patient("DEMO-001"));
        assert_ne!(a, log.patient("DEMO-002"));
        assert!(a.starts_with("P-") && a.len() == 14 && !a.contains("DEMO"));
        assert_eq!(RunLog::open(None).unwrap().patient("DEMO-001"), "DEMO-001");
    }

    #[test]
    fn appends_one_json_object_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("run.jsonl");
        for _ in 0..2 {
            let log = RunLog::open(Some(&p)).unwrap();
            log.info("start", serde_json::json!({"patients": 3}));
            log.warn(
                "quarantined",
                serde_json::json!({"path": "a/b.dcm", "reason": "truncated"}),
            );
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["event"], "start");
        assert_eq!(lines[0]["patients"], 3);
        assert_eq!(lines[1]["level"], "warn");
        assert_eq!(lines[1]["reason"], "truncated");
        assert!(lines[0]["ts"].as_str().unwrap().ends_with('Z'));
    }
}
