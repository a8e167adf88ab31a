//! Taking over a Maildir from another POP3 server without changing a single UIDL.
//!
//! Mail programs that leave mail on the server remember, by UIDL, what they already
//! downloaded; if the UIDLs change on the day of a move, they download everything again.
//! With `[pop3] uidl_source = "dovecot"` (or `"auto"`, which uses Dovecot's files where
//! they exist), each message that Dovecot listed is served under the UIDL Dovecot served:
//!
//! - the UIDL Dovecot recorded for it (the `P` field of `dovecot-uidlist`, written with
//!   `pop3_save_uidl = yes`), or else
//! - Dovecot's `pop3_uidl_format` expanded from the message's line in `dovecot-uidlist`
//!   (default `%08Xu%08Xv`: UID and UIDVALIDITY, eight hexadecimal digits each).
//!
//! With `"courier"` (or `"auto"` where a Maildir has a `courierpop3dsizelist`), each
//! message Courier's POP3 server listed is served as Courier served it:
//! `UID<uid>-<uidvalidity>` from its line in `courierpop3dsizelist`.
//!
//! Messages the other server never listed (delivered after the move) get Buzón's own UIDL (the base
//! name). Either way, the UIDL a message is first served under is written to the
//! Maildir's `buzon-uidls` **before** the listing is used, and from then on that record
//! decides: whatever later happens to the other server's files (rewritten, deleted, a
//! rollback and a second move), a message's UIDL never changes. Buzón only reads the
//! other server's files, so the old server can be switched back on.
//!
//! `dovecot-uidlist` lines that cannot be read are skipped with a warning naming the file
//! and line; those messages get Buzón UIDLs. No listing repeats a UIDL (see
//! `name::assign_uidls`, which keeps recorded UIDLs and resolves any clash among new ones).

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::api::MessageMeta;
use crate::maildir::fsync_dir;
use crate::name::{before_info, is_valid_uidl};
use crate::scan::Scanned;
use crate::StoreError;

/// The record of served UIDLs in a Maildir (never touched by other servers).
pub const RECORD_FILE: &str = "buzon-uidls";
/// Dovecot's UID list in a Maildir (with the default `maildir:~/Maildir` layout).
pub const DOVECOT_UIDLIST: &str = "dovecot-uidlist";
/// Courier's POP3 size and UID list in a Maildir.
pub const COURIER_SIZELIST: &str = "courierpop3dsizelist";
const RECORD_HEADER: &str = "buzon-uidls 1";

/// Where the UIDLs of existing messages come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum UidlSource {
    /// Buzón's own: the base name of the message file (the default).
    #[default]
    Buzon,
    /// What Dovecot served, from `dovecot-uidlist`, with this `pop3_uidl_format`.
    Dovecot(UidlFormat),
    /// What Courier's POP3 server served, from `courierpop3dsizelist`.
    Courier,
    /// Courier's where a Maildir has a `courierpop3dsizelist`, else Dovecot's where it has
    /// a `dovecot-uidlist`, else Buzón's own.
    Auto(UidlFormat),
}

impl UidlSource {
    fn adopts(&self) -> bool {
        !matches!(self, UidlSource::Buzon)
    }

    /// The name used in configuration and messages.
    fn name(&self) -> &'static str {
        match self {
            UidlSource::Buzon => "buzon",
            UidlSource::Dovecot(_) => "dovecot",
            UidlSource::Courier => "courier",
            UidlSource::Auto(_) => "auto",
        }
    }
}

/// One piece of a parsed `pop3_uidl_format`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var {
        key: Key,
        width: usize,
        zero: bool,
        hex: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Uid,
    UidValidity,
    FileName,
}

/// Dovecot's `pop3_uidl_format`, limited to the variables that depend on what
/// `dovecot-uidlist` and the file name hold: `%u` (UID), `%v` (UIDVALIDITY), `%f` and `%g`
/// (the file name up to `:`, which is also a Maildir message's GUID for Dovecot), with Dovecot's zero padding, width and `X` (hexadecimal, written
/// in lower case as Dovecot writes it) modifiers, and `%%`. `%m` (an MD5 of the header) and `%g` are refused: for those, let
/// Dovecot record its UIDLs (`pop3_save_uidl = yes`) before the move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UidlFormat {
    source: String,
    pieces: Vec<Piece>,
}

