//! Images with real package databases, for `packages`, `waste` and `diff --files`:
//!
//! - `lab/dpkg`: a base layer with this machine's dpkg `status` cut to its first
//!   stanzas, and an `os-release`; a middle layer with a Python distribution and a
//!   Node package; a top layer with the machine's whole `status` (as a package
//!   install writes it again) and a file replaced;
//! - `lab/apk`: an apk `installed` database, as Alpine 3.20's `apk add` writes one;
//! - `lab/distroless`: distroless' `status.d` records over two layers;
//! - `lab/gobin`: this machine's `umoci`, a Go executable;
//! - `lab/pair-a` and `lab/pair-b`: the same two base layers (`lab/dpkg`'s base and
//!   a layer of files), then a layer each that differs in three files (one added on
//!   each side, one changed, one deleted on one side) and two packages.

use super::*;

/// This machine's dpkg status (the lab runs on Debian), else a stand-in of two.
fn host_status() -> Vec<u8> {
    std::fs::read("/var/lib/dpkg/status").unwrap_or_else(|_| {
        b"Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4\n\nPackage: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2024a-0+deb12u1\n".to_vec()
    })
}

/// The first `n` stanzas of a status file.
fn stanzas(status: &[u8], n: usize) -> Vec<u8> {
    let text = String::from_utf8_lossy(status);
    let mut out: Vec<&str> = text.split("\n\n").take(n).collect();
    out.retain(|s| !s.trim().is_empty());
    (out.join("\n\n") + "\n").into_bytes()
}

/// One stanza of a made-up package.
fn stanza(name: &str, version: &str) -> String {
    format!(
        "Package: {name}\nStatus: install ok installed\nPriority: optional\nSection: misc\nArchitecture: amd64\nSource: lab-{name} ({version})\nVersion: {version}\nDescription: the lab's {name}\n\n"
    )
}

const OS_RELEASE: &[u8] = b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";

/// The base `lab/dpkg` and the pair share.
fn dpkg_base(status: &[u8]) -> Blob {
    let half = stanzas(status, status.split(|b| *b == b'\n').count() / 40);
    layer_of(
        media::OCI_LAYER,
        &[
            Node::Dir("etc"),
            Node::Symlink("etc/os-release", "../usr/lib/os-release"),
            Node::File("etc/motd", b"the base's motd\n"),
            Node::Dir("usr"),
            Node::Dir("usr/lib"),
            Node::File("usr/lib/os-release", OS_RELEASE),
            Node::Dir("usr/bin"),
            Node::File("usr/bin/base-tool", &[7u8; 4096]),
            Node::Dir("var"),
            Node::Dir("var/lib"),
            Node::Dir("var/lib/dpkg"),
            Node::File("var/lib/dpkg/status", &half),
        ],
    )
}

