//! Integration tests for buzon-auth: published password vectors, passwd-file
//! loading and edits on a real filesystem, throttling and the auth cache.

// Helpers outside #[test] functions fail the test by panicking too (clippy.toml's
// allow-unwrap-in-tests covers only the test functions themselves).
#![allow(clippy::unwrap_used)]

use std::fs;
use std::net::IpAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use buzon_auth::*;

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn verifies(stored: &str, password: &str) -> bool {
    ok(verify_password(stored, password.as_bytes()))
}

// ---------------------------------------------------------------------------
// Password schemes

/// (stored, right password). Sources:
/// - SHA-crypt: the test vectors of Drepper's specification
///   (https://www.akkadia.org/drepper/SHA-crypt.txt), and three hashes made
///   with libxcrypt's crypt(3) (the "pässwörd" and empty-password lines).
/// - bcrypt: PHP's password_verify documentation example, the OpenWall
///   crypt_blowfish vector "U*U", and a cost-5 `$2y$` hash (the form
///   `htpasswd -bnBC 5` writes) made with libxcrypt.
/// - Argon2: the reference implementation's known-answer tests (password
///   "password", salt "somesalt").
const VECTORS: &[(&str, &str)] = &[
    (
        "{SHA512-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
        "Hello world!",
    ),
    (
        "{SHA512-CRYPT}$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
        "Hello world!",
    ),
    (
        "{SHA512-CRYPT}$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0",
        "This is just a test",
    ),
    (
        "{SHA512-CRYPT}$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1",
        "a very much longer text to encrypt.  This one even stretches over morethan one line.",
    ),
    (
        "{SHA512-CRYPT}$6$rounds=1000$Zz9.Ab/Cd$XxLvXOQw92FFbd/rmwdwFiV9NElMHliv6nQ1wSH4rcloB4wB.Rhr.UrfmyzDYE843BmQ0Yf5YmnikkqTg.Z.t.",
        "pässwörd",
    ),
    (
        "{SHA512-CRYPT}$6$emptypw$TWmzQ8/uLn1BFSZ5Lkfum8lAba5vixF9Nl3Aiof.Praatq9nh0kkPuTdoVrIL6du0L6LAoadbPq.q.D7keveg/",
        "",
    ),
    (
        "{SHA256-CRYPT}$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5",
        "Hello world!",
    ),
    (
        "{SHA256-CRYPT}$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA",
        "Hello world!",
    ),
    (
        "{SHA256-CRYPT}$5$rounds=77777$short$JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/",
        "we have a short salt string but not a short password",
    ),
    (
        "{SHA256-CRYPT}$5$rounds=1000$Zz9.Ab/Cd$UQ7xjXatJyAHeCs1SOb0aqDnNioNj2gz3msR4ZzSSP7",
        "pässwörd",
    ),
    (
        "{BLF-CRYPT}$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a",
        "rasmuslerdorf",
    ),
    (
        "{BLF-CRYPT}$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "U*U",
    ),
    (
        "{BLF-CRYPT}$2y$05$abcdefghijklmnopqrstuu4kiOP6sDh3yvHodxxBYQDPx3avgvLX6",
        "htpasswd-style",
    ),
    (
        "{ARGON2ID}$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
        "password",
    ),
    (
        "{ARGON2ID}$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc",
        "password",
    ),
    (
        "{ARGON2I}$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8",
        "password",
    ),
    (
        "{ARGON2I}$argon2i$v=16$m=256,t=2,p=1$c29tZXNhbHQ$/U3YPXYsSb3q9XxHvc0MLxur+GP960kN9j7emXX8zwY",
        "password",
    ),
    // No version field means v=16 in the PHC format.
    (
        "{ARGON2I}$argon2i$m=256,t=2,p=1$c29tZXNhbHQ$/U3YPXYsSb3q9XxHvc0MLxur+GP960kN9j7emXX8zwY",
        "password",
    ),
    ("{PLAIN}hunter2", "hunter2"),
    ("{CLEARTEXT}pa:ss w0rd", "pa:ss w0rd"),
    ("{PLAIN}", ""),
];

#[test]
fn every_scheme_verifies_published_vectors() {
    for (stored, password) in VECTORS {
        assert!(
            verifies(stored, password),
            "{stored} should accept {password:?}"
        );
        let wrong = format!("{password}x");
        assert!(!verifies(stored, &wrong), "{stored} must reject {wrong:?}");
    }
}