impl Default for UidlFormat {
    fn default() -> Self {
        UidlFormat::parse(DOVECOT_DEFAULT_FORMAT).unwrap_or(UidlFormat {
            source: String::new(),
            pieces: Vec::new(),
        })
    }
}

/// Dovecot 2.x's default `pop3_uidl_format`.
pub const DOVECOT_DEFAULT_FORMAT: &str = "%08Xu%08Xv";

impl UidlFormat {
    /// Parses a `pop3_uidl_format`; the error says which variable is not supported.
    pub fn parse(text: &str) -> Result<UidlFormat, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                literal.push(c);
                continue;
            }
            let mut zero = false;
            let mut width = 0usize;
            let mut hex = false;
            if chars.peek() == Some(&'0') {
                zero = true;
                chars.next();
            }
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                width = width.saturating_mul(10).saturating_add(d as usize).min(64);
                chars.next();
            }
            if matches!(chars.peek(), Some('X' | 'x')) {
                hex = true;
                chars.next();
            }
            let key = match chars.next() {
                Some('%') => {
                    literal.push('%');
                    continue;
                }
                Some('u') => Key::Uid,
                Some('v') => Key::UidValidity,
                // On a Maildir, Dovecot's GUID of a message is its file name up to `:`.
                Some('f' | 'g') => Key::FileName,
                Some(other) => {
                    return Err(format!(
                        "%{other} is not supported (only %u, %v, %f, %g and %%, with Dovecot's 0, width and X modifiers); for other formats set pop3_save_uidl = yes in Dovecot and let it list every mailbox once before the move, so that dovecot-uidlist records the UIDLs it served"
                    ))
                }
                None => return Err("ends with a lone %".to_string()),
            };
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Var {
                key,
                width,
                zero,
                hex,
            });
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        if pieces.is_empty() {
            return Err("is empty".to_string());
        }
        Ok(UidlFormat {
            source: text.to_string(),
            pieces,
        })
    }

    /// The format as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    fn expand(&self, uid: u32, uidvalidity: u32, file_name: &[u8]) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Var {
                    key,
                    width,
                    zero,
                    hex,
                } => {
                    let value = match (key, hex) {
                        (Key::FileName, _) => {
                            String::from_utf8_lossy(before_info(file_name)).into_owned()
                        }
                        // Dovecot's X modifier writes lower-case hexadecimal digits
                        // (seen from Dovecot 2.3 itself: `%08Xu%08Xv` → 000000016b13971a).
                        (Key::Uid, true) => format!("{uid:x}"),
                        (Key::Uid, false) => uid.to_string(),
                        (Key::UidValidity, true) => format!("{uidvalidity:x}"),
                        (Key::UidValidity, false) => uidvalidity.to_string(),
                    };
                    let pad = width.saturating_sub(value.chars().count());
                    out.extend(std::iter::repeat_n(if *zero { '0' } else { ' ' }, pad));
                    out.push_str(&value);
                }
            }
        }
        out
    }
}

/// What `dovecot-uidlist` says about each file it lists, by file name up to `:`.
#[derive(Debug, Default)]
pub(crate) struct DovecotUidlist {
    pub uidvalidity: u32,
    /// base → (UID, UIDL Dovecot recorded with `pop3_save_uidl`).
    pub entries: HashMap<Vec<u8>, (u32, Option<String>)>,
    /// Lines that could not be read: (line number, why).
    pub skipped: Vec<(usize, String)>,
}

impl DovecotUidlist {
    /// Reads `dir/dovecot-uidlist`; `Ok(None)` when there is none. A header that cannot
    /// be read is an error (no UIDL could be computed); a bad message line is skipped and
    /// reported in `skipped`.
    pub(crate) fn read(dir: &Path) -> Result<Option<DovecotUidlist>, StoreError> {
        read_list(&dir.join(DOVECOT_UIDLIST), Self::parse)
    }

