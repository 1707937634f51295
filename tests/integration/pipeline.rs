//! Integration tests: the unattended-run infrastructure (`oncometry::pipeline`): atomic
//! writes, the output lock, signals, the manifest across several "nights", crash safety and
//! sharding.
//!
//! Crashes and concurrent runs need a second process. The test binary re-runs itself
//! (`current_exe()`) with `ONCOMETRY_PIPELINE_HELPER=<mode>` and a filter selecting only
//! [`helper_process`]; that test does nothing in a normal run.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use oncometry::pipeline::atomic::{self, AtomicFile, TEMP_SUFFIX};
use oncometry::pipeline::lock::{LockError, OutputLock};
use oncometry::pipeline::manifest::{
    DirtyReason, MANIFEST_FILE, Manifest, StoredResult, StudyWork,
};
use oncometry::pipeline::scan::{self, Scan, ScanOptions};
use oncometry::pipeline::shard::Shard;
use oncometry::pipeline::signals::StopFlag;

const HELPER_ENV: &str = "ONCOMETRY_PIPELINE_HELPER";
const HELPER_ARG: &str = "ONCOMETRY_PIPELINE_ARG";

// ---------------------------------------------------------------------------------------
// Child-process helpers
// ---------------------------------------------------------------------------------------

/// Entry point of the child processes; a no-op unless started by [`spawn_helper`].
#[test]
fn helper_process() {
    let Ok(mode) = std::env::var(HELPER_ENV) else {
        return;
    };
    let arg = PathBuf::from(std::env::var(HELPER_ARG).expect("helper argument"));
    let mut out = std::io::stdout();
    match mode.as_str() {
        "hold-lock" => {
            let _lock = OutputLock::acquire(&arg).expect("child takes the lock");
            writeln!(out, "locked").unwrap();
            out.flush().unwrap();
            std::thread::sleep(Duration::from_secs(120));
        }
        "die-mid-write" => {
            let mut f = AtomicFile::create(&arg).unwrap();
            f.write_all(b"half of the new ver").unwrap();
            f.flush().unwrap();
            // A crash: no destructor runs, the temporary stays behind.
            std::process::exit(0);
        }
        "wait-signal" => {
            let stop = StopFlag::install().unwrap();
            writeln!(out, "ready").unwrap();
            out.flush().unwrap();
            for _ in 0..6000 {
                if let Some(sig) = stop.signal() {
                    std::process::exit(i32::from(sig.exit_code()));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            std::process::exit(99);
        }
        "hammer-manifest" => hammer_manifest(&arg),
        other => panic!("unknown helper mode {other}"),
    }
}

fn spawn_helper(mode: &str, arg: &Path) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "pipeline::helper_process",
            "--nocapture",
            "--test-threads=1",
            "--quiet",
        ])
        .env(HELPER_ENV, mode)
        .env(HELPER_ARG, arg)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    (child, stdout)
}

/// Reads the child's stdout until a line equal to `want` (libtest prints its own lines too).
fn wait_for_line(r: &mut BufReader<std::process::ChildStdout>, want: &str) {
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            r.read_line(&mut line).unwrap() > 0,
            "child ended before printing {want:?}"
        );
        if line.trim() == want {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Atomic writes
// ---------------------------------------------------------------------------------------

#[test]
fn atomic_write_survives_a_crash_and_next_run_cleans_up() {
    let d = tempfile::tempdir().unwrap();
    let target = d.path().join("lesions.csv");
    atomic::write_atomic(&target, b"complete old version\n").unwrap();
    let (mut child, _out) = spawn_helper("die-mid-write", &target);
    assert!(child.wait().unwrap().success());
    assert_eq!(fs::read(&target).unwrap(), b"complete old version\n");
    let leftovers: Vec<PathBuf> = fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(TEMP_SUFFIX))
        .collect();
    assert_eq!(leftovers.len(), 1, "the crashed writer left its temporary");
    assert_eq!(atomic::clean_stale_temps(d.path()).unwrap(), leftovers);
    assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
}

// ---------------------------------------------------------------------------------------
// Lock
// ---------------------------------------------------------------------------------------

