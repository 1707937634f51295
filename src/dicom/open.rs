//! Recognising and opening DICOM files: Part 10 files with or without a `.dcm` name,
//! Part 10 meta without preamble, and bare data sets without file meta (pydicom's
//! `rtstruct.dcm`, old exports). A header-only open never reads pixel data but still
//! notices a file cut short inside it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use dicom_dictionary_std::tags;
use dicom_object::file::ReadPreamble;
use dicom_object::{InMemDicomObject, OpenFileOptions};
use dicom_transfer_syntax_registry::entries::{
    EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN,
};
use dicom_transfer_syntax_registry::{TransferSyntaxIndex, TransferSyntaxRegistry};

use super::attrs::uint_opt;
use super::error::DicomError;
use super::guard::Walked;

const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";
const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniff {
    /// 128-byte preamble + `DICM`.
    Part10,
    /// File meta group (0002,xxxx) at byte 0, no preamble.
    MetaWithoutPreamble,
    /// A bare data set starting with group 0008, explicit or implicit VR little endian.
    BareDataset { explicit_vr: bool },
    /// Nothing DICOM-like.
    NotDicom,
}

/// Classify a file from its first bytes (at least 132 when available).
pub fn sniff(head: &[u8]) -> Sniff {
    if head.len() >= 132 && &head[128..132] == b"DICM" {
        return Sniff::Part10;
    }
    if head.len() < 8 {
        return Sniff::NotDicom;
    }
    let group = u16::from_le_bytes([head[0], head[1]]);
    let vr_like = head[4].is_ascii_uppercase() && head[5].is_ascii_uppercase();
    match group {
        0x0002 if vr_like => Sniff::MetaWithoutPreamble,
        0x0008 => {
            if vr_like {
                Sniff::BareDataset { explicit_vr: true }
            } else {
                // implicit VR: a plausible 32-bit length (elements of group 0008 are short)
                let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
                if len < 1 << 16 || len == u32::MAX {
                    Sniff::BareDataset { explicit_vr: false }
                } else {
                    Sniff::NotDicom
                }
            }
        }
        _ => Sniff::NotDicom,
    }
}

/// A parsed object plus what the file meta said about it.
#[derive(Debug)]
pub struct Opened {
    pub obj: InMemDicomObject,
    /// Transfer syntax UID (from the file meta; the assumed one for bare data sets).
    pub transfer_syntax: String,
    /// MediaStorageSOPClassUID when there was file meta.
    pub media_sop_class: Option<String>,
    /// True when the file had no file meta group.
    pub bare: bool,
}

/// Result of probing one file.
#[derive(Debug)]
pub enum Probe {
    /// Not DICOM (a README, a thumbnail): counted as ignored.
    NotDicom(String),
    /// DICOM, parsed.
    Dicom(Box<Opened>),
}

/// How much of the file to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// Stop before PixelData; verify the declared pixel data fits the file.
    Header,
    /// Everything.
    Full,
}