/// `lab/dpkg`.
pub fn dpkg_image() -> Image {
    let status = host_status();
    let middle = layer_of(
        media::OCI_LAYER,
        &[
            Node::Dir("usr/lib/python3/dist-packages/six-1.16.0.dist-info"),
            Node::File(
                "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
                b"Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\nSummary: Python 2 and 3 compatibility utilities\n\nsix\n",
            ),
            Node::Dir("app/node_modules/left-pad"),
            Node::File(
                "app/node_modules/left-pad/package.json",
                br#"{"name":"left-pad","version":"1.3.0","license":"WTFPL"}"#,
            ),
            Node::File("app/package.json", br#"{"name":"the-app","private":true}"#),
        ],
    );
    let top = layer_of(
        media::OCI_LAYER,
        &[
            Node::File("etc/motd", b"the top's motd\n"),
            Node::File("var/lib/dpkg/status", &status),
        ],
    );
    plain(vec![dpkg_base(&status), middle, top])
}

/// `lab/apk`.
pub fn apk_image() -> Image {
    let installed = b"C:Q1bQ0aH0l5ck8mfE5wAsDNGa+sWjQ=\nP:musl\nV:1.2.5-r0\nA:x86_64\nS:411300\nI:641024\nT:the musl c library (libc) implementation\nU:https://musl.libc.org/\nL:MIT\no:musl\nm:Natanael Copa <ncopa@alpinelinux.org>\nt:1715694633\nc:1d0e3d3b0b9f6c9b2b8ab6ef3a9e6c7a0d4f1e33\np:so:libc.musl-x86_64.so.1=1\nF:lib\nR:ld-musl-x86_64.so.1\na:0:0:755\nZ:Q1Tl5vPQ7QGYTfXjxxbhBDUBdtH0A=\n\nC:Q1+3JbaJ5U1KNW4oQGm1dgSLzzWJA=\nP:busybox\nV:1.36.1-r29\nA:x86_64\nS:513522\nI:926720\nT:Size optimized toolbox of many common UNIX utilities\nU:https://busybox.net/\nL:GPL-2.0-only\no:busybox\nD:so:libc.musl-x86_64.so.1\n\nC:Q1GAlBS1Zu4bR6NXsRQ5n9kIi2a2Q=\nP:busybox-binsh\nV:1.36.1-r29\nA:x86_64\nS:1551\nI:1\nT:busybox ash /bin/sh\nL:GPL-2.0-only\no:busybox\nD:busybox=1.36.1-r29\n\nC:Q1p7OHF2D8EEHJGxCkrlj0xIF4J4o=\nP:alpine-baselayout-data\nV:3.6.5-r0\nA:x86_64\nS:11235\nI:77824\nT:Alpine base dir structure and init scripts\nL:GPL-2.0-only\no:alpine-baselayout\n\n";
    let layer = layer_of(
        media::OCI_LAYER,
        &[
            Node::Dir("etc"),
            Node::File(
                "etc/os-release",
                b"NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.0\nPRETTY_NAME=\"Alpine Linux v3.20\"\n",
            ),
            Node::Dir("lib"),
            Node::Dir("lib/apk"),
            Node::Dir("lib/apk/db"),
            Node::File("lib/apk/db/installed", installed),
        ],
    );
    plain(vec![layer])
}

/// `lab/pair-a` (`a`) or `lab/pair-b`.
pub fn pair_image(a: bool) -> Image {
    let status = host_status();
    let files = layer_of(
        media::OCI_LAYER,
        &[
            Node::Dir("srv"),
            Node::File("srv/shared.txt", b"in both\n"),
            Node::File("srv/changed.txt", b"as the base has it\n"),
            Node::File("srv/removed.txt", b"deleted in a\n"),
        ],
    );
    let mut own = stanzas(&status, 8);
    let (name, extra) = if a {
        ("a", "lab-tool-a")
    } else {
        ("b", "lab-tool-b")
    };
    own.extend(
        format!(
            "\n{}{}",
            stanza(extra, "1.0-1"),
            stanza("lab-common", if a { "2.0-1" } else { "2.1-1" })
        )
        .into_bytes(),
    );
    let tool = format!("usr/bin/tool-{name}");
    let changed = format!("changed in {name}\n");
    let mut nodes = vec![
        Node::File(&tool, b"#!/bin/sh\necho tool\n"),
        Node::File("srv/changed.txt", changed.as_bytes()),
        Node::File("var/lib/dpkg/status", &own),
    ];
    if a {
        nodes.push(Node::File("srv/.wh.removed.txt", b""));
    }
    let top = layer_of(media::OCI_LAYER, &nodes);
    plain(vec![dpkg_base(&status), files, top])
}

/// The bench's images on `base` (a big layer, `lab/big`'s): `lab/big-deb` (the base,
/// then this machine's dpkg status in a layer of its own), and `lab/big-pair-a`,
/// `lab/big-pair-b` (the base, then a layer each, three files and two packages
/// apart, as `lab/pair-*`).
pub fn big_variants(base: &Blob) -> [(&'static str, Image); 3] {
    let status = host_status();
    let deb = layer_of(
        media::OCI_LAYER,
        &[
            Node::Dir("var/lib/dpkg"),
            Node::File("var/lib/dpkg/status", &status),
        ],
    );
    let own = |a: bool| {
        pair_image(a)
            .layers
            .last()
            .cloned()
            .expect("the pair's top layer")
    };
    [
        ("lab/big-deb", plain(vec![base.clone(), deb])),
        ("lab/big-pair-a", plain(vec![base.clone(), own(true)])),
        ("lab/big-pair-b", plain(vec![base.clone(), own(false)])),
    ]
}

/// `lab/gobin`: this machine's `umoci` (a Go executable with build info) in a layer.
pub fn gobin_image() -> Image {
    let exe = std::fs::read("/usr/bin/umoci").unwrap_or_else(|_| b"#!/bin/sh\n".to_vec());
    let layer = layer_of(
        media::OCI_LAYER,
        &[
            Node::Dir("usr"),
            Node::Dir("usr/bin"),
            Node::File("usr/bin/umoci", &exe),
        ],
    );
    plain(vec![layer])
}

/// `lab/distroless`: dpkg's records as distroless writes them, a file a package in
/// `var/lib/dpkg/status.d/` (with `.md5sums` beside), in two layers; the top one
/// deletes one package's record.
pub fn distroless_image() -> Image {
    let record = |name: &str, version: &str, source: &str| {
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: amd64\nSource: {source}\nMaintainer: the lab\n"
        )
    };
    let base_files = record("base-files", "12.4+deb12u5", "base-files");
    let libc = record("libc6", "2.36-9+deb12u4", "glibc");
    let netbase = record("netbase", "6.4", "netbase");
    let tzdata = record("tzdata", "2024a-0+deb12u1", "tzdata");
    let base = layer_of(
        media::OCI_LAYER,
        &[
            Node::Dir("var/lib/dpkg/status.d"),
            Node::File("var/lib/dpkg/status.d/base-files", base_files.as_bytes()),
            Node::File(
                "var/lib/dpkg/status.d/base-files.md5sums",
                b"0123 etc/issue\n",
            ),
            Node::File("var/lib/dpkg/status.d/netbase", netbase.as_bytes()),
        ],
    );
    let top = layer_of(
        media::OCI_LAYER,
        &[
            Node::File("var/lib/dpkg/status.d/libc6", libc.as_bytes()),
            Node::File("var/lib/dpkg/status.d/tzdata", tzdata.as_bytes()),
            Node::File("var/lib/dpkg/status.d/.wh.netbase", b""),
        ],
    );
    plain(vec![base, top])
}