#[test]
fn lock_held_by_another_process_names_it_then_is_taken_over_after_it_dies() {
    let d = tempfile::tempdir().unwrap();
    let (mut child, mut out) = spawn_helper("hold-lock", d.path());
    wait_for_line(&mut out, "locked");
    let err = OutputLock::acquire(d.path()).unwrap_err();
    let LockError::Held { holder, .. } = &err else {
        panic!("expected Held, got {err:?}");
    };
    let holder = holder.clone().expect("holder read from the lock file");
    assert_eq!(holder.pid, child.id());
    let msg = err.to_string();
    assert!(msg.contains(&format!("pid {}", child.id())), "{msg}");
    assert!(msg.contains(&holder.started), "{msg}");

    child.kill().unwrap(); // SIGKILL: no chance to release
    child.wait().unwrap();
    let lock = OutputLock::acquire(d.path()).expect("the dead holder's lock is taken over");
    let stale = lock.took_over().expect("takeover reported");
    assert_eq!(stale.holder.as_ref().map(|h| h.pid), Some(child.id()));
    assert_eq!(lock.holder().pid, std::process::id());
}

// ---------------------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn sigterm_and_sigint_are_reported_as_143_and_130() {
    let d = tempfile::tempdir().unwrap();
    for (sig, code) in [("-TERM", 143), ("-INT", 130)] {
        let (mut child, mut out) = spawn_helper("wait-signal", d.path());
        wait_for_line(&mut out, "ready");
        let kill = Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "{sig}");
    }
}

// ---------------------------------------------------------------------------------------
// A miniature nightly run over a fake export
// ---------------------------------------------------------------------------------------

/// Fake "DICOM": `FAKE-DICOM\npatient=..\nstudy=..\n<payload>`; `BROKEN..` is DICOM-like
/// but unusable (quarantined); anything else is not DICOM (ignored).
fn fake_index(path: &Path) -> Result<Option<(String, String)>, String> {
    let text = fs::read_to_string(path).map_err(|e| e.to_string())?;
    if text.starts_with("BROKEN") {
        return Err("truncated header".into());
    }
    let Some(rest) = text.strip_prefix("FAKE-DICOM\n") else {
        return Ok(None);
    };
    let field = |k: &str| {
        rest.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
            .ok_or_else(|| format!("no {k}"))
    };
    Ok(Some((field("patient")?, field("study")?)))
}

fn write_instance(export: &Path, rel: &str, patient: &str, study: &str, payload: &str) {
    let p = export.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(
        &p,
        format!("FAKE-DICOM\npatient={patient}\nstudy={study}\n{payload}"),
    )
    .unwrap();
    set_age(&p, Duration::from_secs(3600));
}

/// Sets a file's mtime `age` before now (an export that finished arriving).
fn set_age(p: &Path, age: Duration) {
    let f = fs::File::options().write(true).open(p).unwrap();
    f.set_modified(SystemTime::now() - age).unwrap();
}

#[derive(Debug, Default)]
struct Night {
    computed: Vec<(String, DirtyReason)>,
    still_arriving: Vec<String>,
    clean: Vec<String>,
    removed_studies: Vec<String>,
    quarantined: Vec<(String, String)>,
    indexed_files: usize,
    hashed_files: usize,
    results: Vec<StoredResult>,
}

