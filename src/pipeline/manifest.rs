//! The manifest: what the last runs saw and produced, so that tonight's run only redoes what
//! changed. One SQLite file in the output folder (`DIR/manifest.sqlite`), inspectable with
//! the `sqlite3` shell by whoever runs the server.
//!
//! # Model
//! - `files`: every file of the export by relative path, with size, mtime (ns), BLAKE3 of the
//!   content, and what it is: `indexed` (belongs to a study/patient), `ignored` (not DICOM),
//!   `quarantined` (with a reason) or `pending` (not looked at yet). The caller may attach an
//!   opaque per-file record (`meta`, e.g. its header index entry) so unchanged files are not
//!   re-read to rebuild `index.json`.
//! - `results`: one opaque blob per study (e.g. its lesion rows as JSON) with the study's
//!   *fingerprint* (BLAKE3 over the sorted `(path, content hash)` of its files) and the config
//!   hash that produced it.
//! - `images`: the key images drawn with a study's result (PNG blobs with the lesion they
//!   show), kept as blobs beside it rather than base64 inside it: an unchanged study's images
//!   are reused like its result, and go away with it, deleted or replaced (a trigger).
//!
//! A study is **dirty** when it has no result, when its fingerprint differs (a file was
//! added, changed or removed) or when the config hash differs; otherwise its stored result is
//! returned bit for bit. Because validity is re-derived from content each run rather than
//! from "what changed since last time" bookkeeping, a run killed at any point simply leaves
//! some studies dirty, and the next run redoes exactly those.
//!
//! # A run, in order
//! 1. [`Manifest::plan`] a fresh [`Scan`](crate::pipeline::scan::Scan): files are added /
//!    modified (size or mtime differ — the fast path trusts equal ones) / unchanged / removed.
//! 2. Index the headers of [`Plan::to_index`] (new, modified, and every quarantined or pending
//!    file — quarantined files are **always retried**, so a file fixed by `chmod` or re-sent
//!    from the PACS is picked up even when its mtime did not move) and tell the plan with
//!    [`Plan::set_indexed`] / [`Plan::set_ignored`] / [`Plan::set_quarantined`].
//! 3. [`Plan::hash_pending`] hashes the files of the studies this shard processes.
//! 4. [`Manifest::commit_files`]: one transaction.
//! 5. [`Manifest::studies`]: ready / still arriving / clean studies of this shard (and, when
//!    sharded, [`Manifest::retain_patients`] to drop patients that moved to another shard).
//! 6. For each ready study, between stop-flag checks: compute, then
//!    [`Manifest::store_result`] (one transaction per study).
//! 7. [`Manifest::results`] gives every stored result to write the outputs.
//!
//! # Crash safety
//! Rollback journal (`journal_mode=DELETE`) with `synchronous=FULL`, not WAL: output folders
//! on cluster file systems (NFS) are expected for sharded runs, and SQLite's WAL needs shared
//! memory that network file systems do not provide; there is only one writer anyway (the
//! output lock) and no concurrent reader to serve. A transaction interrupted by `kill -9` or a
//! power cut is rolled back from the hot journal on the next open. Schema changes bump
//! `PRAGMA user_version`; the manifest is a cache, so an older schema is rebuilt, a newer one
//! is refused (an older oncometry must not scribble over a newer one's state).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::keyimages::{SourceBy, StoredImage};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rayon::prelude::*;
use rusqlite::{Connection, OptionalExtension, params};

use crate::pipeline::scan::{self, FileStat, Scan, Skipped};
use crate::pipeline::signals::StopFlag;

/// File name of the manifest inside the output folder.
pub const MANIFEST_FILE: &str = "manifest.sqlite";

/// Version of the tables below (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 4;

/// Default stable age: a study whose newest file is younger is left for the next run
/// (Orthanc's `StableAge` idea; the PACS may still be sending it).
pub const DEFAULT_STABLE_AGE: Duration = Duration::from_secs(10 * 60);

/// A file's hash is trusted on an equal (size, mtime) only if its mtime was at least this
/// much older than the scan that hashed it (covers 2-second FAT/SMB mtime ticks).
const RACY_WINDOW_NS: i64 = 3_000_000_000;

const SCHEMA: &str = "
CREATE TABLE files (
    path        TEXT PRIMARY KEY NOT NULL,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    arrived_ns  INTEGER NOT NULL,
    checked_ns  INTEGER NOT NULL,
    hash        BLOB,
    status      TEXT NOT NULL CHECK (status IN ('pending','indexed','ignored','quarantined')),
    study_uid   TEXT,
    patient_id  TEXT,
    reason      TEXT,
    meta        BLOB
);
CREATE INDEX files_by_study ON files (study_uid);
CREATE TABLE results (
    study_uid   TEXT PRIMARY KEY NOT NULL,
    patient_id  TEXT NOT NULL,
    fingerprint BLOB NOT NULL,
    config_hash TEXT NOT NULL,
    result      BLOB NOT NULL,
    stored_at   TEXT NOT NULL
);
CREATE TABLE images (
    study_uid   TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    patient_id  TEXT NOT NULL,
    study_date  TEXT NOT NULL,
    lesion_id   TEXT NOT NULL,
    caption     TEXT NOT NULL,
    png         BLOB NOT NULL,
    source_uid  TEXT NOT NULL,
    source_by   TEXT NOT NULL,
    PRIMARY KEY (study_uid, seq)
);
CREATE TRIGGER results_drop_images AFTER DELETE ON results
BEGIN
    DELETE FROM images WHERE study_uid = OLD.study_uid;
END;
";

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{}: manifest error: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{}: the manifest is damaged ({detail}); delete it or run with --full", path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error("{}: written by a newer oncometry (schema {found}, this one knows {supported})", path.display())]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("{}: not an oncometry manifest (it has other tables)", path.display())]
    Foreign { path: PathBuf },
    #[error("{path}: not in this run's scan")]
    UnknownPath { path: String },
    #[error(
        "study {study_uid}: file {path} has no content hash; call Plan::hash_pending before Manifest::studies"
    )]
    Unhashed { study_uid: String, path: String },
}

