//! Walking the export: which files exist now, with size and mtime, in a deterministic order.
//!
//! The walk only `stat`s. Content hashes are computed later ([`crate::pipeline::manifest`])
//! and only for files whose size or mtime changed and whose patient is in this run's shard:
//! re-reading every byte of a 10 TB archive each night, on every shard, is exactly what an
//! incremental run must avoid.
//!
//! Symbolic links are followed only while they stay inside the export (an export that links
//! series from a sibling folder works; a link to `/` does not pull in the file system). Links
//! pointing outside, broken links, link loops, unreadable directories and names that are not
//! UTF-8 are reported in [`Scan::skipped`] with a reason, never fatal.

use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use walkdir::WalkDir;

/// What the walk should leave out.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Folders not to descend into, e.g. the output folder when it lies inside the export.
    pub exclude: Vec<PathBuf>,
}

/// A regular file of the export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStat {
    /// Relative to the export root, `/`-separated.
    pub path: String,
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// When the file arrived here: the later of mtime and the inode change time (ctime) on
    /// Unix. Copies that keep the sender's mtime (`rsync -a`, `cp -p`, many PACS exporters)
    /// still get a fresh ctime, so the stable age works for them too.
    pub arrived_ns: i64,
}

/// A path the walk could not or would not take, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// One walk of the export.
#[derive(Debug, Clone)]
pub struct Scan {
    pub root: PathBuf,
    /// Sorted by `path`.
    pub files: Vec<FileStat>,
    /// Sorted by `path`.
    pub skipped: Vec<Skipped>,
    /// When the walk started (ns since the epoch): a file whose mtime is not safely before
    /// this instant may still change within the same mtime tick, so its hash is not trusted
    /// next time without re-reading ("racily clean", as git calls it).
    pub started_ns: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{}: cannot read the export folder: {source}", path.display())]
    Root {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Walks `root` (see the module docs).
pub fn scan_export(root: &Path, opts: &ScanOptions) -> Result<Scan, ScanError> {
    let started_ns = system_time_ns(SystemTime::now());
    let canon_root = root.canonicalize().map_err(|source| ScanError::Root {
        path: root.to_path_buf(),
        source,
    })?;
    if !canon_root.is_dir() {
        return Err(ScanError::Root {
            path: root.to_path_buf(),
            source: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
        });
    }
    let excluded: Vec<PathBuf> = opts
        .exclude
        .iter()
        .filter_map(|p| p.canonicalize().ok())
        .collect();
    let skipped = RefCell::new(Vec::new());
    let mut files = Vec::new();
    let walker = WalkDir::new(&canon_root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            if e.depth() == 0 {
                return true;
            }
            let real = if e.path_is_symlink() {
                match e.path().canonicalize() {
                    Ok(real) if real.starts_with(&canon_root) => real,
                    Ok(_) => {
                        skipped.borrow_mut().push(skip(
                            &canon_root,
                            e.path(),
                            "symbolic link points outside the export",
                        ));
                        return false;
                    }
                    // Broken link: walkdir reports it as an error below.
                    Err(_) => return true,
                }
            } else {
                e.path().to_path_buf()
            };
            !excluded.iter().any(|x| real.starts_with(x))
        });
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(err) => {
                let path = err.path().unwrap_or(&canon_root).to_path_buf();
                let reason = if err.loop_ancestor().is_some() {
                    "symbolic link loop".to_string()
                } else {
                    match err.io_error() {
                        Some(io) if io.kind() == io::ErrorKind::NotFound => {
                            "broken symbolic link".to_string()
                        }
                        Some(io) => format!("cannot read: {io}"),
                        None => err.to_string(),
                    }
                };
                skipped.borrow_mut().push(skip(&canon_root, &path, &reason));
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let Some(rel) = relative(&canon_root, entry.path()) else {
            skipped.borrow_mut().push(skip(
                &canon_root,
                entry.path(),
                "file name is not valid UTF-8",
            ));
            continue;
        };
        match entry.metadata() {
            Ok(md) => {
                let mtime_ns = md.modified().map(system_time_ns).unwrap_or(0);
                files.push(FileStat {
                    path: rel,
                    size: md.len(),
                    mtime_ns,
                    arrived_ns: mtime_ns.max(ctime_ns(&md)),
                });
            }
            Err(e) => skipped.borrow_mut().push(skip(
                &canon_root,
                entry.path(),
                &format!("cannot stat: {e}"),
            )),
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut skipped = skipped.into_inner();
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    skipped.dedup();
    Ok(Scan {
        root: canon_root,
        files,
        skipped,
        started_ns,
    })
}

fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?),
            _ => return None,
        }
    }
    Some(parts.join("/"))
}

