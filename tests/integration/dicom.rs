//! Integration tests: dicom.
