//! `--shard I/N`: which patients this run processes when a cohort is split over N machines
//! (a Slurm array, a Kubernetes Indexed Job). The unit is the patient, not the study, because
//! RECIST needs all of a patient's timepoints together; `oncometry merge` then concatenates.
//!
//! The assignment must be identical on every machine, every night and across oncometry
//! releases, or a patient would move between shards. So it is BLAKE3 of the patient ID's
//! UTF-8 bytes, first 8 bytes read little-endian, modulo N — never `std`'s `RandomState`
//! (seeded per process) or `DefaultHasher` (algorithm not promised stable across releases).
//! Leading/trailing spaces and NULs are DICOM padding and are trimmed first, so `"P001 "` and
//! `"P001"` land together.

use std::str::FromStr;

/// One shard `index` of `count` (0 ≤ index < count). `0/1` is the whole cohort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u32,
    count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("--shard {0:?}: expected I/N with 0 <= I < N (e.g. 3/8), `auto` or `auto/N`")]
    Syntax(String),
    #[error("--shard {index}/{count}: the shard index must be below the shard count")]
    OutOfRange { index: u32, count: u32 },
    #[error("--shard: the shard count must be at least 1")]
    ZeroCount,
    #[error(
        "--shard auto: neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set; pass --shard I/N"
    )]
    NoEnvironment,
    #[error("--shard auto: {0}")]
    Environment(String),
}

impl Shard {
    /// Rejects `count == 0` and `index >= count`.
    pub fn new(index: u32, count: u32) -> Result<Self, ShardError> {
        if count == 0 {
            return Err(ShardError::ZeroCount);
        }
        if index >= count {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Self { index, count })
    }

    /// The whole cohort (`0/1`): what a run without `--shard` processes.
    pub fn all() -> Self {
        Self { index: 0, count: 1 }
    }

    pub fn index(self) -> u32 {
        self.index
    }

    pub fn count(self) -> u32 {
        self.count
    }

    /// Whether this shard processes `patient_id`.
    pub fn contains(self, patient_id: &str) -> bool {
        shard_of(patient_id, self.count) == self.index
    }