fn skip(root: &Path, path: &Path, reason: &str) -> Skipped {
    let shown = relative(root, path).unwrap_or_else(|| {
        path.strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string()
    });
    Skipped {
        path: shown,
        reason: reason.to_string(),
    }
}

#[cfg(unix)]
fn ctime_ns(md: &std::fs::Metadata) -> i64 {
    use std::os::unix::fs::MetadataExt;
    md.ctime()
        .saturating_mul(1_000_000_000)
        .saturating_add(md.ctime_nsec())
}

#[cfg(not(unix))]
fn ctime_ns(_md: &std::fs::Metadata) -> i64 {
    i64::MIN
}

/// Nanoseconds since the Unix epoch (negative before 1970, saturating far out).
pub fn system_time_ns(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_nanos())
            .map(|n| -n)
            .unwrap_or(i64::MIN),
    }
}

/// BLAKE3 of a file's content.
pub fn hash_file(path: &Path) -> io::Result<[u8; 32]> {
    let mut file = File::open(path)?;
    let mut hasher = blake3::Hasher::new();
    // Not `update_reader`: it zero-fills a fresh 64 KiB buffer per call, which cost more than
    // hashing the typical 20–40 KB slice. `io::copy` reads through an uninitialised buffer.
    io::copy(&mut file, &mut hasher)?;
    Ok(*hasher.finalize().as_bytes())
}

/// The hash that ties a stored result to what produced it: the effective configuration's
/// canonical bytes plus this oncometry version, so an upgrade re-measures everything once.
pub fn config_hash(effective_config: &[u8]) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"oncometry ");
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(b"\n");
    h.update(effective_config);
    h.finalize().to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn walk_is_sorted_relative_and_skips_excluded() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("export");
        fs::create_dir_all(root.join("b/sub")).unwrap();
        fs::create_dir_all(root.join("a")).unwrap();
        fs::create_dir_all(root.join("out")).unwrap();
        fs::write(root.join("b/sub/z.dcm"), b"zz").unwrap();
        fs::write(root.join("a/x"), b"x").unwrap();
        fs::write(root.join("README"), b"hello").unwrap();
        fs::write(root.join("out/lesions.csv"), b"o").unwrap();
        let scan = scan_export(
            &root,
            &ScanOptions {
                exclude: vec![root.join("out")],
            },
        )
        .unwrap();
        let paths: Vec<&str> = scan.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, vec!["README", "a/x", "b/sub/z.dcm"]);
        assert_eq!(scan.files[0].size, 5);
        assert!(scan.files[0].mtime_ns > 0);
        assert!(scan.skipped.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_inside_followed_outside_skipped() {
        use std::os::unix::fs::symlink;
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("export");
        let outside = d.path().join("secret");
        fs::create_dir_all(root.join("real")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(root.join("real/f.dcm"), b"f").unwrap();
        fs::write(outside.join("passwd"), b"p").unwrap();
        symlink(root.join("real"), root.join("alias")).unwrap();
        symlink(&outside, root.join("escape")).unwrap();
        symlink(root.join("nowhere"), root.join("broken")).unwrap();
        symlink(&root, root.join("real/loop")).unwrap();
        let scan = scan_export(&root, &ScanOptions::default()).unwrap();
        let paths: Vec<&str> = scan.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, vec!["alias/f.dcm", "real/f.dcm"]);
        let skipped: Vec<(&str, &str)> = scan
            .skipped
            .iter()
            .map(|s| (s.path.as_str(), s.reason.as_str()))
            .collect();
        assert!(skipped.contains(&("escape", "symbolic link points outside the export")));
        assert!(skipped.contains(&("broken", "broken symbolic link")));
        assert!(
            skipped.iter().any(|(_, r)| *r == "symbolic link loop"),
            "{skipped:?}"
        );
    }

    #[test]
    fn missing_root_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let err = scan_export(&d.path().join("nope"), &ScanOptions::default()).unwrap_err();
        assert!(err.to_string().contains("nope"));
    }

    #[test]
    fn hashes_are_blake3_and_config_hash_depends_on_config() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        fs::write(&p, b"abc").unwrap();
        // BLAKE3("abc") from the reference implementation's test vectors (b3sum).
        assert_eq!(
            blake3::Hash::from(hash_file(&p).unwrap()).to_hex().as_str(),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
        assert_ne!(config_hash(b"a=1"), config_hash(b"a=2"));
        assert_eq!(config_hash(b"a=1"), config_hash(b"a=1"));
        assert_eq!(system_time_ns(UNIX_EPOCH), 0);
    }
}
