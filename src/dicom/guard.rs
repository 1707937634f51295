//! Declared value lengths checked against the bytes that really exist, before dicom-rs
//! parses a file.
//!
//! dicom-parser 0.10.1 reserves *and zero-fills* an element's declared length before it
//! reads the value (`StatefulDecoder::read_value_ob`: `try_reserve_exact` then `resize`),
//! and dicom-object does the same for file meta strings. A 10 KB file whose last element
//! declares 3.5 GB therefore makes one open touch 3.5 GB of memory; a nightly run over
//! thousands of files on a shared server must not be taken down by one such file. The
//! walk here reads element headers only, in the order and with the rules the dicom-rs
//! reader will use, seeks over values, and rejects the file when a declared length runs
//! past the end of the data. It judges nothing else: wherever dicom-rs would itself stop
//! (a header cut short, a bad item tag, an unknown transfer syntax) the walk stops too
//! and leaves the verdict to dicom-rs, which then fails without a large allocation.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;
use dicom_transfer_syntax_registry::entries::{
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_BIG_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN,
    JPIP_HTJ2K_REFERENCED_DEFLATE, JPIP_REFERENCED_DEFLATE,
};
use dicom_transfer_syntax_registry::{TransferSyntaxIndex, TransferSyntaxRegistry};
use flate2::{Decompress, FlushDecompress, Status};

use super::error::{DicomError, TagName};
use super::open::{ReadMode, Sniff, sniff};

/// The most a deflated data set may inflate to. The file size bounds nothing once data
/// is deflated (a 50 MB file can inflate to 50 GB), and dicom-object keeps the whole
/// inflated data set in memory; 1 GiB is far above any deflated SEG/SR/image seen in
/// practice and far below what a 24 GB server running several workers can afford.
pub const MAX_INFLATED_BYTES: u64 = 1 << 30;

const ITEM: Tag = Tag(0xFFFE, 0xE000);
const ITEM_END: Tag = Tag(0xFFFE, 0xE00D);
const SEQUENCE_END: Tag = Tag(0xFFFE, 0xE0DD);
const PIXEL_DATA: Tag = Tag(0x7FE0, 0x0010);
const UNDEFINED: u32 = u32::MAX;
/// A transfer syntax UID longer than this is not one the registry knows.
const MAX_UID_LEN: usize = 256;

/// Walk the element headers of `f` (already classified as `kind`) and fail when a
/// declared length runs past the end of the file, or past the end of the inflated stream
/// for deflated data sets. `mode` matters only for deflated files: a header-only open
/// reads nothing past PixelData, so the walk stops there too rather than inflate the
/// pixels a second time (every full open is walked whole); files that are not deflated
/// are always walked whole, as seeking over their values costs nothing.
pub fn check_declared_lengths(
    f: &File,
    size: u64,
    kind: Sniff,
    mode: ReadMode,
    file: &str,
) -> Result<(), DicomError> {
    check_reader(f, size, kind, mode, Some(MAX_INFLATED_BYTES))
        .map(|_| ())
        .map_err(|stop| stop.into_error(file))
}

/// The same check, except that a deflated data set is left to the caller, who inflates it
/// whole anyway (under [`MAX_INFLATED_BYTES`]) and then calls [`check_inflated`] on the
/// result: walking it here would inflate its header part a second time.
pub fn check_declared_lengths_but_deflated(
    f: &File,
    size: u64,
    kind: Sniff,
    mode: ReadMode,
    file: &str,
) -> Result<Walked, DicomError> {
    check_reader(f, size, kind, mode, None).map_err(|stop| stop.into_error(file))
}

/// [`check_declared_lengths_but_deflated`] for a Part 10 file already read into memory
/// (the file meta group included: dicom-object's meta reader reserves a declared length
/// before reading it, so it must not see one that does not fit).
pub fn check_bytes_but_deflated(
    bytes: &[u8],
    mode: ReadMode,
    file: &str,
) -> Result<Walked, DicomError> {
    check_reader(
        std::io::Cursor::new(bytes),
        bytes.len() as u64,
        Sniff::Part10,
        mode,
        None,
    )
    .map_err(|stop| stop.into_error(file))
}

/// What [`check_declared_lengths_but_deflated`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walked {
    /// Walked whole.
    Done,
    /// No file meta dicom-rs could read (it refuses such files itself): nothing walked.
    Unreadable,
    /// The data set is deflated and still to be checked by the caller.
    DeflatedLeft,
}

/// Walks an inflated data set (explicit VR little endian) held in memory; with
/// `stop_at_pixel_data`, only as far as a header-only parse reads.
pub fn check_inflated(ds: &[u8], stop_at_pixel_data: bool, file: &str) -> Result<(), DicomError> {
    let mut src = MemSource {
        ds,
        pos: 0,
        within: INFLATED,
    };
    walk(&mut src, Syntax::EXPLICIT_LE, stop_at_pixel_data).map_err(|stop| stop.into_error(file))
}

/// What "left" counts in the error for an inflated data set.
const INFLATED: &str = "deflated data set once inflated";

/// The same check for a path not yet opened (readers that call dicom-object directly).
/// Always walks the whole file, as a full parse reads it all.
pub fn check_path(path: &Path, file: &str) -> Result<(), DicomError> {
    let io = |source| DicomError::Io {
        file: file.to_owned(),
        source,
    };
    let mut f = File::open(path).map_err(io)?;
    let size = f.metadata().map_err(io)?.len();
    let mut head = Vec::with_capacity(132);
    (&mut f).take(132).read_to_end(&mut head).map_err(io)?;
    check_declared_lengths(&f, size, sniff(&head), ReadMode::Full, file)
}

