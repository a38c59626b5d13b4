//! `pin FILE…`: every image reference of the files rewritten to `name:tag@digest`, in
//! place. All files are read and every reference resolved (through the batch
//! pipeline, `HEAD` only) before anything is written; a reference that cannot be
//! resolved leaves every file as it was. Each file is written atomically (a
//! temporary file beside it, then a rename), keeping its mode, and refused when it
//! changed since it was read. What changes is planned in [`crate::pinning`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::args::Common;
use crate::errors::usage;
use crate::inputs::places::FileKind;
use crate::pinning::{self, Row, Status};
use crate::session::Session;

/// What `pin` is asked to do with the files.
pub struct Pin<'a> {
    pub files: &'a [PathBuf],
    pub kind: Option<FileKind>,
    pub check: bool,
    pub diff: bool,
    pub update: bool,
    pub jobs: u32,
    pub common: &'a Common,
}

/// One file: as read, and as pin would leave it.
struct File {
    path: PathBuf,
    shown: String,
    old: String,
    new: String,
    rows: Vec<Row>,
}

pub fn pin(session: &Session, args: &Pin, out: &mut impl Write) -> Result<ExitCode> {
    let dry = args.check || args.diff;
    if args.files.iter().any(|f| f == Path::new("-")) {
        return Err(usage(
            "pin rewrites files in place: name them (standard input cannot be rewritten)",
        ));
    }
    if dry && session.out.jq.is_some() {
        return Err(usage(
            "--jq filters pin's JSON report; --check and --diff print a diff instead",
        ));
    }
    let mut read = Vec::new();
    for path in args.files {
        let shown = session.shown(path);
        let (old, kind, places) = pinning::read_places(path, &shown, args.kind)?;
        // A list of references is named so (`.txt`) or asked for (`--kind list`):
        // anything else pin does not know is refused, never rewritten as a list.
        let named_list = shown.to_ascii_lowercase().ends_with(".txt");
        if kind == crate::inputs::places::FileKind::List && args.kind.is_none() && !named_list {
            return Err(usage(format!(
                "{shown}: not a kind of file pin knows (a Dockerfile, a compose file, Kubernetes manifests or Helm values, a GitHub Actions workflow, a GitLab CI file, or a .txt list of references); give --kind if it is one"
            )));
        }
        if !places
            .iter()
            .any(|p| !matches!(p.edit, crate::inputs::places::Edit::NotAnImage(_)))
        {
            session.warn_once(&format!("{shown}: no image reference found"));
        }
        read.push((path.clone(), shown, old, places));
    }
    // Every distinct tag is asked once, for all files; with what each is pinned to.
    let mut keys: Vec<String> = Vec::new();
    let mut pins: Vec<(String, regpeek_proto::Digest)> = Vec::new();
    for (_, _, text, places) in &read {
        for place in places {
            let Ok(key) = pinning::lookup_key(text, place) else {
                continue;
            };
            if let crate::inputs::places::Edit::At(span) = &place.edit
                && let Some(pinned) = pinning::pinned_digest(&text[span.clone()])
                && !pins.contains(&(key.clone(), pinned.clone()))
            {
                pins.push((key.clone(), pinned));
            }
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    let jobs = regpeek_client::batch::Jobs::Fixed(args.jobs as usize);
    let now = crate::pipeline::tags_now(session, args.common, &keys, &pins, jobs.clone())?;
    // With --update, what each stale pin of a tag that is an index now was: a
    // platform pin stays one.
    let stale: Vec<(String, regpeek_proto::Digest)> = pins
        .iter()
        .filter(|(key, pinned)| {
            let judged = |t: &pinning::TagNow| {
                t.entries.is_some() && t.asked.is_none() && t.judge(pinned).is_err()
            };
            args.update && matches!(now.get(key), Some(Ok(t)) if judged(t))
        })
        .cloned()
        .collect();
    let was = crate::pipeline::platforms_of(session, args.common, &stale, jobs)?;
    let decide = |key: &str, pinned: Option<&regpeek_proto::Digest>| {
        let tag = match now.get(key) {
            Some(found) => found.clone()?,
            None => return Err("not looked up".to_owned()),
        };
        match pinned.and_then(|p| was.get(&(key.to_owned(), p.clone()))) {
            // Gone (a registry's garbage collection): its platform is unknown, so it
            // follows the tag, and says so.
            Some(Err(e)) => tag.decide(pinned, args.update, None).map(|mut d| {
                d.reason = Some(format!(
                    "its old pin cannot be read to keep its platform ({e}); it follows the tag's digest"
                ));
                d
            }),
            Some(Ok(platform)) => tag.decide(pinned, args.update, platform.as_ref()),
            None => tag.decide(pinned, args.update, None),
        }
    };
    let files: Vec<File> = read
        .into_iter()
        .map(|(path, shown, old, places)| {
            let (new, rows) = pinning::plan(&old, &places, &decide);
            File {
                path,
                shown,
                old,
                new,
                rows,
            }
        })
        .collect();
    for file in &files {
        for warning in file.rows.iter().filter_map(|r| r.warning(&file.shown)) {
            session.warn_once(&warning);
        }
    }
    let rows = || files.iter().flat_map(|f| &f.rows);
    let failed = rows().filter(|r| r.status == Status::Failed).count();
    if dry {
        for file in files.iter().filter(|f| f.new != f.old) {
            out.write_all(pinning::unified_diff(&file.shown, &file.old, &file.new).as_bytes())?;
        }
        out.flush()?;
        let stale = rows().any(|r| r.status.is_stale());
        // A reference pin cannot write (a block scalar, a compose variable, an ARG
        // chain) is still not pinned: --check fails on it, each named above (file:line).
        let unwritable = rows()
            .filter(|r| r.status == Status::Cannot && !r.written.contains("@sha"))
            .count();
        if args.check && unwritable > 0 {
            eprintln!(
                "regpeek: pin --check: {unwritable} reference{} not pinned, and pin cannot write {} (see above)",
                if unwritable == 1 { " is" } else { "s are" },
                if unwritable == 1 { "it" } else { "them" }
            );
        }
        return Ok(if (args.check && (stale || unwritable > 0)) || failed > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    if failed == 0 {
        write_all(&files)?;
    }
    // All or nothing: when nothing was written, no line says `pinned`; each says what
    // was resolved, and that it was not written.
    let written = failed == 0;
    for file in &files {
        for row in &file.rows {
            let mut line = row.to_json(&file.shown);
            let changes = matches!(row.status, Status::Pinned | Status::Updated);
            if changes && !written {
                line["Status"] = "resolved".into();
            }
            line["Written"] = (changes && written).into();
            session.out.line(out, &line)?;
        }
    }
    out.flush()?;
    if failed > 0 {
        bail!(
            "nothing written: {failed} reference{} could not be resolved (see the warnings above)",
            if failed == 1 { "" } else { "s" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes every changed file, or none: each new content goes to a temporary file
/// beside its file (same file system, the file's mode); only when all are written,
/// and no file changed since it was read, are they renamed over their files.
fn write_all(files: &[File]) -> Result<()> {
    let mut staged = Vec::new();
    for file in files.iter().filter(|f| f.new != f.old) {
        // A symbolic link stays one: its target is rewritten.
        let path = std::fs::canonicalize(&file.path)
            .with_context(|| format!("resolving {}", file.shown))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let meta = std::fs::metadata(&path).with_context(|| format!("reading {}", file.shown))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".regpeek-pin-")
            .tempfile_in(dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        tmp.write_all(file.new.as_bytes())
            .and_then(|()| tmp.as_file().sync_all())
            .with_context(|| format!("writing beside {}", file.shown))?;
        std::fs::set_permissions(tmp.path(), meta.permissions())
            .with_context(|| format!("keeping the mode of {}", file.shown))?;
        staged.push((file, path, tmp));
    }
    for (file, path, _) in &staged {
        let now = regpeek_client::bounded::read(path, pinning::MAX_FILE)
            .with_context(|| format!("reading {}", file.shown))?;
        if now != file.old.as_bytes() {
            bail!(
                "{} changed while pin was resolving its references; nothing written (run pin again)",
                file.shown
            );
        }
    }
    for (file, path, tmp) in staged {
        tmp.persist(&path)
            .with_context(|| format!("replacing {}", file.shown))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn file(path: &Path, old: &str, new: &str) -> File {
        File {
            path: path.to_owned(),
            shown: path.display().to_string(),
            old: old.into(),
            new: new.into(),
            rows: Vec::new(),
        }
    }

    #[test]
    fn all_files_or_none_and_their_modes_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, "FROM x:1\n").unwrap();
        std::fs::write(&b, "FROM y:1\n").unwrap();
        std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o600)).unwrap();
        // `b` changed since it was read: neither is written, and no temporary file stays.
        let files = [
            file(&a, "FROM x:1\n", "FROM x:1@d\n"),
            file(&b, "FROM y:0\n", "FROM y:0@d\n"),
        ];
        let err = write_all(&files).unwrap_err().to_string();
        assert!(err.contains("changed while pin was resolving"), "{err}");
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "FROM x:1\n");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "FROM y:1\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        // Unchanged: both written, `a` keeps its mode, and a link stays a link.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&b, &link).unwrap();
        let files = [
            file(&a, "FROM x:1\n", "FROM x:1@d\n"),
            file(&link, "FROM y:1\n", "FROM y:1@d\n"),
        ];
        write_all(&files).unwrap();
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "FROM x:1@d\n");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "FROM y:1@d\n");
        let mode = std::fs::metadata(&a).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
}
