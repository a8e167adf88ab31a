//! Integration tests of the Maildir store against a real filesystem in a temp dir.

// Helpers outside #[test] functions fail the test by panicking too (clippy.toml's
// allow-unwrap-in-tests covers only the test functions themselves).
#![allow(clippy::unwrap_used)]

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use buzon_pop3_proto::wire::WireSize;
use buzon_store::name::is_valid_uidl;
use buzon_store::{ExpungeReport, Maildir, Session, StoreError, Usage};

fn fresh() -> (tempfile::TempDir, Maildir) {
    let dir = tempfile::tempdir().unwrap();
    let md = Maildir::create(dir.path().join("Maildir")).unwrap();
    (dir, md)
}

fn put(md: &Maildir, sub: &str, name: impl AsRef<OsStr>, content: &[u8]) -> PathBuf {
    let p = md.root().join(sub).join(name.as_ref());
    fs::write(&p, content).unwrap();
    p
}

fn read_all(session: &Session, i: usize) -> Vec<u8> {
    let mut v = Vec::new();
    session
        .open_message(i)
        .unwrap()
        .0
        .read_to_end(&mut v)
        .unwrap();
    v
}

fn dir_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn index_text(md: &Maildir) -> String {
    fs::read_to_string(md.root().join("buzon-index")).unwrap()
}

const BARE_LF: &[u8] = b"Subject: lf\n\nline one\n.dot line\n";
const CRLF: &[u8] = b"Subject: crlf\r\n\r\nline one\r\n";
const NO_FINAL_NEWLINE: &[u8] = b"Subject: open\n\nno newline at the end";

#[test]
fn delivered_messages_have_exact_sizes_and_their_uidls() {
    let (_t, md) = fresh();
    let bodies: [&[u8]; 4] = [BARE_LF, CRLF, NO_FINAL_NEWLINE, b""];
    let delivered: Vec<_> = bodies
        .iter()
        .map(|b| md.deliver(&mut &b[..], None).unwrap())
        .collect();
    for (d, b) in delivered.iter().zip(bodies) {
        assert_eq!(d.size, WireSize::of(b));
        assert!(md.root().join("new").join(&d.file_name).is_file());
        assert!(is_valid_uidl(&d.uidl));
    }
    assert!(dir_names(&md.root().join("tmp")).is_empty());
    let s = md.open_session().unwrap();
    assert_eq!(s.messages().len(), 4);
    for (i, (m, (d, b))) in s
        .messages()
        .iter()
        .zip(delivered.iter().zip(bodies))
        .enumerate()
    {
        assert_eq!(m.size, WireSize::of(b), "message {i}");
        assert_eq!(m.uidl, d.uidl);
        assert_eq!(s.message_folder(i), None);
        assert_eq!(read_all(&s, i), b);
    }
    // All moved to cur/ with the info part.
    assert!(dir_names(&md.root().join("new")).is_empty());
    for n in dir_names(&md.root().join("cur")) {
        assert!(n.ends_with(":2,"), "{n}");
    }
    // Everything sized from the names: no index needed.
    assert!(!md.root().join("buzon-index").exists());
}

#[test]
fn large_delivery_streams_in_chunks() {
    let (_t, md) = fresh();
    let mut body = Vec::new();
    while body.len() < 300_000 {
        body.extend_from_slice(b"0123456789 abcdefghij\n");
    }
    let d = md.deliver(&mut &body[..], Some(1 << 20)).unwrap();
    assert_eq!(d.size, WireSize::of(&body));
    assert!(d
        .file_name
        .contains(&format!(",S={},W={}", body.len(), d.size)));
    let s = md.open_session().unwrap();
    assert_eq!(read_all(&s, 0), body);
}

#[test]
fn files_without_w_are_sized_once_and_cached_in_the_index() {
    let (_t, md) = fresh();
    put(&md, "cur", "100.a.host:2,S", BARE_LF);
    put(&md, "cur", "200.b.host,S=10:2,", CRLF);
    put(&md, "new", "300.c.host", NO_FINAL_NEWLINE);
    put(&md, "cur", "400.d.host:2,", b"");
    let s = md.open_session().unwrap();
    let sizes: Vec<u64> = s.messages().iter().map(|m| m.size).collect();
    assert_eq!(
        sizes,
        [BARE_LF, CRLF, NO_FINAL_NEWLINE, b""].map(WireSize::of)
    );
    let uidls: Vec<&str> = s.messages().iter().map(|m| m.uidl.as_str()).collect();
    assert_eq!(
        uidls,
        ["100.a.host", "200.b.host", "300.c.host", "400.d.host"]
    );
    drop(s);

    let text = index_text(&md);
    assert!(text.starts_with("buzon-index 2\n"), "{text}");
    let line = format!("100.a.host\t{}\t{}\t", WireSize::of(BARE_LF), BARE_LF.len());
    assert!(text.contains(&line), "{text}");
    assert_eq!(text.lines().count(), 5, "{text}");

    // Prove the index is trusted: change a cached size by hand (length and mtime still
    // match), and the next session reports the cached value without reading the file.
    let real = WireSize::of(BARE_LF);
    let tampered = text.replace(
        &line,
        &format!("100.a.host\t{}\t{}\t", real + 1, BARE_LF.len()),
    );
    fs::write(md.root().join("buzon-index"), &tampered).unwrap();
    let s = md.open_session().unwrap();
    assert_eq!(s.messages()[0].size, real + 1);
    drop(s);
    // An unchanged listing does not rewrite the index.
    assert_eq!(index_text(&md), tampered);
}

