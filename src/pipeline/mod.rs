//! `oncometry run`: the whole job, plus what makes it safe to run unattended every night
//! (incremental manifest, quarantine, locking, atomic writes, sharding and merge).

pub mod atomic;
pub mod lock;
pub mod manifest;
pub mod scan;
pub mod shard;
pub mod signals;