    /// Parses the text of a `dovecot-uidlist` (version 1 or 3). `Err`: the header.
    pub(crate) fn parse(bytes: &[u8]) -> Result<DovecotUidlist, String> {
        let mut lines = bytes.split(|&b| b == b'\n');
        let header = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
        let mut fields = header.split_whitespace();
        let version = fields.next().unwrap_or_default();
        let uidvalidity = match version {
            "1" => fields.next().and_then(|v| v.parse::<u32>().ok()),
            "3" => fields
                .find_map(|f| f.strip_prefix('V'))
                .and_then(|v| v.parse::<u32>().ok()),
            _ => {
                return Err(format!(
                    "unknown dovecot-uidlist version {version:?} (versions 1 and 3 are read)"
                ))
            }
        }
        .ok_or_else(|| "the header has no UIDVALIDITY".to_string())?;
        let mut list = DovecotUidlist {
            uidvalidity,
            ..DovecotUidlist::default()
        };
        for (i, line) in lines.enumerate() {
            let number = i + 2;
            if line.is_empty() {
                continue;
            }
            match parse_line(line, version == "3") {
                Ok((uid, base, pop3)) => {
                    list.entries.insert(base, (uid, pop3));
                }
                Err(why) => list.skipped.push((number, why)),
            }
        }
        Ok(list)
    }

    fn uidl(&self, format: &UidlFormat, name: &[u8]) -> Option<String> {
        let (uid, recorded) = self.entries.get(before_info(name))?;
        let uidl = match recorded.as_deref() {
            // An empty `P` is Dovecot's shorthand for "the same as the GUID", which is
            // the file name up to `:` on a Maildir.
            Some("") => String::from_utf8_lossy(before_info(name)).into_owned(),
            Some(u) => u.to_string(),
            None => format.expand(*uid, self.uidvalidity, name),
        };
        is_valid_uidl(&uidl).then_some(uidl)
    }
}

/// Reads another server's list at `path` with `parse`; `Ok(None)` when there is none,
/// and an error naming the file when its header (line 1) cannot be read.
fn read_list<T>(
    path: &Path,
    parse: fn(&[u8]) -> Result<T, String>,
) -> Result<Option<T>, StoreError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io("read", path.to_path_buf(), e)),
    };
    parse(&bytes)
        .map(Some)
        .map_err(|why| StoreError::Invalid(format!("{} line 1: {why}", path.display())))
}

/// What the other server's file says, ready to give UIDLs.
enum Foreign {
    Dovecot(DovecotUidlist, UidlFormat),
    Courier(CourierSizelist),
}

impl Foreign {
    /// Reads the file `source` names in `dir` (for `auto`: Courier's if there is one,
    /// else Dovecot's), logging the lines it skipped; `None` when there is none.
    fn read(dir: &Path, source: &UidlSource) -> Result<Option<Foreign>, StoreError> {
        let courier_first = match source {
            UidlSource::Courier => true,
            UidlSource::Auto(_) => dir.join(COURIER_SIZELIST).exists(),
            _ => false,
        };
        let (found, file, skipped) = if courier_first {
            let l = CourierSizelist::read(dir)?;
            let skipped = l.as_ref().map(|l| l.skipped.clone()).unwrap_or_default();
            (l.map(Foreign::Courier), COURIER_SIZELIST, skipped)
        } else {
            let format = match source {
                UidlSource::Dovecot(f) | UidlSource::Auto(f) => f.clone(),
                _ => UidlFormat::default(),
            };
            let l = DovecotUidlist::read(dir)?;
            let skipped = l.as_ref().map(|l| l.skipped.clone()).unwrap_or_default();
            (
                l.map(|l| Foreign::Dovecot(l, format)),
                DOVECOT_UIDLIST,
                skipped,
            )
        };
        for (line, why) in &skipped {
            tracing::warn!(
                file = %dir.join(file).display(),
                line,
                "line skipped, its message gets a Buzón UIDL: {why}"
            );
        }
        if found.is_none() && !matches!(source, UidlSource::Auto(_)) {
            tracing::warn!(maildir = %dir.display(), "uidl_source is \"{}\" but the Maildir has no {file}: its messages get Buzón UIDLs", source.name());
        }
        Ok(found)
    }

    fn uidl(&self, name: &[u8]) -> Option<String> {
        match self {
            Foreign::Dovecot(l, format) => l.uidl(format, name),
            Foreign::Courier(l) => l.uidl(name),
        }
    }
}