#[test]
fn bare_crypt_strings_without_scheme_prefix() {
    for (stored, password) in VECTORS {
        if let Some((_, bare)) = stored.split_once('}') {
            if bare.starts_with('$') {
                assert!(verifies(bare, password), "bare {bare}");
                assert!(
                    verifies(&format!("{{CRYPT}}{bare}"), password),
                    "{{CRYPT}}{bare}"
                );
            }
        }
    }
}

#[test]
fn scheme_names_are_case_insensitive() {
    let cases = [
        ("{sha512-crypt}", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!"),
        ("{Sha256-Crypt}", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5", "Hello world!"),
        ("{blf-crypt}", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"),
        ("{argon2id}", "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4", "password"),
        ("{plain}", "x", "x"),
        ("{ClearText}", "x", "x"),
    ];
    for (scheme, hash, password) in cases {
        assert!(verifies(&format!("{scheme}{hash}"), password), "{scheme}");
    }
}

#[test]
fn bcrypt_hashes_made_by_the_bcrypt_crate() {
    let parts = ok(bcrypt::hash_with_result("s3cret", 4));
    for version in [
        bcrypt::Version::TwoY,
        bcrypt::Version::TwoB,
        bcrypt::Version::TwoA,
    ] {
        let stored = format!("{{BLF-CRYPT}}{}", parts.format_for_version(version));
        assert!(verifies(&stored, "s3cret"), "{stored}");
        assert!(!verifies(&stored, "s3creT"), "{stored}");
    }
    // bcrypt only reads 72 bytes; libxcrypt agrees (same hash for both).
    let long = "x".repeat(100);
    let stored = "{BLF-CRYPT}$2b$04$abcdefghijklmnopqrstuubzadhGtS2zEF.gu0yd0opP6cVzb.e0i";
    assert!(verifies(stored, &long));
    assert!(verifies(stored, &"x".repeat(72)));
    assert!(!verifies(stored, &"x".repeat(71)));
}

#[test]
fn hash_then_verify_round_trip() {
    let params = HashParams::fast_for_tests();
    for password in [
        "",
        "a",
        "correct horse battery staple",
        "pässwörd",
        "with:colon and space",
    ] {
        let stored = hash_password(password.as_bytes(), &params);
        assert!(
            stored.starts_with("{ARGON2ID}$argon2id$v=19$m=256,t=1,p=1$"),
            "{stored}"
        );
        assert!(verifies(&stored, password));
        assert!(!verifies(&stored, &format!("{password}!")));
    }
    // Non-UTF-8 passwords are bytes like any other.
    let stored = hash_password(b"\xff\xfe", &params);
    assert_eq!(verify_password(&stored, b"\xff\xfe").ok(), Some(true));
    assert_eq!(verify_password(&stored, b"\xff").ok(), Some(false));
}

#[test]
fn unknown_schemes_are_named() {
    let cases = [
        ("{MD5-CRYPT}$1$abc$def", "MD5-CRYPT"),
        ("{SSHA512}abcd", "SSHA512"),
        ("{ssha}abcd", "ssha"),
        ("$1$abc$defghijk", "CRYPT $1$"),
        ("plaintext-without-scheme", "CRYPT"),
    ];
    for (stored, name) in cases {
        match verify_password(stored, b"x") {
            Err(AuthError::UnknownScheme(n)) => assert_eq!(n, name, "{stored}"),
            other => panic!("{stored}: {other:?}"),
        }
    }
    let msg = verify_password("{NOPE}x", b"x")
        .err()
        .map(|e| e.to_string());
    assert!(msg.is_some_and(|m| m.contains("\"NOPE\"") && m.contains("ARGON2ID")));
}

#[test]
fn malformed_hashes_are_bad_hash() {
    let cases = [
        "",
        "{PLAIN",
        "{SHA512-CRYPT}",
        "{SHA512-CRYPT}$6$",
        "{SHA512-CRYPT}$6$salt",
        "{SHA512-CRYPT}$6$salt$short",
        "{SHA512-CRYPT}$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5",
        "{SHA512-CRYPT}$6$rounds=abc$salt$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
        "{SHA512-CRYPT}$6$rounds=10$roundstoolow$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
        "{SHA512-CRYPT}$6$rounds=+5000$salt$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
        "{SHA512-CRYPT}$6$saltstringsaltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
        "{SHA512-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35in!1",
        "{SHA512-CRYPT}$6$a$b$c",
        "{SHA256-CRYPT}$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc",
        "{BLF-CRYPT}$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "{BLF-CRYPT}$2y$5$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "{BLF-CRYPT}$2y$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "{BLF-CRYPT}$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe",
        "{BLF-CRYPT}$2y$$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "{BLF-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
        "{ARGON2ID}$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8",
        "{ARGON2I}$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
        "{ARGON2ID}$argon2id$v=18$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
        "{ARGON2ID}$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ",
        "{ARGON2ID}$argon2id$v=19$m=256,t=0,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
        "{ARGON2ID}$argon2id$v=19$m=999999999,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
        "{ARGON2ID}not-a-phc-string",
        "{ARGON2ID}$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$!!!",
    ];
    for stored in cases {
        match verify_password(stored, b"Hello world!") {
            Err(AuthError::BadHash(msg)) => {
                assert!(!msg.contains("Hello"), "{msg}");
                let shown = AuthError::BadHash(msg).to_string();
                assert!(shown.contains("buzon user passwd"), "{shown}");
            }
            other => panic!("{stored}: expected BadHash, got {other:?}"),
        }
    }
}

#[test]
fn plaintext_only_for_plain_schemes() {
    let p = plaintext_password("{PLAIN}s3cret");
    assert_eq!(p.as_ref().map(|s| s.expose()), Some(&b"s3cret"[..]));
    assert_eq!(format!("{p:?}"), "Some(Secret(***))");
    assert!(plaintext_password("{cleartext}x").is_some());
    assert!(plaintext_password("{PLAIN}").is_some_and(|s| s.is_empty()));
    assert!(plaintext_password("{SHA512-CRYPT}$6$x$y").is_none());
    assert!(plaintext_password("secret").is_none());
    assert!(plaintext_password("{PLAINX}secret").is_none());
}

#[test]
fn needs_rehash_rules() {
    let fast = HashParams::fast_for_tests();
    let stored = hash_password(b"pw", &fast);
    assert!(!needs_rehash(&stored, &fast));
    assert!(
        needs_rehash(&stored, &HashParams::default()),
        "weaker m and t"
    );
    let stronger_t = HashParams { t_cost: 2, ..fast };
    assert!(needs_rehash(&stored, &stronger_t));
    let bare = stored.trim_start_matches("{ARGON2ID}");
    assert!(
        !needs_rehash(bare, &fast),
        "bare argon2id is still argon2id"
    );
    for (other, _) in VECTORS.iter().filter(|(s, _)| !s.starts_with("{ARGON2ID}")) {
        assert!(needs_rehash(other, &fast), "{other}");
    }
    assert!(needs_rehash("{ARGON2ID}garbage", &fast));
    assert!(needs_rehash("", &fast));
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[test]
fn dummy_verify_uses_the_configured_parameters_and_never_matches() {
    let params = HashParams {
        m_cost_kib: 8192,
        t_cost: 3,
        p_cost: 1,
    };
    let dummy = DummyHash::new(&params);
    // The configured parameters of the default scheme, not Argon2's defaults.
    let stored = dummy.stored();
    assert!(
        stored.starts_with("{ARGON2ID}$argon2id$v=19$m=8192,t=3,p=1$"),
        "{stored}"
    );
    assert!(!needs_rehash(stored, &params));
    // Random and forgotten: no password matches, and two dummies differ.
    for guess in ["", "password", "whatever"] {
        assert!(!verifies(stored, guess));
    }
    assert_ne!(DummyHash::new(&params).stored(), stored);
    assert!(!format!("{dummy:?}").contains("argon2"));
    // It costs what a real verification with those parameters costs: medians of 7,
    // interleaved, within a factor of 3 either way (the work is identical; the factor
    // only absorbs a busy machine).
    let real = hash_password(b"the user's password", &params);
    let (mut d, mut r) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let t = Instant::now();
        dummy.verify(b"a guess");
        d.push(t.elapsed());
        let t = Instant::now();
        assert!(!verifies(&real, "a guess"));
        r.push(t.elapsed());
    }
    let (d, r) = (median(d), median(r));
    eprintln!("dummy {d:?}, real {r:?}");
    assert!(d < r * 3 && r < d * 3, "dummy {d:?}, real {r:?}");
}

// ---------------------------------------------------------------------------
// passwd-file

fn write(path: &Path, content: &[u8]) {
    ok(fs::write(path, content));
}

fn read(path: &Path) -> Vec<u8> {
    ok(fs::read(path))
}

#[test]
fn load_missing_file_is_empty() {
    let dir = ok(tempfile::tempdir());
    let path = dir.path().join("users");
    let db = ok(UserDb::load(&path));
    assert!(db.is_empty());
    assert_eq!(db.path(), path);
    assert!(db.modified().is_none());
    assert!(!db.any_plaintext());
}

#[test]
fn load_real_file() {
    let dir = ok(tempfile::tempdir());
    let path = dir.path().join("users");
    write(
        &path,
        b"# Buzon users\n\
          alice:{PLAIN}pw1::::/var/mail/alice::userdb_quota_rule=*:storage=1G\n\
          \n\
          Bob:{SHA512-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1\n",
    );
    let db = ok(UserDb::load(&path));
    assert_eq!(db.len(), 2);
    assert!(db.modified().is_some());
    assert!(db.any_plaintext());
    let alice = db.lookup("ALICE");
    assert_eq!(
        alice.and_then(|a| a.home.as_deref()),
        Some("/var/mail/alice")
    );
    assert_eq!(
        alice.and_then(|a| a.extra_field("userdb_quota_rule")),
        Some("*:storage=1G")
    );
    let bob = db
        .lookup("bob")
        .map(|b| b.password.clone())
        .unwrap_or_default();
    assert!(verifies(&bob, "Hello world!"));
    assert_eq!(db.lookup("Bob").map(|b| b.name.as_str()), Some("Bob"));

    write(&path, b"alice:{PLAIN}pw1\nbad line\n");
    match UserDb::load(&path) {
        Err(e @ AuthError::Parse { line: 2, .. }) => {
            let msg = e.to_string();
            assert!(
                msg.starts_with(&format!("line 2 of {}: ", path.display())),
                "{msg}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn load_unreadable_path_is_io_error() {
    let dir = ok(tempfile::tempdir());
    // A directory cannot be read as a file.
    match UserDb::load(dir.path()) {
        Err(AuthError::Io { .. }) => {}
        other => panic!("{other:?}"),
    }
}

const ORIGINAL: &[u8] = b"# Buzon users -- keep this comment\r\n\
    alice:{PLAIN}one:1000:1000:Alice A.:/home/alice:/bin/false:userdb_quota_rule=*:storage=1G  nopassword\r\n\
    \r\n\
    #   indented   comment with trailing spaces   \r\n\
    bob:{PLAIN}two\r\n\
    carol:{PLAIN}three::\r\n\
    \r\n\
    # end";

#[test]
fn edits_preserve_other_lines_byte_for_byte() {
    let dir = ok(tempfile::tempdir());
    let path = dir.path().join("users");
    write(&path, ORIGINAL);

    // set_password replaces exactly the password field.
    ok(set_password(&path, "ALICE", "{PLAIN}uno"));
    let want = String::from_utf8_lossy(ORIGINAL).replace("{PLAIN}one", "{PLAIN}uno");
    assert_eq!(String::from_utf8_lossy(&read(&path)), want);
    ok(set_password(&path, "bob", "{PLAIN}dos"));
    ok(set_password(&path, "carol", "{PLAIN}tres"));
    let want = want
        .replace("{PLAIN}two", "{PLAIN}dos")
        .replace("{PLAIN}three", "{PLAIN}tres");
    assert_eq!(String::from_utf8_lossy(&read(&path)), want);

    // add_user appends, terminating the unterminated last line first, using
    // the file's CRLF convention.
    ok(add_user(&path, "dave", "{PLAIN}four"));
    let want = format!("{want}\r\ndave:{{PLAIN}}four\r\n");
    assert_eq!(String::from_utf8_lossy(&read(&path)), want);

    // remove_user drops exactly one line.
    ok(remove_user(&path, "Bob"));
    let want = want.replace("bob:{PLAIN}dos\r\n", "");
    assert_eq!(String::from_utf8_lossy(&read(&path)), want);

    let db = ok(UserDb::load(&path));
    let names: Vec<_> = db.users().map(|u| u.name.clone()).collect();
    assert_eq!(names, ["alice", "carol", "dave"]);
    assert_eq!(
        db.lookup("alice").map(|u| u.extra.len()),
        Some(2),
        "extra fields survive a password change"
    );
    assert!(verifies(
        &db.lookup("alice")
            .map(|u| u.password.clone())
            .unwrap_or_default(),
        "uno"
    ));

    // No temporary files left behind; the lock sidecar stays.
    let mut files: Vec<_> = ok(fs::read_dir(dir.path()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["users", "users.lock"]);
}

#[test]
fn edit_errors() {
    let dir = ok(tempfile::tempdir());
    let path = dir.path().join("users");
    write(&path, b"alice:{PLAIN}x\n");
    assert!(
        matches!(add_user(&path, "Alice", "{PLAIN}y"), Err(AuthError::UserExists(n)) if n == "alice")
    );
    assert!(matches!(
        set_password(&path, "zed", "{PLAIN}y"),
        Err(AuthError::NoSuchUser(_))
    ));
    assert!(matches!(
        remove_user(&path, "zed"),
        Err(AuthError::NoSuchUser(_))
    ));
    assert!(matches!(
        add_user(&path, "../etc", "{PLAIN}y"),
        Err(AuthError::InvalidUsername { .. })
    ));
    assert!(matches!(
        add_user(&path, "bob", "{PLAIN}a:b"),
        Err(AuthError::BadHash(_))
    ));
    assert!(matches!(
        add_user(&path, "bob", "{MD5}x"),
        Err(AuthError::UnknownScheme(_))
    ));
    assert!(matches!(
        set_password(&path, "alice", "{SHA512-CRYPT}$6$x"),
        Err(AuthError::BadHash(_))
    ));
    assert_eq!(
        read(&path),
        b"alice:{PLAIN}x\n",
        "failed edits change nothing"
    );

    // A file the server could not load is not edited either.
    write(&path, b"alice:{PLAIN}x\nbroken\n");
    assert!(matches!(
        add_user(&path, "bob", "{PLAIN}y"),
        Err(AuthError::Parse { line: 2, .. })
    ));
    assert_eq!(read(&path), b"alice:{PLAIN}x\nbroken\n");

    // Missing directory: an I/O error that says what to check.
    let nowhere = dir.path().join("missing/users");
    let msg = add_user(&nowhere, "bob", "{PLAIN}y")
        .err()
        .map(|e| e.to_string());
    assert!(msg.is_some_and(|m| m.contains("directory exists")));
}

#[test]
fn new_file_is_private_and_modes_are_kept_without_world_access() {
    let dir = ok(tempfile::tempdir());
    let path = dir.path().join("users");
    ok(add_user(
        &path,
        "alice",
        &hash_password(b"pw", &HashParams::fast_for_tests()),
    ));
    let mode = |p: &Path| ok(fs::metadata(p)).permissions().mode() & 0o7777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir.path().join("users.lock")), 0o600);

    ok(fs::set_permissions(
        &path,
        fs::Permissions::from_mode(0o640),
    ));
    ok(add_user(&path, "bob", "{PLAIN}x"));
    assert_eq!(mode(&path), 0o640);

    ok(fs::set_permissions(
        &path,
        fs::Permissions::from_mode(0o644),
    ));
    ok(remove_user(&path, "bob"));
    assert_eq!(mode(&path), 0o640, "world access is dropped");
}

fn running_as_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|r| r.split_whitespace().nth(1).map(|e| e == "0"))
        .unwrap_or(false)
}

#[test]
fn edits_through_a_symlink_keep_the_link_but_root_refuses_it() {
    let dir = ok(tempfile::tempdir());
    let real = dir.path().join("real-users");
    let link = dir.path().join("users");
    write(&real, b"alice:{PLAIN}x\n");
    ok(std::os::unix::fs::symlink(&real, &link));
    if running_as_root() {
        // Whoever owns the folder could have pointed the link at any file.
        let e = add_user(&link, "bob", "{PLAIN}y")
            .err()
            .map(|e| e.to_string());
        let e = e.expect("root edited through a link");
        assert!(
            e.contains(&link.display().to_string())
                && e.contains("symbolic link")
                && e.contains("auth.users_file"),
            "{e}"
        );
        assert!(check_users_file_as_root(&link).is_err());
        assert_eq!(read(&real), b"alice:{PLAIN}x\n");
        assert!(!dir.path().join("real-users.lock").exists());
        return;
    }
    ok(check_users_file_as_root(&link));
    ok(add_user(&link, "bob", "{PLAIN}y"));
    assert!(ok(fs::symlink_metadata(&link)).file_type().is_symlink());
    assert_eq!(read(&real), b"alice:{PLAIN}x\nbob:{PLAIN}y\n");
}

#[test]
fn the_lock_file_is_never_opened_or_created_through_a_link() {
    let dir = ok(tempfile::tempdir());
    let path = dir.path().join("users");
    write(&path, b"alice:{PLAIN}x\n");
    let lock = dir.path().join("users.lock");
    let elsewhere = dir.path().join("elsewhere");
    ok(std::os::unix::fs::symlink(&elsewhere, &lock));
    let e = add_user(&path, "bob", "{PLAIN}y")
        .err()
        .map(|e| e.to_string());
    let e = e.expect("locked through a link");
    assert!(
        e.contains(&lock.display().to_string()) && e.contains("rm "),
        "{e}"
    );
    assert!(!elsewhere.exists(), "a file was created through the link");
    assert_eq!(read(&path), b"alice:{PLAIN}x\n");
    ok(fs::remove_file(&lock));
    ok(add_user(&path, "bob", "{PLAIN}y"));
    let m = ok(fs::symlink_metadata(&lock));
    assert!(m.is_file());
    assert_eq!(m.permissions().mode() & 0o777, 0o600);
    // An existing lock file is reused, not replaced.
    ok(remove_user(&path, "bob"));
    assert_eq!(ok(fs::symlink_metadata(&lock)).ino(), m.ino());
}

#[test]
fn concurrent_add_user_loses_nothing() {
    let dir = ok(tempfile::tempdir());
    let path = Arc::new(dir.path().join("users"));
    write(&path, b"# header\n");
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let path = Arc::clone(&path);
            std::thread::spawn(move || {
                for i in 0..10 {
                    let user = format!("user{t}-{i}");
                    ok(add_user(&path, &user, &format!("{{PLAIN}}{user}")));
                }
            })
        })
        .collect();
    for t in threads {
        assert!(t.join().is_ok());
    }
    let db = ok(UserDb::load(&path));
    assert_eq!(db.len(), 80);
    for t in 0..8 {
        for i in 0..10 {
            let user = format!("user{t}-{i}");
            let entry = db.lookup(&user);
            assert_eq!(
                entry.map(|e| e.password.clone()),
                Some(format!("{{PLAIN}}{user}"))
            );
        }
    }
    assert!(read(&path).starts_with(b"# header\n"));
}

#[test]
fn username_table_and_mailbox_names() {
    let long = "x".repeat(65);
    for bad in [
        "", "a/b", "/etc", "..", "a..b", ".x", "-x", "a\0b", &long, "ñandú", "a b", "a:b", "ü",
    ] {
        assert!(
            matches!(
                validate_username(bad),
                Err(AuthError::InvalidUsername { .. })
            ),
            "{bad:?}"
        );
    }
    for good in [
        "a",
        "Alice",
        "bob.smith",
        "bob+pop@example.org",
        "x_y-z",
        &"x".repeat(64),
    ] {
        assert!(validate_username(good).is_ok(), "{good:?}");
    }
    let msg = validate_username("a/b")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("'/'"), "{msg}");
    let msg = validate_username("ñ")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("'ñ'"), "{msg}");
    assert_eq!(
        mailbox_dir_name("Bob.Smith@Example.org"),
        "bob.smith@example.org"
    );
}

