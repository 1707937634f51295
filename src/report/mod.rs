//! Output: CSV / JSON writers, SVG plots and the self-contained HTML report.

pub mod escape;
pub mod figures;
pub mod forest;
pub mod html;
pub mod input;
pub mod keyimage;
pub mod km_plot;
pub mod lesions;
pub mod scale;
pub mod spider;
pub mod svg;
pub mod waterfall;
pub mod writers;

pub use figures::{Figure, figures};
pub use forest::{ForestRow, forest_rows, forest_svg};
pub use html::render_report;
pub use input::{
    Analysis, DataQuality, EndpointResults, GroupingResults, ImageSource, KeyImage,
    QuarantinedFile, ReportInput,
};
pub use km_plot::{KmPlotOptions, km_svg, n_at_risk};
pub use lesions::LesionRow;
pub use spider::spider_svg;
pub use waterfall::waterfall_svg;
pub use writers::{WriteError, csv_string, quarantine_csv, survival_json};