/// Courier's `courierpop3dsizelist` (versions 2 and 3, as Courier's `pop3dserver.c`
/// writes it): a header `/<version> <next UID> <UIDVALIDITY>`, then per message
/// `<file name> <size> <UID>:<UIDVALIDITY>[:<utf8>]`, the file name with its `:2,` info
/// as it was when Courier last wrote the list (matched on the part before `:`). Courier
/// served `UID<uid>-<uidvalidity>` (`UID<uid>` when the UIDVALIDITY is 0) for a message
/// with a UID.
#[derive(Debug, Default)]
pub(crate) struct CourierSizelist {
    /// base → (UID, UIDVALIDITY).
    pub entries: HashMap<Vec<u8>, (u64, u64)>,
    pub skipped: Vec<(usize, String)>,
}

impl CourierSizelist {
    pub(crate) fn read(dir: &Path) -> Result<Option<CourierSizelist>, StoreError> {
        read_list(&dir.join(COURIER_SIZELIST), Self::parse)
    }

    pub(crate) fn parse(bytes: &[u8]) -> Result<CourierSizelist, String> {
        let mut lines = bytes.split(|&b| b == b'\n');
        let header = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
        let version = header
            .strip_prefix('/')
            .and_then(|h| h.split_whitespace().next())
            .unwrap_or_default();
        if version != "2" && version != "3" {
            return Err(format!(
                "not a courierpop3dsizelist of version 2 or 3 (the header is {header:?})"
            ));
        }
        let mut list = CourierSizelist::default();
        for (i, line) in lines.enumerate() {
            if line.is_empty() {
                continue;
            }
            match parse_courier_line(line) {
                Ok((base, uid)) => {
                    list.entries.insert(base, uid);
                }
                Err(why) => list.skipped.push((i + 2, why)),
            }
        }
        Ok(list)
    }

    fn uidl(&self, name: &[u8]) -> Option<String> {
        let (uid, uidv) = self.entries.get(before_info(name))?;
        let uidl = if *uidv == 0 {
            format!("UID{uid}")
        } else {
            format!("UID{uid}-{uidv}")
        };
        is_valid_uidl(&uidl).then_some(uidl)
    }
}

/// `<file name> <size> <uid>:<uidv>[:<utf8>]`; the file name may hold spaces.
fn parse_courier_line(line: &[u8]) -> Result<(Vec<u8>, (u64, u64)), String> {
    let last = line
        .iter()
        .rposition(|&b| b == b' ')
        .ok_or("no size and UID after the file name")?;
    let before = &line[..last];
    let size_at = before
        .iter()
        .rposition(|&b| b == b' ')
        .ok_or("no size after the file name")?;
    let name = &before[..size_at];
    std::str::from_utf8(&before[size_at + 1..])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or("the size is not a number")?;
    let ids = std::str::from_utf8(&line[last + 1..]).map_err(|_| "the UID is not text")?;
    let mut parts = ids.split(':');
    let uid = parts
        .next()
        .and_then(|u| u.parse::<u64>().ok())
        .filter(|&u| u > 0)
        .ok_or("the UID is not a positive number")?;
    let uidv = parts
        .next()
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or("the UIDVALIDITY is not a number")?;
    if name.is_empty() || name.contains(&b'/') {
        return Err("the file name is empty or holds a \"/\"".to_string());
    }
    Ok((before_info(name).to_vec(), (uid, uidv)))
}

/// `<uid> [fields…] :<file name>` (version 3) or `<uid> <file name>` (version 1).
fn parse_line(line: &[u8], v3: bool) -> Result<(u32, Vec<u8>, Option<String>), String> {
    let space = line
        .iter()
        .position(|&b| b == b' ')
        .ok_or("no file name after the UID")?;
    let uid = std::str::from_utf8(&line[..space])
        .ok()
        .and_then(|u| u.parse::<u32>().ok())
        .filter(|&u| u > 0)
        .ok_or("the UID is not a positive number")?;
    let rest = &line[space + 1..];
    let (fields, name) = if v3 {
        // The file name follows the first " :" (or a leading ":" when there are no fields).
        let at = if rest.first() == Some(&b':') {
            Some(0)
        } else {
            rest.windows(2).position(|w| w == b" :").map(|p| p + 1)
        };
        let at = at.ok_or("no \":\" before the file name")?;
        (&rest[..at], &rest[at + 1..])
    } else {
        (&rest[..0], rest)
    };
    if name.is_empty() || name.contains(&b'/') {
        return Err("the file name is empty or holds a \"/\"".to_string());
    }
    let pop3 = fields
        .split(|&b| b == b' ')
        .find_map(|f| f.strip_prefix(b"P"))
        .map(|p| String::from_utf8_lossy(p).into_owned());
    Ok((uid, before_info(name).to_vec(), pop3))
}