/// Open `path` (`file` is the name used in errors). Zero-byte files and DICOM-looking files
/// that fail to parse are errors; files that do not look like DICOM are `Probe::NotDicom`.
pub fn open(path: &Path, file: &str, mode: ReadMode) -> Result<Probe, DicomError> {
    let io = |source| DicomError::Io {
        file: file.to_owned(),
        source,
    };
    let mut f = File::open(path).map_err(io)?;
    let size = f.metadata().map_err(io)?.len();
    if size == 0 {
        return Err(DicomError::Empty {
            file: file.to_owned(),
        });
    }
    let mut head = Vec::with_capacity(132);
    (&mut f).take(132).read_to_end(&mut head).map_err(io)?;
    let kind = sniff(&head);
    let walked = super::guard::check_declared_lengths_but_deflated(&f, size, kind, mode, file)?;
    let parse_err = |e: dicom_object::ReadError| DicomError::Parse {
        file: file.to_owned(),
        reason: one_line(&e.to_string()),
    };
    let opened = match kind {
        Sniff::NotDicom => {
            return Ok(Probe::NotDicom(
                "no DICM magic at byte 128 and no DICOM data set at byte 0".into(),
            ));
        }
        Sniff::Part10 | Sniff::MetaWithoutPreamble => {
            if walked == Walked::DeflatedLeft {
                if let Some(opened) = open_deflated(&mut f, head, file, mode)? {
                    return Ok(Probe::Dicom(Box::new(opened)));
                }
                // Declined (no preamble, no group length): dicom-object inflates while it
                // parses, so the stream is walked first.
                super::guard::check_declared_lengths(&f, size, kind, mode, file)?;
            }
            let mut opts = OpenFileOptions::new().read_preamble(if kind == Sniff::Part10 {
                ReadPreamble::Always
            } else {
                ReadPreamble::Never
            });
            if mode == ReadMode::Header {
                opts = opts.read_until(tags::PIXEL_DATA);
            }
            // one open per file: reuse the handle the magic was read from
            f.seek(SeekFrom::Start(0)).map_err(io)?;
            let obj = opts.from_reader(&f).map_err(parse_err)?;
            let meta = obj.meta();
            let ts = meta.transfer_syntax().trim_end_matches('\0').to_owned();
            let media_sop_class = media_sop_class(meta);
            Opened {
                obj: obj.into_inner(),
                transfer_syntax: ts,
                media_sop_class,
                bare: false,
            }
        }
        Sniff::BareDataset { explicit_vr } => {
            f.seek(SeekFrom::Start(0)).map_err(io)?;
            let ts = if explicit_vr {
                EXPLICIT_VR_LITTLE_ENDIAN.erased()
            } else {
                IMPLICIT_VR_LITTLE_ENDIAN.erased()
            };
            let obj = InMemDicomObject::read_dataset_with_ts(std::io::BufReader::new(f), &ts)
                .map_err(|e| DicomError::Parse {
                    file: file.to_owned(),
                    reason: format!("data set without file meta: {}", one_line(&e.to_string())),
                })?;
            if obj.get(tags::SOP_INSTANCE_UID).is_none() && obj.get(tags::SOP_CLASS_UID).is_none() {
                return Ok(Probe::NotDicom(
                    "bare data set without SOP Class/Instance UID".into(),
                ));
            }
            let opened = Opened {
                obj,
                transfer_syntax: ts.uid().to_owned(),
                media_sop_class: None,
                bare: true,
            };
            return Ok(Probe::Dicom(Box::new(opened)));
        }
    };
    if mode == ReadMode::Header {
        check_pixel_data_fits(&f, path, file, size, &opened)?;
    } else if opened.obj.get(tags::ROWS).is_some() {
        check_full_pixel_data(file, &opened)?;
    }
    Ok(Probe::Dicom(Box::new(opened)))
}

/// The file meta's MediaStorageSOPClassUID without its padding, `None` when empty.
pub fn media_sop_class(meta: &dicom_object::meta::FileMetaTable) -> Option<String> {
    let uid = meta
        .media_storage_sop_class_uid()
        .trim_end_matches('\0')
        .trim();
    (!uid.is_empty()).then(|| uid.to_owned())
}

/// The file meta group of a Part 10 file held in memory (128-byte preamble, `DICM`, then
/// the group, explicit VR little endian, whose (0002,0000) gives its length): the table
/// and where the data set starts. `None` when the file is not laid out so, or the group
/// does not parse. Callers have had the length guard walk the group first: dicom-object
/// reserves a declared length before reading it.
fn part10_meta(bytes: &[u8]) -> Option<(dicom_object::meta::FileMetaTable, usize)> {
    if bytes.get(128..132)? != b"DICM" {
        return None;
    }
    // (0002,0000): tag(4) "UL"(2) length(2) value(4)
    let b = bytes.get(132..144)?;
    if b[0..4] != [0x02, 0x00, 0x00, 0x00] || &b[4..6] != b"UL" {
        return None;
    }
    let start = 144 + u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize;
    let meta = dicom_object::meta::FileMetaTable::from_reader(bytes.get(128..start)?).ok()?;
    Some((meta, start))
}

