//! Reading one container image layer, sans-IO: the caller hands [`Reader::feed`] the
//! layer blob's bytes as they arrive (from a socket, a file, a recording), and the
//! reader hashes them, decompresses them (gzip of any members, zstd of any frames)
//! and parses the tar stream, showing each entry to a visitor that may ask for its
//! bytes. [`Reader::finish`] says whether the whole blob hashed to its digest and
//! size: until it returns `Ok`, nothing the visitor was given may be used.
//!
//! Nothing here opens a socket or a file, starts a thread or reads a clock, and no
//! layer is ever held whole: memory stays bounded whatever the layer's size. Bounds a
//! hostile layer cannot pass: the size its descriptor states, decompressed bytes
//! (absolute, and per compressed byte: a decompression bomb), entries, path length,
//! the zstd window; truncated streams and tar headers that lie fail.
//!
//! Driving it from a blocking reader:
//!
//! ```
//! use std::io::Read;
//! use regpeek_layer::{Reader, Take};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let blob: Vec<u8> = {
//! #     let mut t = tar::Builder::new(Vec::new());
//! #     let mut h = tar::Header::new_gnu();
//! #     h.set_size(5); h.set_mode(0o644); h.set_cksum();
//! #     t.append_data(&mut h, "etc/hostname", &b"box1\n"[..])?;
//! #     t.into_inner()?
//! # };
//! # let digest = regpeek_proto::Digest::sha256(&blob);
//! let media_type = "application/vnd.oci.image.layer.v1.tar";
//! let mut reader = Reader::new(media_type, &digest, blob.len() as u64)?;
//! let mut names = Vec::new();
//! let mut visit = |e: &regpeek_layer::Entry| {
//!     names.push(e.path.clone());
//!     Take::Skip
//! };
//! let mut body = &blob[..]; // any `Read`: an HTTP body, a file
//! let mut chunk = [0u8; 64 << 10];
//! loop {
//!     let n = body.read(&mut chunk)?;
//!     if n == 0 {
//!         break;
//!     }
//!     reader.feed(&chunk[..n], &mut visit)?;
//! }
//! reader.finish(&mut visit)?; // the digest and size hold: `names` may be used
//! assert_eq!(names, ["etc/hostname"]);
//! # Ok(())
//! # }
//! ```

pub mod estargz;
mod tarpush;
mod zstdpush;

pub use zstdpush::{ZstdHead, zstd_head};

use std::io::Write;

use regpeek_proto::Digest;
use sha2::Digest as _;

/// The most a layer may decompress to.
pub const MAX_UNPACKED: u64 = 8 << 30;
/// The most a layer may decompress to per compressed byte (gzip tops out near 1032
/// for runs of one byte; real layers are far below 100), past a floor of
/// [`RATIO_FLOOR`] bytes.
pub const MAX_RATIO: u64 = 250;
/// What any layer may decompress to, whatever its ratio.
pub const RATIO_FLOOR: u64 = 64 << 20;
/// The most entries a layer may hold.
pub const MAX_ENTRIES: u64 = 1_000_000;
/// The longest path (or link target) an entry may have.
pub const MAX_PATH: usize = 4096;
/// The largest zstd window a layer may ask for (the decoder holds one window in
/// memory; `zstd` uses 8 MiB at level 19, 128 MiB only with `--ultra -22` or `--long`).
pub const MAX_ZSTD_WINDOW: u64 = 32 << 20;