/// What a file is, as far as the pipeline is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// Not looked at yet (new, modified, or a retry).
    Pending,
    /// A DICOM object of this study and patient.
    Indexed {
        study_uid: String,
        patient_id: String,
    },
    /// Not DICOM (a README, a thumbnail): counted, never processed.
    Ignored,
    /// DICOM-like but unusable; retried every run.
    Quarantined { reason: String },
}

impl FileState {
    fn status(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Indexed { .. } => "indexed",
            Self::Ignored => "ignored",
            Self::Quarantined { .. } => "quarantined",
        }
    }
}

/// A row of the `files` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    pub path: String,
    pub size: u64,
    pub mtime_ns: i64,
    /// max(mtime, ctime) as last scanned; what the stable age looks at.
    pub arrived_ns: i64,
    /// Start of the scan that last read this file's content.
    pub checked_ns: i64,
    pub hash: Option<[u8; 32]>,
    pub state: FileState,
    pub meta: Option<Vec<u8>>,
}

/// How a scanned file compares with the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    /// Size or mtime differ (or the stored hash was racy): re-read.
    Modified,
    Unchanged,
}

/// One scanned file in a [`Plan`]: its new record being built.
#[derive(Debug, Clone)]
pub struct PlanEntry {
    pub change: Change,
    pub record: FileRecord,
    pub previous: Option<FileRecord>,
}

/// Files present before whose content was read again and found different, etc.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileDiff {
    pub added: Vec<String>,
    /// Content differs (or could not be compared: not hashed in this shard).
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    /// Same content (including files only `touch`ed).
    pub unchanged: Vec<String>,
}

/// A file the run could not use, for `quarantine.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineRow {
    pub path: String,
    pub reason: String,
}

/// Tonight's view of the export against the manifest; see the module docs for the order.
#[derive(Debug, Clone)]
pub struct Plan {
    root: PathBuf,
    entries: Vec<PlanEntry>,
    removed: Vec<FileRecord>,
    skipped: Vec<Skipped>,
}

/// What [`Plan::hash_pending`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HashReport {
    pub hashed: usize,
    pub bytes: u64,
    /// Files that could not be read and were quarantined.
    pub failed: usize,
}

impl Plan {
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// All scanned files, sorted by path.
    pub fn entries(&self) -> &[PlanEntry] {
        &self.entries
    }

    /// Files in the manifest that are gone from the export.
    pub fn removed(&self) -> &[FileRecord] {
        &self.removed
    }

    /// Paths the walk skipped (symlinks out of the export, unreadable folders, ...).
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// Files whose header must be read (state `Pending`), in path order.
    pub fn to_index(&self) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|e| e.record.state == FileState::Pending)
            .map(|e| e.record.path.as_str())
            .collect()
    }

    fn entry_mut(&mut self, path: &str) -> Result<&mut PlanEntry, ManifestError> {
        match self
            .entries
            .binary_search_by(|e| e.record.path.as_str().cmp(path))
        {
            Ok(i) => Ok(&mut self.entries[i]),
            Err(_) => Err(ManifestError::UnknownPath {
                path: path.to_string(),
            }),
        }
    }

    /// Records that `path` is a DICOM object of this study and patient; `meta` is kept
    /// verbatim for later runs.
    pub fn set_indexed(
        &mut self,
        path: &str,
        study_uid: &str,
        patient_id: &str,
        meta: Option<Vec<u8>>,
    ) -> Result<(), ManifestError> {
        let e = self.entry_mut(path)?;
        e.record.state = FileState::Indexed {
            study_uid: study_uid.to_string(),
            patient_id: patient_id.to_string(),
        };
        e.record.meta = meta;
        Ok(())
    }

    pub fn set_ignored(&mut self, path: &str) -> Result<(), ManifestError> {
        let e = self.entry_mut(path)?;
        e.record.state = FileState::Ignored;
        e.record.meta = None;
        Ok(())
    }

    pub fn set_quarantined(&mut self, path: &str, reason: &str) -> Result<(), ManifestError> {
        let e = self.entry_mut(path)?;
        e.record.state = FileState::Quarantined {
            reason: reason.to_string(),
        };
        e.record.meta = None;
        Ok(())
    }

    /// The patient of each indexed study: that of its first file in path order.
    fn study_patients(&self) -> BTreeMap<&str, &str> {
        let mut m = BTreeMap::new();
        for e in &self.entries {
            if let FileState::Indexed {
                study_uid,
                patient_id,
            } = &e.record.state
            {
                m.entry(study_uid.as_str()).or_insert(patient_id.as_str());
            }
        }
        m
    }

    /// Hashes (in parallel) every indexed file without a hash whose study's patient passes
    /// `want` (the shard filter; `|_| true` for an unsharded run). Files that cannot be read
    /// are quarantined. Stops early, leaving the rest unhashed, once `stop` is set — the
    /// caller should then commit what was done and exit.
    pub fn hash_pending(
        &mut self,
        want: &(dyn Fn(&str) -> bool + Sync),
        stop: &StopFlag,
    ) -> HashReport {
        let wanted: HashSet<String> = self
            .study_patients()
            .into_iter()
            .filter(|(_, p)| want(p))
            .map(|(s, _)| s.to_string())
            .collect();
        let root = self.root.clone();
        let outcomes: Vec<(usize, Result<[u8; 32], String>)> = self
            .entries
            .par_iter()
            .enumerate()
            .filter(|(_, e)| {
                e.record.hash.is_none()
                    && matches!(&e.record.state, FileState::Indexed { study_uid, .. } if wanted.contains(study_uid))
            })
            .filter_map(|(i, e)| {
                if stop.should_stop() {
                    return None;
                }
                let r = scan::hash_file(&root.join(&e.record.path))
                    .map_err(|err| format!("cannot read: {err}"));
                Some((i, r))
            })
            .collect();
        let mut report = HashReport::default();
        for (i, r) in outcomes {
            let e = &mut self.entries[i];
            match r {
                Ok(h) => {
                    e.record.hash = Some(h);
                    report.hashed += 1;
                    report.bytes += e.record.size;
                }
                Err(reason) => {
                    e.record.state = FileState::Quarantined { reason };
                    e.record.meta = None;
                    report.failed += 1;
                }
            }
        }
        report
    }

    /// Added / changed / removed / unchanged files, by content where hashes are known.
    pub fn diff(&self) -> FileDiff {
        let mut d = FileDiff::default();
        for e in &self.entries {
            let p = e.record.path.clone();
            match (e.change, &e.previous) {
                (Change::Added, _) | (_, None) => d.added.push(p),
                (Change::Unchanged, Some(_)) => d.unchanged.push(p),
                (Change::Modified, Some(prev)) => match (prev.hash, e.record.hash) {
                    (Some(a), Some(b)) if a == b => d.unchanged.push(p),
                    _ => d.changed.push(p),
                },
            }
        }
        d.removed = self.removed.iter().map(|r| r.path.clone()).collect();
        d
    }

    /// Skipped paths and quarantined files, sorted by path: the rows of `quarantine.csv`.
    pub fn quarantine_rows(&self) -> Vec<QuarantineRow> {
        let mut rows: Vec<QuarantineRow> = self
            .skipped
            .iter()
            .map(|s| QuarantineRow {
                path: s.path.clone(),
                reason: s.reason.clone(),
            })
            .chain(self.entries.iter().filter_map(|e| match &e.record.state {
                FileState::Quarantined { reason } => Some(QuarantineRow {
                    path: e.record.path.clone(),
                    reason: reason.clone(),
                }),
                _ => None,
            }))
            .collect();
        rows.sort_by(|a, b| a.path.cmp(&b.path));
        rows
    }
}

