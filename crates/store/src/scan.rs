//! Listing a Maildir directory and sizing its messages.
//!
//! A size comes, cheapest first, from the `,W=` in the name; from what this process
//! already knows of the same file (`listing_cache`: same base name, same inode); from the
//! on-disk index (`index`: one `stat` to check inode, length and time); and only then from
//! reading the file once — on several threads when there are many, as on the first login
//! to a large mailbox written by software that puts no sizes in names.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use buzon_pop3_proto::wire::WireSize;

use crate::index::{self, Entry, FileId, SizeIndex};
use crate::listing_cache::Known;
use crate::maildir::CHUNK;
use crate::name::{base_of, delivery_time, wire_size_attr};
use crate::open::open_measured;
use crate::StoreError;

/// Length of a [`FileId`] whose file was not looked at (its size is in its name).
pub(crate) const NOT_MEASURED: u64 = u64::MAX;
/// Reading more files than this is shared between threads.
const PARALLEL_FROM: usize = 256;
const MAX_THREADS: usize = 4;
/// Bytes of directory entries asked from the kernel at a time (some 1,500 names).
const DIR_BUFFER: usize = 64 * 1024;

/// A directory entry that passed the hostile-content checks.
#[derive(Debug)]
pub(crate) struct Found {
    /// The directory it was listed in (shared by every entry of one listing).
    pub dir: Arc<Path>,
    pub name: OsString,
    pub ino: u64,
}

impl Found {
    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.name)
    }
}

/// A message found by a scan, with its size known.
#[derive(Debug)]
pub(crate) struct Scanned {
    pub name: OsString,
    pub path: PathBuf,
    pub size: u64,
    pub id: FileId,
}

/// One readdir; keeps regular files and skips (with a warning) everything hostile. File
/// types and inodes come from the directory entry, so this costs no per-file stat on
/// Linux.
pub(crate) fn list_messages(dir: &Path) -> Result<Vec<Found>, StoreError> {
    list_messages_about(dir, 0)
}

/// [`list_messages`] of a directory expected to hold about `expect` entries. Entries are
/// read straight from the kernel's buffer: a name costs one allocation, its path none
/// until it is asked for ([`Found::path`]), which matters at 100,000 names per login.
pub(crate) fn list_messages_about(dir: &Path, expect: usize) -> Result<Vec<Found>, StoreError> {
    use rustix::fs::{FileType, Mode, OFlags, RawDir};
    let listing_error = |e: rustix::io::Errno| StoreError::io("list", dir, io::Error::from(e));
    let fd = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(listing_error)?;
    let shared: Arc<Path> = Arc::from(dir);
    let mut buf = Vec::with_capacity(DIR_BUFFER);
    let mut entries = RawDir::new(&fd, buf.spare_capacity_mut());
    let mut out = Vec::with_capacity(expect);
    while let Some(entry) = entries.next() {
        let entry = entry.map_err(listing_error)?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let name = OsStr::from_bytes(name);
        if name.as_bytes().first() == Some(&b'.') {
            tracing::warn!(path = %dir.join(name).display(), "skipping hidden entry in Maildir");
            continue;
        }
        let what = match entry.file_type() {
            FileType::RegularFile => None,
            FileType::Symlink => Some("symbolic link"),
            FileType::Directory => Some("directory"),
            // File systems that do not keep types in directory entries: ask the inode.
            FileType::Unknown => match fs::symlink_metadata(dir.join(name)) {
                Ok(m) if m.file_type().is_file() => None,
                Ok(m) if m.file_type().is_symlink() => Some("symbolic link"),
                Ok(m) if m.file_type().is_dir() => Some("directory"),
                Ok(_) => Some("special file"),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    tracing::warn!(path = %dir.join(name).display(), error = %e, "skipping unreadable entry");
                    continue;
                }
            },
            _ => Some("special file"),
        };
        match what {
            None => out.push(Found {
                dir: shared.clone(),
                name: name.to_os_string(),
                ino: entry.ino(),
            }),
            Some(what) => {
                tracing::warn!(path = %dir.join(name).display(), "skipping {what} in Maildir")
            }
        }
    }
    Ok(out)
}

/// The order POP3 lists messages in: delivery time, then name.
pub(crate) fn sort_key(name: &[u8]) -> ((u64, u64), &[u8]) {
    (delivery_time(name), name)
}

