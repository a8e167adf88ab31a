//! The PostgreSQL store against a private cluster (initdb/pg_ctl on 127.0.0.1), per test.
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::time::{Duration, Instant, SystemTime};

use buzon_store::{DeliveryStore, MailStore, MaildirStore, PgSettings, Pop3Mailbox, StoreError};
use buzon_store_pg::{PgStore, SCHEMA_VERSION};
use buzon_testkit::{skip, PgCluster};

/// A cluster, or `None` after `skip` when PostgreSQL is not installed.
fn cluster() -> Option<PgCluster> {
    match PgCluster::start() {
        Ok(c) => Some(c),
        Err(e) if e.contains("not installed") => {
            skip(&e);
            None
        }
        Err(e) => panic!("cannot start the test cluster: {e}"),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn short_lease(c: &PgCluster) -> PgSettings {
    let mut s = c.settings();
    s.lock_lease = Duration::from_secs(2);
    s
}

/// Delivers `msg` to each of `users` in one batch, on a blocking thread.
async fn deliver(store: &PgStore, users: &[&str], msg: &[u8]) -> Vec<buzon_store::StoredCopy> {
    let store = store.clone();
    let users: Vec<String> = users.iter().map(|u| u.to_string()).collect();
    let msg = msg.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut batch = store.begin();
        for u in &users {
            batch.add(u, None, &mut &msg[..]).unwrap();
        }
        batch.commit().map_err(|e| e.error.to_string()).unwrap()
    })
    .await
    .unwrap()
}

async fn usage(store: &PgStore, user: &str) -> buzon_store::Usage {
    let store = store.clone();
    let user = user.to_string();
    tokio::task::spawn_blocking(move || store.usage(&user).unwrap())
        .await
        .unwrap()
}

async fn read_all(mb: &dyn Pop3Mailbox, index: usize, limit: usize) -> (Vec<u8>, usize) {
    let mut reader = mb.open_message(index, limit).await.unwrap();
    let mut all = Vec::new();
    let mut chunks = 0;
    // Bounded: the message is finite and every chunk but the last is non-empty.
    loop {
        let chunk = reader.next_chunk(limit).await.unwrap();
        if chunk.is_empty() {
            break;
        }
        assert!(
            chunk.len() <= limit,
            "chunk of {} over the limit {limit}",
            chunk.len()
        );
        all.extend_from_slice(chunk);
        chunks += 1;
    }
    (all, chunks)
}

