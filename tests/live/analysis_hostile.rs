//! `packages` against the rpm tool (a real `rpmdb.sqlite` that `rpm` wrote, read back
//! with `rpm -qa`), and against hostile package databases: a 1 GiB dpkg `status`, an
//! rpm database whose b-tree pages point back at themselves, a `METADATA` of 10⁶
//! lines, a Go executable whose build info lies about its lengths. Each ends in a clear
//! answer or error, never a hang or a panic.

use super::*;
use regpeek_lab::image::{Blob, Node, image_with_diff_ids, layer_of, media, plain};
use std::collections::BTreeSet;

/// Pushes `image` as `public/<repo>:v1` to the token registry (whose catalog no test
/// lists whole; anyone may pull `public/*`); its reference.
fn push(repo: &str, image: &regpeek_lab::image::Image) -> String {
    let target = lab().info.targets().expect("the lab's registries").token;
    target
        .image(&format!("public/{repo}"), image, &["v1"])
        .expect("pushing a test image");
    t(&format!("public/{repo}:v1"))
}

/// An image of one layer of `nodes`.
fn push_nodes(repo: &str, nodes: &[Node]) -> String {
    push(repo, &plain(vec![layer_of(media::OCI_LAYER, nodes)]))
}

fn run(cmd: &mut Command, what: &str) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run it ({e}); `cargo xtask test` installs it"));
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn packages_equal_rpm_qa_on_a_database_the_rpm_tool_wrote() {
    let dir = empty_home();
    let top = dir.join("top");
    std::fs::create_dir_all(top.join("SPECS")).unwrap();
    for (name, epoch, version) in [("lab-hello", "2", "1.2.3"), ("lab-world", "", "0.9")] {
        let epoch = if epoch.is_empty() {
            String::new()
        } else {
            format!("Epoch: {epoch}\n")
        };
        write(
            &top.join(format!("SPECS/{name}.spec")),
            &format!(
                "Name: {name}\nVersion: {version}\nRelease: 4.lab\n{epoch}Summary: the lab's\nLicense: MIT\nBuildArch: noarch\n%description\nThe lab's.\n%install\nmkdir -p %{{buildroot}}/usr/share/{name}\necho hi > %{{buildroot}}/usr/share/{name}/hi\n%files\n/usr/share/{name}/hi\n"
            ),
        );
        run(
            Command::new("rpmbuild")
                .args(["-bb", "--quiet", "--define"])
                .arg(format!("_topdir {}", top.display()))
                .arg(top.join(format!("SPECS/{name}.spec"))),
            "rpmbuild",
        );
    }
    let db = dir.join("db");
    let dbpath = db.display().to_string();
    run(
        Command::new("rpm").args(["--initdb", "--dbpath", &dbpath]),
        "rpm --initdb",
    );
    let rpms: Vec<std::path::PathBuf> = std::fs::read_dir(top.join("RPMS/noarch"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    run(
        Command::new("rpm")
            .args(["-i", "--justdb", "--nodeps", "--dbpath", &dbpath])
            .args(&rpms),
        "rpm -i --justdb",
    );
    let want: BTreeSet<String> = lines(&run(
        Command::new("rpm").args([
            "-qa",
            "--dbpath",
            &dbpath,
            "--qf",
            "%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\n",
        ]),
        "rpm -qa",
    ))
    .into_iter()
    .collect();
    assert_eq!(want.len(), 2, "{want:?}");
    let sqlite = std::fs::read(db.join("rpmdb.sqlite")).expect("rpm wrote rpmdb.sqlite");
    let image = push_nodes(
        "rpm",
        &[
            Node::Dir("usr/lib/sysimage/rpm"),
            Node::File("usr/lib/sysimage/rpm/rpmdb.sqlite", &sqlite),
            Node::File("etc/os-release", b"ID=fedora\nVERSION_ID=40\n"),
        ],
    );
    let got: BTreeSet<String> = lines(&ok(&["packages", "--plain-http", &image]))
        .iter()
        .map(|l| {
            let v = json(l.as_bytes());
            assert!(
                v["Purl"]
                    .as_str()
                    .unwrap()
                    .starts_with("pkg:rpm/fedora/lab-"),
                "{v}"
            );
            format!(
                "{}\t{}\t{}",
                v["Name"].as_str().unwrap(),
                v["Version"].as_str().unwrap(),
                v["Arch"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(got, want);
}

/// Runs python3 with `script` and `args`.
fn python(script: &str, args: &[&str]) {
    run(
        Command::new("python3").arg("-c").arg(script).args(args),
        "python3",
    );
}

#[test]
fn a_gigabyte_status_is_an_error_naming_the_cap_within_bounds() {
    let dir = empty_home();
    let out = dir.join("status.gz");
    // A gzip layer of a tar holding a 1 GiB `var/lib/dpkg/status`: one 1 MiB stanza run
    // compressed once (a full flush makes it stand alone) and repeated 1024 times,
    // the CRC and the diff ID computed over the whole.
    python(
        r#"
import sys, zlib, tarfile, hashlib, struct
out = sys.argv[1]
lines = []; size = 0; i = 0
while size < (1 << 20):
    s = "Package: lib%d-%d\nStatus: install ok installed\nVersion: 1.%d\n\n" % (i % 3, i % 11, i % 7)
    lines.append(s); size += len(s); i += 1
seg = "".join(lines).encode()[: 1 << 20]
ti = tarfile.TarInfo("var/lib/dpkg/status"); ti.size = 1024 << 20; ti.mode = 0o644
head = ti.tobuf(format=tarfile.GNU_FORMAT)
end = b"\0" * 1024
def block(data, last):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(zlib.Z_FINISH if last else zlib.Z_FULL_FLUSH)
crc = zlib.crc32(head); h = hashlib.sha256(head)
for _ in range(1024):
    crc = zlib.crc32(seg, crc); h.update(seg)
crc = zlib.crc32(end, crc); h.update(end)
total = len(head) + (1024 << 20) + len(end)
body = block(head, False) + block(seg, False) * 1024 + block(end, True)
with open(out, "wb") as f:
    f.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + body + struct.pack("<II", crc & 0xffffffff, total & 0xffffffff))
with open(out + ".id", "w") as f:
    f.write("sha256:" + h.hexdigest())
"#,
        &[&out.display().to_string()],
    );
    let layer = Blob::new(media::OCI_LAYER, std::fs::read(&out).unwrap());
    let id = std::fs::read_to_string(dir.join("status.gz.id")).unwrap();
    let image = push("huge-status", &image_with_diff_ids(vec![layer], vec![id]));
    let started = std::time::Instant::now();
    let out = regpeek(&["packages", "--plain-http", "--scan", &image]);
    // A batch's error is its image's line (as every image command prints them).
    let err = String::from_utf8_lossy(&out.stdout).into_owned() + &stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("over the 256 MiB a package database may be"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(120),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_cyclic_rpm_database_and_lying_manifests_end_clearly() {
    let dir = empty_home();
    let db = dir.join("rpmdb.sqlite");
    // A real SQLite file whose table b-tree is made cyclic: the root's right-most child
    // pointer is pointed back at the root page.
    python(
        r#"
import sqlite3, sys, struct
path = sys.argv[1]
con = sqlite3.connect(path)
con.execute("PRAGMA page_size=1024")
con.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)")
# Each blob a valid header (NAME only), so that the walk meets the cycle.
blob = struct.pack(">IIIIII", 1, 300, 1000, 6, 0, 1) + b"lab\0" + bytes(296)
for i in range(200):
    con.execute("INSERT INTO Packages (blob) VALUES (?)", (blob,))
con.commit()
root = con.execute("SELECT rootpage FROM sqlite_master WHERE name='Packages'").fetchone()[0]
con.close()
with open(path, "r+b") as f:
    data = bytearray(f.read())
    off = (root - 1) * 1024 + (100 if root == 1 else 0)
    assert data[off] == 0x05, "an interior table page"
    data[off + 8 : off + 12] = struct.pack(">I", root)
    f.seek(0); f.write(data)
"#,
        &[&db.display().to_string()],
    );
    let sqlite = std::fs::read(&db).unwrap();
    let cyclic = push_nodes(
        "rpm-cyclic",
        &[
            Node::Dir("var/lib/rpm"),
            Node::File("var/lib/rpm/rpmdb.sqlite", &sqlite),
        ],
    );
    let started = std::time::Instant::now();
    let out = regpeek(&["packages", "--plain-http", "--scan", &cyclic]);
    let err = String::from_utf8_lossy(&out.stdout).into_owned() + &stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("rpmdb.sqlite") && err.contains("a damaged rpm database"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    // A METADATA of 10⁶ lines with no name, and an executable whose Go build info
    // states a string of 2 GiB: warnings, and the other packages still listed.
    let many = "Classifier: x\n".repeat(1_000_000);
    let mut exe = b"\x7fELF".to_vec();
    exe.extend(vec![0u8; 4096]);
    exe.extend(b"\xff Go buildinf:\x08\x02");
    exe.extend([0u8; 16]);
    exe.extend([0xff, 0xff, 0xff, 0xff, 0x07]);
    exe.extend(vec![0u8; 4096]);
    let hostile = push_nodes(
        "lying-manifests",
        &[
            Node::Dir("usr/lib/python3/dist-packages/x-1.dist-info"),
            Node::File(
                "usr/lib/python3/dist-packages/x-1.dist-info/METADATA",
                many.as_bytes(),
            ),
            Node::Dir("usr/bin"),
            Node::File("usr/bin/liar", &exe),
            Node::Dir("lib/apk/db"),
            Node::File("lib/apk/db/installed", b"P:musl\nV:1.2.5-r0\nA:x86_64\n"),
        ],
    );
    let out = regpeek(&["packages", "--plain-http", "--languages", &hostile]);
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    let names: Vec<String> = lines(&out.stdout)
        .iter()
        .map(|l| json(l.as_bytes())["Name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["musl"], "{err}");
    assert!(err.contains("/usr/bin/liar") && err.contains("Go"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