#[test]
fn stale_index_entries_are_recomputed_and_pruned() {
    let (_t, md) = fresh();
    let p = put(&md, "cur", "100.a.host:2,", b"short\n");
    put(&md, "cur", "200.b.host:2,", b"x\n");
    md.open_session().unwrap().close();
    assert_eq!(index_text(&md).lines().count(), 3);
    // Same name, different length: the entry no longer matches.
    fs::write(&p, b"much longer now\nwith two lines\n").unwrap();
    fs::remove_file(md.root().join("cur/200.b.host:2,")).unwrap();
    let s = md.open_session().unwrap();
    assert_eq!(s.messages().len(), 1);
    assert_eq!(
        s.messages()[0].size,
        WireSize::of(b"much longer now\nwith two lines\n")
    );
    drop(s);
    let text = index_text(&md);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(!text.contains("200.b.host"));
}

#[test]
fn corrupt_index_is_ignored_and_rebuilt() {
    let (_t, md) = fresh();
    put(&md, "cur", "100.a.host:2,", BARE_LF);
    for garbage in [
        &b"not an index at all"[..],
        b"buzon-index 1\n100.a.host\tlots\t1\t1\n",
        b"buzon-index 1\n100.a.host\t9999\t33\n",
        b"\xff\xfe\x00binary",
    ] {
        fs::write(md.root().join("buzon-index"), garbage).unwrap();
        let s = md.open_session().unwrap();
        assert_eq!(s.messages()[0].size, WireSize::of(BARE_LF));
        drop(s);
        let text = index_text(&md);
        assert!(text.starts_with("buzon-index 2\n100.a.host\t"), "{text}");
    }
    // A symlinked index is not followed, and gets replaced by a real file.
    let elsewhere = md.root().parent().unwrap().join("elsewhere");
    fs::write(&elsewhere, "precious").unwrap();
    fs::remove_file(md.root().join("buzon-index")).unwrap();
    symlink(&elsewhere, md.root().join("buzon-index")).unwrap();
    md.open_session().unwrap().close();
    assert_eq!(fs::read_to_string(&elsewhere).unwrap(), "precious");
    assert!(!fs::symlink_metadata(md.root().join("buzon-index"))
        .unwrap()
        .is_symlink());
}

#[test]
fn w_attribute_is_trusted_so_bodies_are_not_read() {
    let (_t, md) = fresh();
    // Content and W= deliberately disagree: the listed size must come from the name.
    put(&md, "cur", "100.a.host,S=3,W=12345:2,S", b"abc");
    put(&md, "new", "200.b.host,W=7", b"");
    let s = md.open_session().unwrap();
    assert_eq!(
        s.messages().iter().map(|m| m.size).collect::<Vec<_>>(),
        [12345, 7]
    );
    drop(s);
    assert!(!md.root().join("buzon-index").exists());
}

#[test]
fn many_messages_are_listed_from_names_alone() {
    let (_t, md) = fresh();
    let n = 3000u64;
    for i in 0..n {
        put(
            &md,
            "cur",
            format!("{}.M{i}P1.host,S=1,W={}:2,", 1_000_000 + i, i + 1),
            b"",
        );
    }
    let s = md.open_session().unwrap();
    assert_eq!(s.messages().len() as u64, n);
    assert_eq!(
        s.messages().iter().map(|m| m.size).sum::<u64>(),
        n * (n + 1) / 2
    );
    // Sorted by delivery time, oldest first.
    assert!(s.messages()[0].uidl.starts_with("1000000.M0P1"));
    assert!(s.messages()[n as usize - 1].uidl.starts_with("1002999."));
    drop(s);
    assert_eq!(
        md.usage().unwrap(),
        Usage {
            bytes: n * (n + 1) / 2,
            messages: n
        }
    );
    assert!(!md.root().join("buzon-index").exists());
}

#[test]
fn ordering_is_by_delivery_time_then_name() {
    let (_t, md) = fresh();
    put(&md, "cur", "200.M5P1.h,W=1:2,", b"");
    put(&md, "cur", "200.M40P1.h,W=1:2,", b"");
    put(&md, "cur", "100.M999999P1.h,W=1:2,", b"");
    put(&md, "cur", "oddname,W=1:2,", b"");
    put(&md, "new", "150.x.h,W=1", b"");
    let s = md.open_session().unwrap();
    let uidls: Vec<&str> = s.messages().iter().map(|m| m.uidl.as_str()).collect();
    assert_eq!(
        uidls,
        [
            "100.M999999P1.h",
            "150.x.h",
            "200.M5P1.h",
            "200.M40P1.h",
            "oddname"
        ]
    );
}

#[test]
fn uidls_survive_reopen_new_to_cur_and_flag_changes() {
    let (_t, md) = fresh();
    let d = md.deliver(&mut &BARE_LF[..], None).unwrap();
    put(&md, "new", "100.old.host", CRLF);

    let first: Vec<String> = {
        let s = md.open_session().unwrap();
        s.messages().iter().map(|m| m.uidl.clone()).collect()
    };
    assert_eq!(first, ["100.old.host".to_string(), d.uidl.clone()]);

    // A mail client marks both read and replied, renaming by hand.
    let cur = md.root().join("cur");
    for name in dir_names(&cur) {
        let renamed = name.replace(":2,", ":2,RS");
        fs::rename(cur.join(&name), cur.join(&renamed)).unwrap();
        let again = renamed.replace(":2,RS", ":2,S");
        fs::rename(cur.join(&renamed), cur.join(&again)).unwrap();
    }
    let s = md.open_session().unwrap();
    let second: Vec<String> = s.messages().iter().map(|m| m.uidl.clone()).collect();
    assert_eq!(first, second);
    let sizes: Vec<u64> = s.messages().iter().map(|m| m.size).collect();
    assert_eq!(sizes, [WireSize::of(CRLF), WireSize::of(BARE_LF)]);
    s.close();
    let s = md.open_session().unwrap();
    assert_eq!(
        s.messages()
            .iter()
            .map(|m| m.uidl.clone())
            .collect::<Vec<_>>(),
        first
    );
}