/// A deflated data set is only known to be whole once all of it is inflated, so inflate it
/// once, in one call into one buffer, and parse the object from memory. Letting
/// dicom-object parse through its own deflate reader instead feeds the inflater a few bytes
/// per element and, with the completeness check, inflates every file twice. Returns `None`
/// (file position unspecified) when the file is not deflated.
fn open_deflated(
    f: &mut File,
    mut bytes: Vec<u8>,
    file: &str,
    mode: ReadMode,
) -> Result<Option<Opened>, DicomError> {
    let io = |source| DicomError::Io {
        file: file.to_owned(),
        source,
    };
    // The meta group is never deflated; read enough of the file to hold it
    // (the length guard has moved the file position).
    f.seek(SeekFrom::Start(bytes.len() as u64)).map_err(io)?;
    (&mut *f)
        .take(META_PEEK.saturating_sub(bytes.len() as u64))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    // Without a preamble and a group length the ordinary parser decides.
    let Some((meta, start)) = part10_meta(&bytes) else {
        return Ok(None);
    };
    if meta.transfer_syntax().trim_end_matches(['\0', ' ']) != DEFLATED_EXPLICIT_LE {
        return Ok(None);
    }
    f.read_to_end(&mut bytes).map_err(io)?;
    let inflated = inflate_data_set(&bytes[start..], file)?;
    drop(bytes);
    // Declared lengths against the inflated bytes, before dicom-rs reserves them.
    super::guard::check_inflated(&inflated, mode == ReadMode::Header, file)?;
    let parse_err = |e: dicom_object::ReadError| DicomError::Parse {
        file: file.to_owned(),
        reason: one_line(&e.to_string()),
    };
    let media_sop_class = media_sop_class(&meta);
    // Parsed as what it now is: an explicit VR little endian data set.
    let obj = match mode {
        ReadMode::Header => {
            let end = super::guard::pixel_data_offset(&inflated).unwrap_or(inflated.len());
            let ds = &inflated[..end];
            let ts = EXPLICIT_VR_LITTLE_ENDIAN.erased();
            // Images (the bulk of an export) need only the index's attributes: read those
            // alone (see `lean`). Anything the index reads more of, and any read error, goes
            // through the full read, which gives the same object and the same errors as ever.
            let lean = if super::index::may_read_only_index_tags(media_sop_class.as_deref()) {
                super::lean::read_index_header(ds, &ts).ok()
            } else {
                None
            };
            match lean {
                Some(obj)
                    if super::index::reads_only_index_tags(&obj, media_sop_class.as_deref()) =>
                {
                    obj
                }
                _ => read_whole(ds, &ts).map_err(parse_err)?,
            }
        }
        ReadMode::Full => {
            read_whole(&inflated, &EXPLICIT_VR_LITTLE_ENDIAN.erased()).map_err(parse_err)?
        }
    };
    let opened = Opened {
        obj,
        transfer_syntax: DEFLATED_EXPLICIT_LE.to_owned(),
        media_sop_class,
        bare: false,
    };
    match mode {
        // The whole stream inflated: the data set must hold at least the declared pixels.
        ReadMode::Header => {
            if let Some(expected) = expected_native_len(&opened.obj, file)?
                && (inflated.len() as u64) < expected
            {
                return Err(DicomError::Truncated {
                    file: file.to_owned(),
                    reason: format!(
                        "deflated data set holds {} bytes, less than the {expected} bytes of pixel data declared",
                        inflated.len()
                    ),
                });
            }
        }
        ReadMode::Full => {
            if opened.obj.get(tags::ROWS).is_some() {
                check_full_pixel_data(file, &opened)?;
            }
        }
    }
    Ok(Some(opened))
}

/// A whole in-memory data set, as `InMemDicomObject::read_dataset_with_ts` reads it but
/// with ASCII text taken in place (`lean::read_whole`); when that fails, the error is the one
/// `read_dataset_with_ts` gives (read again for its words: only broken files pay twice).
fn read_whole(
    ds: &[u8],
    ts: &dicom_transfer_syntax_registry::TransferSyntax,
) -> Result<InMemDicomObject, dicom_object::ReadError> {
    match super::lean::read_whole(ds, ts) {
        Ok(obj) => Ok(obj),
        Err(_) => InMemDicomObject::read_dataset_with_ts(ds, ts),
    }
}

