//! Kaplan–Meier, log-rank and Cox proportional hazards, matched number for number against
//! R's survival package. Knows nothing about RECIST or DICOM.

pub mod types;
pub use types::*;
