//! Atomic replacement of output files, so that a reader (a person, a dashboard, the next
//! pipeline step) never sees a half-written `lesions.csv` even when the run is killed.
//!
//! The recipe is the POSIX one: write a temporary file in the *same* directory (rename is only
//! atomic within one file system), `fsync` it, `rename` it over the target, then `fsync` the
//! directory so the rename itself survives a power cut. Temporary names end in [`TEMP_SUFFIX`]
//! and start with a dot, so they are hidden from `ls` and from globs like `*.csv`; a run that
//! was killed between "create temp" and "rename" leaves one behind, and
//! [`clean_stale_temps`] (called by the next run or merge while it holds the output lock)
//! removes it.
//!
//! A folder of rebuildable files that does not exist yet (a new patient's key images) is
//! written whole instead: its files get their final names inside a temporary folder named
//! like a temporary file, which is renamed over the target on commit. Until then a
//! recursive listing (`find -name '*.png'`, a backup) can see partly written files inside
//! that hidden `.<name>.*.oncometry.tmp` folder, never under the target.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::io::{self, BufWriter, Write};
use std::ops::Bound;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use tempfile::{NamedTempFile, TempDir, TempPath};

/// Every temporary file or folder this module creates ends with this suffix (and starts with
/// a dot).
pub const TEMP_SUFFIX: &str = ".oncometry.tmp";

/// Writing or replacing an output file failed; `path` is the file that was being replaced.
#[derive(Debug, thiserror::Error)]
pub enum AtomicError {
    #[error("{path}: cannot write: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: has no file name or parent directory")]
    BadPath { path: PathBuf },
    #[error("{path}: named twice in one output set")]
    Duplicate { path: PathBuf },
    #[error(
        "{path}: its folder is new and written whole by this output set; add it with the folder's other rebuildable files"
    )]
    InStagedFolder { path: PathBuf },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> AtomicError + '_ {
    move |source| AtomicError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A file being written next to its final name; it becomes visible under that name only on
/// [`AtomicFile::commit`]. Dropping it without committing deletes the temporary file, so an
/// error half-way leaves the old version untouched.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    temp: BufWriter<NamedTempFile>,
    /// fsync the data before the rename (off only for outputs that are rebuilt from the
    /// manifest on every run, see [`OutputSet::add_bytes_rebuildable`]).
    sync: bool,
    /// Everything written is fsynced already ([`AtomicFile::sync_now`]).
    synced: bool,
}

impl AtomicFile {
    /// Starts writing a new version of `target` (its directory must exist).
    pub fn create(target: &Path) -> Result<Self, AtomicError> {
        let (dir, name) = split(target)?;
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(TEMP_SUFFIX);
        // tempfile's default 0600 would make every output private to the run's user; ask
        // for what a plain `File::create` gets (0666 minus the umask).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(fs::Permissions::from_mode(0o666));
        }
        let temp = builder.tempfile_in(dir).map_err(io_err(target))?;
        Ok(Self {
            target: target.to_path_buf(),
            temp: BufWriter::new(temp),
            sync: true,
            synced: false,
        })
    }

    /// The path the file will have after [`AtomicFile::commit`].
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes and fsyncs the data, without making it visible yet.
    fn finish(self) -> Result<(PathBuf, NamedTempFile), AtomicError> {
        let target = self.target;
        let temp = self.temp.into_inner().map_err(|e| AtomicError::Io {
            path: target.clone(),
            source: e.into_error(),
        })?;
        if self.sync && !self.synced {
            temp.as_file().sync_all().map_err(io_err(&target))?;
        }
        Ok((target, temp))
    }

    /// A new version of `target` holding `bytes`, already fsynced, for
    /// [`OutputSet::adopt`]: a large file made on its own thread then waits for the disk
    /// while the rest of the set is being written, not after it in `commit`.
    pub fn written_synced(target: &Path, bytes: &[u8]) -> Result<Self, AtomicError> {
        let mut f = Self::create(target)?;
        f.write_all(bytes).map_err(io_err(target))?;
        f.sync_now()?;
        Ok(f)
    }

    /// Writes out and fsyncs the data so far, so that commit need not. Writing more
    /// afterwards makes commit fsync it again.
    fn sync_now(&mut self) -> Result<(), AtomicError> {
        self.temp.flush().map_err(io_err(&self.target))?;
        self.temp
            .get_ref()
            .as_file()
            .sync_all()
            .map_err(io_err(&self.target))?;
        self.synced = true;
        Ok(())
    }

    /// Makes the new content visible under the target name, replacing any old version in one
    /// step, and makes that durable (data and directory entry fsynced).
    pub fn commit(self) -> Result<(), AtomicError> {
        let (target, temp) = self.finish()?;
        temp.persist(&target).map_err(|e| AtomicError::Io {
            path: target.clone(),
            source: e.error,
        })?;
        sync_dir(&target)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // anything written after `sync_now` still needs its fsync
        self.synced = false;
        self.temp.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.temp.flush()
    }
}