/// Why a deflate stream was not inflated.
#[derive(Debug)]
enum Inflate {
    /// Corrupt, or ends before its last block.
    Broken(String),
    /// Would inflate to more than this many bytes (a file size bounds nothing once data is
    /// deflated).
    TooLarge(u64),
}

/// A deflated data set inflated whole, under [`super::guard::MAX_INFLATED_BYTES`], or why
/// not in the words of a truncated or oversized file.
fn inflate_data_set(deflated: &[u8], file: &str) -> Result<Vec<u8>, DicomError> {
    match inflate_all(deflated, super::guard::MAX_INFLATED_BYTES) {
        Ok(d) => Ok(d),
        Err(Inflate::Broken(e)) => Err(DicomError::Truncated {
            file: file.to_owned(),
            reason: format!("deflated data set is cut short: {e}"),
        }),
        Err(Inflate::TooLarge(limit)) => Err(super::guard::inflates_too_much(file, limit)),
    }
}

/// Inflates a whole raw deflate stream, to at most `limit` bytes, with the thread's
/// inflater (shared with the length guard's walk: `guard::with_inflater`).
fn inflate_all(input: &[u8], limit: u64) -> Result<Vec<u8>, Inflate> {
    super::guard::with_inflater(|z| inflate_with(z, input, limit))
}

fn inflate_with(z: &mut flate2::Decompress, input: &[u8], limit: u64) -> Result<Vec<u8>, Inflate> {
    use flate2::{FlushDecompress, Status};
    let limit_len = usize::try_from(limit).unwrap_or(usize::MAX);
    // First guess: 4× the input, at least 64 KiB (a small CT slice, 128×128×2 bytes of
    // nearly flat pixels, deflates ~20:1, so a 4× guess grew the buffer three times per
    // file, each a realloc copy and another decompress call), never above the limit.
    // Only the starting capacity; the limit checks below are unchanged.
    let first = input
        .len()
        .saturating_mul(4)
        .max(MIN_INFLATE_CAPACITY)
        .min(limit_len.max(1));
    let mut out = Vec::with_capacity(first);
    loop {
        let before = (z.total_in(), z.total_out());
        let rest = &input[z.total_in() as usize..];
        let status = z
            .decompress_vec(rest, &mut out, FlushDecompress::Finish)
            .map_err(|e| Inflate::Broken(e.to_string()))?;
        if out.len() > limit_len {
            return Err(Inflate::TooLarge(limit));
        }
        if status == Status::StreamEnd {
            return Ok(out);
        }
        if out.len() == out.capacity() {
            // One byte past the limit tells "more than the limit" from "exactly it".
            let room = (limit_len.saturating_add(1)).saturating_sub(out.len());
            if room == 0 {
                return Err(Inflate::TooLarge(limit));
            }
            out.reserve_exact(out.capacity().min(room));
        } else if (z.total_in(), z.total_out()) == before {
            return Err(Inflate::Broken(
                "the deflate stream ends before its last block".into(),
            ));
        }
    }
}

/// The smallest first buffer for an inflated data set (see `inflate_all`).
const MIN_INFLATE_CAPACITY: usize = 64 * 1024;

/// How much of a file is read to find its transfer syntax (the meta group is small).
const META_PEEK: u64 = 16 * 1024;

/// Open fully and insist on DICOM (for annotation objects already indexed).
pub fn open_full(path: &Path, file: &str) -> Result<Opened, DicomError> {
    match open(path, file, ReadMode::Full)? {
        Probe::Dicom(o) => Ok(*o),
        Probe::NotDicom(reason) => Err(DicomError::NotDicom {
            file: file.to_owned(),
            reason,
        }),
    }
}

/// An image read for decoding its pixels: the elements before PixelData, and the file (or
/// inflated data set) holding the PixelData value.
#[derive(Debug)]
pub struct NativeImage {
    /// `obj` holds the top-level elements before PixelData, as a full read gives them.
    pub opened: Opened,
    data: Vec<u8>,
    pixels: std::ops::Range<usize>,
}

