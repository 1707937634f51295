//! Output: CSV / JSON writers, SVG plots and the self-contained HTML report.

pub mod keyimage;
pub mod lesions;
pub use lesions::LesionRow;