/// Replaces `path` with `bytes` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AtomicError> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Replaces `path` with whatever `fill` streams into the writer (a `csv::Writer`, a
/// `serde_json::to_writer`, ...). If `fill` fails, the old file is left as it was and the
/// error is returned with the path.
pub fn write_atomic_with<F>(path: &Path, fill: F) -> Result<(), AtomicError>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let mut file = AtomicFile::create(path)?;
    fill(&mut file).map_err(io_err(path))?;
    file.commit()
}

/// A set of output files replaced together, e.g. all of `lesions.csv`, `patients.csv`,
/// `survival.json`, `report.html` and `run.jsonl` of one run.
///
/// Guarantees (what POSIX rename can give, no more):
/// - every file is either entirely its old version or entirely its new version, never partial;
/// - nothing is replaced until *every* file of the set has been written and fsynced: if any
///   write fails (disk full, a bug, an interrupt before [`OutputSet::commit`]) all old
///   versions stay and all temporaries are removed;
/// - the renames then happen in the order the files were added (rebuildable files first),
///   each one durable except those of rebuildable files (neither their data nor their
///   renames are fsynced: the next run rewrites any that a power cut lost); a crash
///   *during* that short rename phase can leave the first files new and the rest old. Add
///   the file that marks a run as complete (e.g. `run.jsonl` with its summary line)
///   **last**: if it is new, every file before it is new too.
#[derive(Debug, Default)]
pub struct OutputSet {
    files: Vec<AtomicFile>,
    /// Rebuildable files already written and closed (no descriptor held: a run can write
    /// tens of thousands of key images), renamed into place first on commit.
    closed: Vec<(PathBuf, TempPath)>,
    /// Folders of rebuildable files that did not exist, by target: written whole under a
    /// hidden temporary name beside it, and renamed into place first on commit.
    new_dirs: BTreeMap<PathBuf, TempDir>,
    /// The targets so far, for the duplicate check (a set: runs add thousands of images).
    targets: HashSet<PathBuf>,
}

