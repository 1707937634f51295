//! Small, typed accessors over `InMemDicomObject` so readers say what they need in one line
//! and get an error that names the file and the tag when it is missing or malformed.

use dicom_core::Tag;
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_dictionary_std::StandardDataDictionary;
use dicom_object::InMemDicomObject;

use super::error::{DicomError, TagName};

/// The dictionary keyword of a tag (`PatientID`), or `?` for private/unknown tags.
pub fn tag_name(tag: Tag) -> &'static str {
    StandardDataDictionary
        .by_tag(tag)
        .map(|e| e.alias())
        .unwrap_or("?")
}

/// A trimmed, non-empty string value (first value of a multi-valued element).
pub fn str_opt(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let v = obj.get(tag)?.to_str().ok()?;
    let first = v.split('\\').next().unwrap_or("");
    let t = first.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!t.is_empty()).then(|| t.to_owned())
}

/// A required string value; missing or empty is an error naming the tag.
pub fn str_req(obj: &InMemDicomObject, tag: Tag, file: &str) -> Result<String, DicomError> {
    str_opt(obj, tag).ok_or_else(|| DicomError::MissingTag {
        file: file.to_owned(),
        tag: TagName(tag),
        name: tag_name(tag),
    })
}

/// All float values of a numeric (DS/FL/FD/IS/...) element; `None` when absent or empty.
pub fn floats_opt(
    obj: &InMemDicomObject,
    tag: Tag,
    file: &str,
) -> Result<Option<Vec<f64>>, DicomError> {
    let Some(e) = obj.get(tag) else {
        return Ok(None);
    };
    if e.header().len.0 == 0 {
        return Ok(None);
    }
    let v = e
        .to_multi_float64()
        .map_err(|err| bad(file, tag, err.to_string()))?;
    if v.iter().any(|x| !x.is_finite()) {
        return Err(bad(file, tag, "non-finite number".into()));
    }
    Ok((!v.is_empty()).then_some(v))
}

/// Exactly `n` float values, or an error naming the tag.
pub fn floats_n(
    obj: &InMemDicomObject,
    tag: Tag,
    n: usize,
    file: &str,
) -> Result<Option<Vec<f64>>, DicomError> {
    match floats_opt(obj, tag, file)? {
        None => Ok(None),
        Some(v) if v.len() == n => Ok(Some(v)),
        Some(v) => Err(bad(
            file,
            tag,
            format!("expected {n} values, found {}", v.len()),
        )),
    }
}

/// One float value.
pub fn float_opt(obj: &InMemDicomObject, tag: Tag, file: &str) -> Result<Option<f64>, DicomError> {
    Ok(floats_opt(obj, tag, file)?.and_then(|v| v.first().copied()))
}

/// One unsigned integer value (US/UL/IS).
pub fn uint_opt(obj: &InMemDicomObject, tag: Tag, file: &str) -> Result<Option<u64>, DicomError> {
    let Some(e) = obj.get(tag) else {
        return Ok(None);
    };
    if e.header().len.0 == 0 {
        return Ok(None);
    }
    e.to_int::<u64>()
        .map(Some)
        .map_err(|err| bad(file, tag, err.to_string()))
}

/// A required unsigned integer.
pub fn uint_req(obj: &InMemDicomObject, tag: Tag, file: &str) -> Result<u64, DicomError> {
    uint_opt(obj, tag, file)?.ok_or_else(|| DicomError::MissingTag {
        file: file.to_owned(),
        tag: TagName(tag),
        name: tag_name(tag),
    })
}

/// The items of a sequence (empty when absent or not a sequence).
pub fn items(obj: &InMemDicomObject, tag: Tag) -> &[InMemDicomObject] {
    obj.get(tag).and_then(|e| e.items()).unwrap_or(&[])
}

/// The first item of a sequence.
pub fn item(obj: &InMemDicomObject, tag: Tag) -> Option<&InMemDicomObject> {
    items(obj, tag).first()
}

/// A coded concept (first item of a code sequence).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Code {
    pub value: String,
    pub scheme: String,
    pub meaning: String,
}

impl Code {
    /// True when this is `scheme:value` (SRT and SNM3 are old names of SCT).
    pub fn is(&self, scheme: &str, value: &str) -> bool {
        let canon = |s: &str| match s {
            "SRT" | "SNM3" => "SCT".to_owned(),
            other => other.to_ascii_uppercase(),
        };
        self.value == value && canon(&self.scheme) == canon(scheme)
    }
}

/// Read the first item of a code sequence (`CodeValue`, falling back to `LongCodeValue`
/// and `URNCodeValue`).
pub fn code(obj: &InMemDicomObject, seq: Tag) -> Option<Code> {
    use dicom_dictionary_std::tags;
    let it = item(obj, seq)?;
    let value = str_opt(it, tags::CODE_VALUE)
        .or_else(|| str_opt(it, tags::LONG_CODE_VALUE))
        .or_else(|| str_opt(it, tags::URN_CODE_VALUE))
        .unwrap_or_default();
    Some(Code {
        value,
        scheme: str_opt(it, tags::CODING_SCHEME_DESIGNATOR).unwrap_or_default(),
        meaning: str_opt(it, tags::CODE_MEANING).unwrap_or_default(),
    })
}

/// `YYYYMMDD` (also `YYYY.MM.DD`, the ACR-NEMA form) → `YYYY-MM-DD`; anything else is
/// rejected rather than guessed.
pub fn iso_date(da: &str) -> Option<String> {
    let d: String = da.chars().filter(|c| c.is_ascii_digit()).collect();
    if d.len() != 8 {
        return None;
    }
    let (y, m, dd) = (&d[0..4], &d[4..6], &d[6..8]);
    let mi: u32 = m.parse().ok()?;
    let di: u32 = dd.parse().ok()?;
    if !(1..=12).contains(&mi) || !(1..=31).contains(&di) {
        return None;
    }
    Some(format!("{y}-{m}-{dd}"))
}

fn bad(file: &str, tag: Tag, reason: String) -> DicomError {
    DicomError::BadValue {
        file: file.to_owned(),
        tag: TagName(tag),
        name: tag_name(tag),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso_date("20240131").as_deref(), Some("2024-01-31"));
        assert_eq!(iso_date("2024.01.31").as_deref(), Some("2024-01-31"));
        assert_eq!(iso_date("20241331"), None);
        assert_eq!(iso_date("2024"), None);
    }

    #[test]
    fn code_scheme_aliases() {
        let c = Code {
            value: "59441001".into(),
            scheme: "SRT".into(),
            meaning: "Lymph node".into(),
        };
        assert!(c.is("SCT", "59441001"));
        assert!(!c.is("DCM", "59441001"));
    }
}