/// The UIDLs one Maildir's messages must be served under, worked out before the listing:
/// `fixed[i]` is message `i`'s UIDL and whether it is recorded (`true`) or adopted from
/// the other server (`false`); `None` for Buzón's own.
/// [`Adoption::record`] then writes what was not recorded yet.
#[derive(Debug)]
pub(crate) struct Adoption {
    dir: PathBuf,
    pub fixed: Vec<Option<(String, bool)>>,
    /// Indexes of the messages whose UIDL is not in the record yet.
    unrecorded: Vec<usize>,
    /// Base names, index for index (for the record).
    bases: Vec<Vec<u8>>,
}

impl Adoption {
    /// Looks at `dir`'s record and, for messages not in it, at the other server's files.
    /// `None` when the source is Buzón's own (nothing to read or write).
    /// True when [`Adoption::prepare`] would give `None` for the Maildir at `dir`: every
    /// UIDL is Buzón's own, made from the file name alone.
    pub(crate) fn nothing_to_adopt(dir: &Path, source: &UidlSource) -> Result<bool, StoreError> {
        if !source.adopts() {
            return Ok(read_record(dir)?.is_empty());
        }
        Ok(matches!(source, UidlSource::Auto(_))
            && read_record(dir)?.is_empty()
            && !dir.join(DOVECOT_UIDLIST).exists()
            && !dir.join(COURIER_SIZELIST).exists())
    }

    pub(crate) fn prepare(
        dir: &Path,
        source: &UidlSource,
        messages: &[Scanned],
    ) -> Result<Option<Adoption>, StoreError> {
        let record = read_record(dir)?;
        if !source.adopts() {
            // Buzón's own UIDLs, except where the record names one: messages imported
            // under another server's UIDL that no file name could carry.
            if record.is_empty() {
                return Ok(None);
            }
            let fixed = messages
                .iter()
                .map(|m| {
                    record
                        .get(before_info(m.name.as_bytes()))
                        .map(|u| (u.clone(), true))
                })
                .collect();
            return Ok(Some(Adoption {
                dir: dir.to_path_buf(),
                fixed,
                unrecorded: Vec::new(),
                bases: Vec::new(),
            }));
        }
        if matches!(source, UidlSource::Auto(_))
            && record.is_empty()
            && !dir.join(DOVECOT_UIDLIST).exists()
            && !dir.join(COURIER_SIZELIST).exists()
        {
            // Nothing to adopt and nothing served under adopted UIDLs: Buzón's own.
            return Ok(None);
        }
        let bases: Vec<Vec<u8>> = messages
            .iter()
            .map(|m| before_info(m.name.as_bytes()).to_vec())
            .collect();
        let mut fixed = Vec::with_capacity(messages.len());
        let mut unrecorded = Vec::new();
        let mut foreign: Option<Option<Foreign>> = None;
        for (i, base) in bases.iter().enumerate() {
            if let Some(u) = record.get(base) {
                fixed.push(Some((u.clone(), true)));
                continue;
            }
            unrecorded.push(i);
            let list = match &mut foreign {
                Some(l) => l.as_ref(),
                None => foreign.insert(Foreign::read(dir, source)?).as_ref(),
            };
            fixed.push(
                list.and_then(|l| l.uidl(messages[i].name.as_bytes()))
                    .map(|u| (u, false)),
            );
        }
        Ok(Some(Adoption {
            dir: dir.to_path_buf(),
            fixed,
            unrecorded,
            bases,
        }))
    }

    /// Writes the UIDLs of the messages not recorded yet, as `listed` (this Maildir's part
    /// of the final listing, index for index) serves them, and makes them durable before
    /// the listing is used.
    pub(crate) fn record(&self, listed: &[MessageMeta]) -> Result<(), StoreError> {
        if self.unrecorded.is_empty() {
            return Ok(());
        }
        let path = self.dir.join(RECORD_FILE);
        let existed = path.exists();
        let mut text = Vec::new();
        if !existed {
            text.extend_from_slice(RECORD_HEADER.as_bytes());
            text.push(b'\n');
        }
        for &i in &self.unrecorded {
            let Some(meta) = listed.get(i) else { continue };
            escape_into(&mut text, &self.bases[i]);
            text.push(b' ');
            text.extend_from_slice(meta.uidl.as_bytes());
            text.push(b'\n');
        }
        append(&path, &text)?;
        if !existed {
            fsync_dir(&self.dir)?;
        }
        Ok(())
    }
}