/// What the lead's `run` glue does, with a fake measurement: the result of a study is the
/// list of its files with their content.
fn night(export: &Path, out: &Path, config: &str, shard: Shard, now: SystemTime) -> Night {
    let lock = OutputLock::acquire(out).unwrap();
    atomic::clean_stale_temps(out).unwrap();
    let config_hash = scan::config_hash(config.as_bytes());
    let mut manifest = Manifest::open(&out.join(MANIFEST_FILE)).unwrap();
    let scan = scan::scan_export(
        export,
        &ScanOptions {
            exclude: vec![out.to_path_buf()],
        },
    )
    .unwrap();
    let mut plan = manifest.plan(scan).unwrap();
    let mut night = Night::default();
    let to_index: Vec<String> = plan.to_index().into_iter().map(String::from).collect();
    night.indexed_files = to_index.len();
    for rel in &to_index {
        match fake_index(&plan.root().join(rel)) {
            Ok(Some((patient, study))) => plan.set_indexed(rel, &study, &patient, None).unwrap(),
            Ok(None) => plan.set_ignored(rel).unwrap(),
            Err(reason) => plan.set_quarantined(rel, &reason).unwrap(),
        }
    }
    let stop = StopFlag::new();
    night.hashed_files = plan.hash_pending(&|p| shard.contains(p), &stop).hashed;
    night.quarantined = plan
        .quarantine_rows()
        .into_iter()
        .map(|q| (q.path, q.reason))
        .collect();
    let report = manifest.commit_files(&plan).unwrap();
    night.removed_studies = report.removed_studies;
    let studies = manifest
        .studies(&config_hash, now, STABLE_AGE, &|p| shard.contains(p))
        .unwrap();
    assert!(
        manifest
            .retain_patients(&|p| shard.contains(p))
            .unwrap()
            .is_empty()
    );
    for w in &studies.ready {
        let mut result = format!("{}|{}|{config}", w.patient_id, w.study_uid);
        for f in &w.files {
            result.push('|');
            result.push_str(&fs::read_to_string(export.join(f)).unwrap());
        }
        manifest
            .store_result(w, &config_hash, result.as_bytes())
            .unwrap();
        night.computed.push((w.study_uid.clone(), w.reason));
    }
    night.still_arriving = studies
        .still_arriving
        .iter()
        .map(|w| w.study_uid.clone())
        .collect();
    night.clean = studies.clean.iter().map(|c| c.study_uid.clone()).collect();
    night.results = manifest.results().unwrap();
    lock.release().unwrap();
    night
}

fn computed(n: &Night) -> Vec<&str> {
    let mut v: Vec<&str> = n.computed.iter().map(|(s, _)| s.as_str()).collect();
    v.sort();
    v
}

fn by_study(n: &Night) -> BTreeMap<String, StoredResult> {
    n.results
        .iter()
        .map(|r| (r.study_uid.clone(), r.clone()))
        .collect()
}

const STABLE_AGE: Duration = Duration::from_secs(600);

/// "Tonight", far enough after the test wrote its files (mtime *and* ctime) for them to be
/// stable.
fn later() -> SystemTime {
    SystemTime::now() + Duration::from_secs(3600)
}

fn seed_export(export: &Path) {
    for (p, s) in [("P1", "S1"), ("P2", "S2"), ("P3", "S3"), ("P4", "S4")] {
        for i in 0..3 {
            write_instance(export, &format!("{p}/{s}/{i}.dcm"), p, s, &format!("px{i}"));
        }
    }
    fs::write(export.join("README.txt"), "exported by the PACS").unwrap();
    set_age(&export.join("README.txt"), Duration::from_secs(3600));
}

#[test]
fn nights_recompute_exactly_the_changed_studies() {
    let d = tempfile::tempdir().unwrap();
    let export = d.path().join("export");
    let out = d.path().join("out");
    seed_export(&export);

    let n1 = night(&export, &out, "cfg-a", Shard::all(), later());
    assert_eq!(computed(&n1), vec!["S1", "S2", "S3", "S4"]);
    assert!(n1.computed.iter().all(|(_, r)| *r == DirtyReason::New));
    assert_eq!(n1.indexed_files, 13, "12 instances + README");
    assert_eq!(n1.hashed_files, 12, "the README is not hashed");

    // Nothing changed: nothing recomputed, results bit-identical, no file re-read.
    let n2 = night(&export, &out, "cfg-a", Shard::all(), later());
    assert!(n2.computed.is_empty(), "{:?}", n2.computed);
    assert_eq!(n2.indexed_files, 0);
    assert_eq!(n2.hashed_files, 0);
    assert_eq!(n2.results, n1.results);
    assert_eq!(n2.clean, vec!["S1", "S2", "S3", "S4"]);

    // Add to S2, change S3, delete from S4, a new study S5, and touch S1 without changing it.
    write_instance(&export, "P2/S2/3.dcm", "P2", "S2", "px3");
    write_instance(&export, "P3/S3/0.dcm", "P3", "S3", "px0-corrected");
    fs::remove_file(export.join("P4/S4/2.dcm")).unwrap();
    write_instance(&export, "P5/S5/0.dcm", "P5", "S5", "px0");
    set_age(&export.join("P1/S1/1.dcm"), Duration::from_secs(1800));
    let n3 = night(&export, &out, "cfg-a", Shard::all(), later());
    assert_eq!(computed(&n3), vec!["S2", "S3", "S4", "S5"]);
    let reasons: BTreeMap<&str, DirtyReason> =
        n3.computed.iter().map(|(s, r)| (s.as_str(), *r)).collect();
    assert_eq!(reasons["S2"], DirtyReason::FilesChanged);
    assert_eq!(reasons["S5"], DirtyReason::New);
    assert_eq!(by_study(&n3)["S1"], by_study(&n1)["S1"], "touched only");
    assert!(
        String::from_utf8_lossy(&by_study(&n3)["S3"].result).contains("px0-corrected"),
        "S3 recomputed from the new content"
    );

    // Remove a whole study: its result is dropped.
    fs::remove_dir_all(export.join("P4")).unwrap();
    let n4 = night(&export, &out, "cfg-a", Shard::all(), later());
    assert!(n4.computed.is_empty());
    assert_eq!(n4.removed_studies, vec!["S4"]);
    assert!(!by_study(&n4).contains_key("S4"));

    // A config change dirties everything.
    let n5 = night(&export, &out, "cfg-b", Shard::all(), later());
    assert_eq!(computed(&n5), vec!["S1", "S2", "S3", "S5"]);
    assert!(
        n5.computed
            .iter()
            .all(|(_, r)| *r == DirtyReason::ConfigChanged)
    );
}

