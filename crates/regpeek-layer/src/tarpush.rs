//! A tar stream parsed as its bytes arrive: 512-byte headers (checksum checked), PAX
//! extended headers and GNU long names applied to the entry that follows, data
//! handed to the visitor's sink, padding skipped. The stream ends at the first
//! all-zero block (as tar does), or at a header boundary when the input ends.

use std::io::Write;

use crate::{Entry, Error, Kind, MAX_ENTRIES, MAX_PATH, Take, Visit, normalize};

/// The most a PAX header or GNU long name may hold.
const MAX_META: u64 = 1 << 20;

#[derive(Default)]
pub(crate) struct Tar {
    state: State,
    /// A header's bytes, while fewer than 512 have come.
    block: Vec<u8>,
    entries: u64,
    /// What PAX headers and GNU long names say of the next entry.
    next: Overrides,
}

#[derive(Default)]
enum State {
    #[default]
    Header,
    /// An entry's data: `left` bytes, then `pad`.
    Data {
        left: u64,
        pad: u64,
        to: Into,
    },
    Ended,
}

/// Where an entry's data goes.
enum Into {
    Skip,
    Sink(Box<dyn Write>),
    /// A PAX header or a GNU long name, kept for the next entry.
    Meta(char, Vec<u8>),
}

#[derive(Default)]
struct Overrides {
    path: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    size: Option<u64>,
    uid: Option<u64>,
    gid: Option<u64>,
    mtime: Option<u64>,
}

fn bad(what: impl std::fmt::Display) -> Error {
    Error::malformed(what)
}

impl Tar {
    pub(crate) fn ended(&self) -> bool {
        matches!(self.state, State::Ended)
    }