/// Why the walk ended early.
#[derive(Debug)]
enum Stop {
    Overrun {
        tag: Tag,
        declared: u64,
        left: u64,
        within: &'static str,
    },
    /// The inflated data set grew past this many bytes.
    Inflated(u64),
    Io(io::Error),
}

impl Stop {
    fn into_error(self, file: &str) -> DicomError {
        let file = file.to_owned();
        match self {
            Stop::Overrun {
                tag,
                declared,
                left,
                within,
            } => DicomError::LengthBeyondEnd {
                file,
                tag: TagName(tag),
                declared,
                left,
                within,
            },
            Stop::Inflated(limit) => inflates_too_much(&file, limit),
            Stop::Io(source) => DicomError::Io { file, source },
        }
    }
}

/// The refusal of a deflated data set that inflates past `limit` bytes, whether the walk
/// or `open`'s whole-stream inflate found it.
pub(crate) fn inflates_too_much(file: &str, limit: u64) -> DicomError {
    DicomError::Unsupported {
        file: file.to_owned(),
        reason: format!(
            "deflated data set inflates to more than {limit} bytes; refused as implausible"
        ),
    }
}

fn check_reader<R: Read + Seek>(
    r: R,
    size: u64,
    kind: Sniff,
    mode: ReadMode,
    // `None`: deflated data sets are not walked here (see `check_declared_lengths_but_deflated`).
    max_inflated: Option<u64>,
) -> Result<Walked, Stop> {
    let start = match kind {
        Sniff::NotDicom => return Ok(Walked::Done),
        Sniff::Part10 => 132,
        Sniff::MetaWithoutPreamble | Sniff::BareDataset { .. } => 0,
    };
    let mut src = FileSource::new(r, size, start)?;
    if let Sniff::BareDataset { explicit_vr } = kind {
        let syntax = Syntax {
            explicit_vr,
            big_endian: false,
        };
        return walk(&mut src, syntax, false).map(|()| Walked::Done);
    }
    match read_meta(&mut src)? {
        Body::Unreadable => Ok(Walked::Unreadable),
        Body::Plain(syntax) => walk(&mut src, syntax, false).map(|()| Walked::Done),
        Body::Deflated => match max_inflated {
            Some(limit) => {
                walk_deflated(&mut src, mode == ReadMode::Header, limit).map(|()| Walked::Done)
            }
            None => Ok(Walked::DeflatedLeft),
        },
    }
}

/// How the data set after the file meta group is encoded.
enum Body {
    /// dicom-object will refuse the file on its own (no usable meta or transfer syntax).
    Unreadable,
    Plain(Syntax),
    Deflated,
}

/// Walks the file meta group the way dicom-object's `FileMetaTable::read_from` does: its
/// extent comes from (0002,0000), elements are explicit VR little endian, and the
/// transfer syntax (0002,0010) decides how the rest is read.
fn read_meta<R: Read + Seek>(src: &mut FileSource<R>) -> Result<Body, Stop> {
    let le = Syntax::EXPLICIT_LE;
    let Some(first) = element_header(src, le)? else {
        return Ok(Body::Unreadable);
    };
    let mut group_len = [0u8; 4];
    if first.tag != Tag(0x0002, 0x0000) || first.len != 4 || !src.read(&mut group_len)? {
        return Ok(Body::Unreadable);
    }
    let group_len = u32::from_le_bytes(group_len);
    let mut consumed: u32 = 0;
    let mut uid = [0u8; MAX_UID_LEN];
    let mut ts = None;
    while consumed < group_len {
        let before = src.pos;
        let Some(h) = element_header(src, le)? else {
            return Ok(Body::Unreadable);
        };
        if h.len == UNDEFINED {
            return Ok(Body::Unreadable);
        }
        let header_len = (src.pos - before) as u32;
        if h.tag == Tag(0x0002, 0x0010) && h.len as usize <= uid.len() {
            let value = &mut uid[..h.len as usize];
            if !src.read(value)? {
                return Err(src.overrun(h.tag, h.len));
            }
            ts = Some(h.len as usize);
        } else {
            skip_value(src, h.tag, h.len)?;
        }
        consumed = consumed.saturating_add(header_len).saturating_add(h.len);
    }
    let Some(Ok(ts)) = ts.map(|n| std::str::from_utf8(&uid[..n])) else {
        return Ok(Body::Unreadable);
    };
    let uid = ts.trim_end_matches(|c: char| c.is_whitespace() || c == '\0');
    if !TransferSyntaxRegistry
        .get(uid)
        .is_some_and(|t| t.can_decode_dataset())
    {
        return Ok(Body::Unreadable);
    }
    let deflated = [
        DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN.uid(),
        JPIP_REFERENCED_DEFLATE.uid(),
        JPIP_HTJ2K_REFERENCED_DEFLATE.uid(),
    ];
    Ok(if deflated.contains(&uid) {
        Body::Deflated
    } else if uid == IMPLICIT_VR_LITTLE_ENDIAN.uid() {
        Body::Plain(Syntax {
            explicit_vr: false,
            big_endian: false,
        })
    } else if uid == EXPLICIT_VR_BIG_ENDIAN.uid() {
        Body::Plain(Syntax {
            explicit_vr: true,
            big_endian: true,
        })
    } else {
        Body::Plain(Syntax::EXPLICIT_LE)
    })
}