/// Why a study must be (re)computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirtyReason {
    /// No stored result.
    New,
    /// A file was added, changed or removed.
    FilesChanged,
    /// Same files, different config hash (or oncometry version).
    ConfigChanged,
}

/// A study to compute (or held back because still arriving).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudyWork {
    pub study_uid: String,
    pub patient_id: String,
    pub fingerprint: [u8; 32],
    /// Its indexed files, relative paths in order.
    pub files: Vec<String>,
    /// The latest arrival (max of mtime and ctime) among its files, ns since the epoch.
    pub newest_arrival_ns: i64,
    pub reason: DirtyReason,
}

/// A study whose stored result is still valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanStudy {
    pub study_uid: String,
    pub patient_id: String,
}

/// This shard's studies, each list sorted by (patient, study).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StudyPlan {
    /// Dirty and stable: compute now.
    pub ready: Vec<StudyWork>,
    /// Dirty but its newest file is younger than the stable age: next run. Its previous
    /// result, if any, stays stored and in the outputs meanwhile.
    pub still_arriving: Vec<StudyWork>,
    pub clean: Vec<CleanStudy>,
    /// Studies of patients in other shards.
    pub out_of_shard: usize,
}

/// A stored key image and the study it belongs to (`Manifest::images_where`).
#[derive(Debug, Clone, PartialEq)]
pub struct StudyImage {
    pub study_uid: String,
    /// The patient of the study's result, which orders the images (and decides the
    /// shard); the image's own `patient_id` is the one its annotation object carried.
    pub patient_id: String,
    pub image: StoredImage,
}

/// A stored per-study result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResult {
    pub study_uid: String,
    pub patient_id: String,
    pub fingerprint: [u8; 32],
    pub config_hash: String,
    pub result: Vec<u8>,
    /// RFC 3339 UTC.
    pub stored_at: String,
}

/// What [`Manifest::commit_files`] changed besides the files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitReport {
    /// Rows written (new or different).
    pub files_written: usize,
    pub files_removed: usize,
    /// Studies that have no file left: their results were deleted.
    pub removed_studies: Vec<String>,
}

/// An open manifest.
#[derive(Debug)]
pub struct Manifest {
    conn: Connection,
    path: PathBuf,
}

impl Manifest {
    /// Opens (or creates) the manifest at `path`.
    pub fn open(path: &Path) -> Result<Self, ManifestError> {
        let conn = Connection::open(path).map_err(|e| sqlite(path, e))?;
        let m = Self {
            conn,
            path: path.to_path_buf(),
        };
        m.conn
            .busy_timeout(Duration::from_secs(10))
            .map_err(|e| m.err(e))?;
        // journal_mode returns a row; reading it is also the first access that detects a
        // file that is not a database.
        let mode: String = m
            .conn
            .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
            .map_err(|e| m.err(e))?;
        if !mode.eq_ignore_ascii_case("delete") {
            return Err(ManifestError::Corrupt {
                path: m.path.clone(),
                detail: format!("journal mode stays {mode}"),
            });
        }
        // recursive_triggers: SQLite fires delete triggers for the rows an INSERT OR
        // REPLACE removes only with it on, so a replaced result drops its images through
        // the same trigger as a deleted one.
        m.conn
            .execute_batch("PRAGMA synchronous = FULL; PRAGMA recursive_triggers = ON;")
            .map_err(|e| m.err(e))?;
        m.ensure_schema()?;
        Ok(m)
    }

