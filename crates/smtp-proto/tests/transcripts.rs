//! Replays the example sessions in `tests/transcripts/*.txt` against [`Session`].
//!
//! A small in-memory driver plays the server around the state machine. Every transcript
//! runs twice: each group of `C:` lines fed in one piece (pipelined), and byte by byte,
//! so buffer boundaries can never change what the server says.
//!
//! Directives (the file format is the one of `buzon_pop3_proto::transcript`):
//!
//! | directive | meaning |
//! |---|---|
//! | `@mode smtp\|lmtp` | the protocol |
//! | `@hostname NAME` | the server's name |
//! | `@starttls on` | STARTTLS is offered |
//! | `@unknown LOCAL` | RCPT for this local part gets 550 5.1.1 |
//! | `@overquota LOCAL` | delivery to this local part fails with 452 4.2.2 |
//! | `@tls` | the TLS handshake the server just asked for happens now |
//! | `@expect-message ESCAPED` | the last message delivered, unstuffed |
//! | `@expect-recipients A,B` | the recipients of the last message |
//! | `@closed` | the session has ended |

// Helpers outside #[test] functions fail the test by panicking too (clippy.toml's
// allow-unwrap-in-tests covers only the test functions themselves).
#![allow(clippy::unwrap_used)]

use std::path::Path;

use buzon_smtp_proto::reply::{self, Reply};
use buzon_smtp_proto::{Event, Mode, Session, SessionConfig};
use buzon_testkit::transcript::{self, Expect, Item};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Feed {
    Whole,
    Bytes,
}

struct Driver {
    session: Session<String>,
    out: Vec<u8>,
    unknown: Vec<String>,
    overquota: Vec<String>,
    lmtp: bool,
    current: Vec<u8>,
    last_message: Option<(Vec<u8>, Vec<String>)>,
    want_tls: bool,
    closed: bool,
}

impl Driver {
    /// Runs events until the session needs input (or closes / waits for TLS).
    fn pump(&mut self) {
        for _ in 0..10_000 {
            match self.session.next_event(&mut self.out) {
                Event::NeedInput => return,
                Event::Recipient(to) => {
                    let local = to.local_part().to_ascii_lowercase();
                    if self.unknown.contains(&local) {
                        self.session
                            .reject_recipient(reply::unknown_user(), &mut self.out);
                    } else {
                        self.session.accept_recipient(to.to_string(), &mut self.out);
                    }
                }
                Event::DataStart => self.current.clear(),
                Event::Data(d) => self.current.extend_from_slice(&d),
                Event::Message => {
                    let rcpts: Vec<String> = self
                        .session
                        .envelope()
                        .map(|e| e.recipients.iter().map(|(_, r)| r.clone()).collect())
                        .unwrap_or_default();
                    let mut replies: Vec<Reply> = rcpts
                        .iter()
                        .map(|r| {
                            let local = r.split('@').next().unwrap_or("").to_ascii_lowercase();
                            if self.overquota.contains(&local) {
                                reply::over_quota(false)
                            } else if self.lmtp {
                                reply::delivered_to(r, "t1")
                            } else {
                                reply::delivered("t1")
                            }
                        })
                        .collect();
                    if !self.lmtp {
                        replies = vec![replies
                            .iter()
                            .find(|r| !r.is_positive())
                            .cloned()
                            .unwrap_or_else(|| reply::delivered("t1"))];
                    }
                    self.last_message = Some((std::mem::take(&mut self.current), rcpts));
                    self.session.finish_message(replies, &mut self.out);
                }
                Event::MessageTooBig => self.current.clear(),
                Event::StartTls => {
                    self.want_tls = true;
                    return;
                }
                Event::Close => {
                    self.closed = true;
                    return;
                }
            }
        }
        panic!("the session never asked for input");
    }