#[test]
fn a_study_still_arriving_waits_for_the_stable_age() {
    let d = tempfile::tempdir().unwrap();
    let export = d.path().join("export");
    let out = d.path().join("out");
    seed_export(&export);
    night(&export, &out, "c", Shard::all(), later());

    // S6 is being copied in right now, with the sender's (hour-old) mtimes kept, as
    // `rsync -a` does: its ctime is fresh, so it is still arriving.
    write_instance(&export, "P6/S6/0.dcm", "P6", "S6", "a");
    write_instance(&export, "P6/S6/1.dcm", "P6", "S6", "b");
    let n = night(&export, &out, "c", Shard::all(), SystemTime::now());
    assert!(n.computed.is_empty());
    assert_eq!(n.still_arriving, vec!["S6"]);
    assert!(!by_study(&n).contains_key("S6"));
    assert_eq!(n.clean, vec!["S1", "S2", "S3", "S4"]);

    // Eleven minutes later the same files are stable.
    let n = night(
        &export,
        &out,
        "c",
        Shard::all(),
        SystemTime::now() + Duration::from_secs(660),
    );
    assert_eq!(computed(&n), vec!["S6"]);
    assert!(n.still_arriving.is_empty());
}

#[test]
fn quarantined_files_are_reported_and_retried_every_night() {
    let d = tempfile::tempdir().unwrap();
    let export = d.path().join("export");
    let out = d.path().join("out");
    seed_export(&export);
    let bad = export.join("P1/S1/9.dcm");
    let broken = "BROKEN-HEADER-XXXXXXXXXXXXXXXXXXXXXXXXXXX";
    fs::write(&bad, broken).unwrap();
    let mtime = SystemTime::now() - Duration::from_secs(5000);
    fs::File::options()
        .write(true)
        .open(&bad)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let n1 = night(&export, &out, "c", Shard::all(), later());
    assert_eq!(
        n1.quarantined,
        vec![("P1/S1/9.dcm".to_string(), "truncated header".to_string())]
    );
    let m = Manifest::open(&out.join(MANIFEST_FILE)).unwrap();
    assert_eq!(m.quarantined().unwrap().len(), 1);
    drop(m);

    // Still broken: retried (read again), still reported, S1 untouched.
    let n2 = night(&export, &out, "c", Shard::all(), later());
    assert_eq!(n2.indexed_files, 1);
    assert_eq!(n2.quarantined.len(), 1);
    assert!(n2.computed.is_empty());

    // Repaired in place with the same size and mtime (e.g. a re-send that keeps times):
    // picked up anyway, and S1 now has four instances.
    let fixed = "FAKE-DICOM\npatient=P1\nstudy=S1\npx9";
    let padded = format!("{fixed}{}", " ".repeat(broken.len() - fixed.len()));
    fs::write(&bad, padded).unwrap();
    fs::File::options()
        .write(true)
        .open(&bad)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let n3 = night(&export, &out, "c", Shard::all(), later());
    assert!(n3.quarantined.is_empty());
    assert_eq!(computed(&n3), vec!["S1"]);
    assert!(String::from_utf8_lossy(&by_study(&n3)["S1"].result).contains("px9"));
}