/// Why a layer cannot be read: typed, so that a caller chooses what to say next by
/// kind; `Display` says it for a person.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The layer unpacks past its caps (an absolute one, and one per compressed byte):
    /// refused as a decompression bomb.
    #[error(
        "reading the layer's tar stream: the layer unpacks to more than {cap} bytes ({MAX_RATIO} per compressed byte at most, {MAX_UNPACKED} in all): refused as a decompression bomb"
    )]
    Bomb {
        /// The cap it passed.
        cap: u64,
    },
    /// The blob does not hash to its digest.
    #[error("blob {digest} does not match its digest (it hashes to {got}): nothing of it is used")]
    DigestMismatch {
        /// The digest asked for.
        digest: String,
        /// What the bytes hash to.
        got: String,
    },
    /// The blob is not the size its descriptor says (`read`: how many bytes came; more
    /// than `size` when it was cut off for being too long).
    #[error("blob {digest} {}: nothing of it is used", size_said(*.read, *.size))]
    SizeMismatch {
        /// The digest asked for.
        digest: String,
        /// The size the descriptor says.
        size: u64,
        /// How many bytes came (past `size`: at least that many).
        read: u64,
    },
    /// The stream ends before its entries do: the layer is truncated, or a tar header
    /// states a size its data does not have.
    #[error(
        "reading the layer's tar stream: it ends before its entries do (the layer is truncated, or a tar header states a size its data does not have): {at}"
    )]
    Truncated {
        /// Where it ended.
        at: String,
    },
    /// A tar header, or the gzip or zstd stream, does not parse.
    #[error("reading the layer's tar stream: {what}")]
    Malformed {
        /// What does not parse, and how.
        what: String,
    },
    /// An eStargz layer's footer, TOC or chunks are not as the format says
    /// ([`estargz`]).
    #[error("reading the eStargz layer: {what}")]
    Estargz {
        /// What is wrong, and where.
        what: String,
    },
    /// A layer format or digest algorithm this reader does not read.
    #[error("{what}")]
    Unsupported {
        /// What it is.
        what: String,
    },
}

/// A size mismatch's count of bytes, for its message.
fn size_said(read: u64, size: u64) -> String {
    if read > size {
        format!("is larger than the {size} bytes its descriptor says")
    } else {
        format!("is {read} bytes where its descriptor says {size}")
    }
}

impl Error {
    /// A stream that ends too soon.
    fn truncated(at: impl Into<String>) -> Error {
        Error::Truncated { at: at.into() }
    }

    /// Something in the stream that does not parse.
    fn malformed(what: impl std::fmt::Display) -> Error {
        Error::Malformed {
            what: what.to_string(),
        }
    }
}

/// How a layer's bytes are packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    Tar,
    Gzip,
    Zstd,
}

/// The packing of a layer by its media type; `Err` says why it is not read.
pub fn packing(media_type: &str) -> Result<Packing, String> {
    let t = media_type.to_ascii_lowercase();
    if t.contains("nondistributable") || t.contains("foreign") {
        return Err(format!(
            "{media_type}: a foreign layer, not served by the registry"
        ));
    }
    if t.ends_with("+zstd") || t.ends_with(".zstd") {
        return Ok(Packing::Zstd);
    }
    if t.ends_with("+gzip") || t.ends_with(".gzip") {
        return Ok(Packing::Gzip);
    }
    if t.ends_with(".tar") || t.ends_with("tar") {
        return Ok(Packing::Tar);
    }
    Err(format!("{media_type}: not a layer regpeek can read"))
}

/// One entry of a layer, as its tar headers (PAX and GNU long names applied) say.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Normalised: no leading `/` or `./`, no `.` or `..` components.
    pub path: String,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    pub mtime: u64,
}

impl Entry {
    /// About what the entry holds in memory, in bytes.
    pub fn weight(&self) -> usize {
        let link = match &self.kind {
            Kind::Symlink(t) | Kind::Hardlink(t) => t.len(),
            _ => 0,
        };
        std::mem::size_of::<Entry>() + self.path.len() + link
    }
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    File,
    Dir,
    Symlink(String),
    /// A hard link to another path of the image (normalised).
    Hardlink(String),
    /// Any other tar type (devices, FIFOs), by its type byte.
    Other(char),
}

/// What a visitor asks of the entry it was shown.
pub enum Take {
    /// Nothing more.
    Skip,
    /// Its bytes, to `sink`; usable only once [`Reader::finish`] returns `Ok`.
    Bytes(Box<dyn Write>),
}

/// A path in the image: no leading `/` or `./`, no empty, `.` or `..` components
/// (`..` stops at the root, as in a container).
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

/// The path a whiteout entry deletes (`dir/.wh.name` → `dir/name`), or for an opaque
/// directory marker (`dir/.wh..wh..opq`) the directory whose lower contents it hides
/// (the flag is `true`).
pub fn whiteout(path: &str) -> Option<(String, bool)> {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    if name == ".wh..wh..opq" {
        return Some((dir.to_owned(), true));
    }
    let gone = name.strip_prefix(".wh.")?;
    Some((
        if dir.is_empty() {
            gone.to_owned()
        } else {
            format!("{dir}/{gone}")
        },
        false,
    ))
}