/// Sorts by [`sort_key`].
pub(crate) fn sorted(scanned: Vec<Scanned>) -> Vec<Scanned> {
    let mut keyed: Vec<((u64, u64), Scanned)> = scanned
        .into_iter()
        .map(|s| (delivery_time(s.name.as_bytes()), s))
        .collect();
    keyed.sort_by(|(ta, a), (tb, b)| {
        ta.cmp(tb)
            .then_with(|| a.name.as_bytes().cmp(b.name.as_bytes()))
    });
    keyed.into_iter().map(|(_, s)| s).collect()
}

/// Sizes messages of the Maildir at `root` (see the module documentation); those that
/// vanish or cannot be read are left out, with a warning. With `whole` (`found` is every
/// message), keeps the on-disk index up to date when it learnt something or found it
/// stale; otherwise that is the caller's job ([`save_index`]). Also says whether any file
/// had to be read.
pub(crate) fn size_all(
    root: &Path,
    found: Vec<Found>,
    known: Option<&Known>,
    whole: bool,
) -> (Vec<Scanned>, bool) {
    let mut out: Vec<Option<Scanned>> = Vec::with_capacity(found.len());
    let mut index: Option<SizeIndex> = None;
    let mut to_read: Vec<(usize, FileId)> = Vec::new();
    for f in found {
        let path = f.path();
        let Found {
            name: file_name,
            ino,
            ..
        } = f;
        let name = file_name.as_bytes();
        let unmeasured = FileId {
            ino,
            len: NOT_MEASURED,
            mtime: 0,
        };
        let sized = |size, id, path| {
            Some(Scanned {
                size,
                id,
                name: file_name.clone(),
                path,
            })
        };
        if let Some(w) = wire_size_attr(name) {
            out.push(sized(w, unmeasured, path));
            continue;
        }
        let base = base_of(name);
        if let Some((w, id)) = known.and_then(|k| k.size_of(base, ino)) {
            out.push(sized(w, id, path));
            continue;
        }
        let id = match fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => FileId {
                ino: m.ino(),
                len: m.len(),
                mtime: m.mtime(),
            },
            Ok(_) => {
                tracing::warn!(path = %path.display(), "skipping a message that is not a regular file");
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                let e = StoreError::io("inspect", &path, e);
                tracing::warn!(error = %e, "skipping message whose size cannot be determined");
                continue;
            }
        };
        let idx = index.get_or_insert_with(|| SizeIndex::load(root));
        if let Some(w) = idx.lookup(base, id) {
            out.push(sized(w, id, path));
            continue;
        }
        to_read.push((out.len(), id));
        out.push(sized(0, id, path));
    }
    let paths: Vec<&Path> = to_read
        .iter()
        .filter_map(|(i, _)| out[*i].as_ref().map(|s| s.path.as_path()))
        .collect();
    let measured = measure_all(&paths);
    for ((i, _), result) in to_read.iter().zip(measured) {
        match result {
            Ok((wire, id)) => {
                if let Some(s) = out[*i].as_mut() {
                    s.size = wire;
                    s.id = id;
                }
            }
            Err(StoreError::NotFound) => out[*i] = None,
            Err(e) => {
                tracing::warn!(error = %e, "skipping message whose size cannot be determined");
                out[*i] = None;
            }
        }
    }
    let out: Vec<Scanned> = out.into_iter().flatten().collect();
    let read_any = !to_read.is_empty();
    if let (true, Some(idx)) = (whole, &index) {
        let unnamed = || out.iter().filter(|s| s.id.len != NOT_MEASURED);
        let described = unnamed()
            .filter(|s| idx.lookup(base_of(s.name.as_bytes()), s.id) == Some(s.size))
            .count();
        let stale = described != idx.len() || idx.is_old_version();
        if read_any || stale || described != unnamed().count() {
            save_index(root, unnamed().map(|s| (s.name.as_bytes(), s.id, s.size)));
        }
    }
    (out, read_any)
}

/// Writes the on-disk index of `root` from every message (file name, file, wire size)
/// whose size is not in its name.
pub(crate) fn save_index<'a>(root: &Path, messages: impl Iterator<Item = (&'a [u8], FileId, u64)>) {
    index::save(
        root,
        messages
            .filter(|(_, id, _)| id.len != NOT_MEASURED)
            .map(|(name, id, wire)| (base_of(name), Entry { id, wire })),
    );
}

