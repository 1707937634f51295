//! A lean header read for the index: the same dicom-parser token stream as a full
//! `InMemDicomObject::read_dataset_with_ts`, but the values nobody reads are skipped instead
//! of decoded.
//!
//! Why: indexing an export reads the header of every slice, and a full read decodes every
//! string value of it through the Specific Character Set (one `char` at a time into a
//! growing `String`, one allocation per value) and keeps them all, while the index needs
//! about twenty top-level attributes of an image ([`INDEX_TAGS`]). On deflated CT slices that
//! decoding was most of the data set read.
//!
//! How the result stays the same as a full read, attribute for attribute:
//! * The token stream is produced by dicom-parser's own `DataSetReader` over the same
//!   transfer syntax, default character set and options as `read_dataset_with_ts`, and the
//!   object is built by dicom-object's own `read_dataset`: structure, sequences, odd lengths,
//!   undefined lengths and every structural error are theirs, unchanged.
//! * Only the value read differs, in `SkipUnread::read_value_preserved`: a value is skipped
//!   (left `Empty`) only when the preserved read would have consumed exactly its declared
//!   length, could not have failed and has no side effect on the decoder. ASCII text in a
//!   character set that maps 0x00–0x7F to themselves is taken in place (same strings).
//!   Otherwise, and for every tag in [`INDEX_TAGS`], the decoder's own preserved read runs:
//!   text is decoded by dicom-encoding's `TextCodec` with the character set in force at that
//!   point of the stream, exactly as before. Side effects kept: Specific Character Set
//!   (0008,0005) switches the decoder's text codec, Pixel Representation (0028,0103) changes
//!   the VR of later `xs` elements, so both are always read.
//! * Only the top-level [`INDEX_TAGS`] are kept in the returned object. Plain data sets
//!   (no sequences, the usual slice) are walked without `DataSetReader` (see `flat`), over
//!   the same decoder and value reads.
//!
//! Callers use the lean object only for files the index reads nothing else from (plain
//! images, see `index::reads_only_index_tags`); annotation objects and DICOMDIRs are read
//! whole ([`read_whole`]: every value, ASCII text in place).
//!
//! `index::lean_tests` checks both reads against `read_dataset_with_ts` on every fixture file,
//! whole and cut short.

use dicom_core::header::{DataElementHeader, HasLength, SequenceItemHeader};
use dicom_core::value::PrimitiveValue;
use dicom_core::value::Value;
use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_encoding::TransferSyntax;
use dicom_encoding::text::SpecificCharacterSet;
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;
use dicom_parser::stateful::decode::{
    CharacterSetOverride, DynStatefulDecoder, Result as DecodeResult, StatefulDecode,
};

/// Every top-level attribute the index reads from an image instance (`index::instance`,
/// `index::image_plane`, `open::expected_native_len`), plus the Directory Record Sequence,
/// kept only so a DICOMDIR is recognised (and then read in full). Sorted.
pub const INDEX_TAGS: [Tag; 18] = [
    tags::DIRECTORY_RECORD_SEQUENCE,
    tags::SOP_CLASS_UID,
    tags::SOP_INSTANCE_UID,
    tags::STUDY_DATE,
    tags::MODALITY,
    tags::PATIENT_ID,
    tags::SLICE_THICKNESS,
    tags::STUDY_INSTANCE_UID,
    tags::SERIES_INSTANCE_UID,
    tags::IMAGE_POSITION_PATIENT,
    tags::IMAGE_ORIENTATION_PATIENT,
    tags::FRAME_OF_REFERENCE_UID,
    tags::SAMPLES_PER_PIXEL,
    tags::NUMBER_OF_FRAMES,
    tags::ROWS,
    tags::COLUMNS,
    tags::PIXEL_SPACING,
    tags::BITS_ALLOCATED,
];

