//! Reading what a Maildir holds, for assertions.

use std::path::Path;

/// The contents of every message file in `maildir`'s `new/` and `cur/`, sorted (so two
/// mailboxes compare independent of file names and order). A missing folder holds none.
pub fn messages(maildir: &Path) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for sub in ["new", "cur"] {
        v.extend(files(&maildir.join(sub)));
    }
    v.sort();
    v
}

/// The contents of every regular file directly in `dir`, sorted; a missing folder holds
/// none.
pub fn files(dir: &Path) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| std::fs::read(e.path()).unwrap_or_default())
        .collect();
    v.sort();
    v
}
