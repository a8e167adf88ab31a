//! Delivery in two steps, for a message that goes to several mailboxes at once.
//!
//! [`Maildir::prepare`] writes the message under `tmp/` and fsyncs it; nothing is visible
//! yet. [`Prepared::commit`] moves it into `new/` and fsyncs `new/`, exactly as the second
//! half of [`Maildir::deliver`]. A caller that prepares every copy first and commits only
//! when all were written never leaves some mailboxes with the message and others
//! without after a write error (disk full): dropping a [`Prepared`] removes its file.

use std::fs;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use buzon_pop3_proto::wire::WireSize;

use crate::maildir::{create_tmp, fsync_dir, rename_noreplace, TmpGuard, CHUNK};
use crate::name::uidl_of_base;
use crate::{Delivered, Maildir, StoreError};

/// A message written and fsynced under `tmp/`, not yet delivered. Dropping it removes
/// the file.
#[derive(Debug)]
pub struct Prepared {
    new_dir: PathBuf,
    unique: String,
    file_name: String,
    size: u64,
    guard: TmpGuard,
}

impl std::fmt::Debug for TmpGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TmpGuard")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Maildir {
    /// The first step of [`Maildir::deliver`]: streams `reader` into a uniquely named
    /// file in `tmp/` (bounded memory) and fsyncs it. With `max_bytes`, a longer stream
    /// fails with [`StoreError::TooBig`]. On error nothing is left behind.
    pub fn prepare(
        &self,
        reader: &mut dyn Read,
        max_bytes: Option<u64>,
    ) -> Result<Prepared, StoreError> {
        let tmp_dir = self.root().join("tmp");
        let (unique, mut file, guard) = create_tmp(&tmp_dir)?;
        let tmp_path = guard.path.clone();
        let mut buf = vec![0u8; CHUNK];
        let mut total: u64 = 0;
        let mut wire = WireSize::new();
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(StoreError::io(
                        "read the message being delivered to",
                        &tmp_path,
                        e,
                    ))
                }
            };
            total = total.saturating_add(n as u64);
            if let Some(limit) = max_bytes {
                if total > limit {
                    return Err(StoreError::TooBig { limit });
                }
            }
            wire.update(&buf[..n]);
            file.write_all(&buf[..n])
                .map_err(|e| StoreError::io("write", &tmp_path, e))?;
        }
        file.sync_all()
            .map_err(|e| StoreError::io("fsync", &tmp_path, e))?;
        drop(file);
        let size = wire.finish();
        Ok(Prepared {
            new_dir: self.root().join("new"),
            file_name: format!("{unique},S={total},W={size}"),
            unique,
            size,
            guard,
        })
    }
}

impl Prepared {
    /// Appends `,T=<tag>` to the attributes of the name the message will get (validated
    /// by [`Maildir::deliver_tagged`]).
    pub(crate) fn add_tag(&mut self, tag: &str) {
        self.file_name.push_str(",T=");
        self.file_name.push_str(tag);
    }

    /// The RFC 1939 size the message will be listed with.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The second step: renames the file into `new/` (never replacing anything) and
    /// fsyncs `new/`. Only then is the message delivered; if the directory cannot be
    /// fsynced the message is withdrawn again and the error returned.
    /// Like [`Prepared::commit`], but under a base name of the caller's (a message moved
    /// from another store keeps its UIDL: `base` must be a valid primary UIDL without `,`,
    /// `:` or `/`) and with `delivered_at` as the file's modification time, the delivery
    /// time Maildir readers go by. Fails if a file of that name is already in `new/`.
    pub fn commit_as(
        mut self,
        base: &str,
        delivered_at: std::time::SystemTime,
    ) -> Result<Delivered, StoreError> {
        if uidl_of_base(base.as_bytes()) != base || base.contains([',', ':', '/']) {
            return Err(StoreError::Invalid(format!(
                "unique-id {base:?} cannot name a Maildir file (1-70 characters 0x21-0x7E without ',', ':' or '/')"
            )));
        }
        let attrs = self
            .file_name
            .split_once(',')
            .map(|(_, a)| a.to_string())
            .unwrap_or_default();
        self.file_name = format!("{base},{attrs}");
        self.unique = base.to_string();
        self.set_delivery_time(delivered_at)?;
        self.commit()
    }

