//! Go's build info in executables (Go ≥ 1.18): the 32-byte header that starts with
//! `\xff Go buildinf:`, then, inline (flag 2), the Go version and the module info as
//! uvarint-length strings; the module info (`path`, `mod`, `dep`, `=>` lines) sits
//! between two 16-byte sentinels. Found as the file streams by ([`Scan`]), never by
//! following the pointers of the older format (a lying offset can point nowhere), and
//! every length checked against what was captured.

use super::Package;

/// The magic that starts the build info.
pub(crate) const MAGIC: &[u8] = b"\xff Go buildinf:";
/// The most captured after the magic: the header and the module info.
pub(crate) const MAX_CAPTURE: usize = 1 << 20;

/// Watches an executable's bytes for the build info: an ELF file's bytes are searched
/// for [`MAGIC`], and what follows it kept (up to [`MAX_CAPTURE`]).
#[derive(Default)]
pub(crate) struct Scan {
    seen: u64,
    not_elf: bool,
    /// The last bytes of the previous write, for a magic cut in two.
    tail: Vec<u8>,
    captured: Option<Vec<u8>>,
}

impl Scan {
    /// Sees the next bytes of the file.
    pub(crate) fn feed(&mut self, buf: &[u8]) {
        if self.not_elf {
            return;
        }
        if self.seen < 4 {
            let at = self.seen as usize;
            let want = &b"\x7fELF"[at..];
            let n = want.len().min(buf.len());
            if buf[..n] != want[..n] {
                self.not_elf = true;
                return;
            }
        }
        self.seen += buf.len() as u64;
        if let Some(c) = &mut self.captured {
            let room = MAX_CAPTURE.saturating_sub(c.len());
            c.extend_from_slice(&buf[..room.min(buf.len())]);
            return;
        }
        let mut window = std::mem::take(&mut self.tail);
        window.extend_from_slice(buf);
        match memchr::memmem::find(&window, MAGIC) {
            Some(at) => {
                let end = window.len().min(at + MAX_CAPTURE);
                self.captured = Some(window[at..end].to_vec());
            }
            None => {
                let keep = window.len().saturating_sub(MAGIC.len() - 1);
                self.tail = window.split_off(keep);
            }
        }
    }

    /// What was captured, if the magic was found.
    pub(crate) fn captured(&self) -> Option<&[u8]> {
        self.captured.as_deref()
    }
}

/// A uvarint-length string at the start of `data`, and what follows it.
fn string(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (mut n, mut shift) = (0u64, 0u32);
    for (i, b) in data.iter().enumerate().take(10) {
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            let rest = &data[i + 1..];
            let len = usize::try_from(n).ok().filter(|&l| l <= rest.len())?;
            return Some((&rest[..len], &rest[len..]));
        }
        shift += 7;
    }
    None
}

/// The packages the captured build info names: the main module, its dependencies
/// (a replacement's version where one is given), and the standard library.
pub(crate) fn parse(captured: &[u8]) -> Result<Vec<Package>, String> {
    let header = captured
        .get(..32)
        .ok_or("a Go build info header cut short")?;
    if header[15] & 2 == 0 {
        return Err("Go build info of before Go 1.18 (pointers, not read)".into());
    }
    let (version, rest) =
        string(&captured[32..]).ok_or("a Go version string past the build info")?;
    let (modinfo, _) = string(rest).ok_or("Go module info past the build info")?;
    // Between its sentinels, when it has them.
    let modinfo = if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
        &modinfo[16..modinfo.len() - 16]
    } else {
        &[][..]
    };
    let go = |name: &str, version: &str| Package {
        kind: "golang".into(),
        name: name.into(),
        version: version.into(),
        arch: None,
        source: None,
    };
    let mut out: Vec<Package> = Vec::new();
    for line in String::from_utf8_lossy(modinfo).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["mod", path, version, ..] | ["dep", path, version, ..] => out.push(go(path, version)),
            ["=>", _, version, ..] => {
                if let Some(last) = out.last_mut() {
                    last.version = (*version).to_owned();
                }
            }
            _ => {}
        }
    }
    let version = String::from_utf8_lossy(version);
    if let Some(v) = version.strip_prefix("go") {
        out.push(go("stdlib", &format!("v{v}")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An executable's bytes with Go ≥ 1.18 build info (inline strings).
    pub(crate) fn executable(version: &str, modinfo: &str) -> Vec<u8> {
        let mut b = b"\x7fELF".to_vec();
        b.extend(vec![0u8; 5000]);
        b.extend(MAGIC);
        b.extend([8u8, 2]);
        b.extend([0u8; 16]);
        let start = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6";
        let end = b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2";
        let info = [&start[..], modinfo.as_bytes(), &end[..]].concat();
        for s in [version.as_bytes(), &info] {
            let mut n = s.len();
            while n >= 0x80 {
                b.push((n as u8) | 0x80);
                n >>= 7;
            }
            b.push(n as u8);
            b.extend(s);
        }
        b.extend(vec![0u8; 3000]);
        b
    }

    fn scanned(bytes: &[u8], piece: usize) -> Option<Vec<u8>> {
        let mut s = Scan::default();
        for chunk in bytes.chunks(piece) {
            s.feed(chunk);
        }
        s.captured().map(<[u8]>::to_vec)
    }

    #[test]
    fn modules_and_the_standard_library_at_any_split() {
        let info = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\ndep\tgolang.org/x/sys\tv0.15.0\th1:abc=\ndep\tgithub.com/old/x\tv1.0.0\th1:def=\n=>\tgithub.com/new/x\tv1.2.0\th1:ghi=\nbuild\t-compiler=gc\n";
        let exe = executable("go1.21.5", info);
        for piece in [1, 7, 13, 14, 4096, exe.len()] {
            let got = parse(&scanned(&exe, piece).unwrap()).unwrap();
            let names: Vec<(&str, &str)> = got
                .iter()
                .map(|p| (p.name.as_str(), p.version.as_str()))
                .collect();
            assert_eq!(
                names,
                [
                    ("example.com/app", "(devel)"),
                    ("golang.org/x/sys", "v0.15.0"),
                    ("github.com/old/x", "v1.2.0"),
                    ("stdlib", "v1.21.5")
                ],
                "in pieces of {piece}"
            );
        }
        let mut not_elf = exe.clone();
        not_elf[0] = b'#';
        assert_eq!(scanned(&not_elf, 100), None);
    }

    #[test]
    fn lying_lengths_and_old_formats_are_errors_not_panics() {
        let exe = executable("go1.21.5", "mod\tx\tv1\t\n");
        let mut captured = scanned(&exe, 512).unwrap();
        // The version's length says 100 MiB.
        captured[32] = 0xff;
        captured[33] = 0xff;
        captured[34] = 0xff;
        captured[35] = 0x7f;
        assert!(parse(&captured).is_err());
        let mut old = scanned(&exe, 512).unwrap();
        old[15] = 0;
        assert!(parse(&old).unwrap_err().contains("before Go 1.18"));
        for cut in 0..captured.len().min(200) {
            let _ = parse(&captured[..cut]);
        }
    }
}