impl OutputSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a new version of `path` in the set; write to the returned file.
    pub fn file(&mut self, path: &Path) -> Result<&mut AtomicFile, AtomicError> {
        if self.in_staged_folder(path) {
            return Err(AtomicError::InStagedFolder {
                path: path.to_path_buf(),
            });
        }
        if !self.targets.insert(path.to_path_buf()) {
            return Err(AtomicError::Duplicate {
                path: path.to_path_buf(),
            });
        }
        self.files.push(AtomicFile::create(path)?);
        let last = self.files.len() - 1;
        Ok(&mut self.files[last])
    }

    /// Adds a file written outside the set (e.g. on another thread), renamed in the order
    /// added like the others.
    pub fn adopt(&mut self, file: AtomicFile) -> Result<(), AtomicError> {
        if !self.targets.insert(file.target.clone()) {
            return Err(AtomicError::Duplicate { path: file.target });
        }
        self.files.push(file);
        Ok(())
    }

    /// Adds a file with the given content.
    pub fn add_bytes(&mut self, path: &Path, bytes: &[u8]) -> Result<(), AtomicError> {
        self.file(path)?.write_all(bytes).map_err(io_err(path))
    }

    /// Adds a file filled by a streaming writer.
    pub fn add_with<F>(&mut self, path: &Path, fill: F) -> Result<(), AtomicError>
    where
        F: FnOnce(&mut dyn Write) -> io::Result<()>,
    {
        let file = self.file(path)?;
        fill(file).map_err(io_err(path))
    }

    /// Like [`OutputSet::add_bytes`] (still renamed into place, so never seen partial) but
    /// without an fsync of its data: for many small files that every run writes again from
    /// durable state (key images come from the manifest), where one fsync each would
    /// dominate the run on slow disks. A power cut can leave such a file empty until the
    /// next run rewrites it.
    pub fn add_bytes_rebuildable(&mut self, path: &Path, bytes: &[u8]) -> Result<(), AtomicError> {
        self.add_many_rebuildable(&[(path.to_path_buf(), bytes)])
    }

    /// [`OutputSet::add_bytes_rebuildable`] for many files at once, written in parallel on
    /// the current rayon pool: creating thousands of key-image files is file-system bound
    /// (one inode each), and files in different folders do not wait for each other. Each
    /// file is closed once written, so the number of open descriptors stays small.
    ///
    /// A folder that does not exist yet (a new patient's key images) is written whole into
    /// a hidden temporary folder beside it, which takes its name on commit: one rename
    /// instead of one per file, no old version to compare with, and the folder appears
    /// with all its files at once.
    pub fn add_many_rebuildable(&mut self, files: &[(PathBuf, &[u8])]) -> Result<(), AtomicError> {
        for (path, _) in files {
            if !self.targets.insert(path.clone()) {
                return Err(AtomicError::Duplicate { path: path.clone() });
            }
        }
        // Folders staged by earlier calls take more files. A folder is staged only when its
        // parent is a real folder and no other folder of the set lies inside it, so staged
        // folders never nest; any other missing folder is created.
        let dirs: BTreeSet<PathBuf> = files.iter().map(|(p, _)| parent_dir(p)).collect();
        let missing =
            |p: &Path| fs::symlink_metadata(p).is_err_and(|e| e.kind() == io::ErrorKind::NotFound);
        // Staging folders are created together on the pool below (one mkdir each, 35-70 us
        // on this VM: 7-14 ms for 200 new patients one after another). None of them lies in
        // another: a folder holding another folder of the call is not staged.
        let mut to_stage = Vec::new();
        for dir in &dirs {
            if self.new_dirs.contains_key(dir) {
                continue;
            }
            if self.in_staged_folder(dir) {
                return Err(AtomicError::InStagedFolder { path: dir.clone() });
            }
            // paths sort by component, so the folders inside `dir` come right after it
            let holds_another = dirs
                .range::<PathBuf, _>((Bound::Excluded(dir), Bound::Unbounded))
                .next()
                .is_some_and(|d| d.starts_with(dir));
            if missing(dir) && !holds_another && !missing(&parent_dir(dir)) {
                to_stage.push(dir);
            } else {
                // anything else, even an error, goes the per-file way, which reports it
                fs::create_dir_all(dir).map_err(io_err(dir))?;
            }
        }
        // On an error the folders staged here are dropped, which removes them.
        let staged: Vec<(PathBuf, TempDir)> = to_stage
            .into_par_iter()
            .map(|dir| Ok((dir.clone(), stage_dir(dir)?)))
            .collect::<Result<_, AtomicError>>()?;
        self.new_dirs.extend(staged);
        let staged = &self.new_dirs;
        let written: Vec<Result<Option<(PathBuf, TempPath)>, AtomicError>> = files
            .par_iter()
            .map(|(path, bytes)| {
                if let Some(temp_dir) = staged.get(&parent_dir(path)) {
                    let (_, name) = split(path)?;
                    fs::write(temp_dir.path().join(name), bytes).map_err(io_err(path))?;
                    return Ok(None);
                }
                // A nightly re-run mostly rewrites the same images: leave an identical file
                // alone instead of replacing its inode (cheaper, and no churn for backups).
                if fs::read(path).is_ok_and(|old| old == *bytes) {
                    return Ok(None);
                }
                let mut f = AtomicFile::create(path)?;
                f.sync = false;
                f.write_all(bytes).map_err(io_err(path))?;
                let (target, temp) = f.finish()?;
                Ok(Some((target, temp.into_temp_path())))
            })
            .collect();
        for f in written {
            self.closed.extend(f?);
        }
        Ok(())
    }

    /// The folders this set writes whole (they did not exist): after commit they hold
    /// exactly the files added to them.
    pub fn whole_folders(&self) -> impl Iterator<Item = &Path> {
        self.new_dirs.keys().map(PathBuf::as_path)
    }

    /// Whether `path` lies inside a folder this set writes whole.
    fn in_staged_folder(&self, path: &Path) -> bool {
        path.ancestors()
            .skip(1)
            .any(|a| self.new_dirs.contains_key(a))
    }

    /// What commit renames, in order (a folder written whole is one rename).
    pub fn targets(&self) -> Vec<&Path> {
        self.new_dirs
            .keys()
            .map(PathBuf::as_path)
            .chain(self.closed.iter().map(|(t, _)| t.as_path()))
            .chain(self.files.iter().map(|f| f.target()))
            .collect()
    }

    /// fsyncs every file, then renames them all in order (see the type's guarantees).
    pub fn commit(self) -> Result<(), AtomicError> {
        // Every file is written and fsynced (and closed) before the first rename.
        let mut durable = Vec::with_capacity(self.files.len());
        for f in self.files {
            let (target, temp) = f.finish()?;
            durable.push((target, temp.into_temp_path()));
        }
        for (target, temp) in self.new_dirs {
            fs::rename(temp.path(), &target).map_err(io_err(&target))?;
            // renamed: nothing left to clean up (a failed rename drops `temp`, which removes
            // the staging folder with its files)
            let _ = temp.keep();
        }
        let rebuildable = self.closed.len();
        let mut ready = self.closed;
        ready.extend(durable);
        let mut dirs: Vec<PathBuf> = Vec::new();
        let mut seen: HashSet<PathBuf> = HashSet::new();
        for (i, (target, temp)) in ready.into_iter().enumerate() {
            temp.persist(&target).map_err(|e| AtomicError::Io {
                path: target.clone(),
                source: e.error,
            })?;
            // A rebuildable file's data is not fsynced, so neither is its rename: its folder
            // is synced only if it also holds a file of the set. The next run that writes
            // its outputs compares each such file with what it would write and rewrites a
            // lost or empty one.
            if i < rebuildable {
                continue;
            }
            let dir = parent_dir(&target);
            if seen.insert(dir.clone()) {
                dirs.push(dir);
            }
        }
        for dir in dirs {
            sync_dir_path(&dir)?;
        }
        Ok(())
    }
}

