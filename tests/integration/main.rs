//! The one integration-test binary (ripgrep's convention): each module tests one stage or
//! one command through the real binary or the library, on temp dirs and committed fixtures.

mod util;

mod dicom;
mod images;
mod measure;
mod pipeline;
mod report;
mod response;
mod run;
mod survival;