async fn raw_client(c: &PgCluster) -> tokio_postgres::Client {
    let mut config: tokio_postgres::Config = c.url().parse().unwrap();
    config.password(buzon_testkit::pg::PG_PASSWORD);
    let (client, conn) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

#[test]
fn schema_applies_once_with_two_nodes_starting_together_and_newer_is_refused() {
    let Some(c) = cluster() else { return };
    runtime().block_on(async {
        let s = c.settings();
        let (a, b) = tokio::join!(PgStore::connect(&s), PgStore::connect(&s));
        a.unwrap();
        b.unwrap();
        PgStore::connect(&s).await.unwrap();
        let raw = raw_client(&c).await;
        let v: i32 = raw
            .query_one("SELECT version FROM buzon_schema", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(v, SCHEMA_VERSION);
        let rows: i64 = raw
            .query_one("SELECT count(*) FROM users_serial", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            rows, 1,
            "the first schema version was applied more than once"
        );
        raw.execute("UPDATE buzon_schema SET version = 99", &[])
            .await
            .unwrap();
        let e = PgStore::connect(&s).await.err().unwrap().to_string();
        assert!(
            e.contains("version 99")
                && e.contains(&format!("version {SCHEMA_VERSION}"))
                && e.contains("upgrade buzon on every node")
                && e.contains(&c.url()),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
    });
}

#[test]
fn connect_errors_are_one_line_naming_the_url_and_the_fix() {
    let Some(c) = cluster() else { return };
    runtime().block_on(async {
        let mut s = c.settings();
        s.password = Some("wrong".into());
        let e = PgStore::connect(&s).await.err().unwrap().to_string();
        assert!(
            e.contains(&c.url()) && e.contains("refused the login") && e.contains("password_file"),
            "{e}"
        );
        assert!(
            !e.contains('\n') && !e.contains("DbError") && !e.contains("wrong"),
            "{e}"
        );

        let mut s = c.settings();
        s.url = format!("postgresql://buzon@127.0.0.1:{}/nosuchdb", c.port());
        let e = PgStore::connect(&s).await.err().unwrap().to_string();
        assert!(
            e.contains("nosuchdb") && e.contains("does not exist") && e.contains("createdb"),
            "{e}"
        );

        c.stop().unwrap();
        let e = PgStore::connect(&c.settings()).await.err().unwrap();
        assert!(e.is_temporary());
        let e = e.to_string();
        assert!(
            e.contains(&c.url())
                && e.contains("connection refused")
                && e.contains("start the database"),
            "{e}"
        );
        assert!(!e.contains('\n') && !e.contains("Error {"), "{e}");
    });
}

#[test]
fn delivery_to_three_recipients_is_all_or_nothing() {
    let Some(c) = cluster() else { return };
    let rt = runtime();
    let store = rt.block_on(PgStore::connect(&c.settings())).unwrap();
    let msg = b"Subject: hi\r\n\r\nbody\r\n";
    let copies = rt.block_on(deliver(&store, &["a", "b", "c"], msg));
    assert_eq!(copies.len(), 3);
    for u in ["a", "b", "c"] {
        let usage = rt.block_on(usage(&store, u));
        assert_eq!((usage.messages, usage.bytes), (1, msg.len() as u64), "{u}");
    }

    /// A reader that fails part way, as a lost client or a full spool would.
    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("injected read failure"));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(b'x');
            self.0 -= n;
            Ok(n)
        }
    }
    let s2 = store.clone();
    let failed = rt.block_on(async {
        tokio::task::spawn_blocking(move || {
            let mut batch = s2.begin();
            batch.add("a", None, &mut &msg[..]).unwrap();
            batch.add("b", Some("Work"), &mut &msg[..]).unwrap();
            let e = batch.add("c", None, &mut Failing(300_000)).err().unwrap();
            drop(batch);
            // Dropped after three good copies without commit: nothing either.
            let mut batch = s2.begin();
            for u in ["a", "b", "c"] {
                batch.add(u, None, &mut &msg[..]).unwrap();
            }
            drop(batch);
            e.to_string()
        })
        .await
        .unwrap()
    });
    assert!(failed.contains("injected read failure"), "{failed}");
    for u in ["a", "b", "c"] {
        let usage = rt.block_on(usage(&store, u));
        assert_eq!(
            usage.messages, 1,
            "{u} sees a copy of an uncommitted delivery"
        );
        let mb = rt.block_on(store.open_pop3(u)).unwrap();
        assert_eq!(mb.messages().len(), 1, "{u}");
    }
    // From a plain thread outside the runtime, as `buzon deliver` calls it.
    let mut batch = store.begin();
    batch.add("d", None, &mut &msg[..]).unwrap();
    assert_eq!(
        batch
            .commit()
            .map_err(|e| e.error.to_string())
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.usage("d").unwrap().messages, 1);
    let work = rt.block_on(store.list_messages("b", Some("Work"))).unwrap();
    assert!(
        work.is_empty(),
        "an uncommitted copy is visible in a folder: {work:?}"
    );
}