// ---------------------------------------------------------------------------
// Throttling

fn ip(s: &str) -> IpAddr {
    match s.parse() {
        Ok(ip) => ip,
        Err(e) => panic!("{s}: {e}"),
    }
}

fn secs(d: Duration) -> u64 {
    d.as_secs()
}

#[test]
fn ipv6_is_keyed_by_its_64() {
    let t0 = Instant::now();
    let mut t = Throttle::new(ThrottleConfig::default());
    for i in 0..4 {
        // Four different addresses in one /64.
        t.record_failure(t0, ip(&format!("2001:db8:1:2::{i}")), None);
    }
    assert_eq!(
        secs(t.delay_before(t0, ip("2001:db8:1:2:ffff::1"), None)),
        4
    );
    assert_eq!(
        secs(t.delay_before(t0, ip("2001:db8:1:3::1"), None)),
        0,
        "next /64"
    );
    assert_eq!(t.tracked(), 1);
}

#[test]
fn ipv4_mapped_counts_as_ipv4() {
    let t0 = Instant::now();
    let mut t = Throttle::new(ThrottleConfig::default());
    for _ in 0..2 {
        t.record_failure(t0, ip("192.0.2.7"), None);
        t.record_failure(t0, ip("::ffff:192.0.2.7"), None);
    }
    assert_eq!(secs(t.delay_before(t0, ip("192.0.2.7"), None)), 4);
    assert_eq!(
        secs(t.delay_before(t0, ip("192.0.2.8"), None)),
        0,
        "IPv4 keys are /32"
    );
}

