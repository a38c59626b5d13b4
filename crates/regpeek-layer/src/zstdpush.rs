//! A zstd stream decoded as its bytes arrive: every frame in turn (skippable frames
//! skipped, as zstd:chunked writes them), one block at a time so that what one step
//! unpacks is bounded (128 KiB a block), each frame's window bounded by
//! [`MAX_ZSTD_WINDOW`]. Frames and blocks: RFC 8878 §3.1. The blocks are decoded by
//! `ruzstd`; this only finds where each frame header and block ends.

use ruzstd::decoding::errors::FrameDecoderError;
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

use crate::{Error, MAX_ZSTD_WINDOW};

/// The largest block a frame may hold (RFC 8878 §3.1.1.2.4).
const MAX_BLOCK: usize = 128 << 10;

pub(crate) struct Frames {
    /// Input not yet used: at most a frame header, or a block and its checksum.
    pending: Vec<u8>,
    state: State,
    decoder: FrameDecoder,
    out: Vec<u8>,
}

enum State {
    /// Before a frame (or at the end of the stream).
    Between,
    /// Inside a skippable frame: this many bytes left.
    Skip(u64),
    /// Inside a frame's blocks; with a content checksum after the last.
    Blocks { checksum: bool },
}

impl Default for Frames {
    fn default() -> Self {
        let mut decoder = FrameDecoder::new();
        decoder.set_max_window_size(MAX_ZSTD_WINDOW);
        Frames {
            pending: Vec::new(),
            state: State::Between,
            decoder,
            out: vec![0; MAX_BLOCK],
        }
    }
}

fn zstd(e: impl std::fmt::Display) -> Error {
    Error::malformed(format!("zstd: {e}"))
}

impl Frames {
    /// Takes compressed bytes; each piece of output goes to `out`. What does not yet
    /// make a whole frame header or block waits (at most one block and a chunk).
    pub(crate) fn push(
        &mut self,
        input: &[u8],
        out: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut buf = std::mem::take(&mut self.pending);
        buf.extend_from_slice(input);
        let mut at = 0;
        let result = loop {
            let rest = &buf[at..];
            let need = match self.state {
                State::Skip(left) => {
                    let n = left.min(rest.len() as u64);
                    at += n as usize;
                    if n < left {
                        self.state = State::Skip(left - n);
                        break Ok(());
                    }
                    self.state = State::Between;
                    continue;
                }
                State::Between => header_len(rest),
                State::Blocks { checksum } => block_len(rest, checksum),
            };
            match need {
                Err(e) => break Err(e),
                Ok(Some(n)) if n <= rest.len() => {
                    if let Err(e) = self.step(&rest[..n], out) {
                        break Err(e);
                    }
                    at += n;
                }
                Ok(_) => break Ok(()),
            }
        };
        buf.drain(..at);
        self.pending = buf;
        result
    }

    /// Decodes one frame header, skippable frame header or block, whole in `unit`.
    fn step(
        &mut self,
        unit: &[u8],
        out: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        match self.state {
            State::Skip(_) => Ok(()),
            State::Between => {
                let magic = u32::from_le_bytes([unit[0], unit[1], unit[2], unit[3]]);
                if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
                    let len = u32::from_le_bytes([unit[4], unit[5], unit[6], unit[7]]);
                    self.state = State::Skip(u64::from(len));
                    return Ok(());
                }
                let mut source = unit;
                match self.decoder.init(&mut source) {
                    Ok(()) => {}
                    Err(FrameDecoderError::WindowSizeTooBig { requested, max }) => {
                        return Err(zstd(format!(
                            "a frame asks for a {requested}-byte window, more than the {max} bytes regpeek allows a layer"
                        )));
                    }
                    Err(e) => return Err(zstd(e)),
                }
                self.state = State::Blocks {
                    checksum: unit[4] & 0x04 != 0,
                };
                Ok(())
            }
            State::Blocks { .. } => {
                let mut source = unit;
                self.decoder
                    .decode_blocks(&mut source, BlockDecodingStrategy::UptoBlocks(1))
                    .map_err(zstd)?;
                loop {
                    let n = self.decoder.can_collect().min(self.out.len());
                    if n == 0 {
                        break;
                    }
                    let n =
                        std::io::Read::read(&mut self.decoder, &mut self.out[..n]).map_err(zstd)?;
                    if n == 0 {
                        break;
                    }
                    out(&self.out[..n])?;
                }
                if self.decoder.is_finished() && self.decoder.can_collect() == 0 {
                    self.state = State::Between;
                }
                Ok(())
            }
        }
    }

    /// The input has ended: it must end between frames.
    pub(crate) fn finish(&mut self) -> Result<(), Error> {
        match self.state {
            State::Between if self.pending.is_empty() => Ok(()),
            State::Skip(_) => Err(Error::truncated("zstd: inside a skippable frame")),
            _ => Err(Error::truncated("zstd: inside a frame")),
        }
    }
}

