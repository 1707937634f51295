//! One run at a time per output folder: a slow night must not overlap with the next cron
//! start, and two shards must not be pointed at the same folder by mistake.
//!
//! The lock is an OS advisory lock (`flock` on Unix, `LockFileEx` on Windows, through `fs4`)
//! on `DIR/.oncometry.lock`. The OS drops it when the holding process dies, however it dies
//! (`kill -9`, OOM killer, power cut), so a stale lock can never block the next night. The
//! file's *content* — the holder's pid, start time and host — only serves the message shown
//! to the second run and the "took over from a dead run" log line.
//!
//! The lock file is never deleted, only emptied on a clean release: deleting it would let a
//! process that opened the old file lock an unlinked inode while a third one locks a new file,
//! and both would believe they hold the lock. Over NFS, `flock` is mapped to POSIX byte-range
//! locks by Linux (2.6.12+), which needs a working lock manager (`nolock` mounts have none).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Name of the lock file inside the output folder.
pub const LOCK_FILE: &str = ".oncometry.lock";

/// Who holds (or held) the lock, as written in the lock file (one JSON line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    pub pid: u32,
    /// When the lock was taken: RFC 3339, UTC, whole seconds (`2026-11-24T02:00:00Z`).
    pub started: String,
    pub hostname: String,
}

impl LockHolder {
    /// This process, now.
    pub fn current() -> Self {
        Self {
            pid: std::process::id(),
            started: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            hostname: gethostname::gethostname().to_string_lossy().into_owned(),
        }
    }
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} on {}, started {}",
            self.pid, self.hostname, self.started
        )
    }
}

/// The content of a lock file left by a run that died without releasing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleLock {
    /// The dead holder, when the file could be parsed.
    pub holder: Option<LockHolder>,
    /// The file's raw content (for the log when it could not be parsed).
    pub raw: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another live process holds the lock (the CLI exits with code 4).
    #[error("{}: another oncometry run holds the lock ({}); wait for it to finish", path.display(), holder.as_ref().map_or_else(|| "holder unknown".to_string(), |h| h.to_string()))]
    Held {
        path: PathBuf,
        holder: Option<LockHolder>,
    },
    #[error("{}: cannot use the lock file: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The held lock on an output folder; released when dropped (or by [`OutputLock::release`]).
#[derive(Debug)]
pub struct OutputLock {
    file: File,
    path: PathBuf,
    holder: LockHolder,
    stale: Option<StaleLock>,
}

impl OutputLock {
    /// Takes the lock on `dir` (created if missing), or fails at once with
    /// [`LockError::Held`] naming the live holder. Never waits: a scheduled run that finds
    /// the previous one still going should exit and let the next night try again.
    pub fn acquire(dir: &Path) -> Result<Self, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        // Fully qualified: std's inherent `File::try_lock` (1.89) is newer than our MSRV.
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                let holder = read_holder_of_live_lock(&path);
                return Err(LockError::Held { path, holder });
            }
            Err(fs4::TryLockError::Error(e)) => return Err(io(e)),
        }
        let mut raw = String::new();
        file.read_to_string(&mut raw).map_err(io)?;
        let stale = (!raw.trim().is_empty()).then(|| StaleLock {
            holder: serde_json::from_str(raw.trim()).ok(),
            raw: raw.trim().to_string(),
        });
        let holder = LockHolder::current();
        let line = serde_json::to_string(&holder).map_err(|e| io(e.into()))?;
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(line.as_bytes()).map_err(io)?;
        file.write_all(b"\n").map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(Self {
            file,
            path,
            holder,
            stale,
        })
    }

    /// What this run wrote into the lock file.
    pub fn holder(&self) -> &LockHolder {
        &self.holder
    }

    /// `Some` when the previous holder died without releasing the lock: the caller logs the
    /// takeover (e.g. a `lock_taken_over` event in run.jsonl naming the dead pid).
    pub fn took_over(&self) -> Option<&StaleLock> {
        self.stale.as_ref()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Empties the lock file and unlocks it, reporting errors (dropping does the same
    /// silently).
    pub fn release(mut self) -> Result<(), LockError> {
        let r = self.release_inner();
        let path = self.path.clone();
        r.map_err(|source| LockError::Io { path, source })
    }

    fn release_inner(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.sync_all()?;
        fs4::FileExt::unlock(&self.file)
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // Closing the file releases the OS lock in any case; emptying it only tells the next
        // run that this one ended cleanly.
        let _ = self.release_inner();
    }
}

/// The holder may have just taken the lock and not yet written its line: retry briefly.
fn read_holder_of_live_lock(path: &Path) -> Option<LockHolder> {
    for _ in 0..10 {
        if let Ok(raw) = fs::read_to_string(path)
            && let Ok(h) = serde_json::from_str::<LockHolder>(raw.trim())
        {
            return Some(h);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_in_same_process_is_refused_with_holder() {
        let d = tempfile::tempdir().unwrap();
        let first = OutputLock::acquire(d.path()).unwrap();
        assert!(first.took_over().is_none());
        assert_eq!(first.holder().pid, std::process::id());
        match OutputLock::acquire(d.path()) {
            Err(LockError::Held { holder, path }) => {
                assert_eq!(holder.as_ref(), Some(first.holder()));
                assert_eq!(path, d.path().join(LOCK_FILE));
                let msg = LockError::Held { holder, path }.to_string();
                assert!(
                    msg.contains(&format!("pid {}", std::process::id())),
                    "{msg}"
                );
            }
            other => panic!("expected Held, got {other:?}"),
        }
        first.release().unwrap();
        let again = OutputLock::acquire(d.path()).unwrap();
        assert!(again.took_over().is_none(), "clean release is not stale");
    }

    #[test]
    fn leftover_content_is_reported_as_takeover() {
        let d = tempfile::tempdir().unwrap();
        let dead = LockHolder {
            pid: 999_999,
            started: "2026-01-01T02:00:00Z".into(),
            hostname: "node7".into(),
        };
        fs::write(
            d.path().join(LOCK_FILE),
            serde_json::to_string(&dead).unwrap(),
        )
        .unwrap();
        let lock = OutputLock::acquire(d.path()).unwrap();
        assert_eq!(lock.took_over().unwrap().holder.as_ref(), Some(&dead));
        let written: LockHolder =
            serde_json::from_str(fs::read_to_string(lock.path()).unwrap().trim()).unwrap();
        assert_eq!(&written, lock.holder());
        drop(lock);
        assert_eq!(fs::read_to_string(d.path().join(LOCK_FILE)).unwrap(), "");
    }

    #[test]
    fn garbage_lock_content_is_taken_over() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join(LOCK_FILE), "not json").unwrap();
        let lock = OutputLock::acquire(&d.path().join("new-sub")).unwrap();
        assert!(lock.took_over().is_none(), "fresh folder");
        let lock2 = OutputLock::acquire(d.path()).unwrap();
        let stale = lock2.took_over().unwrap();
        assert_eq!(stale.holder, None);
        assert_eq!(stale.raw, "not json");
    }

    #[test]
    fn started_is_rfc3339_utc() {
        let h = LockHolder::current();
        assert!(chrono::DateTime::parse_from_rfc3339(&h.started).is_ok());
        assert!(h.started.ends_with('Z'), "{}", h.started);
    }
}