#[test]
fn user_counter_spans_addresses_and_ignores_existence_and_case() {
    let t0 = Instant::now();
    let mut t = Throttle::new(ThrottleConfig::default());
    // "nobody" need not exist: the counter works the same.
    for i in 0..5 {
        t.record_failure(
            t0,
            ip(&format!("198.51.100.{i}")),
            Some(if i % 2 == 0 { "Nobody" } else { "nobody" }),
        );
    }
    // A network that has not been failing is not held by the name's counter.
    let fresh = ip("203.0.113.1");
    assert_eq!(secs(t.delay_before(t0, fresh, Some("NOBODY"))), 0);
    assert_eq!(secs(t.delay_before(t0, fresh, Some("alice"))), 0);
    assert_eq!(secs(t.delay_before(t0, fresh, None)), 0);
    // Once the network is penalised itself, the larger of its and the name's penalty
    // applies, whatever the spelling of the name.
    for _ in 0..3 {
        t.record_failure(t0, fresh, None);
    }
    assert_eq!(secs(t.delay_before(t0, fresh, Some("alice"))), 2);
    assert_eq!(secs(t.delay_before(t0, fresh, Some("nobody"))), 8);
    assert_eq!(secs(t.delay_before(t0, fresh, Some("NoBody"))), 8);
}