/// A sequence or item not yet closed.
struct Open {
    item: bool,
    /// Inside encapsulated pixel data: items are fragments, not data sets.
    pixel: bool,
    /// Where a defined-length sequence or item ends.
    end: Option<u64>,
}

/// The data set walk: the state machine of dicom-parser's `DataSetReader` (sequences and
/// items of defined or undefined length, nested; encapsulated pixel data; other
/// undefined-length elements read as sequences), with every value skipped instead of
/// read. `stop_at_pixel_data` mirrors dicom-object's `read_until(PixelData)`.
///
/// The walk allocates nothing per file (its stack and the inflater are per thread, the
/// file buffer is on the stack): small per-file allocations here, between the zlib
/// states dicom-object and `open` create for each deflated file, fragmented glibc's heap
/// so much that `oncometry index` went from 130 MB to 420 MB RSS on 15,000 files.
fn walk<S: Source>(src: &mut S, syntax: Syntax, stop_at_pixel_data: bool) -> Result<(), Stop> {
    OPEN.with_borrow_mut(|stack| {
        stack.clear();
        walk_with(src, syntax, stop_at_pixel_data, stack)
    })
}

fn walk_with<S: Source>(
    src: &mut S,
    syntax: Syntax,
    stop_at_pixel_data: bool,
    stack: &mut Vec<Open>,
) -> Result<(), Stop> {
    let mut in_sequence = false;
    loop {
        while let Some(top) = stack.last() {
            match top.end {
                Some(end) if end == src.pos() => {
                    in_sequence = top.item;
                    stack.pop();
                }
                // dicom-rs stops here ("inconsistent sequence end")
                Some(end) if end < src.pos() => return Ok(()),
                _ => break,
            }
        }
        if in_sequence {
            let Some((tag, len)) = item_header(src, syntax)? else {
                return Ok(());
            };
            match tag {
                ITEM => {
                    let Some(parent) = stack.last() else {
                        return Ok(());
                    };
                    let pixel = parent.pixel;
                    let end = container_end(src, tag, len)?;
                    stack.push(Open {
                        item: true,
                        pixel,
                        end,
                    });
                    in_sequence = false;
                }
                ITEM_END => {
                    stack.pop();
                }
                SEQUENCE_END => {
                    stack.pop();
                    in_sequence = false;
                }
                _ => return Ok(()),
            }
        } else if let Some(Open {
            item: true,
            pixel: true,
            end,
        }) = stack.last()
        {
            // a pixel data fragment (or the offset table), read whole by dicom-rs
            let Some(end) = *end else {
                return Ok(());
            };
            skip_value(src, ITEM, end - src.pos())?;
        } else {
            let Some(h) = element_header(src, syntax)? else {
                return Ok(());
            };
            if stop_at_pixel_data && stack.is_empty() && h.tag >= PIXEL_DATA {
                return Ok(());
            }
            if h.sequence {
                let end = container_end(src, h.tag, h.len)?;
                stack.push(Open {
                    item: false,
                    pixel: false,
                    end,
                });
                in_sequence = true;
            } else if h.tag == ITEM_END {
                // outside any sequence dicom-rs ignores it
                if stack.pop().is_some() {
                    in_sequence = true;
                }
            } else if h.len == UNDEFINED {
                stack.push(Open {
                    item: false,
                    pixel: h.tag == PIXEL_DATA,
                    end: None,
                });
                in_sequence = true;
            } else {
                skip_value(src, h.tag, h.value_len())?;
            }
        }
    }
}

/// Where the top-level PixelData element starts in an explicit VR little endian data set
/// held in memory (an inflated deflated one), read with the same element-header rules as
/// the length check. `None` when there is none, the data ends first, or a sequence or an
/// undefined length comes before it: the caller then parses the whole set.
pub(crate) fn pixel_data_offset(ds: &[u8]) -> Option<usize> {
    let mut src = MemSource {
        ds,
        pos: 0,
        within: INFLATED,
    };
    loop {
        let at = src.pos();
        let h = element_header(&mut src, Syntax::EXPLICIT_LE).ok()??;
        if h.tag >= PIXEL_DATA {
            return usize::try_from(at).ok();
        }
        if h.sequence || h.len == UNDEFINED {
            return None;
        }
        skip_value(&mut src, h.tag, h.value_len()).ok()?;
    }
}

/// Where the top-level native PixelData value of an explicit VR little endian data set
/// held in memory lies: the start of its element header and its value's bytes. The walk
/// up to it is `check_inflated`'s (sequences and items followed, every declared length
/// checked); what follows the value is not looked at. `None` when the walk stops first,
/// the element is not PixelData OB/OW of a defined length, or its value runs past the end.
pub(crate) fn native_pixel_data(ds: &[u8]) -> Option<(usize, std::ops::Range<usize>)> {
    let mut src = MemSource {
        ds,
        pos: 0,
        within: INFLATED,
    };
    OPEN.with_borrow_mut(|stack| {
        stack.clear();
        walk_with(&mut src, Syntax::EXPLICIT_LE, true, stack).ok()?;
        stack.is_empty().then_some(())
    })?;
    // explicit VR little endian OB/OW header: tag, VR, 2 reserved bytes, 4-byte length
    let value_start = usize::try_from(src.pos).ok()?;
    let h = value_start.checked_sub(12)?;
    let header = ds.get(h..value_start)?;
    let tag = Syntax::EXPLICIT_LE.tag([header[0], header[1], header[2], header[3]]);
    let len = Syntax::EXPLICIT_LE.u32([header[8], header[9], header[10], header[11]]);
    if tag != PIXEL_DATA || !matches!(&header[4..6], b"OB" | b"OW") || len == UNDEFINED {
        return None;
    }
    let value = value_start..value_start.checked_add(usize::try_from(len).ok()?)?;
    ds.get(value.clone())?;
    Some((h, value))
}