/// What a visitor is: shown each entry, it says whether it wants the bytes.
pub type Visit<'v> = dyn FnMut(&Entry) -> Take + 'v;

enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

/// A blob's digest (and size) checked as its bytes go by: what [`Reader`] does for a
/// layer, for any blob a caller streams itself (a config, an attestation document,
/// `regpeek blob`).
pub struct Check {
    digest: Digest,
    hasher: Hasher,
    read: u64,
}

impl Check {
    /// A check that the bytes hash to `digest` (sha256 or sha512).
    pub fn new(digest: &Digest) -> Result<Check, Error> {
        let hasher = match digest.to_string().split(':').next() {
            Some("sha256") => Hasher::Sha256(sha2::Sha256::new()),
            Some("sha512") => Hasher::Sha512(sha2::Sha512::new()),
            _ => {
                return Err(Error::Unsupported {
                    what: format!("{digest}: an algorithm regpeek cannot check"),
                });
            }
        };
        Ok(Check {
            digest: digest.clone(),
            hasher,
            read: 0,
        })
    }

    /// Takes the next bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.read += bytes.len() as u64;
        match &mut self.hasher {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    /// How many bytes it has taken.
    pub fn read(&self) -> u64 {
        self.read
    }

    /// Whether all the bytes hashed to the digest (and, when given, were exactly
    /// `size` bytes).
    pub fn finish(self, size: Option<u64>) -> Result<(), Error> {
        let hex = match self.hasher {
            Hasher::Sha256(h) => hex(&h.finalize()),
            Hasher::Sha512(h) => hex(&h.finalize()),
        };
        let digest = self.digest.to_string();
        let algorithm = digest.split(':').next().unwrap_or("");
        let got = format!("{algorithm}:{hex}");
        if got != digest {
            return Err(Error::DigestMismatch { digest, got });
        }
        if let Some(size) = size.filter(|s| *s != self.read) {
            return Err(Error::SizeMismatch {
                digest,
                size,
                read: self.read,
            });
        }
        Ok(())
    }
}

enum Decoder {
    Tar,
    Gzip(Box<flate2::write::MultiGzDecoder<Vec<u8>>>),
    Zstd(Box<zstdpush::Frames>),
}

/// One layer being read; see the crate's documentation for how to drive it.
pub struct Reader {
    size: u64,
    check: Check,
    decoder: Decoder,
    unpacked: Unpacked,
    /// The first failure; the rest of the blob is still hashed, so that a blob that
    /// does not match its digest is reported as that.
    failed: Option<Error>,
    /// Decompress to the end of the blob, past the tar stream's end ([`Reader::to_the_end`]).
    to_the_end: bool,
}

/// What the decompressor has given so far, and the tar parser it goes to.
#[derive(Default)]
struct Unpacked {
    bytes: u64,
    tar: tarpush::Tar,
}

impl Unpacked {
    /// `bytes` unpacked from the first `compressed` bytes of the blob, within the
    /// caps (absolute, and per compressed byte past a floor), to the tar parser
    /// (counted only, once the tar stream has ended).
    fn take(&mut self, compressed: u64, bytes: &[u8], visit: &mut Visit) -> Result<(), Error> {
        self.bytes += bytes.len() as u64;
        let cap = MAX_UNPACKED.min(compressed.saturating_mul(MAX_RATIO).max(RATIO_FLOOR));
        if self.bytes > cap {
            return Err(Error::Bomb { cap });
        }
        if self.tar.ended() {
            return Ok(());
        }
        self.tar.push(bytes, visit)
    }
}

/// How much compressed input gzip is given at a time: it bounds what one step can
/// unpack to (deflate tops out near 1032 to 1: 4 KiB into about 4 MiB).
const GZIP_STEP: usize = 4 << 10;

impl Reader {
    /// A reader for the layer of `media_type` that must hash to `digest` and be
    /// `size` bytes long.
    pub fn new(media_type: &str, digest: &Digest, size: u64) -> Result<Reader, Error> {
        let check = Check::new(digest)?;
        let decoder = match packing(media_type).map_err(|what| Error::Unsupported { what })? {
            Packing::Tar => Decoder::Tar,
            Packing::Gzip => {
                Decoder::Gzip(Box::new(flate2::write::MultiGzDecoder::new(Vec::new())))
            }
            Packing::Zstd => Decoder::Zstd(Box::default()),
        };
        Ok(Reader {
            size,
            check,
            decoder,
            unpacked: Unpacked::default(),
            failed: None,
            to_the_end: false,
        })
    }

