//! A received message, held until every recipient has its copy.
//!
//! The message arrives once (SMTP/LMTP DATA or `buzon deliver`'s stdin) and is written
//! once per mailbox, each copy with its own trace headers, so it is kept in a spool that
//! can be read any number of times. Small messages stay in memory; past
//! [`MEMORY_LIMIT`] the spool moves to a file in the spool folder that is unlinked as
//! soon as it is created, so a crash leaves nothing behind to clean up.
//!
//! Line ends are stored the Maildir way: CRLF becomes LF (a lone CR stays as it is). POP3
//! turns LF back into CRLF, so a client downloads the very bytes that were sent.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use buzon_pop3_proto::wire::WireSize;

/// Messages up to this size are held in memory.
pub const MEMORY_LIMIT: usize = 1024 * 1024;

/// A spooled message.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    mem: Vec<u8>,
    file: Option<File>,
    /// Bytes stored (after CRLF → LF).
    len: u64,
    /// A CR at the end of the last chunk, held back in case LF follows.
    pending_cr: bool,
    wire: WireSize,
}

impl Spool {
    /// An empty spool; a file, if needed, is created in `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            mem: Vec::new(),
            file: None,
            len: 0,
            pending_cr: false,
            wire: WireSize::new(),
        }
    }

    /// A spool holding `message` as it is (no line-end conversion), for tests and tools.
    pub fn from_bytes(message: &[u8]) -> Self {
        let mut s = Self::new(Path::new("."));
        s.wire.update(message);
        s.mem = message.to_vec();
        s.len = message.len() as u64;
        s
    }

    /// True when writing `n` more bytes touches the disk (callers on an async runtime
    /// then write from a blocking thread).
    pub fn needs_disk(&self, n: usize) -> bool {
        self.file.is_some() || self.mem.len() + n > MEMORY_LIMIT
    }

    /// Appends message bytes, turning CRLF into LF.
    pub fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        self.wire.update(chunk);
        let mut converted = Vec::with_capacity(chunk.len() + 1);
        let mut rest = chunk;
        if self.pending_cr {
            self.pending_cr = false;
            if rest[0] != b'\n' {
                converted.push(b'\r');
            }
        }
        while let Some(i) = rest.iter().position(|&b| b == b'\r') {
            converted.extend_from_slice(&rest[..i]);
            match rest.get(i + 1) {
                Some(b'\n') => {}
                Some(_) => converted.push(b'\r'),
                None => self.pending_cr = true,
            }
            rest = &rest[i + 1..];
        }
        converted.extend_from_slice(rest);
        self.append(&converted)
    }

    /// Ends the message (a CR held back at the very end is written).
    pub fn finish(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.pending_cr) {
            self.append(b"\r")?;
        }
        if let Some(f) = &mut self.file {
            f.flush()?;
        }
        Ok(())
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.file.is_none() && self.mem.len() + bytes.len() > MEMORY_LIMIT {
            let mut f = self.create_file()?;
            f.write_all(&self.mem)?;
            self.mem = Vec::new();
            self.file = Some(f);
        }
        match &mut self.file {
            Some(f) => f.write_all(bytes)?,
            None => self.mem.extend_from_slice(bytes),
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn create_file(&self) -> io::Result<File> {
        // Mail passes through here: the folder is the server account's alone, like Maildirs.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        for _ in 0..16 {
            let path = self.dir.join(format!(
                "spool.{}.{:016x}",
                std::process::id(),
                rand::random::<u64>()
            ));
            match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(f) => {
                    // Unlinked at once: the open handle keeps the data, a crash leaves no file.
                    std::fs::remove_file(&path)?;
                    return Ok(f);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other("cannot find a free spool file name"))
    }

    /// Stored length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The RFC 1939 size of the message as received (CRLF line ends), without trace
    /// headers: what Sieve's `size` test measures.
    pub fn wire_size(&self) -> u64 {
        self.wire.finish()
    }

    /// A reader over the stored bytes; readers are independent of each other.
    pub fn reader(&self) -> SpoolReader<'_> {
        self.reader_from(0)
    }

    /// A reader over the stored bytes from `offset` on (e.g. past a header section that
    /// is stored changed).
    pub fn reader_from(&self, offset: u64) -> SpoolReader<'_> {
        SpoolReader {
            spool: self,
            pos: offset.min(self.len),
        }
    }

    /// The header section (up to and including the blank line that ends it, or the
    /// whole message if it has none), at most `max` bytes.
    pub fn header_section(&self, max: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        let mut r = self.reader();
        loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            let start = out.len().saturating_sub(2);
            out.extend_from_slice(&buf[..n]);
            if let Some(i) = find_blank_line(&out[start..]) {
                out.truncate(start + i);
                return Ok(out);
            }
            if out.len() >= max {
                out.truncate(max);
                return Ok(out);
            }
        }
    }
}