/// Read a data set (no file meta) like `InMemDicomObject::read_dataset_with_ts` does, keeping
/// only the top-level [`INDEX_TAGS`], each with the very header and value the full read gives.
/// What `read_dataset_with_ts` → `DataSetReader::new_with_ts_cs` builds, minus the
/// BufReader (the source is already in memory).
fn decoder<'s>(
    src: &'s [u8],
    ts: &TransferSyntax,
) -> Result<DynStatefulDecoder<&'s [u8]>, LeanError> {
    DynStatefulDecoder::new_with_override(
        src,
        ts,
        SpecificCharacterSet::default(),
        CharacterSetOverride::None,
        0,
    )
    .map_err(LeanError::Decoder)
}

/// An error here is one the full read gives too; callers re-read in full, which reports it
/// in its usual words.
pub fn read_index_header(src: &[u8], ts: &TransferSyntax) -> Result<InMemDicomObject, LeanError> {
    let mut dec = SkipUnread::new(decoder(src, ts)?, src);
    if let Some(obj) = flat(&mut dec) {
        return Ok(obj);
    }
    // Something the flat walk does not follow (a sequence, an item, an undefined length, a
    // decoder error): the whole token stream, from the start.
    let mut obj = InMemDicomObject::read_dataset(SkipUnread::new(decoder(src, ts)?, src))?;
    obj.retain(|e| INDEX_TAGS.binary_search(&e.header().tag).is_ok());
    Ok(obj)
}

/// The whole data set, value for value what `InMemDicomObject::read_dataset_with_ts` gives,
/// with ASCII text taken in place instead of through the text decoder (see
/// `SkipUnread::ascii_text`): for annotation objects, whose readers need much of the data
/// set, text decoding was most of the read. An error here is one the full read gives too;
/// callers re-read with `read_dataset_with_ts` for its usual words.
pub fn read_whole(src: &[u8], ts: &TransferSyntax) -> Result<InMemDicomObject, LeanError> {
    let mut dec = SkipUnread::new(decoder(src, ts)?, src);
    dec.skip = false;
    Ok(InMemDicomObject::read_dataset(dec)?)
}

/// The common case without `DataSetReader` and without building anything but the kept
/// elements: a data set of plain top-level elements in ascending tag order. This is the
/// path `DataSetReader` takes for such a data set (a header, then its value, then the next
/// header; a clean end of data after a value ends the set), driven over the same decoder
/// with the same value reads. `None` (give up, the caller starts over with the full token
/// stream) at anything else: sequences, items and delimiters, undefined lengths
/// (encapsulated pixel data), a tag not above the previous one (the full read would keep
/// the last of equal tags), a binary value that is not whole words, 1 to 7 bytes left at the end (the token reader ends quietly or
/// fails depending on how many), and any decoder error.
fn flat<S: StatefulDecode>(dec: &mut SkipUnread<'_, S>) -> Option<InMemDicomObject> {
    let mut kept = Vec::with_capacity(INDEX_TAGS.len());
    let mut last: Option<Tag> = None;
    loop {
        let left = (dec.src.len() as u64).checked_sub(dec.inner.position())?;
        if left == 0 {
            break;
        }
        if left < 8 {
            return None;
        }
        let header = dec.inner.decode_header().ok()?;
        let tag = header.tag;
        // (whole words: the decoder position then stays the count of bytes consumed, so
        // `left` is exact)
        if header.vr == VR::SQ
            || header.len.is_undefined()
            || tag.group() == 0xFFFE
            || !whole_words(&header)
        {
            return None;
        }
        if last.is_some_and(|l| tag <= l) {
            return None;
        }
        last = Some(tag);
        let value = dec.read_value_preserved(&header).ok()?;
        if INDEX_TAGS.binary_search(&tag).is_ok() {
            kept.push(InMemElement::new_with_len(
                tag,
                header.vr,
                header.len,
                Value::Primitive(value),
            ));
        }
    }
    Some(InMemDicomObject::from_element_iter(kept))
}

