//! Streaming one message from the POP3 session into the destination: the network side
//! reads the body line by line (CRLF → LF) and hands bounded chunks to a storage thread,
//! which writes them into the Maildir's `tmp/` file or a private spool file.
//!
//! Memory stays bounded whatever the message's size (no message is ever held whole),
//! and nothing half-received is ever committed: the storage side sees the end of the
//! message only after the ".\r\n" terminator was read.

use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::FetchOptions;
use crate::config::Account;
use crate::deliver::{self, Destination, MboxLock, Outcome};
use crate::error::{ClientError, Result};
use crate::ledger::Ledger;
use crate::pop3::Pop3Client;

/// A piece of a message on its way from the network to the storage thread.
enum Chunk {
    Data(Vec<u8>),
    /// The whole message arrived (the ".\r\n" terminator was read).
    End,
}

/// The storage thread's view of a message being downloaded. A message is complete only
/// after [`Chunk::End`]: if the download stops first (connection lost, run cancelled),
/// reading fails, so nothing half-received is ever committed.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Chunk>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.pos < self.cur.len() {
                let n = buf.len().min(self.cur.len() - self.pos);
                buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if self.done {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Chunk::Data(d)) => {
                    self.cur = d;
                    self.pos = 0;
                }
                Some(Chunk::End) => self.done = true,
                None => {
                    return Err(std::io::Error::other(
                        "the download stopped before the end of the message",
                    ))
                }
            }
        }
    }
}

/// How much is handed to the storage thread at once, and how many such pieces may wait:
/// together the bound on the memory a message takes, whatever its size.
const CHUNK_BYTES: usize = 256 * 1024;
const CHUNKS_IN_FLIGHT: usize = 4;

/// Reads the body of a `+OK` to RETR or TOP and streams it, CRLF → LF, into the account's
/// destination on a storage thread. Returns the ledger, the outcome, and the octets
/// received. `after_retr` runs once the whole body has been received.
#[allow(clippy::too_many_arguments)]
pub(super) async fn retrieve_and_store(
    client: &mut Pop3Client,
    during: &'static str,
    account: &Account,
    ledger: Ledger,
    key: String,
    opts: &FetchOptions,
    now: u64,
    after_retr: impl FnOnce(),
) -> Result<(Ledger, Outcome, u64)> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(CHUNKS_IN_FLIGHT);
    let reader = ChannelReader {
        rx,
        cur: Vec::new(),
        pos: 0,
        done: false,
    };
    let dest = account.destination.clone();
    let acct = account.name.clone();
    let mda_timeout = opts.mda_timeout;
    let spool = ledger.spool_path();
    let task = tokio::task::spawn_blocking(move || {
        store_blocking(dest, &acct, ledger, key, reader, now, mda_timeout, &spool)
    });
    // Pump: Ok(Some(octets)) all sent, Ok(None) the storage side stopped (its error
    // tells why), Err the download failed.
    let pumped: Result<Option<u64>> = async {
        let mut buf = Vec::with_capacity(CHUNK_BYTES + 1024);
        let mut octets = 0u64;
        while let Some(line) = client.body_line(during).await? {
            octets += line.len() as u64;
            match line.strip_suffix(b"\r\n") {
                Some(l) => {
                    buf.extend_from_slice(l);
                    buf.push(b'\n');
                }
                None => buf.extend_from_slice(&line),
            }
            if buf.len() >= CHUNK_BYTES {
                let full = std::mem::replace(&mut buf, Vec::with_capacity(CHUNK_BYTES + 1024));
                if tx.send(Chunk::Data(full)).await.is_err() {
                    return Ok(None);
                }
            }
        }
        if !buf.is_empty() && tx.send(Chunk::Data(buf)).await.is_err() {
            return Ok(None);
        }
        if tx.send(Chunk::End).await.is_err() {
            return Ok(None);
        }
        Ok(Some(octets))
    }
    .await;
    drop(tx);
    if matches!(pumped, Ok(Some(_))) {
        after_retr();
    }
    let stored = task
        .await
        .map_err(|e| ClientError::Config(format!("internal: a storage task failed: {e}")));
    match (pumped, stored) {
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) | (Ok(_), Ok(Err(e))) => Err(e),
        (Ok(Some(octets)), Ok(Ok((l, o)))) => Ok((l, o, octets)),
        (Ok(None), Ok(Ok(_))) => Err(ClientError::Config(
            "internal: the storage side stopped without an error".into(),
        )),
    }
}

/// Stores one message read from `reader` (LF line ends) in the destination, under the
/// ledger's pending records where the destination needs them. Runs on a blocking thread.
#[allow(clippy::too_many_arguments)]
fn store_blocking(
    dest: Destination,
    acct: &str,
    mut ledger: Ledger,
    key: String,
    mut reader: ChannelReader,
    now: u64,
    mda_timeout: Duration,
    spool_path: &std::path::Path,
) -> Result<(Ledger, Outcome)> {
    let now_t = SystemTime::UNIX_EPOCH + Duration::from_secs(now);
    let outcome = match &dest {
        Destination::Maildir(dir) => {
            deliver::store_maildir_from(dir, &deliver::maildir_tag(acct, &key), &mut reader)
        }
        Destination::Mbox(path) => {
            let mut spool = deliver::Spool::fill(spool_path, &mut reader)?;
            let sender = deliver::mbox_sender(&mut spool.reader()?);
            // First pass: the entry's length and hash, for the ledger before appending.
            let mut sink = HashingSink::default();
            deliver::write_mbox_entry(&mut spool.reader()?, &sender, now_t, &mut sink)
                .map_err(|e| ClientError::delivery(spool_path, e))?;
            let (len, sha) = (sink.len, hex::encode(sink.hash.finalize()));
            let r = (|| {
                let mut lock = MboxLock::acquire(path)?;
                let offset = lock.len()?;
                ledger.record_mbox_pending(&key, offset, len, &sha)?;
                let mut src = spool.reader()?;
                lock.append_with(&mut |w| deliver::write_mbox_entry(&mut src, &sender, now_t, w))?;
                Ok(Outcome::Stored(format!("mbox:{offset}")))
            })();
            if r.is_err() {
                let _ = ledger.forget(&key);
            }
            r
        }
        Destination::Mda { program, args } => {
            let mut spool = deliver::Spool::fill(spool_path, &mut reader)?;
            ledger.record_mda_pending(&key).and_then(|()| {
                match deliver::run_mda_from(program, args, spool.file()?, mda_timeout) {
                    Ok(Outcome::Deferred(r)) => {
                        let _ = ledger.forget(&key);
                        Ok(Outcome::Deferred(r))
                    }
                    other => other,
                }
            })
        }
    };
    outcome.map(|o| (ledger, o))
}

/// Counts and hashes what is written to it.
#[derive(Default)]
struct HashingSink {
    len: u64,
    hash: Sha256,
}

impl std::io::Write for HashingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.hash.update(buf);
        self.len += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
