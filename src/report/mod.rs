//! Output: CSV / JSON writers, SVG plots and the self-contained HTML report.