/// End (exclusive) of the first "\n\n" (or "\n\r\n") in `b`.
fn find_blank_line(b: &[u8]) -> Option<usize> {
    for i in 0..b.len() {
        if b[i] == b'\n' {
            if b.get(i + 1) == Some(&b'\n') {
                return Some(i + 2);
            }
            if b.get(i + 1) == Some(&b'\r') && b.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
    }
    None
}

/// Reads a [`Spool`] from the start.
pub struct SpoolReader<'a> {
    spool: &'a Spool,
    pos: u64,
}

impl Read for SpoolReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match &self.spool.file {
            Some(f) => {
                let left = self.spool.len.saturating_sub(self.pos);
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                if want == 0 {
                    return Ok(0);
                }
                f.read_at(&mut buf[..want], self.pos)?
            }
            None => {
                let start = usize::try_from(self.pos)
                    .unwrap_or(usize::MAX)
                    .min(self.spool.mem.len());
                let src = &self.spool.mem[start..];
                let n = src.len().min(buf.len());
                buf[..n].copy_from_slice(&src[..n]);
                n
            }
        };
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn spool_of(chunks: &[&[u8]], dir: &Path) -> Spool {
        let mut s = Spool::new(dir);
        for c in chunks {
            s.write(c).unwrap();
        }
        s.finish().unwrap();
        s
    }

    fn read_all(s: &Spool) -> Vec<u8> {
        let mut v = Vec::new();
        s.reader().read_to_end(&mut v).unwrap();
        v
    }

    #[test]
    fn crlf_becomes_lf_across_chunk_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let input = b"a\r\nb\rc\r\r\nd\r";
        for split in 0..=input.len() {
            let s = spool_of(&[&input[..split], &input[split..]], dir.path());
            assert_eq!(read_all(&s), b"a\nb\rc\r\nd\r", "split {split}");
            assert_eq!(s.wire_size(), buzon_pop3_proto::wire::WireSize::of(input));
        }
    }

    #[test]
    fn large_messages_go_to_an_unlinked_file() {
        use std::os::unix::fs::PermissionsExt;
        let top = tempfile::tempdir().unwrap();
        let dir = top.path().join("spool");
        let line = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n";
        let mut s = Spool::new(&dir);
        s.write(b"Subject: big\r\n\r\n").unwrap();
        for _ in 0..40_000 {
            s.write(line).unwrap();
        }
        s.finish().unwrap();
        assert!(s.file.is_some());
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "the spool file is unlinked"
        );
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700,
            "the spool folder is private"
        );
        let all = read_all(&s);
        assert_eq!(all.len() as u64, s.len());
        assert_eq!(all.len(), 14 + 40_000 * 64);
        // Two readers at once do not disturb each other.
        let mut a = s.reader();
        let mut b = s.reader();
        let mut x = [0u8; 10];
        let mut y = [0u8; 10];
        a.read_exact(&mut x).unwrap();
        b.read_exact(&mut y).unwrap();
        assert_eq!(x, y);
        assert_eq!(s.header_section(4096).unwrap(), b"Subject: big\n\n");
    }

    #[test]
    fn header_section_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let s = spool_of(&[b"A: 1\r\nB: 2\r\n\r\nbody\r\n"], dir.path());
        assert_eq!(s.header_section(1000).unwrap(), b"A: 1\nB: 2\n\n");
        let s = spool_of(&[b"no blank line\r\nat all"], dir.path());
        assert_eq!(s.header_section(1000).unwrap(), b"no blank line\nat all");
        assert_eq!(s.header_section(5).unwrap(), b"no bl");
    }
}