/// Why the lean read gave up (the full read then runs and reports).
#[derive(Debug, thiserror::Error)]
pub enum LeanError {
    #[error("cannot set up the data set decoder: {0}")]
    Decoder(#[source] dicom_parser::stateful::decode::Error),
    #[error(transparent)]
    Read(#[from] dicom_object::ReadError),
}

/// A stateful decoder that skips the values the index does not read. Everything but the
/// preserved value read is the inner decoder's.
struct SkipUnread<'a, S> {
    inner: S,
    /// Skip the values the index does not read (else keep every value).
    skip: bool,
    /// The bytes the inner decoder reads (from offset 0). Its position never falls behind
    /// the bytes actually consumed (it counts declared lengths, and a read consumes at most
    /// that), so `src.len() - position` never overstates what is left.
    src: &'a [u8],
    /// True while the inner position is exactly the offset of the next byte in `src` (no
    /// read has consumed less than it counted), so values can be looked at in place.
    exact: bool,
    /// The Specific Character Set in force in the inner decoder, followed as
    /// `StatefulDecoder::read_value_cs` sets it.
    charset: SpecificCharacterSet,
}

impl<'a, S: StatefulDecode> SkipUnread<'a, S> {
    fn new(inner: S, src: &'a [u8]) -> Self {
        SkipUnread {
            inner,
            src,
            skip: true,
            exact: true,
            charset: SpecificCharacterSet::default(),
        }
    }

    fn left(&self) -> u64 {
        (self.src.len() as u64).saturating_sub(self.inner.position())
    }

    /// A text value that is all ASCII, read in place instead of through the text decoder,
    /// with the result the decoder gives: every character set allowed here maps the bytes
    /// 0x00–0x7F to the same characters (ISO 8859-1 for the default repertoire and ISO_IR
    /// 100, UTF-8 for ISO_IR 192; the others, ISO 2022 escapes and multi-byte sets among
    /// them, go through the decoder). Multi-valued VRs split at backslashes as
    /// `StatefulDecoder::read_value_strs` does; ST/LT/UT/UR are one string as in
    /// `read_value_str`. `None` (nothing consumed) when the fast path does not apply.
    fn ascii_text(&mut self, header: &DataElementHeader) -> Option<PrimitiveValue> {
        if !self.exact || header.tag == tags::SPECIFIC_CHARACTER_SET {
            return None;
        }
        let len = header.length().get().filter(|l| *l > 0)?;
        let (multi, declared_charset) = match header.vr() {
            // read_value_strs decodes these with the default repertoire whatever is declared
            VR::AE | VR::AS | VR::CS => (true, false),
            VR::PN
            | VR::SH
            | VR::LO
            | VR::UC
            | VR::UI
            | VR::IS
            | VR::DS
            | VR::DA
            | VR::TM
            | VR::DT => (true, true),
            VR::UT | VR::ST | VR::UR | VR::LT => (false, true),
            _ => return None,
        };
        if declared_charset
            && self.charset != SpecificCharacterSet::ISO_IR_6
            && self.charset != SpecificCharacterSet::ISO_IR_100
            && self.charset != SpecificCharacterSet::ISO_IR_192
        {
            return None;
        }
        if u64::from(len) > self.left() {
            return None;
        }
        let start = usize::try_from(self.inner.position()).ok()?;
        let bytes = self.src.get(start..start.checked_add(len as usize)?)?;
        if !bytes.is_ascii() {
            return None;
        }
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let value = if multi {
            PrimitiveValue::Strs(bytes.split(|b| *b == b'\\').map(text).collect())
        } else {
            PrimitiveValue::Str(text(bytes))
        };
        self.inner.skip_bytes(len).ok()?;
        Some(value)
    }

