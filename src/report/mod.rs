//! Output: CSV / JSON writers, SVG plots and the self-contained HTML report.

pub mod lesions;
pub use lesions::LesionRow;