#[test]
fn success_clears_user_and_ip() {
    let t0 = Instant::now();
    let mut t = Throttle::new(ThrottleConfig::default());
    let a = ip("192.0.2.1");
    for _ in 0..6 {
        t.record_failure(t0, a, Some("alice"));
    }
    assert_eq!(secs(t.delay_before(t0, a, Some("alice"))), 16);
    t.record_success(t0, a, "ALICE");
    assert_eq!(secs(t.delay_before(t0, a, Some("alice"))), 0);
    assert_eq!(t.tracked(), 0);
}

#[test]
fn trusted_networks_are_exempt_and_not_counted() {
    let t0 = Instant::now();
    let cfg = ThrottleConfig {
        trusted: vec![
            ok("127.0.0.0/8".parse()),
            ok("::1/128".parse()),
            ok("fd00::/8".parse()),
        ],
        ..ThrottleConfig::default()
    };
    let mut t = Throttle::new(cfg);
    for addr in ["127.0.0.1", "::1", "::ffff:127.0.0.2", "fd12::1"] {
        for _ in 0..10 {
            t.record_failure(t0, ip(addr), Some("alice"));
        }
        assert_eq!(
            t.delay_before(t0, ip(addr), Some("alice")),
            Duration::ZERO,
            "{addr}"
        );
    }
    assert_eq!(t.tracked(), 0);
    assert_eq!(
        t.delay_before(t0, ip("192.0.2.1"), Some("alice")),
        Duration::ZERO
    );
    // Trusted clients get no penalty even when the user counter is high (and networks
    // that have been failing do).
    for _ in 0..10 {
        t.record_failure(t0, ip("192.0.2.1"), Some("alice"));
    }
    for _ in 0..3 {
        t.record_failure(t0, ip("192.0.2.2"), Some("bob"));
    }
    assert_eq!(secs(t.delay_before(t0, ip("192.0.2.2"), Some("alice"))), 60);
    assert_eq!(
        t.delay_before(t0, ip("127.0.0.1"), Some("alice")),
        Duration::ZERO
    );
}