    /// Parses the value of `--shard`, reading the scheduler's environment for `auto`:
    ///
    /// - `I/N`: explicit.
    /// - `auto`: Slurm array — index = `SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN`, count =
    ///   `SLURM_ARRAY_TASK_COUNT`; the array must be contiguous with step 1 (`--array=0-31`
    ///   or `1-32`, with or without a `%` throttle).
    /// - `auto/N`: index from `SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN` or Kubernetes'
    ///   `JOB_COMPLETION_INDEX` (an Indexed Job does not expose its completion count), count N.
    ///
    /// Sharding is never switched on by the environment alone: a plain `run` inside an array
    /// job that processes different exports must not silently drop patients.
    pub fn parse_with_env(
        value: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ShardError> {
        let value = value.trim();
        let (head, tail) = match value.split_once('/') {
            Some((h, t)) => (h.trim(), Some(t.trim())),
            None => (value, None),
        };
        let syntax = || ShardError::Syntax(value.to_string());
        let count = tail
            .map(|t| t.parse::<u32>().map_err(|_| syntax()))
            .transpose()?;
        if head != "auto" {
            let index = head.parse::<u32>().map_err(|_| syntax())?;
            return Self::new(index, count.ok_or_else(syntax)?);
        }
        let num = |name: &str| -> Result<Option<u32>, ShardError> {
            env(name)
                .map(|v| {
                    v.trim().parse::<u32>().map_err(|_| {
                        ShardError::Environment(format!("{name}={v:?} is not a number"))
                    })
                })
                .transpose()
        };
        if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
            let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let index = id.checked_sub(min).ok_or_else(|| {
                ShardError::Environment(format!(
                    "SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}"
                ))
            })?;
            let task_count = num("SLURM_ARRAY_TASK_COUNT")?;
            if let (Some(max), Some(n)) = (num("SLURM_ARRAY_TASK_MAX")?, task_count)
                && max.checked_sub(min).map(|span| span + 1) != Some(n)
            {
                return Err(ShardError::Environment(format!(
                    "the Slurm array {min}-{max} has {n} tasks: it is not contiguous with step 1; pass --shard I/N"
                )));
            }
            let count = match (count, task_count) {
                (Some(c), Some(n)) if c != n => {
                    return Err(ShardError::Environment(format!(
                        "--shard auto/{c} but SLURM_ARRAY_TASK_COUNT={n}"
                    )));
                }
                (Some(c), _) => c,
                (None, Some(n)) => n,
                (None, None) => {
                    return Err(ShardError::Environment(
                        "SLURM_ARRAY_TASK_COUNT is not set; use --shard auto/N".into(),
                    ));
                }
            };
            return Self::new(index, count);
        }
        if let Some(index) = num("JOB_COMPLETION_INDEX")? {
            let count = count.ok_or_else(|| {
                ShardError::Environment(
                    "JOB_COMPLETION_INDEX gives no shard count; use --shard auto/N with N = the Job's completions".into(),
                )
            })?;
            return Self::new(index, count);
        }
        Err(ShardError::NoEnvironment)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    /// `I/N`, or `auto`/`auto/N` read from this process's environment.
    fn from_str(s: &str) -> Result<Self, ShardError> {
        Self::parse_with_env(s, |k| std::env::var(k).ok())
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The stable 64-bit key of a patient ID (see the module docs).
pub fn patient_key(patient_id: &str) -> u64 {
    let trimmed = patient_id.trim_matches(|c| c == ' ' || c == '\0');
    let digest = blake3::hash(trimmed.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_bytes()[..8]);
    u64::from_le_bytes(first)
}

/// The shard (0..count) a patient belongs to; `count` 0 is treated as 1.
pub fn shard_of(patient_id: &str, count: u32) -> u32 {
    let n = u64::from(count.max(1));
    // The remainder is below `count`, so it fits in u32.
    u32::try_from(patient_key(patient_id) % n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    /// Expected values computed independently with Python's `blake3` package:
    /// `v = int.from_bytes(blake3.blake3(pid.encode()).digest()[:8], "little")`.
    #[test]
    fn keys_match_python_blake3() {
        let cases: [(&str, u64, [u32; 6]); 6] = [
            ("P001", 13409845535683812238, [0, 0, 1, 2, 14, 238]),
            ("P002", 1968323690701428120, [0, 0, 0, 4, 24, 120]),
            ("LIDC-IDRI-0001", 17889927577596604130, [0, 0, 2, 6, 2, 130]),
            ("patient-ä", 4278441625530624211, [0, 1, 1, 2, 19, 211]),
            ("", 12007152915317330863, [0, 1, 1, 1, 15, 863]),
            ("TCGA-02-0003", 5862214824347590471, [0, 1, 1, 0, 7, 471]),
        ];
        for (pid, key, shards) in cases {
            assert_eq!(patient_key(pid), key, "{pid}");
            for (n, want) in [1, 2, 3, 7, 32, 1000].into_iter().zip(shards) {
                assert_eq!(shard_of(pid, n), want, "{pid} mod {n}");
            }
        }
        // DICOM padding does not move a patient.
        assert_eq!(patient_key("P001 "), patient_key("P001"));
        assert_eq!(patient_key("P001\0"), patient_key("P001"));
    }

    #[test]
    fn parse_explicit() {
        let none = env(&[]);
        assert_eq!(
            Shard::parse_with_env("3/8", &none).unwrap(),
            Shard::new(3, 8).unwrap()
        );
        assert_eq!(Shard::parse_with_env(" 0/1 ", &none).unwrap(), Shard::all());
        assert_eq!(
            Shard::parse_with_env("8/8", &none),
            Err(ShardError::OutOfRange { index: 8, count: 8 })
        );
        assert_eq!(
            Shard::parse_with_env("0/0", &none),
            Err(ShardError::ZeroCount)
        );
        for bad in ["", "3", "3/", "/8", "-1/8", "a/b", "1/2/3", "1.5/4"] {
            assert!(
                matches!(
                    Shard::parse_with_env(bad, &none),
                    Err(ShardError::Syntax(_))
                ),
                "{bad}"
            );
        }
        assert_eq!(Shard::new(3, 8).unwrap().to_string(), "3/8");
    }

    #[test]
    fn parse_auto_from_slurm_and_kubernetes() {
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "32"),
            ("SLURM_ARRAY_TASK_COUNT", "32"),
        ]);
        assert_eq!(
            Shard::parse_with_env("auto", &slurm).unwrap(),
            Shard::new(4, 32).unwrap()
        );
        assert_eq!(
            Shard::parse_with_env("auto/32", &slurm).unwrap(),
            Shard::new(4, 32).unwrap()
        );
        assert!(Shard::parse_with_env("auto/16", &slurm).is_err());
        let sparse = env(&[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "9"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ]);
        assert!(matches!(
            Shard::parse_with_env("auto", &sparse),
            Err(ShardError::Environment(_))
        ));
        let k8s = env(&[("JOB_COMPLETION_INDEX", "7")]);
        assert_eq!(
            Shard::parse_with_env("auto/8", &k8s).unwrap(),
            Shard::new(7, 8).unwrap()
        );
        assert!(Shard::parse_with_env("auto", &k8s).is_err());
        assert_eq!(
            Shard::parse_with_env("auto/7", &k8s),
            Err(ShardError::OutOfRange { index: 7, count: 7 })
        );
        assert_eq!(
            Shard::parse_with_env("auto/4", env(&[])),
            Err(ShardError::NoEnvironment)
        );
    }

    proptest::proptest! {
        #[test]
        fn every_patient_in_exactly_one_shard(pid in "\\PC{0,24}", n in 1u32..64) {
            let owners: Vec<u32> = (0..n)
                .filter(|&i| Shard::new(i, n).unwrap().contains(&pid))
                .collect();
            proptest::prop_assert_eq!(owners.len(), 1);
            proptest::prop_assert_eq!(owners[0], shard_of(&pid, n));
            proptest::prop_assert!(Shard::all().contains(&pid));
        }
    }
}
