//! DICOM ingest: index an export from headers only, read SEG / RTSTRUCT / SR TID 1500 into
//! lesions placed in patient coordinates, validate image geometry, decode single images for
//! key images. This is the only module that knows about DICOM.

pub mod attrs;
pub mod error;
pub mod geometry;
pub mod guard;
pub mod index;
pub mod lean;
pub mod open;
pub mod pixels;
pub mod rtstruct;
pub mod seg;
pub mod sr;

pub use error::DicomError;
pub use geometry::{GeometryError, ImagePlane};
pub use index::{
    Annotation, AnnotationKind, ExportIndex, ImageRecord, IndexError, LesionEntry, PatientEntry,
    Quarantined, SeriesEntry, StudyEntry, index_dir,
};