#[test]
fn a_proxys_trusted_address_standing_for_an_unknown_client_is_not_exempt() {
    let t0 = Instant::now();
    let cfg = ThrottleConfig {
        trusted: vec![ok("127.0.0.0/8".parse())],
        free_failures: 1,
        ..ThrottleConfig::default()
    };
    let mut t = Throttle::new(cfg.clone());
    let proxy = ip("127.0.0.1");
    t.without_exemptions(|t| {
        t.record_failure(t0, proxy, Some("alice"));
        t.record_failure(t0, proxy, Some("alice"));
    });
    assert_eq!(
        t.tracked(),
        3,
        "counted against the proxy, the name and the pair"
    );
    assert_eq!(
        t.without_exemptions(|t| t.admit(t0, proxy, Some("bob"))),
        Admission::After(Duration::from_secs(4))
    );
    // The same address as a known client stays exempt, and the policy is unchanged.
    assert_eq!(
        t.admit(t0, proxy, Some("alice")),
        Admission::After(Duration::ZERO)
    );
    assert_eq!(t.config(), &cfg);
}

#[test]
fn counters_are_forgotten_after_quiet_period() {
    let t0 = Instant::now();
    let cfg = ThrottleConfig::default();
    let forget = cfg.forget_after;
    let mut t = Throttle::new(cfg);
    let a = ip("192.0.2.1");
    for i in 0..5u64 {
        t.record_failure(t0 + Duration::from_secs(i * 60), a, None);
    }
    let last = t0 + Duration::from_secs(4 * 60);
    assert_eq!(
        secs(t.delay_before(last + forget - Duration::from_secs(1), a, None)),
        8
    );
    assert_eq!(secs(t.delay_before(last + forget, a, None)), 0);
    // A failure after the quiet period starts again from one.
    t.record_failure(last + forget, a, None);
    assert_eq!(secs(t.delay_before(last + forget, a, None)), 0);
    t.prune(last + forget);
    assert_eq!(t.tracked(), 1);
    t.prune(last + forget + forget);
    assert_eq!(t.tracked(), 0);
}

