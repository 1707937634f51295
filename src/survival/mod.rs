//! Kaplan–Meier, log-rank and Cox proportional hazards, matched number for number against
//! R's survival package. Knows nothing about RECIST or DICOM.
//!
//! Entry points: [`SurvData::new`] (validated times and events), [`kaplan_meier`],
//! [`median_follow_up`], [`log_rank`], [`cox`] with a [`Design`] of named covariates, and
//! [`input::Table`] to read a CSV with missing values dropped and counted.

// Index loops over coefficients mirror the matrix algebra (and R's C code) they implement.
#![allow(clippy::needless_range_loop)]

mod concordance;
mod cox;
mod data;
mod design;
mod dist;
mod error;
pub mod input;
mod km;
mod levels;
mod linalg;
mod logrank;
pub mod types;
mod zph;

pub use concordance::concordance;
pub use cox::{CoxOptions, Ties, cox};
pub use data::SurvData;
pub use design::{Design, Term};
pub use dist::{Z975, chisq_p, two_sided_normal_p};
pub use error::{Result, SurvError};
pub use km::{ConfType, KmOptions, kaplan_meier, median_follow_up};
pub use levels::sorted_levels;
pub use logrank::{LogRankOptions, log_rank};
pub use types::*;