/// Records that the message whose file name up to `:` is `base` is served as `uidl`,
/// durably, before that message is delivered (an importer copying another server's
/// mailbox: a crash in between leaves a line naming no file, which is harmless).
pub(crate) fn record_one(dir: &Path, base: &str, uidl: &str) -> Result<(), StoreError> {
    let path = dir.join(RECORD_FILE);
    let existed = path.exists();
    let mut text = Vec::new();
    if !existed {
        text.extend_from_slice(RECORD_HEADER.as_bytes());
        text.push(b'\n');
    }
    escape_into(&mut text, base.as_bytes());
    text.push(b' ');
    text.extend_from_slice(uidl.as_bytes());
    text.push(b'\n');
    append(&path, &text)?;
    if !existed {
        fsync_dir(dir)?;
    }
    Ok(())
}

/// Appends `text` to `path` (created 0600) and fsyncs it.
fn append(path: &Path, text: &[u8]) -> Result<(), StoreError> {
    let write = || -> io::Result<()> {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .mode_0600()
            .open(path)?;
        f.write_all(text)?;
        f.sync_all()
    };
    write().map_err(|e| StoreError::io("write", path.to_path_buf(), e))
}

trait Mode0600 {
    fn mode_0600(&mut self) -> &mut Self;
}

impl Mode0600 for OpenOptions {
    fn mode_0600(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.mode(0o600)
    }
}

/// Reads `dir/buzon-uidls`: base → UIDL. A last line cut short by a crash (no newline)
/// is ignored: its messages are looked up again and recorded anew.
fn read_record(dir: &Path) -> Result<HashMap<Vec<u8>, String>, StoreError> {
    let path = dir.join(RECORD_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(StoreError::io("read", path, e)),
    };
    let mut map = HashMap::new();
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(end) => &bytes[..end],
        None => &bytes[..0],
    };
    for (i, line) in complete.split(|&b| b == b'\n').enumerate() {
        if i == 0 {
            if line != RECORD_HEADER.as_bytes() {
                return Err(StoreError::Invalid(format!(
                    "{} line 1 is not \"{RECORD_HEADER}\": the file was not written by this version of Buzón; restore it from a backup (it holds the UIDLs already served)",
                    path.display()
                )));
            }
            continue;
        }
        let parsed = line
            .iter()
            .rposition(|&b| b == b' ')
            .and_then(|sp| Some((unescape(&line[..sp])?, &line[sp + 1..])))
            .and_then(|(base, uidl)| {
                let uidl = std::str::from_utf8(uidl).ok()?;
                is_valid_uidl(uidl).then(|| (base, uidl.to_string()))
            });
        match parsed {
            Some((base, uidl)) => {
                map.insert(base, uidl);
            }
            None => {
                return Err(StoreError::Invalid(format!(
                    "{} line {} cannot be read: restore the file from a backup (it holds the UIDLs already served)",
                    path.display(),
                    i + 1
                )))
            }
        }
    }
    Ok(map)
}