#[test]
fn second_session_is_in_use_until_the_first_ends() {
    let (_t, md) = fresh();
    let s = md.open_session().unwrap();
    let again = Maildir::open(md.root()).unwrap();
    let err = again.open_session().unwrap_err();
    assert!(matches!(err, StoreError::InUse), "{err:?}");
    assert!(err.is_temporary());
    // Delivery does not need the lock.
    md.deliver(&mut &b"x\n"[..], None).unwrap();
    drop(s);
    let s = again.open_session().unwrap();
    // The delivery made while the first session was open is in the new snapshot.
    assert_eq!(s.messages().len(), 1);
    s.close();
    md.open_session().unwrap();
    let lock = fs::read_to_string(md.root().join("buzon-pop3.lock")).unwrap();
    assert!(
        lock.contains(&format!("pid {}", std::process::id())),
        "{lock}"
    );
}

#[test]
fn snapshot_is_fixed_at_open() {
    let (_t, md) = fresh();
    md.deliver(&mut &b"one\n"[..], None).unwrap();
    let s = md.open_session().unwrap();
    md.deliver(&mut &b"two\n"[..], None).unwrap();
    assert_eq!(s.messages().len(), 1);
    assert_eq!(dir_names(&md.root().join("new")).len(), 1);
}

#[test]
fn session_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Session>();
    assert_send::<Maildir>();
}

#[test]
fn expunge_deletes_exactly_the_listed_messages() {
    let (_t, md) = fresh();
    for i in 0..5 {
        put(&md, "cur", format!("{i}00.m.host,W=3:2,"), b"x\n");
    }
    let s = md.open_session().unwrap();
    // Out of range: refused before anything is deleted.
    let err = s.expunge(&[0, 5]).unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(dir_names(&md.root().join("cur")).len(), 5);

    // One of them was already removed by someone else: still a success.
    fs::remove_file(s.message_path(3).unwrap()).unwrap();
    let report = s.expunge(&[1, 3, 3, 4]).unwrap();
    assert_eq!(
        report,
        ExpungeReport {
            deleted: 2,
            already_gone: 1
        }
    );
    assert_eq!(
        dir_names(&md.root().join("cur")),
        ["000.m.host,W=3:2,", "200.m.host,W=3:2,"]
    );
    // Nothing to do is fine too.
    assert_eq!(s.expunge(&[]).unwrap(), ExpungeReport::default());
}

#[test]
fn expunge_and_retr_follow_a_flag_rename_by_another_program() {
    let (_t, md) = fresh();
    put(&md, "cur", "100.a.host,W=3:2,", b"a\n");
    put(&md, "cur", "200.b.host,W=3:2,", b"b\n");
    put(&md, "cur", "300.c.host,W=3:2,", b"c\n");
    let s = md.open_session().unwrap();
    let cur = md.root().join("cur");
    fs::rename(
        cur.join("100.a.host,W=3:2,"),
        cur.join("100.a.host,W=3:2,S"),
    )
    .unwrap();
    fs::rename(
        cur.join("300.c.host,W=3:2,"),
        cur.join("300.c.host,W=3:2,RS"),
    )
    .unwrap();
    assert_eq!(read_all(&s, 0), b"a\n");
    assert_eq!(
        s.expunge(&[0, 2]).unwrap(),
        ExpungeReport {
            deleted: 2,
            already_gone: 0
        }
    );
    assert_eq!(dir_names(&cur), ["200.b.host,W=3:2,"]);
}