/// Where a sequence or item of length `len` that starts here ends; the length must fit
/// what is left when that is known (always for files; not for inflated streams, whose
/// contents are checked element by element instead).
fn container_end<S: Source>(src: &mut S, tag: Tag, len: u32) -> Result<Option<u64>, Stop> {
    if len == UNDEFINED {
        return Ok(None);
    }
    if let Some(left) = src.left()
        && u64::from(len) > left
    {
        return Err(src.overrun(tag, len));
    }
    Ok(Some(src.pos() + u64::from(len)))
}

fn skip_value<S: Source>(src: &mut S, tag: Tag, len: impl Into<u64>) -> Result<(), Stop> {
    let len = len.into();
    let got = src.skip(len)?;
    if got < len {
        return Err(Stop::Overrun {
            tag,
            declared: len,
            left: got,
            within: src.within(),
        });
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
struct Syntax {
    explicit_vr: bool,
    big_endian: bool,
}

impl Syntax {
    const EXPLICIT_LE: Syntax = Syntax {
        explicit_vr: true,
        big_endian: false,
    };

    fn u16(self, b: [u8; 2]) -> u16 {
        if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }

    fn u32(self, b: [u8; 4]) -> u32 {
        if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    fn tag(self, b: [u8; 4]) -> Tag {
        Tag(self.u16([b[0], b[1]]), self.u16([b[2], b[3]]))
    }
}

struct Header {
    tag: Tag,
    len: u32,
    /// Read as a sequence of items (VR SQ, explicit or from the dictionary).
    sequence: bool,
    /// Size of one value of its VR: dicom-parser reads numeric and AT values whole, so of
    /// a length that is not a multiple of it, the last bytes are left to be read as the
    /// next element's header (lean.rs' `whole_words` uses the same [`word_size`]).
    word: u32,
}

impl Header {
    /// The bytes dicom-parser's value read consumes.
    fn value_len(&self) -> u32 {
        self.len - self.len % self.word
    }
}

/// Size of one value of `vr` as dicom-parser 0.10.1 reads it (1: read as bytes or text).
pub(super) fn word_size(vr: VR) -> u32 {
    match vr {
        VR::US | VR::SS | VR::OW => 2,
        VR::AT | VR::UL | VR::SL | VR::FL | VR::OF | VR::OL => 4,
        VR::FD | VR::OD | VR::UV | VR::SV | VR::OV => 8,
        _ => 1,
    }
}

/// One element header as dicom-encoding 0.10.1 decodes it; `None` when the data ends.
fn element_header<S: Source>(src: &mut S, syntax: Syntax) -> Result<Option<Header>, Stop> {
    let mut b = [0u8; 4];
    if !src.read(&mut b)? {
        return Ok(None);
    }
    let tag = syntax.tag(b);
    if !syntax.explicit_vr || tag.group() == 0xFFFE {
        // implicit VR, or an item/delimiter: tag + 4-byte length
        if !src.read(&mut b)? {
            return Ok(None);
        }
        let sequence = !syntax.explicit_vr && implicit_vr(tag) == VR::SQ;
        let word = if tag.group() == 0xFFFE {
            1
        } else {
            word_size(implicit_vr(tag))
        };
        return Ok(Some(Header {
            tag,
            len: syntax.u32(b),
            sequence,
            word,
        }));
    }
    let mut vr = [0u8; 2];
    if !src.read(&mut vr)? {
        return Ok(None);
    }
    let vr = VR::from_binary(vr).unwrap_or(VR::UN);
    let len = if has_short_length(vr) {
        let mut l = [0u8; 2];
        if !src.read(&mut l)? {
            return Ok(None);
        }
        u32::from(syntax.u16(l))
    } else {
        let mut reserved_and_len = [0u8; 6];
        if !src.read(&mut reserved_and_len)? {
            return Ok(None);
        }
        let [_, _, l @ ..] = reserved_and_len;
        syntax.u32(l)
    };
    Ok(Some(Header {
        tag,
        len,
        sequence: vr == VR::SQ,
        word: word_size(vr),
    }))
}

/// Item and delimiter headers inside a sequence: always tag + 4-byte length.
fn item_header<S: Source>(src: &mut S, syntax: Syntax) -> Result<Option<(Tag, u32)>, Stop> {
    let mut b = [0u8; 8];
    if !src.read(&mut b)? {
        return Ok(None);
    }
    let [t0, t1, t2, t3, l0, l1, l2, l3] = b;
    Ok(Some((
        syntax.tag([t0, t1, t2, t3]),
        syntax.u32([l0, l1, l2, l3]),
    )))
}

/// The VR dicom-rs assumes in implicit VR: OW for pixel and overlay data, else the
/// standard dictionary's.
fn implicit_vr(tag: Tag) -> VR {
    if tag == PIXEL_DATA || (tag.group() >> 8 == 0x60 && tag.element() == 0x3000) {
        return VR::OW;
    }
    StandardDataDictionary
        .by_tag(tag)
        .map(|e| e.vr().relaxed())
        .unwrap_or(VR::UN)
}

/// PS3.5 7.1.2: these VRs have a 2-byte length; all others (and unknown VRs, read as UN)
/// have 2 reserved bytes and a 4-byte length.
fn has_short_length(vr: VR) -> bool {
    use VR::*;
    matches!(
        vr,
        AE | AS
            | AT
            | CS
            | DA
            | DS
            | DT
            | FL
            | FD
            | IS
            | LO
            | LT
            | PN
            | SH
            | SL
            | SS
            | ST
            | TM
            | UI
            | UL
            | US
    )
}

/// Bytes the walk reads or skips: a file (size known, values skipped by seeking) or an
/// inflated stream (size unknown, values skipped by inflating into a scratch buffer).
trait Source {
    fn pos(&self) -> u64;
    /// Bytes left, when known without reading them.
    fn left(&self) -> Option<u64>;
    /// Fills `buf`; `false` when the data ends (or the stream breaks) first.
    fn read(&mut self, buf: &mut [u8]) -> Result<bool, Stop>;
    /// Skips up to `n` bytes; returns how many there were.
    fn skip(&mut self, n: u64) -> Result<u64, Stop>;
    /// What "left" refers to in error messages.
    fn within(&self) -> &'static str;

    fn overrun(&self, tag: Tag, declared: u32) -> Stop {
        Stop::Overrun {
            tag,
            declared: u64::from(declared),
            left: self.left().unwrap_or(0),
            within: self.within(),
        }
    }
}

/// A file read through a buffer on the stack: header reads come from the buffer, large
/// values are skipped with a seek.
struct FileSource<R> {
    r: R,
    buf: [u8; 8192],
    start: usize,
    end: usize,
    /// Offset in the file of `buf[start]`.
    pos: u64,
    size: u64,
}

impl<R: Read + Seek> FileSource<R> {
    fn new(mut r: R, size: u64, start: u64) -> Result<Self, Stop> {
        r.seek(SeekFrom::Start(start)).map_err(Stop::Io)?;
        Ok(FileSource {
            r,
            buf: [0; 8192],
            start: 0,
            end: 0,
            pos: start,
            size,
        })
    }

    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end {
            let n = loop {
                match self.r.read(&mut self.buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => break r?,
                }
            };
            (self.start, self.end) = (0, n);
        }
        Ok(&self.buf[self.start..self.end])
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.pos += n as u64;
    }
}

impl<R: Read + Seek> Source for FileSource<R> {
    fn pos(&self) -> u64 {
        self.pos
    }

    fn left(&self) -> Option<u64> {
        Some(self.size.saturating_sub(self.pos))
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<bool, Stop> {
        let mut filled = 0;
        while filled < buf.len() {
            let avail = self.fill_buf().map_err(Stop::Io)?;
            if avail.is_empty() {
                return Ok(false);
            }
            let k = avail.len().min(buf.len() - filled);
            buf[filled..filled + k].copy_from_slice(&avail[..k]);
            filled += k;
            self.consume(k);
        }
        Ok(true)
    }

    fn skip(&mut self, n: u64) -> Result<u64, Stop> {
        let left = self.size.saturating_sub(self.pos);
        if n > left {
            return Ok(left);
        }
        let buffered = (self.end - self.start) as u64;
        if n <= buffered {
            self.start += n as usize;
        } else {
            // n ≤ file size, far below i64::MAX
            let beyond = (n - buffered) as i64;
            self.r.seek(SeekFrom::Current(beyond)).map_err(Stop::Io)?;
            (self.start, self.end) = (0, 0);
        }
        self.pos += n;
        Ok(n)
    }

    fn within(&self) -> &'static str {
        "file"
    }
}

/// A data set already in memory (an inflated one).
struct MemSource<'a> {
    ds: &'a [u8],
    pos: u64,
    within: &'static str,
}

impl Source for MemSource<'_> {
    fn pos(&self) -> u64 {
        self.pos
    }

    fn left(&self) -> Option<u64> {
        Some((self.ds.len() as u64).saturating_sub(self.pos))
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<bool, Stop> {
        let at = self.pos as usize;
        match self.ds.get(at..at + buf.len()) {
            Some(b) => {
                buf.copy_from_slice(b);
                self.pos += buf.len() as u64;
                Ok(true)
            }
            None => {
                self.pos = self.ds.len() as u64;
                Ok(false)
            }
        }
    }

    fn skip(&mut self, n: u64) -> Result<u64, Stop> {
        let k = n.min(self.left().unwrap_or(0));
        self.pos += k;
        Ok(k)
    }

    fn within(&self) -> &'static str {
        self.within
    }
}