/// The magic number that starts a zstd frame (RFC 8878 §3.1.1).
const FRAME_MAGIC: u32 = 0xFD2F_B528;

/// Whether a magic number is a skippable frame's (`0x184D2A5?`, RFC 8878 §3.1.2).
fn skippable(magic: u32) -> bool {
    magic & 0xFFFF_FFF0 == 0x184D_2A50
}

/// Where a frame header's fields lie, from its descriptor byte `fhd` (RFC 8878
/// §3.1.1.1): the header's length, and the offset and length of its content size
/// (0: the frame does not state it).
fn fields(fhd: u8) -> (usize, usize, usize) {
    let single = fhd & 0x20 != 0;
    let fcs = match fhd >> 6 {
        0 if single => 1,
        0 => 0,
        1 => 2,
        2 => 4,
        _ => 8,
    };
    let dict = [0, 1, 2, 4][usize::from(fhd & 3)];
    let at = 5 + usize::from(!single) + dict;
    (at + fcs, at, fcs)
}

/// The length of the frame header (or the 8 bytes of a skippable frame's) that
/// starts `rest`, once enough has come to tell.
fn header_len(rest: &[u8]) -> Result<Option<usize>, Error> {
    let Some(magic) = rest.get(..4) else {
        return Ok(None);
    };
    let magic = u32::from_le_bytes([magic[0], magic[1], magic[2], magic[3]]);
    if skippable(magic) {
        return Ok(Some(8));
    }
    if magic != FRAME_MAGIC {
        return Err(zstd(format!("not a zstd frame (magic {magic:#010x})")));
    }
    Ok(rest.get(4).map(|&fhd| fields(fhd).0))
}

/// What the first bytes of a zstd stream say of its first frame's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZstdHead {
    /// The frame states its content size.
    Size(u64),
    /// The frame does not state it (a streaming writer leaves it out).
    Unstated,
    /// The stream starts with a skippable frame.
    Skippable,
    /// Too few bytes to tell.
    Short,
}

/// What the first frame header at the start of `head` says of its content size;
/// an error when `head` starts with no zstd frame at all.
pub fn zstd_head(head: &[u8]) -> Result<ZstdHead, Error> {
    let Some(magic) = head.get(..4) else {
        return Ok(ZstdHead::Short);
    };
    let magic = u32::from_le_bytes([magic[0], magic[1], magic[2], magic[3]]);
    if skippable(magic) {
        return Ok(ZstdHead::Skippable);
    }
    header_len(head)?;
    let Some(&fhd) = head.get(4) else {
        return Ok(ZstdHead::Short);
    };
    let (_, at, len) = fields(fhd);
    if len == 0 {
        return Ok(ZstdHead::Unstated);
    }
    let Some(bytes) = head.get(at..at + len) else {
        return Ok(ZstdHead::Short);
    };
    let mut le = [0u8; 8];
    le[..len].copy_from_slice(bytes);
    // A 2-byte size counts from 256 (RFC 8878 §3.1.1.1.4).
    let offset = if len == 2 { 256 } else { 0 };
    Ok(ZstdHead::Size(u64::from_le_bytes(le) + offset))
}

/// The length of the block that starts `rest` (with the frame's checksum after the
/// last block), once its header has come.
fn block_len(rest: &[u8], checksum: bool) -> Result<Option<usize>, Error> {
    let Some(h) = rest.get(..3) else {
        return Ok(None);
    };
    let header = u32::from(h[0]) | u32::from(h[1]) << 8 | u32::from(h[2]) << 16;
    let last = header & 1 != 0;
    let size = (header >> 3) as usize;
    let body = match (header >> 1) & 3 {
        0 | 2 => size,
        1 => 1,
        _ => return Err(zstd("a block of the reserved type")),
    };
    if size > MAX_BLOCK {
        return Err(zstd(format!(
            "a block of {size} bytes, over the 128 KiB a block may hold"
        )));
    }
    Ok(Some(3 + body + if last && checksum { 4 } else { 0 }))
}