#[test]
fn tracked_keys_are_bounded() {
    let t0 = Instant::now();
    let mut t = Throttle::new(ThrottleConfig::default());
    for i in 0..(MAX_TRACKED_KEYS as u32 + 5_000) {
        let now = t0 + Duration::from_millis(u64::from(i) / 16);
        t.record_failure(now, IpAddr::V4(i.into()), None);
        if i % 10_000 == 0 {
            assert!(t.tracked() <= MAX_TRACKED_KEYS);
        }
    }
    assert!(t.tracked() <= MAX_TRACKED_KEYS);
    assert!(t.tracked() >= MAX_TRACKED_KEYS * 8 / 10);
    let end = t0 + Duration::from_secs(10);
    // The newest survive; the oldest went first.
    let newest = IpAddr::V4((MAX_TRACKED_KEYS as u32 + 4_999).into());
    t.record_failure(end, newest, None);
    t.record_failure(end, newest, None);
    assert_eq!(secs(t.delay_before(end, newest, None)), 2);
    let oldest = IpAddr::V4(0u32.into());
    assert_eq!(secs(t.delay_before(end, oldest, None)), 0);

    let mut small = Throttle::new(ThrottleConfig::default()).with_max_keys(10);
    for i in 0..100u32 {
        small.record_failure(t0, IpAddr::V4(i.into()), Some(&format!("u{i}")));
        assert!(small.tracked() <= 10);
    }
    small.prune(t0);
    assert!(small.tracked() <= 10);
}