thread_local! {
    /// One inflater per worker thread, reset for each file (see [`walk`] on allocation).
    static INFLATER: RefCell<Decompress> = RefCell::new(Decompress::new(false));
    /// The walk's stack of open sequences and items, reused for the same reason.
    static OPEN: RefCell<Vec<Open>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's raw-deflate inflater, reset: setting one up allocates and
/// clears its state and window (about 16 k instructions, ~7 % of inflating a small CT
/// slice), and a reset one is in the state a new one starts in. Not re-entrant (`f` must
/// not call it again).
pub(crate) fn with_inflater<T>(f: impl FnOnce(&mut Decompress) -> T) -> T {
    INFLATER.with_borrow_mut(|z| {
        z.reset(false);
        f(z)
    })
}

/// Walks a raw deflate stream (what dicom-object's deflate adapter reads) with the
/// thread's inflater.
fn walk_deflated<R: Read + Seek>(
    compressed: &mut FileSource<R>,
    stop_at_pixel_data: bool,
    limit: u64,
) -> Result<(), Stop> {
    with_inflater(|z| {
        let mut src = InflateSource {
            input: compressed,
            z,
            out: [0; 4096],
            start: 0,
            end: 0,
            done: false,
            pos: 0,
            limit,
        };
        walk(&mut src, Syntax::EXPLICIT_LE, stop_at_pixel_data)
    })
}

struct InflateSource<'a, R> {
    input: &'a mut FileSource<R>,
    z: &'a mut Decompress,
    /// Inflated bytes not yet walked: `out[start..end]`. Small, because a header-only
    /// walk stops at PixelData and should inflate little of it.
    out: [u8; 4096],
    start: usize,
    end: usize,
    /// The stream ended, or broke (a broken stream is the inflate check's to report).
    done: bool,
    pos: u64,
    limit: u64,
}