impl NativeImage {
    /// The PixelData value as stored (little endian).
    pub fn pixel_bytes(&self) -> &[u8] {
        &self.data[self.pixels.clone()]
    }
}

/// The fast way to an image's pixels, for Part 10 files in explicit VR little endian,
/// deflated or not (what exports and this project's synthetic ones mostly are): the file
/// is read in one call, the elements before PixelData are parsed (`lean::read_whole`),
/// and the pixel value is left where it is instead of being copied into the object and
/// checked again. A deflated data set is inflated and length-checked exactly as
/// [`open_full`] does, with the same errors. `Ok(None)` for anything else (other transfer
/// syntaxes, no preamble, encapsulated or missing pixel data, a declared length that does
/// not fit, a header this path cannot parse, pixel data shorter than declared): the
/// caller then opens the file with [`open_full`], which reads it as before and reports
/// what is wrong in its own words.
pub fn open_native_image(path: &Path, file: &str) -> Result<Option<NativeImage>, DicomError> {
    let bytes = std::fs::read(path).map_err(|source| DicomError::Io {
        file: file.to_owned(),
        source,
    })?;
    if bytes.get(128..132) != Some(b"DICM".as_slice()) {
        return Ok(None);
    }
    // Every declared length, the meta group's first, is checked before dicom-object reads
    // anything (as `open` does on the file): a plain data set is walked whole here, a
    // deflated one once inflated, below. Anything refused goes the old way, which says why.
    let walked = match super::guard::check_bytes_but_deflated(&bytes, ReadMode::Full, file) {
        Ok(w @ (Walked::Done | Walked::DeflatedLeft)) => w,
        _ => return Ok(None),
    };
    let Some((meta, start)) = part10_meta(&bytes) else {
        return Ok(None);
    };
    let ts = meta
        .transfer_syntax()
        .trim_end_matches(['\0', ' '])
        .to_owned();
    let media_sop_class = media_sop_class(&meta);
    let (data, offset) = match ts.as_str() {
        DEFLATED_EXPLICIT_LE if walked == Walked::DeflatedLeft => {
            let inflated = inflate_data_set(&bytes[start..], file)?;
            super::guard::check_inflated(&inflated, false, file)?;
            (inflated, 0)
        }
        EXPLICIT_LE if walked == Walked::Done => (bytes, start),
        _ => return Ok(None),
    };
    let ds = &data[offset..];
    let Some((header_end, value)) = super::guard::native_pixel_data(ds) else {
        return Ok(None);
    };
    // The elements before PixelData are parsed as a data set of their own: the guard walks
    // exactly those bytes first, as dicom-rs reserves a declared length before reading it
    // (the walk of the whole set follows other element boundaries at its end).
    let header = &ds[..header_end];
    if super::guard::check_inflated(header, false, file).is_err() {
        return Ok(None);
    }
    let Ok(obj) = super::lean::read_whole(header, &EXPLICIT_VR_LITTLE_ENDIAN.erased()) else {
        return Ok(None);
    };
    match expected_native_len(&obj, file) {
        Ok(Some(expected)) if value.len() as u64 >= expected => {}
        _ => return Ok(None),
    }
    Ok(Some(NativeImage {
        opened: Opened {
            obj,
            transfer_syntax: ts,
            media_sop_class,
            bare: false,
        },
        pixels: value.start + offset..value.end + offset,
        data,
    }))
}

/// Bytes of native pixel data the header promises (rows × cols × frames × samples × bits,
/// 1-bit data packed without padding), or `None` when the header has no image.
pub fn expected_native_len(obj: &InMemDicomObject, file: &str) -> Result<Option<u64>, DicomError> {
    let (Some(rows), Some(cols)) = (
        uint_opt(obj, tags::ROWS, file)?,
        uint_opt(obj, tags::COLUMNS, file)?,
    ) else {
        return Ok(None);
    };
    let frames = uint_opt(obj, tags::NUMBER_OF_FRAMES, file)?
        .unwrap_or(1)
        .max(1);
    let spp = uint_opt(obj, tags::SAMPLES_PER_PIXEL, file)?
        .unwrap_or(1)
        .max(1);
    let bits = uint_opt(obj, tags::BITS_ALLOCATED, file)?.unwrap_or(16);
    let total_bits = rows
        .saturating_mul(cols)
        .saturating_mul(frames)
        .saturating_mul(spp)
        .saturating_mul(bits);
    Ok(Some(total_bits.div_ceil(8)))
}