#[test]
fn sizes_and_uidls_match_the_maildir_store() {
    let Some(c) = cluster() else { return };
    let rt = runtime();
    let store = rt.block_on(PgStore::connect(&c.settings())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let maildir = MaildirStore::new(dir.path().to_path_buf(), Vec::new(), |u| u.to_string());
    let messages: Vec<Vec<u8>> = vec![
        b"Subject: crlf\r\n\r\nline\r\n.\r\n..dots\r\n".to_vec(),
        b"Subject: lf\n\nline\n.\n.dot\nno newline at end".to_vec(),
        b"mixed\r\nbare cr\r only\n\n.\n".to_vec(),
        Vec::new(),
        vec![b'\n'; 300_000],
    ];
    for m in &messages {
        rt.block_on(deliver(&store, &["u"], m));
        let mut batch = maildir.begin();
        batch.add("u", None, &mut &m[..]).unwrap();
        batch.commit().map_err(|e| e.error.to_string()).unwrap();
    }
    let pg = rt.block_on(store.open_pop3("u")).unwrap();
    let md = rt.block_on(maildir.open_pop3("u")).unwrap();
    let pg_sizes: Vec<u64> = pg.messages().iter().map(|m| m.size).collect();
    let md_sizes: Vec<u64> = md.messages().iter().map(|m| m.size).collect();
    assert_eq!(pg_sizes, md_sizes);
    for (i, m) in messages.iter().enumerate() {
        let (body, _) = rt.block_on(read_all(pg.as_ref(), i, 65536));
        assert_eq!(&body, m, "message {i}");
        let uidl = &pg.messages()[i].uidl;
        assert!(
            (1..=70).contains(&uidl.len()) && uidl.bytes().all(|b| (0x21..=0x7e).contains(&b)),
            "{uidl}"
        );
    }
}

#[test]
fn retr_streams_a_5_mb_message_in_chunks() {
    let Some(c) = cluster() else { return };
    let rt = runtime();
    let store = rt.block_on(PgStore::connect(&c.settings())).unwrap();
    let msg: Vec<u8> = (0..5 * 1024 * 1024u32)
        .map(|i| {
            if i % 77 == 76 {
                b'\n'
            } else {
                b'a' + (i % 23) as u8
            }
        })
        .collect();
    let started = Instant::now();
    rt.block_on(deliver(&store, &["big"], &msg));
    let delivered = started.elapsed();
    let mb = rt.block_on(store.open_pop3("big")).unwrap();
    assert_eq!(
        mb.messages()[0].size,
        buzon_pop3_proto::wire::WireSize::of(&msg)
    );
    let started = Instant::now();
    let (body, chunks) = rt.block_on(read_all(mb.as_ref(), 0, 64 * 1024));
    eprintln!(
        "5 MB message: delivered in {delivered:?}, streamed in {:?} ({chunks} chunks)",
        started.elapsed()
    );
    assert!(body == msg, "the streamed message differs");
    assert!(chunks >= 80, "5 MB in {chunks} chunks");
}

/// A message of `len` bytes whose every byte depends on its position (lines of 61).
fn patterned(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            if i % 61 == 60 {
                b'\n'
            } else {
                b'!' + ((i / 61 + i % 61) % 90) as u8
            }
        })
        .collect()
}

#[test]
fn retr_and_top_reads_return_the_exact_bytes_at_chunk_boundaries() {
    let Some(c) = cluster() else { return };
    let rt = runtime();
    let store = rt.block_on(PgStore::connect(&c.settings())).unwrap();
    let chunk = buzon_store_pg::CHUNK_SIZE;
    // Around one chunk, a batch of chunks (two) and beyond, plus the smallest.
    let mut sizes = vec![0, 1, 4095, 4096, 4097];
    for k in 1..=5 {
        sizes.extend([k * chunk - 1, k * chunk, k * chunk + 1]);
    }
    for &len in &sizes {
        rt.block_on(deliver(&store, &["edges"], &patterned(len)));
    }
    let mb = rt.block_on(store.open_pop3("edges")).unwrap();
    assert_eq!(mb.messages().len(), sizes.len());
    for (i, &len) in sizes.iter().enumerate() {
        let msg = patterned(len);
        assert_eq!(
            mb.messages()[i].size,
            buzon_pop3_proto::wire::WireSize::of(&msg)
        );
        // RETR reads (a whole chunk first), TOP reads (a 4 KiB prefix of chunk 0 first,
        // then the rest of it, then whole chunks), and odd small pieces.
        for limit in [chunk, 4096, 1000] {
            let (body, _) = rt.block_on(read_all(mb.as_ref(), i, limit));
            assert!(
                body == msg,
                "message of {len} bytes read {limit} at a time: got {} bytes, differs at {:?}",
                body.len(),
                body.iter().zip(&msg).position(|(a, b)| a != b)
            );
        }
    }
    // A reader dropped halfway (TOP, or a client gone) leaves the session usable.
    let last = sizes.len() - 1;
    rt.block_on(async {
        let mut reader = mb.open_message(last, 4096).await.unwrap();
        let first = reader.next_chunk(4096).await.unwrap().to_vec();
        assert_eq!(first, patterned(sizes[last])[..4096]);
    });
    let (body, _) = rt.block_on(read_all(mb.as_ref(), last, chunk));
    assert!(body == patterned(sizes[last]));
}