    /// True when a preserved read of this value would consume exactly its length, cannot
    /// fail, and changes nothing in the decoder: then skipping it is the same read minus
    /// the value.
    fn can_skip(&self, header: &DataElementHeader) -> bool {
        if !self.skip {
            return false;
        }
        let tag = header.tag;
        if INDEX_TAGS.binary_search(&tag).is_ok()
            || tag == tags::SPECIFIC_CHARACTER_SET
            || tag == tags::PIXEL_REPRESENTATION
        {
            return false;
        }
        let Some(len) = header.length().get() else {
            return false;
        };
        // read_exact of `len` bytes succeeds only if they are there
        if u64::from(len) > self.left() {
            return false;
        }
        header.vr() != VR::SQ && whole_words(header)
    }
}

/// False when a preserved read of this value leaves bytes unread: binary values are read
/// as whole words, so a length that is not a multiple of the word size leaves the rest
/// (the stream then continues from there, and the decoder's position counts them as read).
/// Text never leaves bytes (decoding replaces what it cannot map, it never fails;
/// DS/IS/DA/TM/DT stay text in a preserved read), nor do bytes (OB/UN).
fn whole_words(header: &DataElementHeader) -> bool {
    let Some(len) = header.length().get() else {
        return false;
    };
    len % super::guard::word_size(header.vr()) == 0
}

impl<S: StatefulDecode> StatefulDecode for SkipUnread<'_, S> {
    type Reader = S::Reader;

    fn decode_header(&mut self) -> DecodeResult<DataElementHeader> {
        self.inner.decode_header()
    }

    fn decode_item_header(&mut self) -> DecodeResult<SequenceItemHeader> {
        self.inner.decode_item_header()
    }

    fn read_value(&mut self, header: &DataElementHeader) -> DecodeResult<PrimitiveValue> {
        self.exact = false;
        self.inner.read_value(header)
    }

    /// The one difference from the inner decoder: values nobody reads are skipped, and
    /// ASCII text is taken as it is (see `ascii_text`).
    fn read_value_preserved(&mut self, header: &DataElementHeader) -> DecodeResult<PrimitiveValue> {
        if self.can_skip(header) {
            let len = header.length().0;
            if len == 0 {
                return Ok(PrimitiveValue::Empty);
            }
            self.inner.skip_bytes(len)?;
            return Ok(PrimitiveValue::Empty);
        }
        if let Some(v) = self.ascii_text(header) {
            return Ok(v);
        }
        if !whole_words(header) {
            self.exact = false;
        }
        let value = self.inner.read_value_preserved(header)?;
        // what read_value_cs does to the inner decoder's text codec
        if header.tag == tags::SPECIFIC_CHARACTER_SET
            && header.vr() == VR::CS
            && let PrimitiveValue::Strs(parts) = &value
            && let Some(cs) = parts
                .first()
                .and_then(|n| SpecificCharacterSet::from_code(n))
        {
            self.charset = cs;
        }
        Ok(value)
    }

    fn read_value_bytes(&mut self, header: &DataElementHeader) -> DecodeResult<PrimitiveValue> {
        self.exact = false;
        self.inner.read_value_bytes(header)
    }

    fn read_to_vec(&mut self, length: u32, vec: &mut Vec<u8>) -> DecodeResult<()> {
        self.exact = false;
        self.inner.read_to_vec(length, vec)
    }

    fn read_u32_to_vec(&mut self, length: u32, vec: &mut Vec<u32>) -> DecodeResult<()> {
        self.exact = false;
        self.inner.read_u32_to_vec(length, vec)
    }

    fn read_to<W>(&mut self, length: u32, out: W) -> DecodeResult<()>
    where
        Self: Sized,
        W: std::io::Write,
    {
        self.exact = false;
        self.inner.read_to(length, out)
    }

    fn skip_bytes(&mut self, length: u32) -> DecodeResult<()> {
        self.exact = false;
        self.inner.skip_bytes(length)
    }

    fn seek(&mut self, position: u64) -> DecodeResult<()>
    where
        Self::Reader: std::io::Seek,
    {
        self.exact = false;
        self.inner.seek(position)
    }

    fn position(&self) -> u64 {
        self.inner.position()
    }
}