/// Header-only reads stop before PixelData, so a file cut inside its pixels would look
/// fine. Native pixel data normally ends the file: look for its element header exactly
/// where the declared length puts it (one small read). When that does not match (trailing
/// padding elements, odd lengths, deflate) fall back to a full parse and compare lengths.
fn check_pixel_data_fits(
    f: &File,
    path: &Path,
    file: &str,
    size: u64,
    opened: &Opened,
) -> Result<(), DicomError> {
    let obj = &opened.obj;
    let Some(expected) = expected_native_len(obj, file)? else {
        return Ok(());
    };
    let ts = opened.transfer_syntax.as_str();
    let encapsulated = TransferSyntaxRegistry
        .get(ts)
        .map(|t| t.is_encapsulated_pixel_data())
        .unwrap_or(false);
    let io = |source| DicomError::Io {
        file: file.to_owned(),
        source,
    };
    if pixel_data_ends_file(f, size, expected, ts, encapsulated).map_err(io)? {
        return Ok(());
    }
    if ts == DEFLATED_EXPLICIT_LE {
        // The deflate stream itself says whether the file is whole: inflate it to nowhere
        // (no data set is built) and require at least the declared pixel bytes.
        return match inflated_len(f, deflate_start(f, size).map_err(io)?) {
            Ok(n) if n >= expected => Ok(()),
            Ok(n) => Err(DicomError::Truncated {
                file: file.to_owned(),
                reason: format!(
                    "deflated data set holds {n} bytes, less than the {expected} bytes of pixel data declared"
                ),
            }),
            Err(e) => Err(DicomError::Truncated {
                file: file.to_owned(),
                reason: format!(
                    "deflated data set is cut short: {}",
                    one_line(&e.to_string())
                ),
            }),
        };
    }
    // slow path: parse everything
    let full = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Auto)
        .open_file(path)
        .map_err(|e| DicomError::Truncated {
            file: file.to_owned(),
            reason: format!(
                "pixel data does not fit the file ({size} bytes): {}",
                one_line(&e.to_string())
            ),
        })?;
    let opened_full = Opened {
        obj: full.into_inner(),
        transfer_syntax: opened.transfer_syntax.clone(),
        media_sop_class: None,
        bare: false,
    };
    check_full_pixel_data(file, &opened_full)
}

const DEFLATED_EXPLICIT_LE: &str = "1.2.840.10008.1.2.1.99";

/// Where the deflated data set starts: after the (never deflated) file meta group, whose
/// length is the value of (0002,0000) right after the preamble and magic.
fn deflate_start(mut f: &File, size: u64) -> std::io::Result<u64> {
    let mut head = [0u8; 144];
    f.seek(SeekFrom::Start(0))?;
    let n = f.read(&mut head)?;
    let base = if n >= 132 && &head[128..132] == b"DICM" {
        132
    } else {
        0
    };
    let b = &head[base..n];
    // (0002,0000) UL, explicit VR LE: tag(4) "UL"(2) len(2) value(4).
    if b.len() < 12 || b[0..4] != [0x02, 0x00, 0x00, 0x00] {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "no file meta group length",
        ));
    }
    let group_len = u64::from(u32::from_le_bytes([b[8], b[9], b[10], b[11]]));
    let start = base as u64 + 12 + group_len;
    if start > size {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "file meta longer than the file",
        ));
    }
    Ok(start)
}

/// Inflates the raw deflate stream from `start` to the end, counting bytes.
fn inflated_len(mut f: &File, start: u64) -> std::io::Result<u64> {
    f.seek(SeekFrom::Start(start))?;
    let mut dec = flate2::read::DeflateDecoder::new(std::io::BufReader::new(f));
    std::io::copy(&mut dec, &mut std::io::sink())
}

