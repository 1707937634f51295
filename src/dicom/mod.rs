//! DICOM ingest: index an export from headers only, read SEG / RTSTRUCT / SR TID 1500 into
//! lesions placed in patient coordinates, validate image geometry, decode single images for
//! key images. This is the only module that knows about DICOM.

pub mod pixels;