#[test]
fn shards_partition_patients_and_together_equal_the_single_run() {
    let d = tempfile::tempdir().unwrap();
    let export = d.path().join("export");
    for p in 0..12 {
        for s in 0..2 {
            let (pid, sid) = (format!("PAT{p:02}"), format!("ST{p:02}.{s}"));
            write_instance(&export, &format!("{pid}/{sid}/0.dcm"), &pid, &sid, "x");
        }
    }
    let single = night(&export, &d.path().join("all"), "c", Shard::all(), later());
    let mut union = BTreeMap::new();
    let mut shard_of_patient = BTreeMap::new();
    for i in 0..3 {
        let shard = Shard::new(i, 3).unwrap();
        let n = night(
            &export,
            &d.path().join(format!("part{i}")),
            "c",
            shard,
            later(),
        );
        for r in n.results {
            assert!(shard.contains(&r.patient_id));
            let prev = shard_of_patient.insert(r.patient_id.clone(), i);
            assert!(
                prev.is_none() || prev == Some(i),
                "patient split across shards"
            );
            assert!(union.insert(r.study_uid.clone(), r.result).is_none());
        }
    }
    let expected: BTreeMap<String, Vec<u8>> = single
        .results
        .into_iter()
        .map(|r| (r.study_uid, r.result))
        .collect();
    assert_eq!(union, expected);
    assert_eq!(shard_of_patient.len(), 12);
}

#[test]
fn changing_the_shard_count_drops_patients_that_moved_away() {
    let d = tempfile::tempdir().unwrap();
    let export = d.path().join("export");
    for p in 0..8 {
        let pid = format!("PAT{p}");
        write_instance(
            &export,
            &format!("{pid}/0.dcm"),
            &pid,
            &format!("ST{p}"),
            "x",
        );
    }
    let out = d.path().join("part0");
    let two = Shard::new(0, 2).unwrap();
    let four = Shard::new(0, 4).unwrap();
    night(&export, &out, "c", two, later());
    let mut m = Manifest::open(&out.join(MANIFEST_FILE)).unwrap();
    let before: Vec<String> = m
        .results()
        .unwrap()
        .into_iter()
        .map(|r| r.patient_id)
        .collect();
    let dropped = m.retain_patients(&|p| four.contains(p)).unwrap();
    let after: Vec<String> = m
        .results()
        .unwrap()
        .into_iter()
        .map(|r| r.patient_id)
        .collect();
    assert!(after.iter().all(|p| four.contains(p)));
    assert!(!dropped.is_empty(), "some 0/2 patients are not in 0/4");
    assert_eq!(before.len(), after.len() + dropped.len());
    let expected_after: Vec<&String> = before.iter().filter(|p| four.contains(p)).collect();
    assert_eq!(after.iter().collect::<Vec<_>>(), expected_after);
}

// ---------------------------------------------------------------------------------------
// Crash in the middle of a manifest transaction
// ---------------------------------------------------------------------------------------

const HAMMER_FILES: usize = 2000;