/// The fast check: does the file end with a PixelData element of the declared length
/// (native) or with a sequence delimitation item (encapsulated)? One seek, ≤ 12 bytes read.
pub fn pixel_data_ends_file(
    mut f: &File,
    size: u64,
    expected: u64,
    ts: &str,
    encapsulated: bool,
) -> std::io::Result<bool> {
    if encapsulated {
        if size < 8 {
            return Ok(false);
        }
        let mut tail = [0u8; 8];
        f.seek(SeekFrom::Start(size - 8))?;
        f.read_exact(&mut tail)?;
        return Ok(tail == [0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    }
    let padded = expected + (expected % 2);
    let (hdr_len, tag_bytes): (u64, [u8; 4]) = match ts {
        IMPLICIT_LE => (8, [0xE0, 0x7F, 0x10, 0x00]),
        EXPLICIT_BE => (12, [0x7F, 0xE0, 0x00, 0x10]),
        _ => (12, [0xE0, 0x7F, 0x10, 0x00]),
    };
    if size < padded + hdr_len {
        return Ok(false);
    }
    let mut hdr = [0u8; 12];
    let hdr = &mut hdr[..hdr_len as usize];
    f.seek(SeekFrom::Start(size - padded - hdr_len))?;
    f.read_exact(hdr)?;
    let n = hdr.len();
    let len_bytes = [hdr[n - 4], hdr[n - 3], hdr[n - 2], hdr[n - 1]];
    let len = if ts == EXPLICIT_BE {
        u32::from_be_bytes(len_bytes)
    } else {
        u32::from_le_bytes(len_bytes)
    } as u64;
    Ok(hdr[0..4] == tag_bytes && len == padded)
}

/// After a full read: the pixel data element exists and is as long as the header says.
fn check_full_pixel_data(file: &str, opened: &Opened) -> Result<(), DicomError> {
    let obj = &opened.obj;
    let Some(expected) = expected_native_len(obj, file)? else {
        return Ok(());
    };
    let Some(pd) = obj.get(tags::PIXEL_DATA) else {
        return Err(DicomError::Truncated {
            file: file.to_owned(),
            reason: "image header present but no PixelData element".into(),
        });
    };
    if pd.value().fragments().is_some() {
        return Ok(());
    }
    let got = pd
        .to_bytes()
        .map(|b| b.len() as u64)
        .map_err(|e| DicomError::Parse {
            file: file.to_owned(),
            reason: format!("PixelData: {e}"),
        })?;
    if got < expected {
        return Err(DicomError::Truncated {
            file: file.to_owned(),
            reason: format!("PixelData has {got} bytes, header declares {expected}"),
        });
    }
    Ok(())
}

/// Errors from dicom-rs may span lines; quarantine reasons are one line.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header-only parse of an inflated data set stops where PixelData starts; a
    /// sequence of undefined length makes the walk give up (the whole set is parsed).
    #[test]
    fn pixel_data_offset_walks_explicit_le_headers() {
        use super::super::guard::pixel_data_offset;
        let mut ds = Vec::new();
        // (0010,0020) LO "P1" (short length), (0028,0010) US 2 bytes
        ds.extend_from_slice(&[0x10, 0x00, 0x20, 0x00, b'L', b'O', 2, 0, b'P', b'1']);
        ds.extend_from_slice(&[0x28, 0x00, 0x10, 0x00, b'U', b'S', 2, 0, 4, 0]);
        // (0009,0010) OB with a 4-byte length of 3 (+ padding byte): long-length VR
        ds.extend_from_slice(&[0x09, 0x00, 0x10, 0x00, b'O', b'B', 0, 0, 4, 0, 0, 0]);
        ds.extend_from_slice(&[1, 2, 3, 0]);
        let at = ds.len();
        ds.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'W', 0, 0, 2, 0, 0, 0, 7, 7]);
        assert_eq!(pixel_data_offset(&ds), Some(at));
        assert_eq!(pixel_data_offset(&ds[..at]), None, "no PixelData");
        let mut sq = vec![
            0x08, 0x00, 0x15, 0x11, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ];
        sq.extend_from_slice(&ds);
        assert_eq!(
            pixel_data_offset(&sq),
            None,
            "undefined length: parse it all"
        );
        // a declared length running past the end stops the walk, it does not panic
        assert_eq!(
            pixel_data_offset(&[0x10, 0x00, 0x20, 0x00, b'U', b'T', 0, 0, 9, 9, 9]),
            None
        );
    }

    /// A raw deflate stream cut anywhere is an error, never a short success.
    #[test]
    fn inflate_all_refuses_a_cut_stream() {
        use std::io::Write;
        let data: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&data).unwrap();
        let z = enc.finish().unwrap();
        assert_eq!(inflate_all(&z, 1 << 30).unwrap(), data);
        for cut in [1, z.len() / 3, z.len() / 2, z.len() - 1] {
            assert!(
                matches!(inflate_all(&z[..cut], 1 << 30), Err(Inflate::Broken(_))),
                "cut at {cut} of {}",
                z.len()
            );
        }
    }

    /// The limit holds whatever the compression ratio (a header-only open stops its walk at
    /// PixelData, so only the inflater can refuse a bomb hidden in the pixels).
    #[test]
    fn inflate_all_stops_at_its_limit() {
        use std::io::Write;
        let data = vec![0u8; 3 << 20];
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&data).unwrap();
        let z = enc.finish().unwrap();
        assert!(z.len() < 10_000, "{}", z.len());
        assert!(matches!(inflate_all(&z, 1 << 20), Err(Inflate::TooLarge(l)) if l == 1 << 20));
        assert!(matches!(
            inflate_all(&z, (3 << 20) - 1),
            Err(Inflate::TooLarge(_))
        ));
        assert_eq!(inflate_all(&z, 3 << 20).unwrap().len(), 3 << 20);
    }

    #[test]
    fn sniffs_magic_and_bare_datasets() {
        let mut part10 = vec![0u8; 128];
        part10.extend_from_slice(b"DICM");
        assert_eq!(sniff(&part10), Sniff::Part10);
        // (0008,0005) CS length 10, explicit VR
        let explicit = [0x08, 0x00, 0x05, 0x00, b'C', b'S', 10, 0];
        assert_eq!(sniff(&explicit), Sniff::BareDataset { explicit_vr: true });
        // (0008,0016) implicit, length 26
        let implicit = [0x08, 0x00, 0x16, 0x00, 26, 0, 0, 0];
        assert_eq!(sniff(&implicit), Sniff::BareDataset { explicit_vr: false });
        assert_eq!(sniff(b"Export notes: hello world"), Sniff::NotDicom);
        assert_eq!(sniff(b"abc"), Sniff::NotDicom);
    }

    #[test]
    fn fast_tail_check_accepts_whole_files_and_rejects_cut_ones() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/dicom");
        let ct = root.join("corpus/ct/CT_0001.dcm");
        let size = std::fs::metadata(&ct).unwrap().len();
        // 128×128 16-bit, explicit VR LE
        assert!(
            pixel_data_ends_file(
                &File::open(&ct).unwrap(),
                size,
                128 * 128 * 2,
                "1.2.840.10008.1.2.1",
                false
            )
            .unwrap()
        );
        let cut = root.join("bad/truncated_pixels.dcm");
        let size = std::fs::metadata(&cut).unwrap().len();
        assert!(
            !pixel_data_ends_file(
                &File::open(&cut).unwrap(),
                size,
                128 * 128 * 2,
                "1.2.840.10008.1.2.1",
                false
            )
            .unwrap()
        );
        // implicit VR LE (pydicom MR_small_implicit, 64×64 16-bit)
        let mr = root.join("pydicom/MR_small_implicit.dcm");
        let size = std::fs::metadata(&mr).unwrap().len();
        assert!(
            pixel_data_ends_file(
                &File::open(&mr).unwrap(),
                size,
                64 * 64 * 2,
                "1.2.840.10008.1.2",
                false
            )
            .unwrap()
        );
        let be = root.join("pydicom/MR_small_bigendian.dcm");
        let size = std::fs::metadata(&be).unwrap().len();
        assert!(
            pixel_data_ends_file(
                &File::open(&be).unwrap(),
                size,
                64 * 64 * 2,
                "1.2.840.10008.1.2.2",
                false
            )
            .unwrap()
        );
    }
}