#[test]
fn a_version_1_database_with_mail_is_brought_to_the_current_schema_and_reads_the_same() {
    let Some(c) = cluster() else { return };
    let rt = runtime();
    let chunk = buzon_store_pg::CHUNK_SIZE;
    rt.block_on(async {
        // A database as a version-1 node left it: schema 0001 and a message of three
        // chunks stored by plain SQL, compressed (the version-1 storage of `data`).
        let raw = raw_client(&c).await;
        raw.batch_execute(
            "CREATE TABLE buzon_schema (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL);
             INSERT INTO buzon_schema (id, version) VALUES (1, 1);",
        )
        .await
        .unwrap();
        raw.batch_execute(include_str!("../schema/0001_init.sql"))
            .await
            .unwrap();
        let msg = patterned(2 * chunk + 5000);
        raw.batch_execute(
            "INSERT INTO mailboxes (name) VALUES ('old');
             INSERT INTO folders (mailbox, name) SELECT id, '' FROM mailboxes WHERE name = 'old';",
        )
        .await
        .unwrap();
        let wire = buzon_pop3_proto::wire::WireSize::of(&msg) as i64;
        let id: i64 = raw
            .query_one(
                "INSERT INTO messages (mailbox, folder, uidl, wire_size, raw_size)
                 SELECT f.mailbox, f.id, 'old-uidl', $1, $2 FROM folders f
                 JOIN mailboxes m ON m.id = f.mailbox WHERE m.name = 'old' RETURNING id",
                &[&wire, &(msg.len() as i64)],
            )
            .await
            .unwrap()
            .get(0);
        for (seq, part) in msg.chunks(chunk).enumerate() {
            raw.execute(
                "INSERT INTO message_chunks (message, seq, data) VALUES ($1, $2, $3)",
                &[&id, &(seq as i32), &part],
            )
            .await
            .unwrap();
        }
        let compressed: i64 = raw
            .query_one(
                "SELECT count(*) FROM message_chunks WHERE pg_column_size(data) < octet_length(data)",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert!(compressed >= 2, "version-1 rows were not stored compressed");

        let store = PgStore::connect(&c.settings()).await.unwrap();
        let v: i32 = raw
            .query_one("SELECT version FROM buzon_schema", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(v, SCHEMA_VERSION);
        let storage: i8 = raw
            .query_one(
                "SELECT attstorage FROM pg_attribute
                 WHERE attrelid = 'message_chunks'::regclass AND attname = 'data'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(storage as u8, b'e', "message bodies are not stored uncompressed");

        // The old message reads the same, whole and from a TOP prefix.
        let mb = store.open_pop3("old").await.unwrap();
        assert_eq!(mb.messages().len(), 1);
        assert_eq!(mb.messages()[0].uidl, "old-uidl");
        assert_eq!(mb.messages()[0].size, wire as u64);
        for limit in [chunk, 4096] {
            let (body, _) = read_all(mb.as_ref(), 0, limit).await;
            assert!(body == msg, "the version-1 message reads differently ({limit})");
        }
        mb.release().await;
        drop(mb);

        // A new delivery is stored uncompressed and reads the same.
        deliver(&store, &["new"], &msg).await;
        let uncompressed: i64 = raw
            .query_one(
                "SELECT count(*) FROM message_chunks c JOIN messages m ON m.id = c.message
                 JOIN mailboxes b ON b.id = m.mailbox
                 WHERE b.name = 'new' AND pg_column_size(c.data) >= octet_length(c.data)",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(uncompressed, 3, "new chunks are not stored uncompressed");
        let mb = store.open_pop3("new").await.unwrap();
        let (body, _) = read_all(mb.as_ref(), 0, 4096).await;
        assert!(body == msg);
    });
}

#[test]
fn a_second_node_gets_in_use_until_the_first_session_ends() {
    let Some(c) = cluster() else { return };
    let rt = runtime();
    rt.block_on(async {
        let node1 = PgStore::connect(&c.settings()).await.unwrap();
        let node2 = PgStore::connect(&c.settings()).await.unwrap();
        let first = node1.open_pop3("alice").await.unwrap();
        assert!(matches!(
            node2.open_pop3("alice").await,
            Err(StoreError::InUse)
        ));
        assert!(matches!(
            node1.open_pop3("Alice").await,
            Err(StoreError::InUse)
        ));
        drop(first);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match node2.open_pop3("alice").await {
                Ok(_) => break,
                Err(StoreError::InUse) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e) => panic!("the released mailbox stays locked: {e}"),
            }
        }
    });
}

#[test]
fn a_silent_session_loses_its_mailbox_and_then_deletes_nothing() {
    let Some(c) = cluster() else { return };
    let rt = runtime();
    rt.block_on(async {
        let node1 = PgStore::connect(&short_lease(&c)).await.unwrap();
        let node2 = PgStore::connect(&short_lease(&c)).await.unwrap();
        deliver(&node1, &["bob"], b"one\r\n").await;
        deliver(&node1, &["bob"], b"two\r\n").await;
        // A session that shows activity keeps its mailbox past the lease.
        let active = node1.open_pop3("bob").await.unwrap();
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            active.touch();
            assert!(matches!(
                node2.open_pop3("bob").await,
                Err(StoreError::InUse)
            ));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        drop(active);

        let deadline = Instant::now() + Duration::from_secs(10);
        let silent = loop {
            match node1.open_pop3("bob").await {
                Ok(mb) => break mb,
                Err(StoreError::InUse) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e) => panic!("{e}"),
            }
        };
        let started = Instant::now();
        let deadline = Instant::now() + Duration::from_secs(20);
        let second = loop {
            match node2.open_pop3("bob").await {
                Ok(mb) => break mb,
                Err(StoreError::InUse) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert!(
            started.elapsed() >= Duration::from_millis(1500),
            "taken over after {:?}",
            started.elapsed()
        );
        let e = silent.expunge(vec![0, 1]).await.err().unwrap();
        assert!(
            matches!(e, StoreError::Unavailable(_)) && e.to_string().contains("lease lost"),
            "{e}"
        );
        assert!(silent.open_message(0, 100).await.is_err());
        assert_eq!(second.messages().len(), 2);
        drop(second);
        drop(silent);
        let u = usage(&node1, "bob").await;
        assert_eq!(u.messages, 2);
    });
}

#[test]
fn expunge_deletes_the_marked_messages_and_keeps_usage() {
    let Some(c) = cluster() else { return };
    let rt = runtime();
    rt.block_on(async {
        let store = PgStore::connect(&c.settings()).await.unwrap();
        for m in ["1\r\n", "22\r\n", "333\r\n"] {
            deliver(&store, &["carol"], m.as_bytes()).await;
        }
        let mb = store.open_pop3("carol").await.unwrap();
        let keep = mb.messages()[1].clone();
        assert!(matches!(
            mb.expunge(vec![0, 7]).await,
            Err(StoreError::Invalid(_))
        ));
        let report = mb.expunge(vec![0, 2, 2]).await.unwrap();
        assert_eq!((report.deleted, report.already_gone), (2, 0));
        drop(mb);
        let u = usage(&store, "carol").await;
        assert_eq!((u.messages, u.bytes), (1, keep.size));
        let deadline = Instant::now() + Duration::from_secs(10);
        let mb = loop {
            match store.open_pop3("carol").await {
                Ok(mb) => break mb,
                Err(StoreError::InUse) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(mb.messages(), &[keep]);
    });
}

#[test]
fn a_database_stopped_mid_session_gives_unavailable_and_service_resumes() {
    let Some(c) = cluster() else { return };
    let rt = runtime();
    rt.block_on(async {
        let store = PgStore::connect(&short_lease(&c)).await.unwrap();
        deliver(&store, &["dave"], b"hello\r\n").await;
        let mb = store.open_pop3("dave").await.unwrap();
        store.ping().await.unwrap();
        c.stop().unwrap();
        assert!(store.ping().await.err().unwrap().is_temporary());
        let e = mb.open_message(0, 100).await.err().unwrap();
        assert!(matches!(e, StoreError::Unavailable(_)), "{e}");
        assert!(e.to_string().contains(&c.url()), "{e}");
        let e = store.open_pop3("erin").await.err().unwrap();
        assert!(e.is_temporary(), "{e}");
        let e = mb.expunge(vec![0]).await.err().unwrap();
        assert!(e.is_temporary(), "{e}");
        drop(mb);
        c.start_again().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mb = loop {
            match store.open_pop3("dave").await {
                Ok(mb) => break mb,
                Err(e) if Instant::now() < deadline && e.is_temporary() => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(mb.messages().len(), 1);
        let (body, _) = read_all(mb.as_ref(), 0, 1024).await;
        assert_eq!(body, b"hello\r\n");
        store.ping().await.unwrap();
    });
}

#[test]
fn users_add_passwd_del_list_bump_the_serial() {
    let Some(c) = cluster() else { return };
    runtime().block_on(async {
        let store = PgStore::connect(&c.settings()).await.unwrap();
        let s0 = store.users_serial().await.unwrap();
        // The server runs these on spawned tasks: the futures are Send.
        let s2 = store.clone();
        tokio::spawn(async move {
            s2.add_user("alice", "{PLAIN}one").await.unwrap();
            s2.user_snapshot().await.unwrap();
            s2.users_serial().await.unwrap();
            s2.ping().await.unwrap();
            s2.list_messages("alice", None).await.unwrap();
            s2.list_folders("alice").await.unwrap();
        })
        .await
        .unwrap();
        let e = store
            .add_user("Alice", "{PLAIN}x")
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("already exists"), "{e}");
        store.add_user("bob", "{SHA256-CRYPT}$5$abc").await.unwrap();
        let s1 = store.users_serial().await.unwrap();
        assert_eq!(s1, s0 + 2);
        store.set_password("ALICE", "{PLAIN}two").await.unwrap();
        store
            .set_extra(
                "bob",
                &[("userdb_quota_rule".into(), "*:storage=1G".into())],
            )
            .await
            .unwrap();
        let (serial, users) = store.user_snapshot().await.unwrap();
        assert_eq!(serial, s1 + 2);
        assert_eq!(users.len(), 2);
        assert_eq!(users[0].password, "{PLAIN}two");
        assert_eq!(
            users[1].extra_field("userdb_quota_rule"),
            Some("*:storage=1G")
        );
        let e = store.remove_user("nobody").await.err().unwrap().to_string();
        assert!(e.contains("no user nobody"), "{e}");
        let e = store.add_user("bad:name", "{PLAIN}x").await.err().unwrap();
        assert!(matches!(e, StoreError::Invalid(_)));
        store.remove_user("alice").await.unwrap();
        assert_eq!(store.list_users().await.unwrap(), vec!["bob".to_string()]);
        assert_eq!(store.users_serial().await.unwrap(), serial + 1);
    });
}

#[test]
fn import_keeps_uidl_time_and_folder_and_resumes() {
    let Some(c) = cluster() else { return };
    runtime().block_on(async {
        let store = PgStore::connect(&c.settings()).await.unwrap();
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let big = vec![b'y'; 300_000];
        assert!(store
            .import_message("fred", None, "old-uidl-1", at, b"a\n")
            .await
            .unwrap());
        assert!(store
            .import_message("fred", Some("Archive"), "old-uidl-2", at, &big)
            .await
            .unwrap());
        assert!(!store
            .import_message("fred", None, "old-uidl-1", at, b"a\n")
            .await
            .unwrap());
        assert!(store
            .import_message("fred", None, "bad uidl", at, b"a\n")
            .await
            .is_err());
        assert_eq!(
            store.list_folders("fred").await.unwrap(),
            vec![None, Some("Archive".to_string())]
        );
        let inbox = store.list_messages("fred", None).await.unwrap();
        assert_eq!(inbox.len(), 1);
        assert_eq!(
            (inbox[0].uidl.as_str(), inbox[0].size, inbox[0].delivered_at),
            ("old-uidl-1", 3, at)
        );
        let archive = store.list_messages("fred", Some("Archive")).await.unwrap();
        let mut reader = store.read_message(archive[0].id).await.unwrap();
        let mut body = Vec::new();
        loop {
            let chunk = reader.next(100_000).await.unwrap();
            if chunk.is_empty() {
                break;
            }
            body.extend_from_slice(chunk);
        }
        assert_eq!(body, big);
    });
}

/// A TCP proxy to the cluster that can freeze: while frozen it relays nothing and
/// closes nothing, as a network split between a node and the database looks.
struct SplitProxy {
    port: u16,
    frozen: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl SplitProxy {
    async fn start(target_port: u16) -> SplitProxy {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let frozen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let f = frozen.clone();
        tokio::spawn(async move {
            // Ends with the test's runtime.
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", target_port)).await
                else {
                    continue;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                for (mut from, mut to) in [
                    (
                        Box::new(cr) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                        Box::new(sw) as Box<dyn tokio::io::AsyncWrite + Unpin + Send>,
                    ),
                    (Box::new(sr), Box::new(cw)),
                ] {
                    let f = f.clone();
                    tokio::spawn(async move {
                        let mut buf = vec![0u8; 65536];
                        loop {
                            while f.load(Ordering::SeqCst) {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                            let n = match from.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            while f.load(Ordering::SeqCst) {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                            if to.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            }
        });
        SplitProxy { port, frozen }
    }
}

#[test]
fn a_node_cut_off_from_the_database_stops_serving_before_another_takes_over() {
    let Some(c) = cluster() else { return };
    let rt = runtime();
    rt.block_on(async {
        let proxy = SplitProxy::start(c.port()).await;
        let mut cut = short_lease(&c);
        cut.url = format!("postgresql://buzon@127.0.0.1:{}/buzon", proxy.port);
        let node1 = PgStore::connect(&cut).await.unwrap();
        let node2 = PgStore::connect(&short_lease(&c)).await.unwrap();
        deliver(&node2, &["gina"], b"kept\r\n").await;
        let mb = node1.open_pop3("gina").await.unwrap();
        read_all(mb.as_ref(), 0, 1024).await;

        proxy
            .frozen
            .store(true, std::sync::atomic::Ordering::SeqCst);
        // Node 1 keeps trying to serve (an active session); node 2 keeps trying to log in.
        let mut last_served = Instant::now();
        let deadline = Instant::now() + Duration::from_secs(20);
        let taken_at = loop {
            mb.touch();
            match tokio::time::timeout(Duration::from_millis(100), mb.open_message(0, 10)).await {
                Ok(Ok(_)) => last_served = Instant::now(),
                Ok(Err(e)) => assert!(e.to_string().contains("lease lost"), "{e}"),
                Err(_) => {}
            }
            let sent = Instant::now();
            match node2.open_pop3("gina").await {
                Ok(second) => break (sent, second),
                Err(StoreError::InUse) => {}
                Err(e) => panic!("{e}"),
            }
            assert!(Instant::now() < deadline, "node 2 never got the mailbox");
        };
        let (sent, second) = taken_at;
        assert!(
            last_served < sent,
            "node 1 served {:?} after node 2 asked for the mailbox it then got",
            last_served - sent
        );
        // Reachable again: node 1's session stays refused and deletes nothing.
        proxy
            .frozen
            .store(false, std::sync::atomic::Ordering::SeqCst);
        let e = mb.expunge(vec![0]).await.err().unwrap();
        assert!(e.to_string().contains("lease lost"), "{e}");
        assert!(mb.open_message(0, 10).await.is_err());
        assert_eq!(second.messages().len(), 1);
    });
}

#[test]
fn tls_to_the_database_verifies_the_server_certificate() {
    let Some(c) = cluster() else { return };
    let ca = buzon_testkit::TestCa::new();
    let certs = tempfile::tempdir().unwrap();
    let issued = ca.issue(certs.path(), &["127.0.0.1"], (-1, 30));
    let ca_file = certs.path().join("ca.pem");
    ca.write_pem(&ca_file);
    let rt = runtime();
    rt.block_on(async {
        // Asked for TLS from a server without it: refused, not sent in the clear.
        let mut s = c.settings();
        s.url = format!("{}?sslmode=require", c.url());
        s.ca_file = Some(ca_file.clone());
        let e = PgStore::connect(&s).await.err().unwrap().to_string();
        assert!(
            e.contains(&s.url) && e.contains("ssl = on") && !e.contains('\n'),
            "{e}"
        );

        c.enable_tls(&issued.cert_path, &issued.key_path).unwrap();
        let store = PgStore::connect(&s).await.unwrap();
        deliver(&store, &["tls"], b"over tls\r\n").await;
        let mb = store.open_pop3("tls").await.unwrap();
        assert_eq!(read_all(mb.as_ref(), 0, 1024).await.0, b"over tls\r\n");

        // A certificate the configured CA did not sign is refused.
        let other = buzon_testkit::TestCa::new();
        let other_file = certs.path().join("other.pem");
        other.write_pem(&other_file);
        s.ca_file = Some(other_file);
        let e = PgStore::connect(&s).await.err().unwrap().to_string();
        assert!(
            e.contains(&s.url) && e.contains("does not trust") && e.contains("ca_file"),
            "{e}"
        );
    });
}

#[test]
fn a_mailbox_of_100000_messages_opens_without_reading_bodies() {
    let Some(c) = cluster() else { return };
    runtime().block_on(async {
        let store = PgStore::connect(&c.settings()).await.unwrap();
        // One real delivery creates the mailbox; the rest are written in bulk.
        deliver(&store, &["many"], b"first\r\n").await;
        let raw = raw_client(&c).await;
        raw.batch_execute(
            "INSERT INTO messages (mailbox, folder, uidl, wire_size, raw_size)
                 SELECT f.mailbox, f.id, 'bulk-' || g, 7, 7
                 FROM folders f JOIN mailboxes m ON m.id = f.mailbox,
                      generate_series(2, 100000) g
                 WHERE m.name = 'many' AND f.name = '';
             INSERT INTO message_chunks (message, seq, data)
                 SELECT id, 0, 'bulk\r\n.'::bytea FROM messages WHERE uidl LIKE 'bulk-%';
             UPDATE mailboxes SET messages = 100000, bytes = 7 * 100000 WHERE name = 'many';",
        )
        .await
        .unwrap();
        let started = Instant::now();
        drop(store.open_pop3("many").await.unwrap());
        let first = started.elapsed();
        let deadline = Instant::now() + Duration::from_secs(10);
        let (mb, second) = loop {
            let started = Instant::now();
            match store.open_pop3("many").await {
                Ok(mb) => break (mb, started.elapsed()),
                Err(StoreError::InUse) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(mb.messages().len(), 100_000);
        assert_eq!(mb.messages()[0].size, 7);
        assert_eq!(mb.messages()[99_999].uidl, "bulk-100000");
        eprintln!("100000-message mailbox: first open {first:?}, second open {second:?}");
    });
}

#[test]
fn expunge_checks_the_lease_in_its_own_transaction() {
    let Some(c) = cluster() else { return };
    runtime().block_on(async {
        let store = PgStore::connect(&c.settings()).await.unwrap();
        deliver(&store, &["hank"], b"keep me\r\n").await;
        let mb = store.open_pop3("hank").await.unwrap();
        // Another holder took the row while this node still believes it holds it (what a
        // clock jump on the database or an operator could do).
        let raw = raw_client(&c).await;
        raw.execute(
            "UPDATE leases SET holder = 'other-node/1/x' WHERE mailbox = 'hank'",
            &[],
        )
        .await
        .unwrap();
        let e = mb.expunge(vec![0]).await.err().unwrap();
        assert!(e.to_string().contains("nothing deleted"), "{e}");
        let left: i64 = raw
            .query_one("SELECT count(*) FROM messages", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(left, 1);
        // The session is over locally too.
        assert!(mb.open_message(0, 10).await.is_err());
    });
}

/// Messages read ahead (the TOP prefixes or whole small bodies of the next messages,
/// fetched with the one asked for) are the exact bytes whatever order a client asks in:
/// forwards, backwards, skipping, the same message twice, TOP and RETR mixed.
#[test]
fn read_ahead_gives_exact_bytes_in_any_order() {
    let Some(c) = cluster() else { return };
    let rt = runtime();
    let store = rt.block_on(PgStore::connect(&c.settings())).unwrap();
    let chunk = buzon_store_pg::CHUNK_SIZE;
    let sizes: Vec<usize> = (0..40)
        .map(|i| match i % 5 {
            0 => 10 + i,
            1 => 4000 + i * 13,
            2 => 60_000 + i,
            3 => chunk + i,
            _ => 200 + i * 7,
        })
        .collect();
    for &len in &sizes {
        rt.block_on(deliver(&store, &["ahead"], &patterned(len)));
    }
    let mb = rt.block_on(store.open_pop3("ahead")).unwrap();
    let order: Vec<(usize, usize)> = [0, 1, 2, 3, 4, 5, 9, 7, 8, 8, 30, 2, 31, 32, 39, 38, 0, 20]
        .iter()
        .enumerate()
        .map(|(k, &i)| (i, if k % 3 == 0 { 4096 } else { chunk }))
        .collect();
    for (i, limit) in order {
        let (body, _) = rt.block_on(read_all(mb.as_ref(), i, limit));
        assert!(
            body == patterned(sizes[i]),
            "message {i} ({} bytes) read {limit} at a time after others: got {} bytes",
            sizes[i],
            body.len()
        );
    }
}