/// Child: commits file tables (files of 50 studies) and big results (which depend on its
/// process ID) as fast as it can until killed. Right before each transaction it prints
/// `begin files <round>` / `begin result <round>`; after the round's second transaction
/// `committed <round> <files µs> <result µs>` (how long the two took, so that the parent can
/// time its kill inside the next one).
fn hammer_manifest(db: &Path) {
    let mut m = Manifest::open(db).unwrap();
    let scan = Scan {
        root: db.parent().unwrap().to_path_buf(),
        files: (0..HAMMER_FILES)
            .map(|i| scan::FileStat {
                path: format!("f{i:05}"),
                size: 1,
                mtime_ns: 0,
                arrived_ns: 0,
            })
            .collect(),
        skipped: Vec::new(),
        started_ns: 10_000_000_000,
    };
    let mut out = std::io::stdout();
    let mut say = |line: String| {
        writeln!(out, "{line}").unwrap();
        out.flush().unwrap();
    };
    for round in 0u64.. {
        let mut plan = m.plan(scan.clone()).unwrap();
        for i in 0..HAMMER_FILES {
            let path = format!("f{i:05}");
            let study = hammer_study(i as u64);
            plan.set_indexed(&path, &study, "P", Some(round.to_le_bytes().to_vec()))
                .unwrap();
        }
        let payload = hammer_payload(round, std::process::id());
        let work = StudyWork {
            study_uid: hammer_study(round),
            patient_id: "P".into(),
            fingerprint: *blake3::hash(&payload).as_bytes(),
            files: Vec::new(),
            newest_arrival_ns: 0,
            reason: DirtyReason::New,
        };
        say(format!("begin files {round}"));
        let t = std::time::Instant::now();
        m.commit_files(&plan).unwrap();
        let files_us = t.elapsed().as_micros();
        say(format!("begin result {round}"));
        let t = std::time::Instant::now();
        m.store_result(&work, "cfg", &payload).unwrap();
        let result_us = t.elapsed().as_micros();
        say(format!("committed {round} {files_us} {result_us}"));
    }
}

fn hammer_payload(round: u64, pid: u32) -> Vec<u8> {
    let salt = round.wrapping_mul(1_000_003).wrapping_add(u64::from(pid));
    (0..256 * 1024u64)
        .map(|i| (i.wrapping_mul(31).wrapping_add(salt) % 251) as u8)
        .collect()
}

fn hammer_study(round: u64) -> String {
    format!("S{}", round % 50)
}

/// What the parent learnt from a hammer child's stdout.
#[derive(Debug, Default)]
struct HammerLog {
    /// The last transaction begun: ("files" | "result", round).
    begun: Option<(String, u64)>,
    /// The last round reported committed.
    committed: Option<u64>,
    /// Shortest duration seen so far of each kind of transaction.
    shortest: BTreeMap<String, Duration>,
}

impl HammerLog {
    /// Takes in one line (libtest's own lines are ignored).
    fn read(&mut self, line: &str) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            ["begin", kind, round] => {
                self.begun = Some((kind.to_string(), round.parse().unwrap()));
            }
            ["committed", round, files_us, result_us] => {
                self.committed = Some(round.parse().unwrap());
                for (kind, us) in [("files", files_us), ("result", result_us)] {
                    let d = Duration::from_micros(us.parse().unwrap());
                    let e = self.shortest.entry(kind.to_string()).or_insert(d);
                    *e = (*e).min(d);
                }
            }
            _ => {}
        }
    }
}

/// Reads the child's next line into `log`; false at the end of its output.
fn read_hammer_line(r: &mut BufReader<std::process::ChildStdout>, log: &mut HammerLog) -> bool {
    let mut line = String::new();
    if r.read_line(&mut line).unwrap() == 0 {
        return false;
    }
    log.read(&line);
    true
}

/// The manifest's rollback journal, as a crash leaves it (in the order a transaction goes
/// through).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Journal {
    /// No write transaction open.
    Absent,
    /// A write transaction is changing pages in memory and saving their old contents. Its
    /// header stays zeroed until the commit syncs it (`synchronous=FULL`); the database file
    /// is untouched and SQLite ignores such a journal on open.
    Unsynced,
    /// The commit synced the journal and is writing the database file: reopening must roll
    /// the database back from it.
    Hot,
}

fn journal_state(path: &Path) -> Journal {
    let Ok(mut f) = fs::File::open(path) else {
        return Journal::Absent;
    };
    let mut magic = [0u8; 8];
    match std::io::Read::read_exact(&mut f, &mut magic) {
        Ok(()) if magic != [0; 8] => Journal::Hot,
        _ => Journal::Unsynced,
    }
}