// ---------------------------------------------------------------------------
// Auth cache

#[test]
fn cache_with_real_verification() {
    let t0 = Instant::now();
    let params = HashParams::fast_for_tests();
    let stored = hash_password(b"pw", &params);
    let mut cache = AuthCache::new(Duration::from_secs(60), 10_000);
    assert!(!cache.get(t0, "alice", b"pw", &stored));
    assert!(verifies(&stored, "pw"));
    cache.insert(t0, "alice", b"pw", &stored);
    assert!(cache.get(t0 + Duration::from_secs(1), "alice", b"pw", &stored));
    assert!(!cache.get(t0 + Duration::from_secs(1), "alice", b"wrong", &stored));
    let changed = hash_password(b"pw", &params);
    assert!(
        !cache.get(t0 + Duration::from_secs(1), "alice", b"pw", &changed),
        "password changed"
    );
    cache.insert(t0, "alice", b"pw", &changed);
    cache.remove_user("alice");
    assert!(cache.is_empty());
    let default = AuthCache::default();
    assert!(format!("{default:?}").contains("capacity: 10000"));
}

#[test]
fn secret_wrapper() {
    let s = Secret::new(String::from("hunter2"));
    assert_eq!(s.expose(), b"hunter2");
    assert_eq!(format!("{s:?}"), "Secret(***)");
    let c = s.clone();
    drop(s);
    assert_eq!(c.expose(), b"hunter2");
}