#[test]
fn expunge_reports_failures_after_trying_everything() {
    let (_t, md) = fresh();
    put(&md, "cur", "100.a.host,W=3:2,", b"a\n");
    put(&md, "cur", "200.b.host,W=3:2,", b"b\n");
    let s = md.open_session().unwrap();
    // unlink() of a non-empty directory fails even for root: replace message 0 by one.
    let p0 = s.message_path(0).unwrap().to_path_buf();
    fs::remove_file(&p0).unwrap();
    fs::create_dir(&p0).unwrap();
    fs::write(p0.join("inner"), b"").unwrap();
    let err = s.expunge(&[0, 1]).unwrap_err();
    match &err {
        StoreError::PartialExpunge {
            deleted,
            failed,
            first_error,
        } => {
            assert_eq!((*deleted, *failed), (1, 1));
            assert!(
                matches!(**first_error, StoreError::Io { .. }),
                "{first_error:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_temporary());
    assert!(!s.message_path(1).unwrap().exists());
}

#[test]
fn hostile_entries_are_skipped() {
    let (t, md) = fresh();
    let outside = t.path().join("secret");
    fs::write(&outside, b"top secret\n").unwrap();
    symlink(&outside, md.root().join("cur/100.link.host:2,")).unwrap();
    symlink(&outside, md.root().join("new/101.link.host")).unwrap();
    fs::create_dir(md.root().join("cur/102.dir.host:2,")).unwrap();
    fs::create_dir(md.root().join("new/103.dir.host")).unwrap();
    put(&md, "cur", ".104.hidden:2,", b"x\n");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        md.root().join("cur/105.fifo.host:2,"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    put(&md, "cur", "200.real.host:2,", b"real\n");
    let s = md.open_session().unwrap();
    assert_eq!(s.messages().len(), 1);
    assert_eq!(s.messages()[0].uidl, "200.real.host");
    // The symlink in new/ was not moved either.
    assert!(fs::symlink_metadata(md.root().join("new/101.link.host"))
        .unwrap()
        .is_symlink());
    assert_eq!(
        md.usage().unwrap(),
        Usage {
            bytes: 6,
            messages: 1
        }
    );
}

#[test]
fn open_message_refuses_a_file_that_became_a_symlink_or_vanished() {
    let (t, md) = fresh();
    put(&md, "cur", "100.a.host:2,", b"a\n");
    put(&md, "cur", "200.b.host:2,", b"b\n");
    let s = md.open_session().unwrap();
    let outside = t.path().join("secret");
    fs::write(&outside, b"top secret\n").unwrap();
    fs::remove_file(s.message_path(0).unwrap()).unwrap();
    symlink(&outside, s.message_path(0).unwrap()).unwrap();
    let err = s.open_message(0).unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    fs::remove_file(s.message_path(1).unwrap()).unwrap();
    assert!(matches!(
        s.open_message(1).unwrap_err(),
        StoreError::NotFound
    ));
    assert!(matches!(
        s.open_message(2).unwrap_err(),
        StoreError::Invalid(_)
    ));
}

#[test]
fn long_and_unprintable_names_get_hashed_uidls() {
    let (_t, md) = fresh();
    let long = format!("{}.{}:2,", 100, "a".repeat(150));
    put(&md, "cur", &long, b"long\n");
    put(
        &md,
        "cur",
        OsStr::from_bytes(b"200.\xff\xfe bad:2,"),
        b"bytes\n",
    );
    put(&md, "cur", "300.with space.host:2,", b"space\n");
    put(&md, "cur", "400.tab\there:2,", b"tab\n");
    let s = md.open_session().unwrap();
    assert_eq!(s.messages().len(), 4);
    for (m, body) in s
        .messages()
        .iter()
        .zip([&b"long\n"[..], b"bytes\n", b"space\n", b"tab\n"])
    {
        assert!(m.uidl.starts_with('X') && m.uidl.len() == 41, "{}", m.uidl);
        assert!(is_valid_uidl(&m.uidl));
        assert_eq!(m.size, WireSize::of(body));
    }
    drop(s);
    // Such names are cached in the index with escapes, one line each.
    let text = index_text(&md);
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(text.contains("200.%FF%FE%20bad\t"), "{text}");
    // And reopening gives the same UIDLs.
    let a = md.open_session().unwrap().messages().to_vec();
    let b = md.open_session().unwrap().messages().to_vec();
    assert_eq!(a, b);
}

#[test]
fn copied_files_get_distinct_uidls() {
    let (_t, md) = fresh();
    put(&md, "cur", "100.a.host,S=2:2,S", b"a\n");
    put(&md, "cur", "100.a.host,S=2,W=3:2,", b"a\n");
    let s = md.open_session().unwrap();
    let u: Vec<String> = s.messages().iter().map(|m| m.uidl.clone()).collect();
    assert_eq!(u[0], "100.a.host");
    assert!(u[1].starts_with("100.a.host-") && u[1].len() == "100.a.host-".len() + 12);
    drop(s);
    // Flag changes on the copy leave its UIDL alone.
    let cur = md.root().join("cur");
    fs::rename(
        cur.join("100.a.host,S=2,W=3:2,"),
        cur.join("100.a.host,S=2,W=3:2,T"),
    )
    .unwrap();
    let s = md.open_session().unwrap();
    assert_eq!(s.messages()[1].uidl, u[1]);
}

#[test]
fn delivery_failures_leave_nothing_behind() {
    let (_t, md) = fresh();
    let body = vec![b'x'; 100_000];
    let err = md.deliver(&mut &body[..], Some(99_999)).unwrap_err();
    assert!(
        matches!(err, StoreError::TooBig { limit: 99_999 }),
        "{err:?}"
    );
    assert!(!err.is_temporary());

    struct Broken(usize);
    impl Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "peer went away",
                ));
            }
            let n = self.0.min(buf.len()).min(1000);
            buf[..n].fill(b'y');
            self.0 -= n;
            Ok(n)
        }
    }
    let err = md.deliver(&mut Broken(5000), None).unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err:?}");
    assert!(err.is_temporary());

    for sub in ["tmp", "new", "cur"] {
        assert!(dir_names(&md.root().join(sub)).is_empty(), "{sub}");
    }
    // Exactly at the limit is fine.
    let d = md.deliver(&mut &body[..], Some(100_000)).unwrap();
    assert_eq!(d.size, 100_002);
}

#[test]
fn delivery_names_are_unique_and_escape_the_host() {
    let (_t, md) = fresh();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..20 {
        let d = md.deliver(&mut &b"m\n"[..], None).unwrap();
        assert!(seen.insert(d.uidl.clone()));
        let host_and_attrs = d.file_name.splitn(3, '.').nth(2).unwrap();
        assert!(!host_and_attrs.contains(':') && !host_and_attrs.contains('/'));
        assert!(d.file_name.ends_with(",S=2,W=3"), "{}", d.file_name);
    }
}