    fn send(&mut self, bytes: &[u8], feed: Feed) {
        match feed {
            Feed::Whole => {
                self.session.feed(bytes);
                self.pump();
            }
            Feed::Bytes => {
                for b in bytes {
                    if self.closed || self.want_tls {
                        // Bytes after STARTTLS's reply are never read (RFC 3207 §4.2).
                        return;
                    }
                    self.session.feed(std::slice::from_ref(b));
                    self.pump();
                }
            }
        }
    }

    fn next_line(&mut self) -> Option<Vec<u8>> {
        let i = self.out.windows(2).position(|w| w == b"\r\n")?;
        let line = self.out[..i].to_vec();
        self.out.drain(..i + 2);
        Some(line)
    }
}

fn run(path: &Path, feed: Feed) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let items = transcript::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut config = SessionConfig::default();
    let mut unknown = Vec::new();
    let mut overquota = Vec::new();
    let mut body = Vec::new();
    for item in items {
        match item {
            Item::Directive { key, value } => match key.as_str() {
                "mode" => {
                    config.mode = if value == "lmtp" {
                        Mode::Lmtp
                    } else {
                        Mode::Smtp
                    }
                }
                "hostname" => config.hostname = value,
                "starttls" => config.starttls = value == "on",
                "unknown" => unknown.push(value.to_ascii_lowercase()),
                "overquota" => overquota.push(value.to_ascii_lowercase()),
                _ => body.push(Item::Directive { key, value }),
            },
            other => body.push(other),
        }
    }
    let mut d = Driver {
        lmtp: config.mode == Mode::Lmtp,
        session: Session::new(config, false),
        out: Vec::new(),
        unknown,
        overquota,
        current: Vec::new(),
        last_message: None,
        want_tls: false,
        closed: false,
    };
    d.session.greeting(&mut d.out);
    let mut pending: Vec<u8> = Vec::new();
    for (step, item) in body.into_iter().enumerate() {
        let at = format!("{name} ({feed:?}) item {step}");
        match item {
            Item::Client(line) => {
                pending.extend_from_slice(&line);
                pending.extend_from_slice(b"\r\n");
            }
            Item::Server(expect) => {
                if !pending.is_empty() {
                    let p = std::mem::take(&mut pending);
                    d.send(&p, feed);
                }
                let line = d.next_line().unwrap_or_else(|| {
                    panic!("{at}: expected {expect}, the server sent nothing more")
                });
                assert!(
                    expect.matches(&line),
                    "{at}: expected {expect}, got {:?}",
                    String::from_utf8_lossy(&line)
                );
                if let Expect::Exact(_) = expect {}
            }
            Item::Directive { key, value } => match key.as_str() {
                "tls" => {
                    assert!(d.want_tls, "{at}: the server did not ask for TLS");
                    d.want_tls = false;
                    d.session.tls_established();
                    d.pump();
                }
                "expect-message" => {
                    let want = transcript::unescape(&value).unwrap_or_else(|e| panic!("{at}: {e}"));
                    let got = d.last_message.as_ref().map(|(m, _)| m.clone());
                    assert_eq!(got.as_deref(), Some(&want[..]), "{at}");
                }
                "expect-recipients" => {
                    let want: Vec<String> = value.split(',').map(str::to_string).collect();
                    assert_eq!(
                        d.last_message.as_ref().map(|(_, r)| r.clone()),
                        Some(want),
                        "{at}"
                    );
                }
                "closed" => {
                    if !pending.is_empty() {
                        let p = std::mem::take(&mut pending);
                        d.send(&p, feed);
                    }
                    assert!(d.closed, "{at}: the session is still open");
                }
                other => panic!("{at}: unknown directive @{other}"),
            },
        }
    }
    assert!(
        pending.is_empty(),
        "{name}: client lines at the end without a server reply"
    );
    assert!(
        d.out.is_empty(),
        "{name} ({feed:?}): unexpected server output {:?}",
        String::from_utf8_lossy(&d.out)
    );
}

#[test]
fn transcripts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(files.len() >= 4, "transcripts missing in {}", dir.display());
    for f in files {
        run(&f, Feed::Whole);
        run(&f, Feed::Bytes);
    }
}