    /// Decompresses the whole blob, past the end of its tar stream (the zero blocks
    /// and padding some writers add), so that [`Reader::unpacked`] is the length of
    /// everything it unpacks to, as `gzip -d | wc -c` counts it.
    pub fn to_the_end(mut self) -> Reader {
        self.to_the_end = true;
        self
    }

    /// How many bytes the blob has unpacked to so far (the tar stream's; with
    /// [`Reader::to_the_end`], all of it).
    pub fn unpacked(&self) -> u64 {
        self.unpacked.bytes
    }

    /// Takes the next bytes of the blob. An `Err` is final (the blob is larger than
    /// its size); a failure of its contents is kept for [`Reader::finish`], which
    /// says it unless the blob fails its digest, the likelier cause.
    pub fn feed(&mut self, chunk: &[u8], visit: &mut Visit) -> Result<(), Error> {
        self.check.update(chunk);
        if self.check.read() > self.size {
            return Err(Error::SizeMismatch {
                digest: self.check.digest.to_string(),
                size: self.size,
                read: self.check.read(),
            });
        }
        if self.failed.is_none()
            && (self.to_the_end || !self.unpacked.tar.ended())
            && let Err(e) = self.unpack(chunk, visit)
        {
            self.failed = Some(e);
        }
        Ok(())
    }

    fn unpack(&mut self, chunk: &[u8], visit: &mut Visit) -> Result<(), Error> {
        let Reader {
            decoder,
            unpacked,
            check,
            ..
        } = self;
        let compressed = check.read();
        let mut out = |bytes: &[u8]| unpacked.take(compressed, bytes, visit);
        match decoder {
            Decoder::Tar => out(chunk),
            Decoder::Gzip(gz) => {
                for step in chunk.chunks(GZIP_STEP) {
                    gz.write_all(step)
                        .map_err(|e| Error::malformed(format!("gzip: {e}")))?;
                    let bytes = std::mem::take(gz.get_mut());
                    out(&bytes)?;
                    // The buffer's room is kept for the next step.
                    *gz.get_mut() = bytes;
                    gz.get_mut().clear();
                }
                Ok(())
            }
            Decoder::Zstd(z) => z.push(chunk, &mut out),
        }
    }

    /// Whether the contents have already failed. What is left of the blob is only
    /// hashed, to tell a corrupted blob (a digest mismatch) from a broken one; a
    /// driver with much left to read may stop and take [`Reader::into_error`].
    pub fn failed(&self) -> bool {
        self.failed.is_some()
    }

    /// How many bytes of the blob have been fed.
    pub fn fed(&self) -> u64 {
        self.check.read()
    }

    /// The contents' failure, for a driver that stops reading once it is known.
    pub fn into_error(self) -> Option<Error> {
        self.failed
    }

    /// Ends the blob: whether it all hashed to the digest and was exactly its size,
    /// and whether its tar stream was whole. Only on `Ok` may what the visitor was
    /// given be used; it holds how many bytes the blob unpacked to (see
    /// [`Reader::to_the_end`]).
    pub fn finish(mut self, visit: &mut Visit) -> Result<u64, Error> {
        if self.failed.is_none() && (self.to_the_end || !self.unpacked.tar.ended()) {
            let ended = self.end_of_input(visit);
            self.failed = ended.err();
        }
        self.check.finish(Some(self.size))?;
        match self.failed {
            Some(e) => Err(e),
            None => Ok(self.unpacked.bytes),
        }
    }

    /// The decompressor's end, then the tar stream's.
    fn end_of_input(&mut self, visit: &mut Visit) -> Result<(), Error> {
        let rest = match &mut self.decoder {
            Decoder::Tar => Vec::new(),
            Decoder::Gzip(gz) => {
                gz.try_finish()
                    .map_err(|e| Error::truncated(format!("gzip: {e}")))?;
                std::mem::take(gz.get_mut())
            }
            Decoder::Zstd(z) => {
                z.finish()?;
                Vec::new()
            }
        };
        if !rest.is_empty() {
            self.unpacked.take(self.check.read(), &rest, visit)?;
        }
        self.unpacked.tar.finish()
    }
}

/// Bytes as lowercase hex (a digest's).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