#[test]
fn open_and_create_report_what_is_wrong() {
    let t = tempfile::tempdir().unwrap();
    assert!(matches!(
        Maildir::open(t.path().join("none")),
        Err(StoreError::NotFound)
    ));
    let half = t.path().join("half");
    fs::create_dir_all(half.join("cur")).unwrap();
    assert!(matches!(Maildir::open(&half), Err(StoreError::NotFound)));
    // create() repairs a half-made Maildir.
    let md = Maildir::create(&half).unwrap();
    assert_eq!(md.root(), half);
    let bad = t.path().join("bad");
    fs::create_dir_all(bad.join("cur")).unwrap();
    fs::create_dir_all(bad.join("tmp")).unwrap();
    fs::write(bad.join("new"), b"").unwrap();
    assert!(matches!(Maildir::open(&bad), Err(StoreError::Invalid(_))));
    assert!(matches!(Maildir::create(&bad), Err(StoreError::Invalid(_))));
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(half.join("tmp")).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "{mode:o}");
}

#[test]
fn folders_are_created_listed_and_validated() {
    let (_t, md) = fresh();
    assert!(md.list_folders().unwrap().is_empty());
    let work = md.create_folder("Work").unwrap();
    md.create_folder("Work.Projects").unwrap();
    md.create_folder("Señales").unwrap();
    // Creating again is fine.
    md.create_folder("Work").unwrap();
    assert!(work.root().join("maildirfolder").is_file());
    assert_eq!(work.root(), md.root().join(".Work"));
    // Not folders: a plain dot-file, a symlink, a dot-dir without cur/.
    fs::write(md.root().join(".hidden"), b"").unwrap();
    symlink(md.root().join(".Work"), md.root().join(".Alias")).unwrap();
    fs::create_dir(md.root().join(".Empty")).unwrap();
    assert_eq!(
        md.list_folders().unwrap(),
        ["Señales", "Work", "Work.Projects"]
    );
    assert_eq!(
        md.folder("Work.Projects").unwrap().root(),
        md.root().join(".Work.Projects")
    );
    assert!(matches!(md.folder("Missing"), Err(StoreError::NotFound)));
    for bad in [
        "",
        ".Work",
        "a/b",
        "..",
        "a..b",
        "Work.",
        "a\u{7}b",
        &"x".repeat(300),
    ] {
        assert!(
            matches!(md.create_folder(bad), Err(StoreError::Invalid(_))),
            "{bad:?}"
        );
        assert!(
            matches!(md.folder(bad), Err(StoreError::Invalid(_))),
            "{bad:?}"
        );
    }
    // The lock file and index in the root never show up as folders or messages.
    md.open_session().unwrap().close();
    assert_eq!(md.list_folders().unwrap().len(), 3);
}

#[test]
fn merged_session_keeps_uidls_unique_and_locks_everything() {
    let (_t, md) = fresh();
    let work = md.create_folder("Work").unwrap();
    let lists = md.create_folder("Lists").unwrap();
    let d = md.deliver(&mut &b"inbox\n"[..], None).unwrap();
    // The same message copied into a folder under the same name.
    let copied = work.root().join("new").join(&d.file_name);
    fs::copy(md.root().join("new").join(&d.file_name), &copied).unwrap();
    put(&work, "cur", "50.w.host:2,S", b"work\n");
    put(&lists, "cur", "60.l.host,W=6:2,", b"list\n");
    let folders = vec![
        ("Work".to_string(), work.clone()),
        ("Lists".to_string(), lists.clone()),
    ];
    let s = Maildir::open_merged_session(&md, &folders).unwrap();
    let m = s.messages();
    assert_eq!(m.len(), 4);
    assert_eq!(s.message_folder(0), None);
    assert_eq!(m[0].uidl, d.uidl);
    assert_eq!(s.message_folder(1), Some("Work"));
    assert_eq!(m[1].uidl, "50.w.host");
    assert_eq!(s.message_folder(2), Some("Work"));
    assert!(m[2]
        .uidl
        .starts_with(&format!("{}-", &d.uidl[..d.uidl.len().min(57)])));
    assert_eq!(s.message_folder(3), Some("Lists"));
    assert_eq!(m[3].size, 6);
    let set: std::collections::HashSet<_> = m.iter().map(|e| &e.uidl).collect();
    assert_eq!(set.len(), 4);
    assert_eq!(read_all(&s, 1), b"work\n");

    // Every part is locked.
    assert!(matches!(work.open_session(), Err(StoreError::InUse)));
    assert!(matches!(md.open_session(), Err(StoreError::InUse)));
    let uidls: Vec<String> = m.iter().map(|e| e.uidl.clone()).collect();
    s.expunge(&[1]).unwrap();
    drop(s);

    // Stable across sessions.
    let s = Maildir::open_merged_session(&md, &folders).unwrap();
    let again: Vec<String> = s.messages().iter().map(|e| e.uidl.clone()).collect();
    assert_eq!(
        again,
        [uidls[0].clone(), uidls[2].clone(), uidls[3].clone()]
    );
}

#[test]
fn merged_session_is_all_or_nothing_on_locks() {
    let (_t, md) = fresh();
    let work = md.create_folder("Work").unwrap();
    let held = work.open_session().unwrap();
    let folders = vec![("Work".to_string(), work.clone())];
    assert!(matches!(
        Maildir::open_merged_session(&md, &folders),
        Err(StoreError::InUse)
    ));
    // The INBOX lock taken before the failure was released.
    md.open_session().unwrap().close();
    drop(held);
    Maildir::open_merged_session(&md, &folders).unwrap();
}

#[test]
fn usage_counts_new_and_cur() {
    let (_t, md) = fresh();
    assert_eq!(md.usage().unwrap(), Usage::default());
    md.deliver(&mut &BARE_LF[..], None).unwrap();
    put(&md, "cur", "100.a.host:2,S", NO_FINAL_NEWLINE);
    let want = Usage {
        bytes: WireSize::of(BARE_LF) + WireSize::of(NO_FINAL_NEWLINE),
        messages: 2,
    };
    assert_eq!(md.usage().unwrap(), want);
    // The non-W= file was cached by usage() as well.
    assert!(index_text(&md).contains("100.a.host\t"));
    md.open_session().unwrap().close();
    assert_eq!(md.usage().unwrap(), want);
}

