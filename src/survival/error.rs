//! Typed errors of the survival module. Each names the column, row or term at fault so that
//! a batch can report one clear line and move on.

/// Why a survival analysis could not be run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SurvError {
    #[error("{what}: expected {expected} values (one per subject), got {got}")]
    LengthMismatch {
        what: String,
        expected: usize,
        got: usize,
    },
    #[error("column '{column}' row {row}: time is negative ({value})")]
    NegativeTime {
        column: String,
        row: usize,
        value: f64,
    },
    #[error("column '{column}' row {row}: time is not a finite number")]
    NonFiniteTime { column: String, row: usize },
    #[error(
        "column '{column}' row {row}: event is '{value}'; events must be 0 (censored) or 1 (event)"
    )]
    BadEvent {
        column: String,
        row: usize,
        value: String,
    },
    #[error("column '{column}' row {row}: '{value}' is not a number")]
    NotANumber {
        column: String,
        row: usize,
        value: String,
    },
    #[error("no observations left (all rows dropped or empty input)")]
    NoObservations,
    #[error("no events: every subject is censored, nothing to estimate")]
    NoEvents,
    #[error("'{column}' has a single level ('{level}'); a comparison needs at least two")]
    SingleLevel { column: String, level: String },
    #[error("'{column}': reference level '{level}' does not occur in the data (levels: {levels})")]
    UnknownLevel {
        column: String,
        level: String,
        levels: String,
    },
    #[error("'{column}' is constant; it carries no information for a Cox model")]
    ConstantCovariate { column: String },
    #[error("'{column}': per={per} must be a finite non-zero number")]
    BadPer { column: String, per: f64 },
    #[error("the Cox model needs at least one covariate")]
    NoCovariates,
    #[error("covariates are collinear (term '{term}' is a linear combination of the others)")]
    Collinear { term: String },
    #[error("unknown column '{column}' (columns: {available})")]
    UnknownColumn { column: String, available: String },
    #[error("{0}")]
    BadOption(String),
    #[error("reading the table: {0}")]
    Csv(String),
}

pub type Result<T> = std::result::Result<T, SurvError>;
