//! oncometry: PACS export → lesion diameters → RECIST 1.1 response → survival statistics.
//!
//! The library is split by the data it handles, one module per pipeline stage. Each stage
//! takes plain data in and gives plain data out so that it can be tested alone and run alone
//! as a CLI subcommand. `measure`, `response` and `survival` know nothing about DICOM;
//! `survival` knows nothing about RECIST. See ARCHITECTURE.md for the code map.

pub mod dicom;
pub mod measure;
pub mod pipeline;
pub mod report;
pub mod response;
pub mod survival;
#[cfg(test)]
mod testutil;