/// Reads each file once for its wire size, sharing the work between threads when there
/// are many. Results are in the order of `paths`.
fn measure_all(paths: &[&Path]) -> Vec<Result<(u64, FileId), StoreError>> {
    let threads = if paths.len() < PARALLEL_FROM {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_THREADS)
    };
    let run = |part: &[&Path]| {
        let mut buf = vec![0u8; CHUNK];
        part.iter()
            .map(|p| measure(p, &mut buf))
            .collect::<Vec<_>>()
    };
    if threads <= 1 {
        return run(paths);
    }
    let per = paths.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = paths
            .chunks(per)
            .map(|part| (part.len(), s.spawn(move || run(part))))
            .collect();
        handles
            .into_iter()
            .flat_map(|(n, h)| {
                h.join().unwrap_or_else(|_| {
                    (0..n)
                        .map(|_| Err(StoreError::Invalid("a sizing thread failed".into())))
                        .collect()
                })
            })
            .collect()
    })
}

/// The wire size of one message file, and the file it was measured on.
fn measure(path: &Path, buf: &mut [u8]) -> Result<(u64, FileId), StoreError> {
    let (mut file, meta) = open_measured(path)?;
    let id = FileId {
        ino: meta.ino(),
        len: meta.len(),
        mtime: meta.mtime(),
    };
    let mut wire = WireSize::new();
    let mut left = id.len;
    // Up to the length the size is recorded with: a file growing meanwhile is measured
    // again when its length no longer matches.
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        match file.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => {
                wire.update(&buf[..n]);
                left -= n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(StoreError::io("read", path, e)),
        }
    }
    Ok((wire.finish(), id))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::fs;
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use crate::index::INDEX_FILE;
    use crate::listing_cache;
    use crate::{Maildir, MessageMeta};

    /// A message named as Postfix, procmail or getmail name them: no sizes.
    fn put(md: &Maildir, secs: u64, q: u32, body: &[u8]) -> String {
        let name = format!("{secs}.V801I{q:x}M{q}.mx.example.org:2,");
        fs::write(md.root().join("cur").join(&name), body).unwrap();
        name
    }

    fn listing(md: &Maildir) -> (Vec<MessageMeta>, Vec<String>) {
        let s = md.open_session().unwrap();
        let metas = s.messages().to_vec();
        let paths = (0..metas.len())
            .map(|i| s.message_path(i).unwrap().display().to_string())
            .collect();
        (metas, paths)
    }

    /// What a process that never saw the Maildir lists.
    fn cold_listing(md: &Maildir) -> (Vec<MessageMeta>, Vec<String>) {
        listing_cache::take(md.root());
        let l = listing(md);
        listing_cache::take(md.root());
        l
    }

    fn set_mtime(path: &Path, secs: u64) {
        let f = fs::File::options().write(true).open(path).unwrap();
        f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
            .unwrap();
    }

    fn index_text(md: &Maildir) -> String {
        fs::read_to_string(md.root().join(INDEX_FILE)).unwrap()
    }

    fn mailbox(n: u32) -> (tempfile::TempDir, Maildir) {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::create(dir.path().join("m")).unwrap();
        for q in 0..n {
            put(
                &md,
                1_700_000_000 + u64::from(q),
                q,
                b"Subject: x\n\nline\n",
            );
        }
        (dir, md)
    }

    #[test]
    fn sizes_without_names_are_read_once_then_known_by_inode() {
        let (_d, md) = mailbox(20);
        let (first, _) = listing(&md);
        assert_eq!(first.len(), 20);
        assert!(first.iter().all(|m| m.size == 20), "{first:?}");
        let text = index_text(&md);
        assert!(text.starts_with("buzon-index 2\n"), "{text}");
        assert_eq!(text.lines().count(), 21);
        // A later session reuses the sizes and the listing.
        let before = fs::metadata(md.root().join(INDEX_FILE)).unwrap().ino();
        let s = md.open_session().unwrap();
        let metas = Arc::clone(&s.listing().metas);
        drop(s);
        let s = md.open_session().unwrap();
        assert!(Arc::ptr_eq(&metas, &s.listing().metas));
        drop(s);
        assert_eq!(
            fs::metadata(md.root().join(INDEX_FILE)).unwrap().ino(),
            before,
            "an index that is right is not rewritten"
        );
    }

    #[test]
    fn a_message_replaced_under_the_same_name_and_length_is_measured_again() {
        let (_d, md) = mailbox(12);
        let name = put(&md, 1_700_000_100, 100, b"a\nb");
        let path = md.root().join("cur").join(&name);
        set_mtime(&path, 1_700_000_100);
        let (l, _) = listing(&md);
        assert_eq!(l.last().unwrap().size, 6);

        // Rewritten in place (same inode, same length, another time), in a new process:
        // the index entry no longer describes the file.
        fs::write(&path, b"ab\n").unwrap();
        set_mtime(&path, 1_700_000_200);
        let (l, _) = cold_listing(&md);
        assert_eq!(l.last().unwrap().size, 4);

        // Replaced the Maildir way (a new file renamed over it: another inode), in this
        // process: the inode tells.
        let (l, _) = listing(&md);
        assert_eq!(l.last().unwrap().size, 4);
        let tmp = md.root().join("tmp").join("x");
        fs::write(&tmp, b"a\r\n").unwrap();
        set_mtime(&tmp, 1_700_000_200);
        fs::rename(&tmp, &path).unwrap();
        let (l, _) = listing(&md);
        assert_eq!(l.last().unwrap().size, 3);
        assert_eq!(listing(&md), cold_listing(&md));
    }

    #[test]
    fn a_stale_corrupt_truncated_foreign_or_crashed_index_is_rebuilt() {
        let (_d, md) = mailbox(10);
        let (want, _) = cold_listing(&md);
        let good = index_text(&md);
        let index = md.root().join(INDEX_FILE);
        let first_line = good.lines().nth(1).unwrap();
        let base = first_line.split('\t').next().unwrap();
        let lie = |wire: u64| {
            let f: Vec<&str> = first_line.split('\t').collect();
            format!(
                "buzon-index 2\n{}\t{wire}\t{}\t{}\t{}\n",
                f[0], f[2], f[3], f[4]
            )
        };
        let cases: Vec<(&str, String)> = vec![
            // Stale: an entry for a file that is gone, and none for the others.
            ("stale", "buzon-index 2\ngone\t10\t9\t1\t1\n".to_string()),
            // An entry whose file changed since (its time differs).
            (
                "changed",
                first_line
                    .split('\t')
                    .enumerate()
                    .map(|(i, f)| if i == 3 { "1" } else { f })
                    .collect::<Vec<_>>()
                    .join("\t"),
            ),
            ("truncated", good[..good.len() - 7].to_string()),
            ("corrupt", "\u{0}\u{1}garbage\n".repeat(50)),
            (
                "other version",
                good.replace("buzon-index 2", "buzon-index 9"),
            ),
            ("version 1", format!("buzon-index 1\n{base}\t19\t18\t5\n")),
        ];
        for (what, text) in cases {
            fs::write(&index, text).unwrap();
            let (got, _) = cold_listing(&md);
            assert_eq!(got, want, "{what}");
            assert_eq!(index_text(&md), good, "{what}: the index is written anew");
        }
        // An index that lies about a size while inode, length and time match cannot be
        // told from a right one; it is believed (as Dovecot believes its cache), which is
        // why it is written only whole and atomically.
        fs::write(&index, lie(20)).unwrap();
        let (got, _) = cold_listing(&md);
        assert_eq!(got[0].size, 20);

        // A writer killed before its rename leaves a temporary file: ignored, removed
        // once old.
        let leftover = md.root().join(format!("{INDEX_FILE}.999.1.tmp"));
        fs::write(&leftover, "buzon-index 2\nhalf").unwrap();
        set_mtime(&leftover, 1_700_000_000);
        fs::remove_file(&index).unwrap();
        let (got, _) = cold_listing(&md);
        assert_eq!(got, want);
        assert!(!leftover.exists());
    }

    #[test]
    fn many_files_are_measured_on_several_threads_with_the_same_result() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::create(dir.path().join("m")).unwrap();
        let mut want = Vec::new();
        for q in 0..600u32 {
            let body = "x\n".repeat(q as usize % 37) + if q % 3 == 0 { "tail" } else { "" };
            put(&md, 1_700_000_000 + u64::from(q), q, body.as_bytes());
            want.push(buzon_pop3_proto::wire::WireSize::of(body.as_bytes()));
        }
        let (l, _) = cold_listing(&md);
        assert_eq!(l.iter().map(|m| m.size).collect::<Vec<_>>(), want);
    }

    /// Filesystems differ in where a renamed entry comes back in a directory listing; one
    /// that keeps its place must not pass for the entry it was (same inode, new name).
    #[test]
    fn an_entry_renamed_in_place_is_not_taken_for_the_old_one() {
        let (_d, md) = mailbox(12);
        let _ = listing(&md);
        // Listed again by difference: the directory order is remembered from here on.
        let _ = listing(&md);
        let cur = md.root().join("cur");
        let before = super::list_messages(&cur).unwrap();
        let k = 5;
        let mut to = before[k].name.clone();
        to.push("S");
        fs::rename(before[k].path(), cur.join(&to)).unwrap();
        let mut found: Vec<super::Found> = before
            .iter()
            .map(|f| super::Found {
                dir: f.dir.clone(),
                name: f.name.clone(),
                ino: f.ino,
            })
            .collect();
        found[k] = super::Found {
            dir: before[k].dir.clone(),
            name: to,
            ino: before[k].ino,
        };
        let known = listing_cache::take(md.root()).unwrap();
        let stamp = crate::listing_cache::DirStamp::of(&cur).unwrap();
        assert!(
            known.advance(md.root(), &found, stamp, false).is_err(),
            "a renamed message was kept under its old name"
        );
    }

    /// Operations on a Maildir between two sessions.
    #[derive(Debug, Clone)]
    enum Op {
        /// A message with sizes in its name, after every other.
        DeliverNamed,
        /// One without, after every other.
        DeliverPlain,
        /// One dated before the others (a late or imported message).
        DeliverEarly,
        /// Through `new/`, as deliveries land.
        DeliverToNew,
        Delete(usize),
        /// Flags changed by another program (the file is renamed).
        Flag(usize),
        /// Replaced by a new file under the same name.
        Replace(usize),
        /// A second file with the base name of an existing one.
        SameBase(usize),
        /// A name whose base is not printable ASCII (its UIDL is a digest).
        Unprintable,
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            4 => Just(Op::DeliverNamed),
            4 => Just(Op::DeliverPlain),
            1 => Just(Op::DeliverEarly),
            2 => Just(Op::DeliverToNew),
            4 => (0usize..64).prop_map(Op::Delete),
            1 => (0usize..64).prop_map(Op::Flag),
            1 => (0usize..64).prop_map(Op::Replace),
            1 => (0usize..64).prop_map(Op::SameBase),
            1 => Just(Op::Unprintable),
        ]
    }

    fn apply(md: &Maildir, op: &Op, seq: &mut u32) {
        *seq += 1;
        let q = *seq;
        let cur = md.root().join("cur");
        let mut names: Vec<_> = fs::read_dir(&cur)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        let pick = |i: usize| names.get(i % names.len().max(1)).cloned();
        let late = 1_800_000_000 + u64::from(q);
        match op {
            Op::DeliverNamed => {
                let body = b"named\nbody\n";
                let name = format!("{late}.M1P1Q{q}.h,S=11,W=13:2,");
                fs::write(cur.join(name), body).unwrap();
            }
            Op::DeliverPlain => {
                put(md, late, q, &b"plain\n".repeat(q as usize % 5 + 1));
            }
            Op::DeliverEarly => {
                put(md, 1_600_000_000 + u64::from(q), q, b"early\n");
            }
            Op::DeliverToNew => {
                md.deliver(&mut &b"through new\n"[..], None).unwrap();
            }
            Op::Delete(i) => {
                if let Some(n) = pick(*i) {
                    fs::remove_file(cur.join(n)).unwrap();
                }
            }
            Op::Flag(i) => {
                if let Some(n) = pick(*i) {
                    let mut to = n.clone();
                    to.push("T");
                    fs::rename(cur.join(&n), cur.join(to)).unwrap();
                }
            }
            Op::Replace(i) => {
                if let Some(n) = pick(*i) {
                    let tmp = md.root().join("tmp").join(format!("r{q}"));
                    fs::write(&tmp, b"replaced\r\nwith other content\n").unwrap();
                    fs::rename(&tmp, cur.join(n)).unwrap();
                }
            }
            Op::SameBase(i) => {
                if let Some(n) = pick(*i) {
                    let n = n.to_string_lossy().into_owned();
                    let base = n.split([':', ',']).next().unwrap();
                    fs::write(cur.join(format!("{base}:2,XS")), b"twin\n").unwrap();
                }
            }
            Op::Unprintable => {
                let name = format!("{late}.M1P1Q{q}.h\u{e9}llo:2,");
                fs::write(cur.join(name), b"unprintable name\n").unwrap();
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        /// Whatever happens between sessions, the listing worked out from the previous one
        /// is the one a process that never saw the Maildir makes: same order, sizes,
        /// UIDLs and paths.
        #[test]
        fn an_updated_listing_equals_a_fresh_scan(
            start in 8u32..14,
            rounds in proptest::collection::vec(proptest::collection::vec(op(), 0..4), 1..6),
        ) {
            let (_d, md) = mailbox(start);
            let mut seq = 1000;
            let _ = listing(&md);
            for ops in rounds {
                for op in &ops {
                    apply(&md, op, &mut seq);
                }
                let warm = listing(&md);
                let cold = cold_listing(&md);
                proptest::prop_assert_eq!(&warm, &cold, "after {:?}", ops);
                // Put the state back as a warm process would have it.
                let _ = listing(&md);
            }
        }
    }
}