#[test]
fn killing_a_writer_mid_transaction_leaves_a_consistent_manifest() {
    const KILLS: u64 = 12;
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join(MANIFEST_FILE);
    let journal = d.path().join(format!("{MANIFEST_FILE}-journal"));
    let (mut left, mut hot) = (0, 0);
    // Each child reports `kill_after` commits; the parent then waits for it to begin the next
    // file-table or result transaction and for that transaction's rollback journal to exist
    // (`journal_mode=DELETE`: only while a write transaction is open). Half of the kills come
    // after a varying part (0 to 1/4) of the child's shortest transaction of that kind, while
    // it changes pages; the other half once the journal is hot, while the commit writes the
    // database file. Every reopen must be consistent and must not apply the interrupted
    // transaction or lose a reported commit.
    for attempt in 0..KILLS {
        let kill_after = 1 + (attempt / 2) % 2;
        let kind = if attempt % 2 == 0 { "files" } else { "result" };
        let in_commit = attempt % 4 >= 2;
        let (mut child, mut out) = spawn_helper("hammer-manifest", &db);
        let pid = child.id();
        let mut log = HammerLog::default();
        while log.committed.is_none_or(|c| c + 1 < kill_after) {
            assert!(read_hammer_line(&mut out, &mut log), "child died");
        }
        let target = (kind.to_string(), kill_after);
        while log.begun.as_ref() != Some(&target) {
            assert!(read_hammer_line(&mut out, &mut log), "child died");
        }
        let want = if in_commit {
            Journal::Hot
        } else {
            Journal::Unsynced
        };
        let waiting = std::time::Instant::now();
        while journal_state(&journal) < want {
            assert!(
                waiting.elapsed() < Duration::from_secs(10),
                "no {want:?} journal in 10 s"
            );
            std::thread::sleep(Duration::from_micros(20));
        }
        if !in_commit {
            std::thread::sleep(log.shortest[kind] * (attempt as u32 % 3) / 8);
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // What the child printed before it died: which transaction was open, which committed.
        while read_hammer_line(&mut out, &mut log) {}
        let state = journal_state(&journal);
        left += usize::from(state != Journal::Absent);
        hot += usize::from(state == Journal::Hot);
        let (killed_kind, killed_round) = log.begun.clone().unwrap();
        let committed = log.committed.unwrap();
        eprintln!("kill {attempt}: {killed_kind} {killed_round}, journal {state:?}");

        let m = Manifest::open(&db).expect("reopens after the crash");
        m.integrity_check().unwrap();
        if state == Journal::Hot {
            assert_eq!(journal_state(&journal), Journal::Absent, "not rolled back");
        }
        let files = m.files().unwrap();
        assert_eq!(files.len(), HAMMER_FILES);
        let metas: std::collections::BTreeSet<_> =
            files.iter().map(|f| f.meta.clone().unwrap()).collect();
        assert_eq!(metas.len(), 1, "a file-table transaction was half applied");
        let round = u64::from_le_bytes(metas.into_iter().next().unwrap().try_into().unwrap());
        assert!(round >= committed, "a reported commit was lost");
        assert!(round <= killed_round, "a file table that was never written");
        for r in m.results().unwrap() {
            assert_eq!(
                *blake3::hash(&r.result).as_bytes(),
                r.fingerprint,
                "result of {} torn",
                r.study_uid
            );
        }
        let fingerprint_of = |round: u64| {
            let stored = m.load_result(&hammer_study(round)).unwrap();
            let written = *blake3::hash(&hammer_payload(round, pid)).as_bytes();
            stored.map(|r| r.fingerprint) == Some(written)
        };
        assert!(fingerprint_of(committed), "a reported result was lost");
        if state != Journal::Absent {
            // The kill interrupted the last transaction begun: it must not have been applied.
            if killed_kind == "files" {
                assert_eq!(
                    round + 1,
                    killed_round,
                    "an interrupted file table was applied"
                );
            } else {
                assert_eq!(round, killed_round);
                assert!(
                    !fingerprint_of(killed_round),
                    "an interrupted result was applied"
                );
            }
        }
    }
    eprintln!(
        "killed {KILLS} writers; {left} left a rollback journal, {hot} of them hot (rolled back on reopen)"
    );
    assert!(
        left * 4 >= KILLS as usize * 3,
        "too few kills landed inside a transaction"
    );
    assert!(
        hot >= 1,
        "no kill landed while a commit was writing the database"
    );
}