/// Base names are written with bytes outside `!`..`~` and `%` as `%XX`.
fn escape_into(out: &mut Vec<u8>, base: &[u8]) {
    for &b in base {
        if (0x21..=0x7e).contains(&b) && b != b'%' {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
}

fn unescape(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'%' {
            let hex = std::str::from_utf8(text.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_format_is_uid_and_uidvalidity_in_eight_hex_digits() {
        let f = UidlFormat::default();
        assert_eq!(f.expand(1, 1_275_660_208, b"x"), "000000014c0907b0");
        assert_eq!(f.expand(0xABCDEF12, 7, b"x"), "abcdef1200000007");
    }

    #[test]
    fn formats_take_width_padding_case_and_the_file_name() {
        let f = UidlFormat::parse("%f").unwrap();
        assert_eq!(
            f.expand(3, 4, b"123.M1P2.host,S=10:2,S"),
            "123.M1P2.host,S=10"
        );
        let f = UidlFormat::parse("u%uv%v-%08xu%%").unwrap();
        assert_eq!(f.expand(26, 9, b"n"), "u26v9-0000001a%");
        assert_eq!(
            UidlFormat::parse("%g").unwrap().expand(1, 2, b"a,S=3:2,"),
            "a,S=3"
        );
        for bad in ["%m", "%08Xm", "%s", "abc%"] {
            assert!(UidlFormat::parse(bad).is_err(), "{bad}");
        }
        assert!(UidlFormat::parse("%m")
            .unwrap_err()
            .contains("pop3_save_uidl"));
    }

    #[test]
    fn version_3_and_version_1_lists_are_read_and_bad_lines_skipped_with_their_number() {
        let text = b"3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1\n\
            1 :1655390418.M100238P743770.host,S=3734\n\
            2 W3800 P0000000200abcdef :1655390419.M1P1.host,S=3700,W=3800:2,S\n\
            x :broken\n\
            4 no-colon-name\n\
            5 :ok.name\n\
            6 W10 P :same.as.guid,S=9:2,S\n";
        let l = DovecotUidlist::parse(text).unwrap();
        assert_eq!(l.uidvalidity, 1_275_660_208);
        assert_eq!(
            l.entries.get(&b"1655390418.M100238P743770.host,S=3734"[..]),
            Some(&(1, None))
        );
        assert_eq!(
            l.entries.get(&b"1655390419.M1P1.host,S=3700,W=3800"[..]),
            Some(&(2, Some("0000000200abcdef".to_string())))
        );
        assert_eq!(
            l.skipped.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            vec![4, 5]
        );
        let f = UidlFormat::default();
        assert_eq!(
            l.uidl(&f, b"1655390418.M100238P743770.host,S=3734:2,S")
                .as_deref(),
            Some("000000014c0907b0")
        );
        assert_eq!(
            l.uidl(&f, b"1655390419.M1P1.host,S=3700,W=3800:2,")
                .as_deref(),
            Some("0000000200abcdef")
        );
        assert_eq!(
            l.uidl(&f, b"same.as.guid,S=9:2,").as_deref(),
            Some("same.as.guid,S=9")
        );
        let v1 = DovecotUidlist::parse(b"1 1100000000 3\n1 a.b.c\n2 d.e.f:2,S\n").unwrap();
        assert_eq!(
            v1.uidl(&f, b"d.e.f:2,").as_deref(),
            Some("000000024190ab00")
        );
        assert!(DovecotUidlist::parse(b"2 V1 N1\n").is_err());
        assert!(DovecotUidlist::parse(b"3 N1\n").is_err());
    }

    #[test]
    fn courier_lists_of_version_2_and_3_give_its_uidls() {
        let text = b"/3 9 1700000000\n\
            1700000001.M1P1.host:2,S 120 1:1700000000:0\n\
            1700000002.M2P1.with space 300 2:1700000000\n\
            1700000003.M3P1.host:2, 50 7:0:1\n\
            broken-line\n\
            1700000004.M4P1.host 10 x:1\n";
        let l = CourierSizelist::parse(text).unwrap();
        assert_eq!(
            l.uidl(b"1700000001.M1P1.host:2,").as_deref(),
            Some("UID1-1700000000")
        );
        assert_eq!(
            l.uidl(b"1700000002.M2P1.with space").as_deref(),
            Some("UID2-1700000000")
        );
        assert_eq!(
            l.uidl(b"1700000003.M3P1.host:2,RS").as_deref(),
            Some("UID7")
        );
        assert_eq!(l.uidl(b"1700000004.M4P1.host"), None);
        assert_eq!(
            l.skipped.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            vec![5, 6]
        );
        assert!(CourierSizelist::parse(b"/2 3 4\n").is_ok());
        assert!(CourierSizelist::parse(b"/1 3 4\n").is_err());
        assert!(CourierSizelist::parse(b"3 V1 N2\n").is_err());
    }

    #[test]
    fn base_names_survive_the_record_escaping() {
        let mut out = Vec::new();
        escape_into(&mut out, b"a b%c\xff");
        assert_eq!(out, b"a%20b%25c%FF");
        assert_eq!(unescape(&out).unwrap(), b"a b%c\xff");
    }
}