#[test]
fn clean_tmp_removes_leftovers() {
    let (_t, md) = fresh();
    put(&md, "tmp", "1.crashed.host", b"partial");
    assert_eq!(
        md.clean_tmp(std::time::Duration::from_secs(3600)).unwrap(),
        0
    );
    assert_eq!(md.clean_tmp(std::time::Duration::ZERO).unwrap(), 1);
    assert!(dir_names(&md.root().join("tmp")).is_empty());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    #[test]
    fn any_file_names_give_valid_unique_uidls(
        names in proptest::collection::btree_set(
            proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(b':'), proptest::strategy::Just(b','),
                    proptest::strategy::Just(b'a'), proptest::strategy::Just(b' '),
                    1u8..=255u8],
                1..200),
            1..12),
    ) {
        let (_t, md) = fresh();
        let mut expected = 0;
        for raw in &names {
            let name: Vec<u8> = raw.iter().map(|&b| if b == b'/' { b'_' } else { b }).collect();
            if name[0] == b'.' { continue; }
            let p = md.root().join("cur").join(OsStr::from_bytes(&name));
            if p.exists() { continue; }
            fs::write(&p, &name).unwrap();
            expected += 1;
        }
        let s = md.open_session().unwrap();
        proptest::prop_assert_eq!(s.messages().len(), expected);
        let mut seen = std::collections::HashSet::new();
        for m in s.messages() {
            proptest::prop_assert!(is_valid_uidl(&m.uidl), "{:?}", m.uidl);
            proptest::prop_assert!(seen.insert(m.uidl.clone()));
        }
    }
}

#[test]
fn tagged_delivery_is_found_again_and_keeps_the_uidl_independent_of_the_tag() {
    let (_d, md) = fresh();
    let d = md
        .deliver_tagged(&mut &b"Subject: t\n\nbody\n"[..], None, "abc123")
        .unwrap();
    assert!(d.file_name.ends_with(",T=abc123"), "{}", d.file_name);
    assert!(!d.uidl.contains("T="));
    let tags = md.tagged().unwrap();
    assert!(tags
        .get("abc123")
        .is_some_and(|p| p.ends_with(format!("new/{}", d.file_name))));
    // A mail reader moving it to cur/ with flags keeps the tag.
    let flagged = md.root().join("cur").join(format!("{}:2,S", d.file_name));
    std::fs::rename(md.root().join("new").join(&d.file_name), &flagged).unwrap();
    let tags = md.tagged().unwrap();
    assert_eq!(tags.get("abc123"), Some(&flagged));
    assert!(md
        .deliver_tagged(&mut &b"x\n"[..], None, "bad/tag")
        .is_err());
    assert!(md.deliver_tagged(&mut &b"x\n"[..], None, "").is_err());
}

#[test]
fn a_file_whose_length_differs_from_its_s_attribute_is_refused_not_sent_short() {
    let (_dir, md) = fresh();
    let d = md
        .deliver(&mut &b"Subject: x\n\nthe whole body\n"[..], None)
        .unwrap();
    let ok = put(&md, "cur", "1000.M1P1.ok,S=5,W=7:2,", b"a\nb\nc");
    let _ = ok;
    let s = md.open_session().unwrap();
    assert_eq!(s.messages().len(), 2);
    // Truncate the delivered message behind the store's back.
    let index = s.messages().iter().position(|m| m.uidl == d.uidl).unwrap();
    let path = s.message_path(index).unwrap().to_path_buf();
    fs::write(&path, b"Subject: x\n").unwrap();
    let i = s.messages().iter().position(|m| m.uidl == d.uidl).unwrap();
    match s.open_message(i) {
        Err(StoreError::Invalid(why)) => {
            assert!(why.contains("S=") && why.contains("truncated"), "{why}")
        }
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
    // A file that matches its S= opens as usual.
    let j = 1 - i;
    assert_eq!(read_all(&s, j), b"a\nb\nc");
}

#[test]
fn read_cached_takes_what_is_in_memory_and_leaves_the_rest_to_ordinary_reads() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    fs::write(&path, &content).unwrap();
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    let on_tmpfs = rustix::fs::statfs(&path).unwrap().f_type as i64 == TMPFS_MAGIC;
    for evict in [false, true] {
        let f = fs::File::open(&path).unwrap();
        if evict {
            f.sync_all().unwrap();
            rustix::fs::fadvise(&f, 0, 0, rustix::fs::Advice::DontNeed).unwrap();
        }
        // Never more than asked for.
        let mut buf = vec![0u8; 200_000];
        let n = buzon_store::read_cached(&f, &mut buf).unwrap();
        assert!(n <= 200_000);
        if !evict {
            assert_eq!(n, 200_000, "a file just written is in memory");
        } else if !on_tmpfs {
            // tmpfs pages are the file itself and cannot be dropped; elsewhere they can.
            assert!(n < 200_000, "evicted pages were read without waiting");
        }
        // The file position moved by exactly what was taken.
        let mut rest = Vec::new();
        (&f).read_to_end(&mut rest).unwrap();
        let mut whole = buf[..n].to_vec();
        whole.extend_from_slice(&rest);
        assert!(
            whole == content,
            "evict={evict}: the two reads do not add up"
        );
        // At the end of the file there is nothing more.
        assert_eq!(buzon_store::read_cached(&f, &mut buf[..10]).unwrap(), 0);
    }
}

