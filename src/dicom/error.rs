//! Typed errors of the DICOM readers. Every variant names the file (relative to the export
//! when known) so a quarantine line or a log line is self-explanatory without a backtrace.

use dicom_core::Tag;

use super::geometry::GeometryError;

/// Why a file or an object could not be read or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DicomError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: empty file (0 bytes)")]
    Empty { file: String },
    #[error("{file}: not DICOM: {reason}")]
    NotDicom { file: String, reason: String },
    #[error("{file}: cannot parse DICOM: {reason}")]
    Parse { file: String, reason: String },
    #[error("{file}: truncated: {reason}")]
    Truncated { file: String, reason: String },
    /// A declared value length runs past the end of the data. Checked before parsing
    /// because dicom-rs reserves a declared length before reading it (see `guard`).
    #[error(
        "{file}: truncated or corrupt: {tag} declares {declared} bytes, {left} left in the {within}"
    )]
    LengthBeyondEnd {
        file: String,
        tag: TagName,
        declared: u64,
        left: u64,
        within: &'static str,
    },
    #[error("{file}: missing or empty required tag {tag} {name}")]
    MissingTag {
        file: String,
        tag: TagName,
        name: &'static str,
    },
    #[error("{file}: bad value of {tag} {name}: {reason}")]
    BadValue {
        file: String,
        tag: TagName,
        name: &'static str,
        reason: String,
    },
    #[error("{file}: {context}: {source}")]
    Geometry {
        file: String,
        context: String,
        #[source]
        source: GeometryError,
    },
    #[error("{file}: unsupported: {reason}")]
    Unsupported { file: String, reason: String },
    #[error("{file}: inconsistent: {reason}")]
    Inconsistent { file: String, reason: String },
}

impl DicomError {
    /// The one-line reason without the file name, for quarantine entries that carry the
    /// path in their own field.
    pub fn reason(&self) -> String {
        let full = self.to_string();
        let file = self.file();
        full.strip_prefix(file)
            .and_then(|s| s.strip_prefix(": "))
            .map(str::to_owned)
            .unwrap_or(full)
    }

    /// The file the error is about.
    pub fn file(&self) -> &str {
        match self {
            DicomError::Io { file, .. }
            | DicomError::Empty { file }
            | DicomError::NotDicom { file, .. }
            | DicomError::Parse { file, .. }
            | DicomError::Truncated { file, .. }
            | DicomError::LengthBeyondEnd { file, .. }
            | DicomError::MissingTag { file, .. }
            | DicomError::BadValue { file, .. }
            | DicomError::Geometry { file, .. }
            | DicomError::Unsupported { file, .. }
            | DicomError::Inconsistent { file, .. } => file,
        }
    }
}

/// A tag printed as `(gggg,eeee)`; a newtype so errors render the same everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagName(pub Tag);

impl std::fmt::Display for TagName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({:04X},{:04X})", self.0.group(), self.0.element())
    }
}