    /// Takes the next bytes of the tar stream.
    pub(crate) fn push(&mut self, mut bytes: &[u8], visit: &mut Visit) -> Result<(), Error> {
        while !bytes.is_empty() {
            match &mut self.state {
                State::Ended => return Ok(()),
                State::Header => {
                    let want = 512 - self.block.len();
                    let take = want.min(bytes.len());
                    self.block.extend_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                    if self.block.len() == 512 {
                        let block = std::mem::take(&mut self.block);
                        self.header(&block, visit)?;
                        self.block = block;
                        self.block.clear();
                    }
                }
                State::Data { left, pad, to } => {
                    if *left > 0 {
                        let take = (*left).min(bytes.len() as u64) as usize;
                        match to {
                            Into::Skip => {}
                            Into::Sink(sink) => sink
                                .write_all(&bytes[..take])
                                .map_err(|e| bad(format!("keeping a file of the layer: {e}")))?,
                            Into::Meta(_, kept) => kept.extend_from_slice(&bytes[..take]),
                        }
                        *left -= take as u64;
                        bytes = &bytes[take..];
                    } else {
                        let take = (*pad).min(bytes.len() as u64) as usize;
                        *pad -= take as u64;
                        bytes = &bytes[take..];
                    }
                    if *left == 0 && *pad == 0 {
                        self.end_of_entry()?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The input has ended: it must end at a header boundary.
    pub(crate) fn finish(&mut self) -> Result<(), Error> {
        match &self.state {
            State::Ended => Ok(()),
            State::Header if self.block.is_empty() => Ok(()),
            State::Header => Err(Error::truncated("inside a tar header")),
            State::Data { .. } => Err(Error::truncated("inside an entry's data")),
        }
    }

    fn end_of_entry(&mut self) -> Result<(), Error> {
        let state = std::mem::take(&mut self.state);
        match state {
            State::Data {
                to: Into::Sink(mut sink),
                ..
            } => sink
                .flush()
                .map_err(|e| bad(format!("keeping a file of the layer: {e}")))?,
            State::Data {
                to: Into::Meta(kind, kept),
                ..
            } => self.meta(kind, &kept)?,
            _ => {}
        }
        self.state = State::Header;
        Ok(())
    }

    fn header(&mut self, block: &[u8], visit: &mut Visit) -> Result<(), Error> {
        if block.iter().all(|b| *b == 0) {
            self.state = State::Ended;
            return Ok(());
        }
        let h = tar::Header::from_byte_slice(block);
        let stored = h
            .cksum()
            .map_err(|_| bad("a tar header's checksum field is not a number"))?;
        // The sum of the header's bytes, its checksum field counted as spaces;
        // signed by some old tars.
        let field = 148..156;
        let (unsigned, signed) = block
            .iter()
            .enumerate()
            .fold((0u32, 0i64), |(u, s), (i, b)| match field.contains(&i) {
                true => (u + 32, s + 32),
                false => (u + u32::from(*b), s + i64::from(*b as i8)),
            });
        if stored != unsigned && i64::from(stored) != signed {
            return Err(bad("a tar header's checksum does not match it"));
        }
        let t = h.entry_type();
        let meta = match t.as_byte() {
            b'x' => Some('x'),
            b'L' => Some('L'),
            b'K' => Some('K'),
            _ => None,
        };
        let stated = h
            .entry_size()
            .map_err(|_| bad("a tar header's size is not a number"))?;
        // A PAX size is the next real entry's (past 8 GiB, or exact).
        let data = match (meta, t.is_pax_global_extensions()) {
            (None, false) => self.next.size.take().unwrap_or(stated),
            _ => stated,
        };
        let pad = (512 - data % 512) % 512;
        if let Some(kind) = meta {
            if data > MAX_META {
                return Err(bad(format!(
                    "a tar extended header of {data} bytes, over the {MAX_META} read"
                )));
            }
            self.state = State::Data {
                left: data,
                pad,
                to: Into::Meta(kind, Vec::new()),
            };
            return self.maybe_done();
        }
        if t.is_pax_global_extensions() {
            self.state = State::Data {
                left: data,
                pad,
                to: Into::Skip,
            };
            return self.maybe_done();
        }
        if t.is_gnu_sparse() {
            return Err(bad(
                "a GNU sparse file, which container layers do not hold: not read",
            ));
        }
        self.entries += 1;
        if self.entries > MAX_ENTRIES {
            return Err(bad(format!(
                "the layer has more than {MAX_ENTRIES} entries: refused"
            )));
        }
        let next = std::mem::take(&mut self.next);
        let raw_path = next.path.unwrap_or_else(|| h.path_bytes().into_owned());
        if raw_path.len() > MAX_PATH {
            return Err(bad(format!(
                "an entry's path is longer than {MAX_PATH} bytes: refused"
            )));
        }
        let link = || -> Result<String, Error> {
            let l = match &next.link {
                Some(l) => l.clone(),
                None => h
                    .link_name_bytes()
                    .map(|l| l.into_owned())
                    .ok_or_else(|| bad("a link without a target"))?,
            };
            if l.len() > MAX_PATH {
                return Err(bad(format!(
                    "a link target is longer than {MAX_PATH} bytes: refused"
                )));
            }
            Ok(String::from_utf8_lossy(&l).into_owned())
        };
        let kind = if t.is_file() || t == tar::EntryType::Continuous {
            Kind::File
        } else if t.is_dir() {
            Kind::Dir
        } else if t.is_symlink() {
            Kind::Symlink(link()?)
        } else if t.is_hard_link() {
            Kind::Hardlink(normalize(&link()?))
        } else {
            Kind::Other(t.as_byte() as char)
        };
        let path = normalize(&String::from_utf8_lossy(&raw_path));
        let mut to = Into::Skip;
        if !path.is_empty() {
            let entry = Entry {
                path,
                kind,
                mode: h.mode().unwrap_or(0),
                uid: next.uid.or_else(|| h.uid().ok()).unwrap_or(0),
                gid: next.gid.or_else(|| h.gid().ok()).unwrap_or(0),
                size: data,
                mtime: next.mtime.or_else(|| h.mtime().ok()).unwrap_or(0),
            };
            if let Take::Bytes(sink) = visit(&entry) {
                to = Into::Sink(sink);
            }
        }
        self.state = State::Data {
            left: data,
            pad,
            to,
        };
        self.maybe_done()
    }

    /// An entry without data ends at once.
    fn maybe_done(&mut self) -> Result<(), Error> {
        if matches!(
            self.state,
            State::Data {
                left: 0,
                pad: 0,
                ..
            }
        ) {
            self.end_of_entry()?;
        }
        Ok(())
    }

    /// A PAX header's records, or a GNU long name, for the next entry.
    fn meta(&mut self, kind: char, kept: &[u8]) -> Result<(), Error> {
        let trimmed = || {
            let end = kept.iter().position(|b| *b == 0).unwrap_or(kept.len());
            kept[..end].to_vec()
        };
        match kind {
            'L' => self.next.path = Some(trimmed()),
            'K' => self.next.link = Some(trimmed()),
            _ => {
                for ext in tar::PaxExtensions::new(kept) {
                    let ext = ext.map_err(|_| bad("a PAX header is malformed"))?;
                    let number = || {
                        ext.value()
                            .ok()
                            .and_then(|v| v.split('.').next()?.parse::<u64>().ok())
                    };
                    match ext.key() {
                        Ok("path") => self.next.path = Some(ext.value_bytes().to_vec()),
                        Ok("linkpath") => self.next.link = Some(ext.value_bytes().to_vec()),
                        Ok("size") => {
                            self.next.size =
                                Some(number().ok_or_else(|| bad("a PAX size is not a number"))?)
                        }
                        Ok("uid") => self.next.uid = number(),
                        Ok("gid") => self.next.gid = number(),
                        Ok("mtime") => self.next.mtime = number(),
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }
}