#[test]
fn mailbox_usage_is_kept_while_unchanged_and_follows_every_change() {
    let (_dir, md) = fresh();
    let lists = md.create_folder("Lists").unwrap();
    for m in [&md, &lists] {
        m.deliver(&mut &b"Subject: a\n\nx\n"[..], None).unwrap();
    }
    let usage = |md: &Maildir| md.mailbox_usage().unwrap();
    let scans = || buzon_store::usage_scans(md.root());
    assert_eq!(usage(&md).messages, 2, "INBOX and folders together");
    let after_first = scans();
    for _ in 0..100 {
        assert_eq!(usage(&md).messages, 2);
    }
    assert_eq!(
        scans(),
        after_first,
        "100 checks of an unchanged mailbox scan nothing"
    );

    // A delivery by this process is seen at once, in INBOX or a folder.
    lists.deliver(&mut &b"Subject: b\n\nx\n"[..], None).unwrap();
    assert_eq!(usage(&md).messages, 3);
    // So is an expunge.
    let session = md.open_session().unwrap();
    session.expunge(&[0]).unwrap();
    drop(session);
    assert_eq!(usage(&md).messages, 2);
    // Another program's change shows through the directory times, or at most after the
    // short life of a figure taken while the mailbox was changing.
    put(&lists, "new", "1700000000.M1P1.other", b"Subject: c\n\nx\n");
    buzon_testkit::wait_until(
        buzon_store::UNSETTLED_TTL * 5,
        "another program's delivery to be counted",
        || usage(&md).messages == 3,
    );
    // A new folder with mail in it counts too.
    let junk = md.create_folder("Junk").unwrap();
    put(
        &junk,
        "cur",
        "1700000001.M1P1.other:2,S",
        b"Subject: d\n\nx\n",
    );
    buzon_testkit::wait_until(
        buzon_store::UNSETTLED_TTL * 5,
        "a new folder's message to be counted",
        || usage(&md).messages == 4,
    );
}

/// The seam the server uses: everything through `dyn MailStore`, nothing by path.
mod mail_store {
    use super::*;
    use buzon_store::{MailStore, MaildirStore, MessageReader, MESSAGE_CHUNK};

    fn store(mail_dir: &Path, folders: &[&str]) -> Box<dyn MailStore> {
        Box::new(MaildirStore::new(
            mail_dir.to_path_buf(),
            folders.iter().map(|f| f.to_string()).collect(),
            |user| user.to_ascii_lowercase(),
        ))
    }