impl<R: Read + Seek> InflateSource<'_, R> {
    /// Inflated bytes available now; empty only at the end of the stream.
    fn fill(&mut self) -> &[u8] {
        while self.start == self.end && !self.done {
            let input = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.done = true;
                    break;
                }
            };
            let last = input.is_empty();
            let flush = if last {
                FlushDecompress::Finish
            } else {
                FlushDecompress::None
            };
            let (in_before, out_before) = (self.z.total_in(), self.z.total_out());
            let status = self.z.decompress(input, &mut self.out, flush);
            let used = (self.z.total_in() - in_before) as usize;
            let made = (self.z.total_out() - out_before) as usize;
            self.input.consume(used);
            (self.start, self.end) = (0, made);
            let stuck = used == 0 && made == 0;
            if !matches!(status, Ok(Status::Ok | Status::BufError)) || stuck {
                self.done = true;
            }
        }
        &self.out[self.start..self.end]
    }

    fn take(&mut self, n: usize) -> Result<(), Stop> {
        self.start += n;
        self.pos += n as u64;
        if self.pos > self.limit {
            return Err(Stop::Inflated(self.limit));
        }
        Ok(())
    }
}

impl<R: Read + Seek> Source for InflateSource<'_, R> {
    fn pos(&self) -> u64 {
        self.pos
    }

    fn left(&self) -> Option<u64> {
        None
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<bool, Stop> {
        let mut filled = 0;
        while filled < buf.len() {
            let avail = self.fill();
            if avail.is_empty() {
                return Ok(false);
            }
            let k = avail.len().min(buf.len() - filled);
            buf[filled..filled + k].copy_from_slice(&avail[..k]);
            filled += k;
            self.take(k)?;
        }
        Ok(true)
    }

    fn skip(&mut self, n: u64) -> Result<u64, Stop> {
        let mut done = 0;
        while done < n {
            let avail = self.fill().len();
            if avail == 0 {
                break;
            }
            let k = (n - done).min(avail as u64) as usize;
            done += k as u64;
            self.take(k)?;
        }
        Ok(done)
    }

    fn within(&self) -> &'static str {
        INFLATED
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use super::*;

    const ITEM_LE: [u8; 4] = [0xFE, 0xFF, 0x00, 0xE0];
    const ITEM_END_LE: [u8; 8] = [0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0];
    const SEQ_END_LE: [u8; 8] = [0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0];

    /// Explicit VR element; `len` overrides the value's length when given.
    fn ex(big: bool, tag: (u16, u16), vr: &[u8; 2], value: &[u8], len: Option<u32>) -> Vec<u8> {
        let len = len.unwrap_or(value.len() as u32);
        let u16b = |v: u16| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let u32b = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut out = Vec::new();
        out.extend(u16b(tag.0));
        out.extend(u16b(tag.1));
        out.extend(vr);
        if has_short_length(VR::from_binary(*vr).unwrap()) {
            out.extend(u16b(len as u16));
        } else {
            out.extend([0, 0]);
            out.extend(u32b(len));
        }
        out.extend(value);
        out
    }

    fn le(tag: (u16, u16), vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        ex(false, tag, vr, value, None)
    }

    /// Implicit VR little endian element.
    fn im(tag: (u16, u16), value: &[u8], len: Option<u32>) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(tag.0.to_le_bytes());
        out.extend(tag.1.to_le_bytes());
        out.extend(len.unwrap_or(value.len() as u32).to_le_bytes());
        out.extend(value);
        out
    }

    fn item(len: u32) -> Vec<u8> {
        let mut out = ITEM_LE.to_vec();
        out.extend(len.to_le_bytes());
        out
    }

    /// Preamble, magic and a file meta group announcing `ts`.
    fn part10(ts: &str) -> Vec<u8> {
        let mut uid = ts.as_bytes().to_vec();
        if uid.len() % 2 == 1 {
            uid.push(0);
        }
        let mut meta = le((0x0002, 0x0001), b"OB", &[0, 1]);
        meta.extend(le((0x0002, 0x0010), b"UI", &uid));
        let mut out = vec![0; 128];
        out.extend(b"DICM");
        out.extend(le(
            (0x0002, 0x0000),
            b"UL",
            &(meta.len() as u32).to_le_bytes(),
        ));
        out.extend(meta);
        out
    }

    fn check(bytes: &[u8], mode: ReadMode) -> Result<(), DicomError> {
        check_reader(
            Cursor::new(bytes),
            bytes.len() as u64,
            sniff(bytes),
            mode,
            Some(MAX_INFLATED_BYTES),
        )
        .map(|_| ())
        .map_err(|s| s.into_error("t.dcm"))
    }

    fn reason(bytes: &[u8], mode: ReadMode) -> String {
        match check(bytes, mode) {
            Ok(()) => panic!("accepted"),
            Err(e) => e.reason(),
        }
    }

    /// A bare explicit VR LE data set with an undefined-length sequence whose undefined-
    /// length item holds a nested sequence of defined length.
    fn nested_explicit() -> Vec<u8> {
        let mut ds = le((0x0008, 0x0016), b"UI", b"1.2.840.10008.5.1.4.1.1.2\0");
        ds.extend(ex(false, (0x0008, 0x1115), b"SQ", &[], Some(UNDEFINED)));
        ds.extend(item(UNDEFINED));
        ds.extend(le((0x0008, 0x1150), b"UI", b"1.2.3.4\0"));
        let inner_item = le((0x0020, 0x000E), b"UI", b"1.2.3.5\0");
        let mut inner_seq = item(inner_item.len() as u32);
        inner_seq.extend(&inner_item);
        ds.extend(ex(
            false,
            (0x0008, 0x114A),
            b"SQ",
            &inner_seq,
            Some(inner_seq.len() as u32),
        ));
        ds.extend(ITEM_END_LE);
        ds.extend(SEQ_END_LE);
        ds.extend(le((0x0010, 0x0020), b"LO", b"PID1"));
        ds
    }

    #[test]
    fn nested_sequences_of_defined_and_undefined_length_pass() {
        let ds = nested_explicit();
        assert_eq!(sniff(&ds), Sniff::BareDataset { explicit_vr: true });
        check(&ds, ReadMode::Full).unwrap();
        check(&ds, ReadMode::Header).unwrap();
    }

    #[test]
    fn a_value_declared_past_the_end_is_named_with_both_lengths() {
        let mut ds = nested_explicit();
        ds.extend(ex(
            false,
            (0x0009, 0x1010),
            b"OB",
            &[1, 2, 3, 4],
            Some(909_323_825),
        ));
        assert_eq!(
            reason(&ds, ReadMode::Full),
            "truncated or corrupt: (0009,1010) declares 909323825 bytes, 4 left in the file"
        );
        // the same inside an item of the nested sequence
        let mut ds = le((0x0008, 0x0016), b"UI", b"1.2.840.10008.5.1.4.1.1.2\0");
        ds.extend(ex(false, (0x0008, 0x1115), b"SQ", &[], Some(UNDEFINED)));
        ds.extend(item(UNDEFINED));
        ds.extend(ex(false, (0x0008, 0x1150), b"UI", b"1.2", Some(60_000)));
        assert!(
            reason(&ds, ReadMode::Full).contains("(0008,1150) declares 60000 bytes, 3 left"),
            "{}",
            reason(&ds, ReadMode::Full)
        );
        // a defined-length sequence longer than the file
        let mut ds = le((0x0008, 0x0016), b"UI", b"1.2\0");
        ds.extend(ex(false, (0x0008, 0x1115), b"SQ", &[], Some(4_000)));
        assert!(reason(&ds, ReadMode::Header).contains("(0008,1115) declares 4000 bytes, 0 left"));
    }

    #[test]
    fn unknown_vrs_have_four_byte_lengths_as_in_dicom_rs() {
        // the 3.5 GB fuzz input: VR bytes 0x94 0x06 are no VR, read as UN
        let mut ds = le((0x0008, 0x0016), b"UI", b"1.2\0");
        ds.extend([
            0x06, 0xA3, 0x06, 0xB1, 0x94, 0x06, 0x53, 0x06, 0x06, 0xE8, 0x05, 0xD3,
        ]);
        ds.extend([0u8; 20]);
        assert_eq!(
            reason(&ds, ReadMode::Full),
            "truncated or corrupt: (A306,B106) declares 3540379654 bytes, 20 left in the file"
        );
    }

    #[test]
    fn implicit_vr_finds_sequences_in_the_dictionary() {
        // (0008,1115) ReferencedSeriesSequence, defined length, one item
        let inner = im((0x0020, 0x000E), b"1.2.3.5\0", None);
        let mut items = item(inner.len() as u32);
        items.extend(&inner);
        let mut ds = im((0x0008, 0x0016), b"1.2.840.10008.5.1.4.1.1.2\0", None);
        ds.extend(im((0x0008, 0x1115), &items, None));
        ds.extend(im((0x0010, 0x0020), b"PID1", None));
        assert_eq!(sniff(&ds), Sniff::BareDataset { explicit_vr: false });
        check(&ds, ReadMode::Full).unwrap();

        // a nested value declared past the end is found only by walking into the item
        let bad_inner = im((0x0020, 0x000E), b"1.2.3.5\0", Some(50_000));
        let mut items = item(bad_inner.len() as u32);
        items.extend(&bad_inner);
        let mut ds = im((0x0008, 0x0016), b"1.2.840.10008.5.1.4.1.1.2\0", None);
        ds.extend(im((0x0008, 0x1115), &items, None));
        assert!(
            reason(&ds, ReadMode::Full).contains("(0020,000E) declares 50000 bytes, 8 left"),
            "{}",
            reason(&ds, ReadMode::Full)
        );
    }

    #[test]
    fn explicit_big_endian_lengths_are_big_endian() {
        let mut f = part10("1.2.840.10008.1.2.2");
        f.extend(ex(true, (0x0008, 0x0016), b"UI", b"1.2\0", None));
        f.extend(ex(true, (0x0028, 0x0010), b"US", &2u16.to_be_bytes(), None));
        let mut whole = f.clone();
        whole.extend(ex(true, (0x7FE0, 0x0010), b"OW", &[0; 8], None));
        check(&whole, ReadMode::Full).unwrap();
        // 0x00000100 big endian: 256 declared (little endian would read 65536)
        f.extend(ex(true, (0x7FE0, 0x0010), b"OW", &[0; 8], Some(256)));
        assert_eq!(
            reason(&f, ReadMode::Header),
            "truncated or corrupt: (7FE0,0010) declares 256 bytes, 8 left in the file"
        );
    }

    #[test]
    fn encapsulated_pixel_data_fragments_are_checked() {
        let mut f = part10("1.2.840.10008.1.2.4.50");
        f.extend(le((0x0008, 0x0016), b"UI", b"1.2\0"));
        f.extend(ex(false, (0x7FE0, 0x0010), b"OB", &[], Some(UNDEFINED)));
        f.extend(item(0)); // empty offset table
        let mut whole = f.clone();
        whole.extend(item(4));
        whole.extend([0xFF, 0xD8, 0xFF, 0xD9]);
        whole.extend(SEQ_END_LE);
        whole.extend(le((0xFFFC, 0xFFFC), b"OB", &[0; 6])); // trailing padding
        check(&whole, ReadMode::Full).unwrap();
        check(&whole, ReadMode::Header).unwrap();

        f.extend(item(1 << 20));
        f.extend([0xFF, 0xD8, 0xFF, 0xD9]);
        assert_eq!(
            reason(&f, ReadMode::Full),
            "truncated or corrupt: (FFFE,E000) declares 1048576 bytes, 4 left in the file"
        );
    }

    #[test]
    fn file_meta_lengths_are_checked() {
        let mut f = vec![0; 128];
        f.extend(b"DICM");
        f.extend(le((0x0002, 0x0000), b"UL", &100u32.to_le_bytes()));
        f.extend(ex(false, (0x0002, 0x0002), b"UI", b"1.2", Some(40_000)));
        assert!(reason(&f, ReadMode::Header).contains("(0002,0002) declares 40000 bytes"));
        // the same meta group without preamble
        let bare = f[132..].to_vec();
        assert_eq!(sniff(&bare), Sniff::MetaWithoutPreamble);
        assert!(reason(&bare, ReadMode::Header).contains("(0002,0002) declares 40000 bytes"));
    }

    #[test]
    fn structure_dicom_rs_rejects_by_itself_is_left_to_it() {
        // a header cut short, and an item where an element should be: no verdict here
        let mut ds = le((0x0008, 0x0016), b"UI", b"1.2\0");
        ds.extend([0x10, 0x00, 0x20, 0x00, b'L']);
        check(&ds, ReadMode::Full).unwrap();
        let mut ds = le((0x0008, 0x0016), b"UI", b"1.2\0");
        ds.extend(ex(false, (0x0008, 0x1115), b"SQ", &[], Some(UNDEFINED)));
        ds.extend(le((0x0008, 0x1150), b"UI", b"1.2\0"));
        check(&ds, ReadMode::Full).unwrap();
    }

    fn deflated(body: &[u8]) -> Vec<u8> {
        let mut f = part10("1.2.840.10008.1.2.1.99");
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(body).unwrap();
        f.extend(z.finish().unwrap());
        f
    }

    #[test]
    fn deflated_data_sets_are_checked_once_inflated() {
        let mut body = nested_explicit();
        body.extend(ex(false, (0x7FE0, 0x0010), b"OW", &[7; 64], None));
        check(&deflated(&body), ReadMode::Full).unwrap();

        // past the end of the inflated stream (the compressed file is much shorter)
        let mut bad = body.clone();
        bad.extend(ex(
            false,
            (0x1800, 0x1800),
            b"UN",
            &[0; 10],
            Some(402_659_328),
        ));
        let f = deflated(&bad);
        assert_eq!(
            reason(&f, ReadMode::Full),
            "truncated or corrupt: (1800,1800) declares 402659328 bytes, 10 left in the deflated data set once inflated"
        );
        // the same verdict from the inflated bytes in memory (what `open` walks)
        assert_eq!(
            check_inflated(&bad, false, "t.dcm").unwrap_err().reason(),
            reason(&f, ReadMode::Full)
        );
        check_inflated(&body, false, "t.dcm").unwrap();
        // a header-only read stops at PixelData, and so does the walk
        check(&f, ReadMode::Header).unwrap();
        check_inflated(&bad, true, "t.dcm").unwrap();
        let mut bad_header = nested_explicit();
        bad_header.extend(ex(false, (0x0018, 0x0050), b"DS", b"5", Some(60_000)));
        assert!(reason(&deflated(&bad_header), ReadMode::Header).contains("(0018,0050)"));
        let e = check_inflated(&bad_header, true, "t.dcm").unwrap_err();
        assert!(e.reason().contains("(0018,0050)"), "{e}");
    }

    #[test]
    fn an_implausibly_large_inflated_data_set_is_refused() {
        // 2 MB of zeros in one value deflate to a few KB
        let mut body = nested_explicit();
        body.extend(ex(false, (0x0009, 0x1010), b"OB", &vec![0; 2 << 20], None));
        let f = deflated(&body);
        assert!(f.len() < 20_000, "{}", f.len());
        let kind = sniff(&f);
        let size = f.len() as u64;
        let small = check_reader(Cursor::new(&f), size, kind, ReadMode::Full, Some(1 << 20));
        let e = small.map_err(|s| s.into_error("t.dcm")).unwrap_err();
        assert!(
            e.reason().contains("inflates to more than 1048576 bytes"),
            "{e}"
        );
        check_reader(Cursor::new(&f), size, kind, ReadMode::Full, Some(4 << 20))
            .map_err(|s| s.into_error("t.dcm"))
            .unwrap();
    }

    #[test]
    fn not_dicom_is_not_walked() {
        check(b"Export notes: hello world", ReadMode::Full).unwrap();
    }
}