    /// Like [`Prepared::commit_as`], for a message copied from another server that must
    /// be served under `uidl` (any RFC 1939 unique-id: 1–70 characters 0x21–0x7E): a
    /// `uidl` that can name a Maildir file does; any other is written to the Maildir's
    /// UIDL record (`adopt`) under this message's own base name, durably, before the
    /// message is delivered.
    pub fn commit_with_uidl(
        self,
        uidl: &str,
        delivered_at: std::time::SystemTime,
    ) -> Result<Delivered, StoreError> {
        if uidl_of_base(uidl.as_bytes()) == uidl && !uidl.contains([',', ':', '/']) {
            return self.commit_as(uidl, delivered_at);
        }
        if !crate::name::is_valid_uidl(uidl) {
            return Err(StoreError::Invalid(format!(
                "{uidl:?} is not a POP3 unique-id (1-70 characters 0x21-0x7E, RFC 1939 §7)"
            )));
        }
        self.set_delivery_time(delivered_at)?;
        let root = self.new_dir.parent().map(PathBuf::from).unwrap_or_default();
        // Keyed, like every record line, by the file name up to the `:2,` info.
        crate::adopt::record_one(&root, &self.file_name, uidl)?;
        let mut delivered = self.commit()?;
        delivered.uidl = uidl.to_string();
        Ok(delivered)
    }

    /// Gives the file `delivered_at` as its modification time (the delivery time Maildir
    /// readers go by) and fsyncs it.
    fn set_delivery_time(&self, delivered_at: std::time::SystemTime) -> Result<(), StoreError> {
        let file = fs::File::options()
            .write(true)
            .open(&self.guard.path)
            .map_err(|e| StoreError::io("open", &self.guard.path, e))?;
        file.set_modified(delivered_at)
            .and_then(|()| file.sync_all())
            .map_err(|e| StoreError::io("set the delivery time of", &self.guard.path, e))
    }

    pub fn commit(self) -> Result<Delivered, StoreError> {
        let final_path = self.new_dir.join(&self.file_name);
        rename_noreplace(&self.guard.path, &final_path)
            .map_err(|e| StoreError::io("move into new/", &final_path, e))?;
        self.guard.disarm();
        crate::usage_cache::forget(&self.new_dir);
        if let Err(e) = fsync_dir(&self.new_dir) {
            // Not known to be durable: withdraw it so the sender retries.
            let _ = fs::remove_file(&final_path);
            return Err(e);
        }
        tracing::debug!(path = %final_path.display(), size = self.size, "delivered");
        Ok(Delivered {
            uidl: uidl_of_base(self.unique.as_bytes()),
            file_name: self.file_name,
            size: self.size,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn count(dir: &std::path::Path) -> usize {
        fs::read_dir(dir).map(|r| r.count()).unwrap_or(0)
    }

    #[test]
    fn prepare_shows_nothing_until_commit() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::create(dir.path().join("m")).unwrap();
        let p = md.prepare(&mut &b"Subject: x\n\nbody\n"[..], None).unwrap();
        assert_eq!(count(&md.root().join("tmp")), 1);
        assert_eq!(count(&md.root().join("new")), 0);
        assert_eq!(p.size(), 20);
        let d = p.commit().unwrap();
        assert_eq!(count(&md.root().join("tmp")), 0);
        assert_eq!(count(&md.root().join("new")), 1);
        assert!(d.file_name.ends_with(",S=17,W=20"), "{}", d.file_name);
        let s = md.open_session().unwrap();
        assert_eq!(s.messages()[0].uidl, d.uidl);
        assert_eq!(s.messages()[0].size, 20);
    }

    #[test]
    fn dropping_a_prepared_message_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::create(dir.path().join("m")).unwrap();
        let p = md.prepare(&mut &b"x"[..], None).unwrap();
        drop(p);
        for sub in ["tmp", "new", "cur"] {
            assert_eq!(count(&md.root().join(sub)), 0, "{sub}");
        }
        assert!(matches!(
            md.prepare(&mut &b"12345"[..], Some(4)),
            Err(StoreError::TooBig { limit: 4 })
        ));
        assert_eq!(count(&md.root().join("tmp")), 0);
    }
}
