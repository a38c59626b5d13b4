//! rpm's SQLite database (`rpmdb.sqlite`, rpm ≥ 4.16): the `Packages` table's
//! `blob`s, each a package header (rpm's header format: a count of index entries and
//! of data bytes, the entries — tag, type, offset, count, big-endian — then the
//! data). Opened read-only and immutable; the file is at most
//! [`crate::contents::MAX_DATABASE`], and SQLite's own checks end a damaged one (a
//! b-tree deeper than it allows, as a cyclic page chain makes it, is corruption).

use std::io::Write as _;

use super::{MAX_PACKAGES, Package};

const NAME: u32 = 1000;
const VERSION: u32 = 1001;
const RELEASE: u32 = 1002;
const EPOCH: u32 = 1003;
const ARCH: u32 = 1022;
const SOURCERPM: u32 = 1044;

const INT32: u32 = 4;
const STRING: u32 = 6;
const I18NSTRING: u32 = 9;

/// The most index entries and data bytes one header may have (rpm's own limits).
const MAX_ENTRIES: usize = 0xffff;
const MAX_DATA: usize = 256 << 20;

/// The packages of the SQLite rpm database in `file`.
pub(super) fn sqlite(file: &mut impl std::io::Read) -> Result<Vec<Package>, String> {
    // SQLite reads a file: the database is copied to a private temporary one.
    let mut tmp = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    std::io::copy(file, &mut tmp).map_err(|e| e.to_string())?;
    tmp.flush().map_err(|e| e.to_string())?;
    let uri = format!("file:{}?immutable=1", tmp.path().display());
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
        | rusqlite::OpenFlags::SQLITE_OPEN_URI
        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let db = rusqlite::Connection::open_with_flags(uri, flags)
        .map_err(|e| format!("not an rpm SQLite database: {e}"))?;
    let mut query = db
        .prepare("SELECT blob FROM Packages")
        .map_err(|e| format!("not an rpm SQLite database: {e}"))?;
    let mut rows = query.query([]).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    loop {
        let row = match rows.next() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(e) => return Err(format!("a damaged rpm database: {e}")),
        };
        let blob: Vec<u8> = row
            .get(0)
            .map_err(|e| format!("a damaged rpm database: {e}"))?;
        if out.len() >= MAX_PACKAGES {
            return Err(format!("more than {MAX_PACKAGES} packages"));
        }
        out.push(header(&blob)?);
    }
    Ok(out)
}

/// One package's header blob.
pub(super) fn header(blob: &[u8]) -> Result<Package, String> {
    let bad = |why: &str| format!("a damaged package header: {why}");
    let be = |at: usize| -> Option<u32> {
        blob.get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (il, dl) = match (be(0), be(4)) {
        (Some(il), Some(dl)) => (il as usize, dl as usize),
        _ => return Err(bad("shorter than its counts")),
    };
    if il > MAX_ENTRIES || dl > MAX_DATA {
        return Err(bad("more entries or data than rpm allows"));
    }
    let data_at = 8 + il * 16;
    let data = blob
        .get(data_at..data_at + dl)
        .ok_or_else(|| bad("shorter than it says"))?;
    let mut tags = std::collections::BTreeMap::new();
    for i in 0..il {
        let at = 8 + i * 16;
        let (Some(tag), Some(kind), Some(offset)) = (be(at), be(at + 4), be(at + 8)) else {
            return Err(bad("an entry cut short"));
        };
        let offset = offset as usize;
        let value = match kind {
            STRING | I18NSTRING => {
                let rest = data
                    .get(offset..)
                    .ok_or_else(|| bad("an offset past its data"))?;
                let end = rest
                    .iter()
                    .position(|b| *b == 0)
                    .ok_or_else(|| bad("a string without its end"))?;
                String::from_utf8_lossy(&rest[..end]).into_owned()
            }
            INT32 => data
                .get(offset..offset + 4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]).to_string())
                .ok_or_else(|| bad("an offset past its data"))?,
            _ => continue,
        };
        tags.entry(tag).or_insert(value);
    }
    let name = tags.get(&NAME).cloned().ok_or_else(|| bad("no name"))?;
    let mut version = tags.get(&VERSION).cloned().unwrap_or_default();
    if let Some(release) = tags.get(&RELEASE) {
        version = format!("{version}-{release}");
    }
    if let Some(epoch) = tags.get(&EPOCH) {
        version = format!("{epoch}:{version}");
    }
    // `NAME-VERSION-RELEASE.src.rpm`: the name is what precedes the last two dashes.
    let source = tags
        .get(&SOURCERPM)
        .and_then(|s| s.strip_suffix(".src.rpm").or(s.strip_suffix(".nosrc.rpm")))
        .and_then(|s| s.rsplitn(3, '-').nth(2))
        .filter(|s| *s != name)
        .map(str::to_owned);
    Ok(Package {
        kind: "rpm".into(),
        name,
        version,
        arch: tags.get(&ARCH).cloned(),
        source,
    })
}