/// How deep below the output folder our writers put files (`images/<patient>/<file>`).
const TEMP_DEPTH: usize = 3;

/// Removes the temporary files and folders a killed run left in `dir` and the folders
/// below it that oncometry writes into (key images sit two levels down, and a run that
/// finds its images already done never rewrites, so never replaces, their temporaries),
/// and returns their paths, sorted. Symbolic links are not followed. Call it only while holding the output
/// folder's lock, so that no live writer's temporaries are removed.
pub fn clean_stale_temps(dir: &Path) -> Result<Vec<PathBuf>, AtomicError> {
    let mut removed = Vec::new();
    let mut walk = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .max_depth(TEMP_DEPTH)
        .sort_by_file_name()
        .into_iter();
    while let Some(entry) = walk.next() {
        let entry = match entry {
            Ok(e) => e,
            Err(e)
                if e.depth() == 0
                    && e.io_error().map(io::Error::kind) == Some(io::ErrorKind::NotFound) =>
            {
                return Ok(removed);
            }
            Err(e) => {
                let path = e.path().unwrap_or(dir).to_path_buf();
                return Err(io_err(&path)(io::Error::other(e.to_string())));
            }
        };
        let is_temp = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with('.') && n.ends_with(TEMP_SUFFIX));
        if !is_temp {
            continue;
        }
        // a folder being written whole (`OutputSet::add_many_rebuildable`), or a file
        let kind = entry.file_type();
        let path = entry.into_path();
        let gone = if kind.is_dir() {
            walk.skip_current_dir();
            fs::remove_dir_all(&path)
        } else if kind.is_file() {
            fs::remove_file(&path)
        } else {
            continue;
        };
        match gone {
            Ok(()) => removed.push(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&path)(e)),
        }
    }
    removed.sort();
    Ok(removed)
}