    async fn read_whole(reader: &mut Box<dyn MessageReader>, chunk: usize) -> (Vec<u8>, usize) {
        let mut out = Vec::new();
        let mut chunks = 0;
        // Bounded: a message ends, and a chunk is never empty before the end.
        loop {
            let data = reader.next_chunk(chunk).await.unwrap();
            if data.is_empty() {
                return (out, chunks);
            }
            assert!(data.len() <= MESSAGE_CHUNK);
            out.extend_from_slice(data);
            chunks += 1;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn snapshot_chunked_reads_lock_and_expunge_through_the_trait() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = Maildir::create(dir.path().join("alice")).unwrap();
        let big: Vec<u8> = (0..300_000u32)
            .map(|i| b"abcdefghij\n"[i as usize % 11])
            .collect();
        let small = b"Subject: hi\n\nbody\n".to_vec();
        let d1 = inbox.deliver(&mut &big[..], None).unwrap();
        let d2 = inbox.deliver(&mut &small[..], None).unwrap();
        let work = inbox.create_folder("Work").unwrap();
        work.deliver(&mut &b"filed\n"[..], None).unwrap();

        let store = store(dir.path(), &["Work", "Missing"]);
        let mb = store.open_pop3("Alice").await.unwrap();
        let metas = mb.messages();
        assert_eq!(metas.len(), 3, "INBOX and the existing served folder");
        assert_eq!(
            (metas[0].uidl.as_str(), metas[0].size),
            (d1.uidl.as_str(), WireSize::of(&big))
        );
        assert_eq!(
            (metas[1].uidl.as_str(), metas[1].size),
            (d2.uidl.as_str(), WireSize::of(&small))
        );

        // A small first chunk, then full ones: the bytes are the file's, in order.
        let mut r = mb.open_message(0, 4096).await.unwrap();
        let first = r.next_chunk(4096).await.unwrap().to_vec();
        assert_eq!(first, big[..4096]);
        let (rest, chunks) = read_whole(&mut r, MESSAGE_CHUNK).await;
        assert_eq!([first, rest].concat(), big);
        assert_eq!(chunks, 3, "296 KiB left in 128 KiB chunks");
        let mut r = mb.open_message(1, MESSAGE_CHUNK).await.unwrap();
        assert_eq!(read_whole(&mut r, MESSAGE_CHUNK).await.0, small);

        // The lock: a second session is refused while the first lives.
        assert!(matches!(
            store.open_pop3("alice").await,
            Err(StoreError::InUse)
        ));
        assert!(matches!(
            mb.open_message(3, 10).await,
            Err(StoreError::Invalid(_))
        ));

        let report = mb.expunge(vec![1, 1, 2]).await.unwrap();
        assert_eq!(
            report,
            ExpungeReport {
                deleted: 2,
                already_gone: 0
            }
        );
        drop(mb);
        let again = store.open_pop3("alice").await.unwrap();
        let uidls: Vec<&str> = again.messages().iter().map(|m| m.uidl.as_str()).collect();
        assert_eq!(uidls, [d1.uidl.as_str()]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_vanished_message_is_not_found_and_a_dropped_session_deletes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = Maildir::create(dir.path().join("bob")).unwrap();
        inbox.deliver(&mut &b"one\n"[..], None).unwrap();
        inbox.deliver(&mut &b"two\n"[..], None).unwrap();
        let store = store(dir.path(), &[]);
        let mb = store.open_pop3("bob").await.unwrap();
        for sub in ["cur", "new"] {
            for e in fs::read_dir(inbox.root().join(sub)).unwrap() {
                let p = e.unwrap().path();
                if fs::read(&p).unwrap() == b"one\n" {
                    fs::remove_file(p).unwrap();
                }
            }
        }
        assert!(matches!(
            mb.open_message(0, 10).await,
            Err(StoreError::NotFound)
        ));
        let mut r = mb.open_message(1, 10).await.unwrap();
        assert_eq!(read_whole(&mut r, 10).await.0, b"two\n");
        drop(r);
        drop(mb);
        let again = store.open_pop3("bob").await.unwrap();
        assert_eq!(again.messages().len(), 1);
    }
}

/// Taking over from Dovecot (`adopt`): what `dovecot-uidlist` cannot say gets Buzón UIDLs,
/// no listing repeats a UIDL, and what was served once is served for good, whatever later
/// happens to Dovecot's file; a record line cut short by a crash is looked up again.
#[test]
fn adopted_uidls_survive_changes_to_dovecots_file_and_broken_lines_get_buzon_uidls() {
    use buzon_store::{UidlFormat, UidlSource};
    let (_dir, md) = fresh();
    for name in ["1.M1.old,S=3", "2.M2.old", "3.M3.old", "4.M4.old"] {
        put(&md, "cur", format!("{name}:2,S"), b"a\n\n");
    }
    // Message 2's UIDL was recorded by Dovecot (`P`); message 3's line is broken;
    // message 4 is not listed at all.
    fs::write(
        md.root().join("dovecot-uidlist"),
        "3 V1700000000 N9 Gabc\n1 W3 :1.M1.old,S=3\n2 Pkept-2 :2.M2.old\nthree :3.M3.old\n",
    )
    .unwrap();
    let source = UidlSource::Dovecot(UidlFormat::default());
    let uidls = |md: &Maildir| -> Vec<String> {
        let s = md.open_session_with(&source).unwrap();
        s.messages().iter().map(|m| m.uidl.clone()).collect()
    };
    let first = uidls(&md);
    assert_eq!(first.len(), 4, "{first:?}");
    assert_eq!(first[0], "000000016553f100");
    assert_eq!(first[1], "kept-2");
    assert_eq!(first[2], "3.M3.old");
    assert_eq!(first[3], "4.M4.old");
    let unique: std::collections::HashSet<_> = first.iter().collect();
    assert_eq!(unique.len(), 4);
    let record = fs::read_to_string(md.root().join("buzon-uidls")).unwrap();
    assert!(record.starts_with("buzon-uidls 1\n"), "{record}");
    assert_eq!(record.lines().count(), 5, "{record}");
    // Dovecot's file rewritten (another UIDVALIDITY) or gone: nothing served changes.
    fs::write(
        md.root().join("dovecot-uidlist"),
        "3 V1800000000 N9\n1 :1.M1.old,S=3\n3 :3.M3.old\n4 :4.M4.old\n",
    )
    .unwrap();
    assert_eq!(uidls(&md), first);
    fs::remove_file(md.root().join("dovecot-uidlist")).unwrap();
    assert_eq!(uidls(&md), first);
    // A new message is recorded under its own UIDL, appended to the record.
    put(&md, "cur", "5.M5.new:2,", b"b\n\n");
    let more = uidls(&md);
    assert_eq!(&more[..4], &first[..]);
    assert_eq!(more[4], "5.M5.new");
    // A torn last line (a crash while appending) is ignored and written again.
    let mut text = fs::read(md.root().join("buzon-uidls")).unwrap();
    let cut = text.len() - 3;
    text.truncate(cut);
    fs::write(md.root().join("buzon-uidls"), &text).unwrap();
    assert_eq!(uidls(&md), more);
    // A damaged record is an error naming the file, never a silent change of UIDLs.
    fs::write(
        md.root().join("buzon-uidls"),
        "buzon-uidls 1\nno-uidl-here\n",
    )
    .unwrap();
    let e = md.open_session_with(&source).unwrap_err().to_string();
    assert!(e.contains("buzon-uidls line 2"), "{e}");
}

/// A message copied from another server keeps its UIDL even when no file name can carry
/// it (`,`, `:` or `/` in it): the Maildir's record names it, and listings serve it.
#[test]
fn imported_messages_keep_uidls_that_no_file_name_could_carry() {
    let (_dir, md) = fresh();
    let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    for uidl in ["plain-uidl", "with,comma", "a:b/c", "UID1-1700000000"] {
        let p = md.prepare(&mut &b"Subject: x\n\nbody\n"[..], None).unwrap();
        let d = p.commit_with_uidl(uidl, t).unwrap();
        assert_eq!(d.uidl, uidl);
    }
    let p = md.prepare(&mut &b"x\n"[..], None).unwrap();
    assert!(p.commit_with_uidl("bad uidl", t).is_err());
    let s = md.open_session().unwrap();
    let mut listed: Vec<String> = s.messages().iter().map(|m| m.uidl.clone()).collect();
    listed.sort();
    assert_eq!(
        listed,
        ["UID1-1700000000", "a:b/c", "plain-uidl", "with,comma"]
    );
    drop(s);
    // A message delivered afterwards gets Buzón's own UIDL beside them.
    md.deliver(&mut &b"y\n"[..], None).unwrap();
    assert_eq!(md.open_session().unwrap().messages().len(), 5);
}
