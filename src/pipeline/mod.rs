//! `oncometry run`: the whole job, plus what makes it safe to run unattended every night
//! (incremental manifest, quarantine, locking, atomic writes, sharding and merge).

pub mod atomic;
pub mod clinical;
pub mod cohort;
pub mod config;
pub mod keyimages;
pub mod lock;
pub mod manifest;
pub mod measure_stage;
pub mod merge;
pub mod outputs;
pub mod run;
pub mod runlog;
pub mod scan;
pub mod shard;
pub mod signals;