fn split(target: &Path) -> Result<(PathBuf, String), AtomicError> {
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| AtomicError::BadPath {
            path: target.to_path_buf(),
        })?;
    Ok((parent_dir(target), name.to_string()))
}

/// A hidden, empty temporary folder beside `dir` (whose parent is created if missing), with
/// the mode a plain `create_dir` gives; removed when dropped uncommitted.
fn stage_dir(dir: &Path) -> Result<TempDir, AtomicError> {
    let (parent, name) = split(dir)?;
    fs::create_dir_all(&parent).map_err(io_err(&parent))?;
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(TEMP_SUFFIX);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o777));
    }
    builder.tempdir_in(&parent).map_err(io_err(dir))
}

fn parent_dir(target: &Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn sync_dir(target: &Path) -> Result<(), AtomicError> {
    sync_dir_path(&parent_dir(target))
}

/// fsync of a directory makes a rename durable on Linux; Windows cannot open directories as
/// files and its rename (MoveFileEx) is durable with the file's own flush.
#[cfg(unix)]
fn sync_dir_path(dir: &Path) -> Result<(), AtomicError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

#[cfg(not(unix))]
fn sync_dir_path(_dir: &Path) -> Result<(), AtomicError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn write_replaces_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.csv");
        write_atomic(&p, b"old").unwrap();
        write_atomic(&p, b"new content").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new content");
        assert_eq!(names(d.path()), vec!["a.csv"]);
    }

    #[cfg(unix)]
    #[test]
    fn outputs_get_the_same_mode_as_a_plain_create() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let control = d.path().join("control");
        fs::write(&control, b"x").unwrap();
        let p = d.path().join("a.csv");
        write_atomic(&p, b"x").unwrap();
        let mode = |q: &Path| fs::metadata(q).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&p), mode(&control));
    }

    #[test]
    fn failing_writer_keeps_old_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.csv");
        write_atomic(&p, b"old").unwrap();
        let err = write_atomic_with(&p, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("a.csv"), "{err}");
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(names(d.path()), vec!["a.csv"]);
    }

    /// Thousands of key images must not mean thousands of open descriptors (a server's
    /// `ulimit -n` is often 1024): rebuildable files are closed once written, and a dropped
    /// set still removes them.
    #[cfg(target_os = "linux")]
    #[test]
    fn many_rebuildable_files_hold_no_descriptors() {
        let open_fds = || fs::read_dir("/proc/self/fd").unwrap().count();
        let d = tempfile::tempdir().unwrap();
        let files: Vec<(PathBuf, &[u8])> = (0..300)
            .map(|i| (d.path().join(format!("{i}.png")), b"png".as_slice()))
            .collect();
        let before = open_fds();
        {
            let mut set = OutputSet::new();
            set.add_many_rebuildable(&files).unwrap();
            // other tests run in parallel threads and open files too: leave them room
            assert!(open_fds() < before + 100, "{} fds open", open_fds());
            assert_eq!(names(d.path()).len(), 300, "300 temporaries");
            assert!(set.add_bytes(&files[7].0, b"again").is_err(), "duplicate");
        }
        assert!(names(d.path()).is_empty(), "{:?}", names(d.path()));
        let mut set = OutputSet::new();
        set.add_many_rebuildable(&files).unwrap();
        set.commit().unwrap();
        assert_eq!(fs::read(d.path().join("299.png")).unwrap(), b"png");
        assert_eq!(names(d.path()).len(), 300);
    }

    /// Re-writing the same bytes keeps the file (same inode); new bytes replace it.
    #[cfg(unix)]
    #[test]
    fn identical_rebuildable_files_are_left_in_place() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a.png"), d.path().join("b.png"));
        let ino = |p: &Path| fs::metadata(p).unwrap().ino();
        let mut set = OutputSet::new();
        set.add_many_rebuildable(&[(a.clone(), b"same"), (b.clone(), b"old")])
            .unwrap();
        set.commit().unwrap();
        let (ia, ib) = (ino(&a), ino(&b));
        let mut set = OutputSet::new();
        set.add_many_rebuildable(&[(a.clone(), b"same"), (b.clone(), b"new")])
            .unwrap();
        set.commit().unwrap();
        assert_eq!(ino(&a), ia, "identical content: not replaced");
        assert_ne!(ino(&b), ib, "new content: replaced");
        assert_eq!(fs::read(&b).unwrap(), b"new");
        assert_eq!(names(d.path()), vec!["a.png", "b.png"]);
    }

    /// A folder that did not exist is written whole under a hidden name and appears, with
    /// every file and the mode of a plain `create_dir`, only on commit; dropped before,
    /// it leaves nothing.
    #[cfg(unix)]
    #[test]
    fn new_folders_appear_whole_on_commit() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let images = d.path().join("images");
        let (p1, p2) = (images.join("P1"), images.join("P2"));
        fs::create_dir_all(&p2).unwrap();
        fs::write(p2.join("old.png"), b"old").unwrap();
        let files: Vec<(PathBuf, &[u8])> = vec![
            (p1.join("0_L1.png"), b"a"),
            (p1.join("0_L1_thumb.png"), b"b"),
            (p2.join("0_L1.png"), b"c"),
        ];
        {
            let mut set = OutputSet::new();
            set.add_many_rebuildable(&files).unwrap();
            // dropped before commit
        }
        assert_eq!(names(&images), vec!["P2"]);
        assert_eq!(names(&p2), vec!["old.png"]);
        let mut set = OutputSet::new();
        set.add_many_rebuildable(&files).unwrap();
        let before = names(&images);
        assert_eq!(before.len(), 2, "{before:?}");
        assert!(
            before[0].starts_with(".P1.") && before[0].ends_with(TEMP_SUFFIX),
            "{before:?}"
        );
        assert_eq!(set.targets()[0], p1.as_path());
        set.commit().unwrap();
        assert_eq!(names(&images), vec!["P1", "P2"]);
        assert_eq!(names(&p1), vec!["0_L1.png", "0_L1_thumb.png"]);
        assert_eq!(fs::read(p1.join("0_L1_thumb.png")).unwrap(), b"b");
        assert_eq!(fs::read(p2.join("0_L1.png")).unwrap(), b"c");
        let control = d.path().join("control");
        fs::create_dir(&control).unwrap();
        let mode = |q: &Path| fs::metadata(q).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&p1), mode(&control));
    }

    #[test]
    fn uncommitted_set_changes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.csv");
        let b = d.path().join("b.json");
        write_atomic(&a, b"A0").unwrap();
        {
            let mut set = OutputSet::new();
            set.add_bytes(&a, b"A1").unwrap();
            set.add_bytes(&b, b"B1").unwrap();
            assert_eq!(names(d.path()).len(), 3, "two temporaries plus a.csv");
            // dropped: e.g. the run was interrupted before commit
        }
        assert_eq!(fs::read(&a).unwrap(), b"A0");
        assert!(!b.exists());
        assert_eq!(names(d.path()), vec!["a.csv"]);
    }

    #[test]
    fn set_commit_replaces_all_in_order() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.csv");
        let b = d.path().join("b.json");
        let mut set = OutputSet::new();
        set.add_with(&a, |w| w.write_all(b"A1")).unwrap();
        set.add_bytes(&b, b"B1").unwrap();
        assert!(set.add_bytes(&a, b"again").is_err());
        assert_eq!(set.targets(), vec![a.as_path(), b.as_path()]);
        set.commit().unwrap();
        assert_eq!(fs::read(&a).unwrap(), b"A1");
        assert_eq!(fs::read(&b).unwrap(), b"B1");
        assert_eq!(names(d.path()), vec!["a.csv", "b.json"]);
    }

    /// A new folder named by two calls is staged once and gets both files; new folders
    /// inside new folders are created, not staged, so that no staged folder holds another;
    /// a durable file cannot go into a staged folder.
    #[test]
    fn new_folders_named_twice_or_nested_commit_every_file() {
        let d = tempfile::tempdir().unwrap();
        let (p1, a, ab) = (
            d.path().join("P1"),
            d.path().join("a"),
            d.path().join("a").join("b"),
        );
        let mut set = OutputSet::new();
        set.add_bytes_rebuildable(&p1.join("x.png"), b"x").unwrap();
        set.add_bytes_rebuildable(&p1.join("y.png"), b"y").unwrap();
        set.add_many_rebuildable(&[(a.join("1.png"), b"1"), (ab.join("2.png"), b"2")])
            .unwrap();
        assert!(matches!(
            set.add_bytes(&p1.join("z.csv"), b"z"),
            Err(AtomicError::InStagedFolder { .. })
        ));
        assert!(matches!(
            set.add_bytes_rebuildable(&p1.join("c").join("w.png"), b"w"),
            Err(AtomicError::InStagedFolder { .. })
        ));
        set.commit().unwrap();
        assert_eq!(names(&p1), vec!["x.png", "y.png"]);
        assert_eq!(names(&a), vec!["1.png", "b"]);
        assert_eq!(names(&ab), vec!["2.png"]);
        assert_eq!(names(d.path()), vec!["P1", "a"]);
    }

    /// A folder rename that fails (the target appeared, not empty) leaves no staging
    /// folder behind.
    #[test]
    fn a_failed_folder_rename_leaves_no_staging_folder() {
        let d = tempfile::tempdir().unwrap();
        let p1 = d.path().join("P1");
        let mut set = OutputSet::new();
        set.add_many_rebuildable(&[(p1.join("x.png"), b"x")])
            .unwrap();
        fs::create_dir(&p1).unwrap();
        fs::write(p1.join("user.txt"), b"u").unwrap();
        assert!(set.commit().is_err());
        assert_eq!(names(d.path()), vec!["P1"]);
        assert_eq!(names(&p1), vec!["user.txt"]);
    }

    /// A file written (and fsynced) outside the set is renamed in the order it was adopted,
    /// and counts for the duplicate check.
    #[test]
    fn adopted_files_commit_in_order() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.csv");
        let r = d.path().join("report.html");
        let mut set = OutputSet::new();
        set.add_bytes(&a, b"A").unwrap();
        let mut report = AtomicFile::written_synced(&r, b"R").unwrap();
        report.write_all(b"2").unwrap();
        assert!(!r.exists(), "not before commit");
        set.adopt(report).unwrap();
        let again = AtomicFile::written_synced(&a, b"again").unwrap();
        assert!(matches!(
            set.adopt(again),
            Err(AtomicError::Duplicate { .. })
        ));
        assert_eq!(set.targets(), vec![a.as_path(), r.as_path()]);
        set.commit().unwrap();
        assert_eq!(fs::read(&a).unwrap(), b"A");
        assert_eq!(fs::read(&r).unwrap(), b"R2");
        assert_eq!(names(d.path()), vec!["a.csv", "report.html"]);
    }

    #[test]
    fn stale_temps_are_cleaned_and_only_them() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("lesions.csv");
        write_atomic(&p, b"keep").unwrap();
        let stale = AtomicFile::create(&p).unwrap();
        // A killed process never runs destructors: keep the temporary on disk.
        let (_, temp) = stale.finish().unwrap();
        let (_, temp_path) = temp.keep().unwrap();
        fs::write(d.path().join("notes.tmp"), b"user file").unwrap();
        // A key image's temporary two levels down is found too.
        let patient = d.path().join("images").join("P1");
        fs::create_dir_all(&patient).unwrap();
        let nested = patient.join(".baseline_L1.png.oncometry.tmp");
        fs::write(&nested, b"half a png").unwrap();
        fs::write(patient.join("baseline_L1.png"), b"png").unwrap();
        // So is a new patient's folder that was being written whole, with its files.
        let staged = stage_dir(&d.path().join("images").join("P2"))
            .unwrap()
            .keep();
        fs::write(staged.join("baseline_L1.png"), b"png").unwrap();
        let removed = clean_stale_temps(d.path()).unwrap();
        let mut expected = vec![temp_path, nested, staged];
        expected.sort();
        assert_eq!(removed, expected);
        assert!(patient.join("baseline_L1.png").exists());
        assert_eq!(names(&d.path().join("images")), vec!["P1"]);
        assert_eq!(names(d.path()), vec!["images", "lesions.csv", "notes.tmp"]);
        assert_eq!(fs::read(&p).unwrap(), b"keep");
        assert!(
            clean_stale_temps(&d.path().join("missing"))
                .unwrap()
                .is_empty()
        );
    }
}