    /// Deletes the manifest file (and a leftover journal) and creates an empty one: the cure
    /// for a [`ManifestError::Corrupt`] manifest, and what `--full` may do.
    pub fn recreate(path: &Path) -> Result<Self, ManifestError> {
        for p in [
            path.to_path_buf(),
            PathBuf::from(format!("{}-journal", path.display())),
        ] {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(sqlite(
                        path,
                        rusqlite::Error::SqliteFailure(
                            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                            Some(format!("cannot delete {}: {e}", p.display())),
                        ),
                    ));
                }
            }
        }
        Self::open(path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: rusqlite::Error) -> ManifestError {
        sqlite(&self.path, e)
    }

    fn ensure_schema(&self) -> Result<(), ManifestError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        if version > SCHEMA_VERSION {
            return Err(ManifestError::NewerSchema {
                path: self.path.clone(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let tables: Vec<String> = {
            let mut st = self
                .conn
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
                .map_err(|e| self.err(e))?;
            st.query_map([], |r| r.get(0))
                .and_then(|rows| rows.collect())
                .map_err(|e| self.err(e))?
        };
        if version == 0 && !tables.is_empty() {
            return Err(ManifestError::Foreign {
                path: self.path.clone(),
            });
        }
        // Empty, or an older schema of ours: the manifest is a cache, rebuild it.
        let mut sql = String::from("BEGIN IMMEDIATE;");
        for t in &tables {
            sql.push_str(&format!(
                "DROP TABLE IF EXISTS \"{}\";",
                t.replace('"', "\"\"")
            ));
        }
        sql.push_str(SCHEMA);
        sql.push_str(&format!("PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"));
        self.conn.execute_batch(&sql).map_err(|e| self.err(e))
    }

    /// `--full`: forget every file and result (one transaction).
    pub fn clear(&mut self) -> Result<(), ManifestError> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE; DELETE FROM files; DELETE FROM results; COMMIT;")
            .map_err(|e| self.err(e))
    }

    /// SQLite's own consistency check (`PRAGMA integrity_check`).
    pub fn integrity_check(&self) -> Result<(), ManifestError> {
        let mut st = self
            .conn
            .prepare("PRAGMA integrity_check")
            .map_err(|e| self.err(e))?;
        let lines: Vec<String> = st
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        if lines.len() == 1 && lines[0] == "ok" {
            Ok(())
        } else {
            Err(ManifestError::Corrupt {
                path: self.path.clone(),
                detail: lines.join("; "),
            })
        }
    }

    /// Every file record, sorted by path.
    pub fn files(&self) -> Result<Vec<FileRecord>, ManifestError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT path, size, mtime_ns, arrived_ns, checked_ns, hash, status, study_uid,
                        patient_id, reason, meta FROM files ORDER BY path",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], read_file_row)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// Compares a scan with the manifest (read-only).
    pub fn plan(&self, scan: Scan) -> Result<Plan, ManifestError> {
        let mut previous: HashMap<String, FileRecord> = self
            .files()?
            .into_iter()
            .map(|r| (r.path.clone(), r))
            .collect();
        let mut entries = Vec::with_capacity(scan.files.len());
        for stat in scan.files {
            let FileStat {
                size,
                mtime_ns,
                arrived_ns,
                ..
            } = stat;
            let prev = previous.remove(&stat.path);
            let (change, record) = match &prev {
                None => (Change::Added, fresh(stat, scan.started_ns)),
                Some(p)
                    if p.size == size
                        && p.mtime_ns == mtime_ns
                        && mtime_ns.saturating_add(RACY_WINDOW_NS) <= p.checked_ns =>
                {
                    let mut r = p.clone();
                    r.arrived_ns = arrived_ns;
                    if matches!(r.state, FileState::Quarantined { .. }) {
                        // Always retried (see the module docs).
                        r.state = FileState::Pending;
                    }
                    (Change::Unchanged, r)
                }
                Some(_) => (Change::Modified, fresh(stat, scan.started_ns)),
            };
            entries.push(PlanEntry {
                change,
                record,
                previous: prev,
            });
        }
        let mut removed: Vec<FileRecord> = previous.into_values().collect();
        removed.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Plan {
            root: scan.root,
            entries,
            removed,
            skipped: scan.skipped,
        })
    }

    /// Makes the `files` table equal to the plan and deletes the results of studies left with
    /// no file, in one transaction.
    pub fn commit_files(&mut self, plan: &Plan) -> Result<CommitReport, ManifestError> {
        let path = self.path.clone();
        let e = |err| sqlite(&path, err);
        let tx = self.conn.transaction().map_err(e)?;
        let mut report = CommitReport::default();
        {
            let mut del = tx.prepare("DELETE FROM files WHERE path = ?1").map_err(e)?;
            for r in &plan.removed {
                report.files_removed += del.execute([&r.path]).map_err(e)?;
            }
            let mut put = tx
                .prepare(
                    "INSERT OR REPLACE INTO files (path, size, mtime_ns, arrived_ns, checked_ns, hash,
                        status, study_uid, patient_id, reason, meta)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .map_err(e)?;
            for entry in &plan.entries {
                if entry.previous.as_ref() == Some(&entry.record) {
                    continue;
                }
                let r = &entry.record;
                let (study, patient, reason) = match &r.state {
                    FileState::Indexed {
                        study_uid,
                        patient_id,
                    } => (Some(study_uid.as_str()), Some(patient_id.as_str()), None),
                    FileState::Quarantined { reason } => (None, None, Some(reason.as_str())),
                    FileState::Pending | FileState::Ignored => (None, None, None),
                };
                put.execute(params![
                    r.path,
                    i64::try_from(r.size).unwrap_or(i64::MAX),
                    r.mtime_ns,
                    r.arrived_ns,
                    r.checked_ns,
                    r.hash.as_ref().map(|h| h.as_slice()),
                    r.state.status(),
                    study,
                    patient,
                    reason,
                    r.meta,
                ])
                .map_err(e)?;
                report.files_written += 1;
            }
            let mut gone = tx
                .prepare(
                    "SELECT study_uid FROM results WHERE study_uid NOT IN
                        (SELECT study_uid FROM files WHERE status = 'indexed')
                     ORDER BY study_uid",
                )
                .map_err(e)?;
            report.removed_studies = gone
                .query_map([], |r| r.get(0))
                .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
                .map_err(e)?;
            let mut drop_result = tx
                .prepare("DELETE FROM results WHERE study_uid = ?1")
                .map_err(e)?;
            for s in &report.removed_studies {
                drop_result.execute([s]).map_err(e)?;
            }
        }
        tx.commit().map_err(e)?;
        Ok(report)
    }

    /// Sorts this shard's studies into ready / still arriving / clean (after
    /// [`Manifest::commit_files`]). `want` is the shard filter on patient IDs.
    pub fn studies(
        &self,
        config_hash: &str,
        now: SystemTime,
        stable_age: Duration,
        want: &dyn Fn(&str) -> bool,
    ) -> Result<StudyPlan, ManifestError> {
        struct Acc {
            patient: String,
            files: Vec<String>,
            hasher: blake3::Hasher,
            newest: i64,
        }
        let mut studies: BTreeMap<String, Acc> = BTreeMap::new();
        // Same columns as `files()`, without the (possibly large) per-file meta blobs.
        let indexed: Vec<FileRecord> = {
            let mut st = self
                .conn
                .prepare(
                    "SELECT path, size, mtime_ns, arrived_ns, checked_ns, hash, status, study_uid,
                            patient_id, reason, NULL FROM files
                     WHERE status = 'indexed' ORDER BY path",
                )
                .map_err(|e| self.err(e))?;
            st.query_map([], read_file_row)
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(|e| self.err(e))?
        };
        for r in indexed {
            let FileState::Indexed {
                study_uid,
                patient_id,
            } = r.state
            else {
                continue;
            };
            let acc = studies.entry(study_uid.clone()).or_insert_with(|| Acc {
                patient: patient_id,
                files: Vec::new(),
                hasher: blake3::Hasher::new(),
                newest: i64::MIN,
            });
            // Only this shard's studies need their content hashes.
            if want(&acc.patient) {
                let Some(h) = r.hash else {
                    return Err(ManifestError::Unhashed {
                        study_uid,
                        path: r.path,
                    });
                };
                acc.hasher.update(&(r.path.len() as u64).to_le_bytes());
                acc.hasher.update(r.path.as_bytes());
                acc.hasher.update(&h);
            }
            acc.newest = acc.newest.max(r.arrived_ns);
            acc.files.push(r.path);
        }
        let stored: HashMap<String, ([u8; 32], String)> = {
            let mut st = self
                .conn
                .prepare("SELECT study_uid, fingerprint, config_hash FROM results")
                .map_err(|e| self.err(e))?;
            st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    (blob32(r.get::<_, Vec<u8>>(1)?, 1)?, r.get::<_, String>(2)?),
                ))
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?
        };
        let horizon = scan::system_time_ns(now)
            .saturating_sub(i64::try_from(stable_age.as_nanos()).unwrap_or(i64::MAX));
        let mut plan = StudyPlan::default();
        for (study_uid, acc) in studies {
            if !want(&acc.patient) {
                plan.out_of_shard += 1;
                continue;
            }
            let fingerprint = *acc.hasher.finalize().as_bytes();
            let reason = match stored.get(&study_uid) {
                None => Some(DirtyReason::New),
                Some((fp, _)) if *fp != fingerprint => Some(DirtyReason::FilesChanged),
                Some((_, cfg)) if cfg != config_hash => Some(DirtyReason::ConfigChanged),
                Some(_) => None,
            };
            match reason {
                None => plan.clean.push(CleanStudy {
                    study_uid,
                    patient_id: acc.patient,
                }),
                Some(reason) => {
                    let work = StudyWork {
                        study_uid,
                        patient_id: acc.patient,
                        fingerprint,
                        files: acc.files,
                        newest_arrival_ns: acc.newest,
                        reason,
                    };
                    if work.newest_arrival_ns > horizon {
                        plan.still_arriving.push(work);
                    } else {
                        plan.ready.push(work);
                    }
                }
            }
        }
        let key = |p: &str, s: &str| (p.to_string(), s.to_string());
        plan.ready.sort_by_key(|w| key(&w.patient_id, &w.study_uid));
        plan.still_arriving
            .sort_by_key(|w| key(&w.patient_id, &w.study_uid));
        plan.clean.sort_by_key(|c| key(&c.patient_id, &c.study_uid));
        Ok(plan)
    }

    /// Stores a study's result with the fingerprint it was computed from (one transaction).
    pub fn store_result(
        &mut self,
        work: &StudyWork,
        config_hash: &str,
        result: &[u8],
    ) -> Result<(), ManifestError> {
        self.store_results(&[(work, result.to_vec(), Vec::new())], config_hash)
    }

    /// Stores several studies' results in one transaction (all or none): a run stores a
    /// chunk of studies at a time so that one fsync covers many studies.
    pub fn store_results(
        &mut self,
        items: &[(&StudyWork, Vec<u8>, Vec<StoredImage>)],
        config_hash: &str,
    ) -> Result<(), ManifestError> {
        let path = self.path.clone();
        let e = |err| sqlite(&path, err);
        let tx = self.conn.transaction().map_err(e)?;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        {
            let mut put = tx
                .prepare(
                    "INSERT OR REPLACE INTO results
                        (study_uid, patient_id, fingerprint, config_hash, result, stored_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(e)?;
            let mut put_image = tx
                .prepare(
                    "INSERT INTO images
                        (study_uid, seq, patient_id, study_date, lesion_id, caption, png,
                         source_uid, source_by)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(e)?;
            for (work, result, images) in items {
                put.execute(params![
                    work.study_uid,
                    work.patient_id,
                    work.fingerprint.as_slice(),
                    config_hash,
                    result,
                    now,
                ])
                .map_err(e)?;
                for (seq, i) in images.iter().enumerate() {
                    put_image
                        .execute(params![
                            work.study_uid,
                            seq as i64,
                            i.patient_id,
                            i.study_date,
                            i.lesion_id,
                            i.caption,
                            i.png,
                            i.source_sop_instance_uid,
                            i.source_by.map_or("", SourceBy::as_str),
                        ])
                        .map_err(e)?;
                }
            }
        }
        tx.commit().map_err(e)
    }

    /// The stored key images of the studies `want` accepts (by Study Instance UID), by
    /// (patient, study) then in the order stored. The patient is that of the study's
    /// result (`results`), which decides order and shard, not the PatientID an annotation
    /// object carried. A run passes over the studies it has just measured: their images
    /// are still in memory, and their PNGs are never read from disk (SQLite reads a row's
    /// overflow pages only for the columns asked for).
    pub fn images_where(
        &self,
        want: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<StudyImage>, ManifestError> {
        // Sorted here, not by an ORDER BY: SQLite would copy every PNG through a temporary
        // B-tree to sort the rows (a third of reading them back on the 200-patient bench).
        let mut st = self
            .conn
            .prepare(
                "SELECT i.study_uid, r.patient_id, i.seq, i.patient_id, i.study_date,
                        i.lesion_id, i.caption, i.png, i.source_uid, i.source_by
                 FROM images i JOIN results r USING (study_uid)",
            )
            .map_err(|e| self.err(e))?;
        let rows: Vec<Option<(i64, StudyImage)>> = st
            .query_map([], |r| {
                let study_uid: String = r.get(0)?;
                if !want(&study_uid) {
                    return Ok(None);
                }
                Ok(Some((
                    r.get(2)?,
                    StudyImage {
                        study_uid,
                        patient_id: r.get(1)?,
                        image: StoredImage {
                            patient_id: r.get(3)?,
                            study_date: r.get(4)?,
                            lesion_id: r.get(5)?,
                            caption: r.get(6)?,
                            png: r.get(7)?,
                            source_sop_instance_uid: r.get(8)?,
                            source_by: SourceBy::parse(&r.get::<_, String>(9)?),
                        },
                    },
                )))
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        let mut rows: Vec<(i64, StudyImage)> = rows.into_iter().flatten().collect();
        // (patient, study, seq) is unique, so the order is total; String's order is
        // SQLite's BINARY collation (bytes).
        rows.sort_unstable_by(|(sa, a), (sb, b)| {
            (&a.patient_id, &a.study_uid, sa).cmp(&(&b.patient_id, &b.study_uid, sb))
        });
        Ok(rows.into_iter().map(|(_, image)| image).collect())
    }

    /// Deletes the stored results of patients `want` rejects (one transaction) and returns
    /// their study UIDs. Call it in a sharded run: if the shard count changed since the
    /// folder was last used, patients that now belong to another shard must leave this
    /// shard's outputs, or `merge` would see them twice.
    pub fn retain_patients(
        &mut self,
        want: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<String>, ManifestError> {
        let path = self.path.clone();
        let e = |err| sqlite(&path, err);
        let tx = self.conn.transaction().map_err(e)?;
        let mut dropped = Vec::new();
        {
            let mut st = tx
                .prepare("SELECT study_uid, patient_id FROM results ORDER BY study_uid")
                .map_err(e)?;
            let rows: Vec<(String, String)> = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .and_then(|rows| rows.collect())
                .map_err(e)?;
            let mut del = tx
                .prepare("DELETE FROM results WHERE study_uid = ?1")
                .map_err(e)?;
            for (study, patient) in rows {
                if !want(&patient) {
                    del.execute([&study]).map_err(e)?;
                    dropped.push(study);
                }
            }
        }
        tx.commit().map_err(e)?;
        Ok(dropped)
    }

    /// One study's stored result.
    pub fn load_result(&self, study_uid: &str) -> Result<Option<StoredResult>, ManifestError> {
        self.conn
            .query_row(
                "SELECT study_uid, patient_id, fingerprint, config_hash, result, stored_at
                 FROM results WHERE study_uid = ?1",
                [study_uid],
                read_result_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Every stored result, sorted by (patient, study): the input of the output writers.
    pub fn results(&self) -> Result<Vec<StoredResult>, ManifestError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT study_uid, patient_id, fingerprint, config_hash, result, stored_at
                 FROM results",
            )
            .map_err(|e| self.err(e))?;
        let mut rows: Vec<StoredResult> = st
            .query_map([], read_result_row)
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        // Sorted here, as `images` is: an ORDER BY would sort the result blobs too.
        rows.sort_unstable_by(|a, b| {
            (&a.patient_id, &a.study_uid).cmp(&(&b.patient_id, &b.study_uid))
        });
        Ok(rows)
    }

    /// Quarantined files as of the last [`Manifest::commit_files`], sorted by path.
    pub fn quarantined(&self) -> Result<Vec<QuarantineRow>, ManifestError> {
        let mut st = self
            .conn
            .prepare("SELECT path, reason FROM files WHERE status = 'quarantined' ORDER BY path")
            .map_err(|e| self.err(e))?;
        st.query_map([], |r| {
            Ok(QuarantineRow {
                path: r.get(0)?,
                reason: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| self.err(e))
    }
}

fn fresh(stat: FileStat, checked_ns: i64) -> FileRecord {
    FileRecord {
        path: stat.path,
        size: stat.size,
        mtime_ns: stat.mtime_ns,
        arrived_ns: stat.arrived_ns,
        checked_ns,
        hash: None,
        state: FileState::Pending,
        meta: None,
    }
}

fn sqlite(path: &Path, source: rusqlite::Error) -> ManifestError {
    let corrupt = matches!(
        source.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    );
    if corrupt {
        ManifestError::Corrupt {
            path: path.to_path_buf(),
            detail: source.to_string(),
        }
    } else {
        ManifestError::Sqlite {
            path: path.to_path_buf(),
            source,
        }
    }
}

fn blob32(v: Vec<u8>, col: usize) -> rusqlite::Result<[u8; 32]> {
    <[u8; 32]>::try_from(v.as_slice()).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            col,
            rusqlite::types::Type::Blob,
            format!("expected 32 bytes, found {}", v.len()).into(),
        )
    })
}

fn read_file_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FileRecord> {
    let status: String = r.get(6)?;
    let state = match status.as_str() {
        "indexed" => FileState::Indexed {
            study_uid: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
            patient_id: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
        },
        "ignored" => FileState::Ignored,
        "quarantined" => FileState::Quarantined {
            reason: r.get::<_, Option<String>>(9)?.unwrap_or_default(),
        },
        _ => FileState::Pending,
    };
    Ok(FileRecord {
        path: r.get(0)?,
        size: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
        mtime_ns: r.get(2)?,
        arrived_ns: r.get(3)?,
        checked_ns: r.get(4)?,
        hash: r
            .get::<_, Option<Vec<u8>>>(5)?
            .map(|v| blob32(v, 5))
            .transpose()?,
        state,
        meta: r.get(10)?,
    })
}

fn read_result_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredResult> {
    Ok(StoredResult {
        study_uid: r.get(0)?,
        patient_id: r.get(1)?,
        fingerprint: blob32(r.get(2)?, 2)?,
        config_hash: r.get(3)?,
        result: r.get(4)?,
        stored_at: r.get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_of(root: &Path, files: &[(&str, u64, i64)], started_ns: i64) -> Scan {
        Scan {
            root: root.to_path_buf(),
            files: files
                .iter()
                .map(|&(p, size, mtime_ns)| FileStat {
                    path: p.to_string(),
                    size,
                    mtime_ns,
                    arrived_ns: mtime_ns,
                })
                .collect(),
            skipped: Vec::new(),
            started_ns,
        }
    }

    const S: i64 = 1_000_000_000;

    #[test]
    fn racily_clean_files_are_reread() {
        let d = tempfile::tempdir().unwrap();
        let mut m = Manifest::open(&d.path().join(MANIFEST_FILE)).unwrap();
        // "old" was modified long before the scan, "racy" one second before it.
        let first = scan_of(
            d.path(),
            &[("old", 1, 100 * S), ("racy", 1, 199 * S)],
            200 * S,
        );
        let mut plan = m.plan(first).unwrap();
        plan.set_ignored("old").unwrap();
        plan.set_ignored("racy").unwrap();
        m.commit_files(&plan).unwrap();
        let again = scan_of(
            d.path(),
            &[("old", 1, 100 * S), ("racy", 1, 199 * S)],
            900 * S,
        );
        let plan = m.plan(again).unwrap();
        let changes: Vec<Change> = plan.entries().iter().map(|e| e.change).collect();
        assert_eq!(changes, vec![Change::Unchanged, Change::Modified]);
        assert_eq!(plan.to_index(), vec!["racy"]);
        assert_eq!(plan.diff().changed, vec!["racy"], "no hash to compare with");
    }

    #[test]
    fn unknown_paths_and_unhashed_studies_are_errors() {
        let d = tempfile::tempdir().unwrap();
        let mut m = Manifest::open(&d.path().join(MANIFEST_FILE)).unwrap();
        let mut plan = m.plan(scan_of(d.path(), &[("a", 1, S)], 100 * S)).unwrap();
        assert!(matches!(
            plan.set_ignored("nope"),
            Err(ManifestError::UnknownPath { .. })
        ));
        plan.set_indexed("a", "S1", "P1", None).unwrap();
        m.commit_files(&plan).unwrap();
        let err = m
            .studies("c", SystemTime::now(), DEFAULT_STABLE_AGE, &|_| true)
            .unwrap_err();
        assert!(matches!(err, ManifestError::Unhashed { .. }), "{err}");
        // Another shard's study needs no hash.
        let sp = m
            .studies("c", SystemTime::now(), DEFAULT_STABLE_AGE, &|_| false)
            .unwrap();
        assert_eq!(sp.out_of_shard, 1);
    }

    #[test]
    fn newer_foreign_and_corrupt_files_are_refused_and_recreate_cures() {
        let d = tempfile::tempdir().unwrap();
        let newer = d.path().join("newer.sqlite");
        {
            let c = Connection::open(&newer).unwrap();
            c.execute_batch("PRAGMA user_version = 99;").unwrap();
        }
        assert!(matches!(
            Manifest::open(&newer),
            Err(ManifestError::NewerSchema { found: 99, .. })
        ));
        let foreign = d.path().join("foreign.sqlite");
        {
            let c = Connection::open(&foreign).unwrap();
            c.execute_batch("CREATE TABLE t (x);").unwrap();
        }
        assert!(matches!(
            Manifest::open(&foreign),
            Err(ManifestError::Foreign { .. })
        ));
        let junk = d.path().join("junk.sqlite");
        std::fs::write(&junk, vec![0x5a; 8192]).unwrap();
        let err = Manifest::open(&junk).unwrap_err();
        assert!(matches!(err, ManifestError::Corrupt { .. }), "{err}");
        let m = Manifest::recreate(&junk).unwrap();
        m.integrity_check().unwrap();
        assert!(m.files().unwrap().is_empty());
    }

    #[test]
    fn clear_forgets_files_and_results() {
        let d = tempfile::tempdir().unwrap();
        let mut m = Manifest::open(&d.path().join(MANIFEST_FILE)).unwrap();
        let mut plan = m.plan(scan_of(d.path(), &[("a", 1, S)], 100 * S)).unwrap();
        plan.set_ignored("a").unwrap();
        m.commit_files(&plan).unwrap();
        let w = StudyWork {
            study_uid: "S".into(),
            patient_id: "P".into(),
            fingerprint: [7; 32],
            files: vec![],
            newest_arrival_ns: 0,
            reason: DirtyReason::New,
        };
        m.store_result(&w, "c", b"r").unwrap();
        assert_eq!(m.load_result("S").unwrap().unwrap().result, b"r");
        m.clear().unwrap();
        assert!(m.files().unwrap().is_empty());
        assert!(m.results().unwrap().is_empty());
        assert!(m.load_result("S").unwrap().is_none());
    }

    /// A new study of `patient` with no files, as the run plans it.
    fn work(study: &str, patient: &str) -> StudyWork {
        StudyWork {
            study_uid: study.into(),
            patient_id: patient.into(),
            fingerprint: [7; 32],
            files: vec![],
            newest_arrival_ns: 0,
            reason: DirtyReason::New,
        }
    }

    /// Key images live and die with their study's result: replaced with it, dropped with it
    /// (retain_patients, clear), and never left behind by a result stored without images.
    #[test]
    fn images_follow_their_result() {
        let d = tempfile::tempdir().unwrap();
        let mut m = Manifest::open(&d.path().join(MANIFEST_FILE)).unwrap();
        let image = |patient: &str, lesion: &str, png: &[u8]| StoredImage {
            patient_id: patient.into(),
            study_date: "20240101".into(),
            lesion_id: lesion.into(),
            caption: format!("{lesion} caption"),
            png: [png, b"-t"].concat(),
            // every value of the source columns goes through the table and back
            source_sop_instance_uid: format!("1.2.{lesion}"),
            source_by: match lesion {
                "L1" => Some(SourceBy::Reference),
                "L2" => Some(SourceBy::Position),
                _ => None,
            },
        };
        let (a, b) = (work("S1", "P1"), work("S2", "P2"));
        m.store_results(
            &[
                (
                    &a,
                    b"r1".to_vec(),
                    vec![image("P1", "L1", b"\x89a"), image("P1", "L2", b"b")],
                ),
                (&b, b"r2".to_vec(), vec![image("P2", "L1", b"c")]),
            ],
            "c",
        )
        .unwrap();
        let lesions = |m: &Manifest| -> Vec<(String, String, Vec<u8>)> {
            m.images_where(&|_| true)
                .unwrap()
                .into_iter()
                .map(|s| (s.image.patient_id, s.image.lesion_id, s.image.png))
                .collect()
        };
        assert_eq!(
            lesions(&m),
            [
                ("P1".into(), "L1".into(), b"\x89a-t".to_vec()),
                ("P1".into(), "L2".into(), b"b-t".to_vec()),
                ("P2".into(), "L1".into(), b"c-t".to_vec()),
            ]
        );
        let back: Vec<StoredImage> = m
            .images_where(&|_| true)
            .unwrap()
            .into_iter()
            .map(|s| s.image)
            .collect();
        assert_eq!(
            back,
            [
                image("P1", "L1", b"\x89a"),
                image("P1", "L2", b"b"),
                image("P2", "L1", b"c")
            ]
        );
        m.store_results(&[(&b, b"r2".to_vec(), vec![image("P2", "L3", b"c")])], "c")
            .unwrap();
        assert_eq!(m.images_where(&|_| true).unwrap()[2].image.source_by, None);
        // A new result replaces the old one's images.
        m.store_results(&[(&a, b"r1'".to_vec(), vec![image("P1", "L3", b"d")])], "c")
            .unwrap();
        assert_eq!(lesions(&m)[0].1, "L3");
        assert_eq!(lesions(&m).len(), 2);
        m.store_result(&a, "c", b"r1''").unwrap();
        assert_eq!(lesions(&m), [("P2".into(), "L3".into(), b"c-t".to_vec())]);
        m.retain_patients(&|p: &str| p != "P2").unwrap();
        assert!(lesions(&m).is_empty());
        m.store_results(&[(&b, b"r2".to_vec(), vec![image("P2", "L1", b"c")])], "c")
            .unwrap();
        m.clear().unwrap();
        assert!(lesions(&m).is_empty());
    }

    /// The output writers read results and images by patient, then study, then the order
    /// stored, whatever order the study UIDs sort in.
    #[test]
    fn results_and_images_come_by_patient_then_study() {
        let d = tempfile::tempdir().unwrap();
        let mut m = Manifest::open(&d.path().join(MANIFEST_FILE)).unwrap();
        let image = |lesion: &str| StoredImage {
            patient_id: "as carried".into(),
            study_date: "20240101".into(),
            lesion_id: lesion.into(),
            caption: String::new(),
            png: vec![1],
            source_sop_instance_uid: String::new(),
            source_by: None,
        };
        let (s1, s2, s3) = (work("S1", "P2"), work("S2", "P1"), work("S3", "P1"));
        m.store_results(
            &[
                (&s3, b"3".to_vec(), vec![image("L5")]),
                (&s1, b"1".to_vec(), vec![image("L9"), image("L1")]),
                (&s2, b"2".to_vec(), vec![image("L2"), image("L0")]),
            ],
            "c",
        )
        .unwrap();
        let studies: Vec<String> = m
            .results()
            .unwrap()
            .into_iter()
            .map(|r| r.study_uid)
            .collect();
        assert_eq!(studies, ["S2", "S3", "S1"]);
        let images: Vec<(String, String)> = m
            .images_where(&|_| true)
            .unwrap()
            .into_iter()
            .map(|s| (s.study_uid, s.image.lesion_id))
            .collect();
        let want = [
            ("S2", "L2"),
            ("S2", "L0"),
            ("S3", "L5"),
            ("S1", "L9"),
            ("S1", "L1"),
        ];
        assert_eq!(images, want.map(|(s, l)| (s.to_string(), l.to_string())));
        // a study left out is left out whole, and the rest keep their order
        let but_s3: Vec<(String, String)> = m
            .images_where(&|s| s != "S3")
            .unwrap()
            .into_iter()
            .map(|s| (s.study_uid, s.image.lesion_id))
            .collect();
        let want: Vec<(String, String)> = want
            .iter()
            .filter(|(s, _)| *s != "S3")
            .map(|(s, l)| (s.to_string(), l.to_string()))
            .collect();
        assert_eq!(but_s3, want);
    }
}
