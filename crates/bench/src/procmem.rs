//! A server's memory as the kernel accounts it: the proportional set size (PSS) of a
//! process and all its descendants, from `/proc/<pid>/smaps_rollup`. PSS splits shared
//! pages between the processes sharing them, so a pre-forking server (one process per
//! session) and a single-process server are measured on the same scale.

use std::collections::{HashMap, HashSet};
use std::fs;

use crate::BenchError;

/// Memory of a process tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeMemory {
    pub pss_kib: u64,
    pub processes: usize,
}

/// Sums PSS over `pid` and its descendants (read as root, or as the server's own user).
pub fn pss_tree(pid: u32) -> Result<TreeMemory, BenchError> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    let rd = fs::read_dir("/proc").map_err(|e| BenchError::io("cannot list /proc", e))?;
    for entry in rd.flatten() {
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(ppid) = parent_of(p) {
            children.entry(ppid).or_default().push(p);
        }
    }
    let mut seen = HashSet::new();
    let mut stack = vec![pid];
    let mut total = 0;
    // A process tree is finite; the bound guards against a pid loop from a racing reuse.
    while let Some(p) = stack.pop() {
        if !seen.insert(p) || seen.len() > 1_000_000 {
            continue;
        }
        match pss_of(p) {
            Ok(kib) => total += kib,
            // A child that exited meanwhile holds no memory.
            Err(_) if p != pid => continue,
            Err(e) => return Err(e),
        }
        if let Some(c) = children.get(&p) {
            stack.extend(c);
        }
    }
    Ok(TreeMemory {
        pss_kib: total,
        processes: seen.len(),
    })
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid …": comm may contain spaces and parentheses.
    let rest = stat.rsplit_once(')')?.1;
    rest.split_ascii_whitespace().nth(1)?.parse().ok()
}

fn pss_of(pid: u32) -> Result<u64, BenchError> {
    let path = format!("/proc/{pid}/smaps_rollup");
    let text = fs::read_to_string(&path).map_err(|e| {
        BenchError::io(format!("cannot read {path} (the server must run as this user, or run the benchmark as root)"), e)
    })?;
    parse_pss(&text).ok_or_else(|| BenchError::Protocol(format!("{path} has no Pss line")))
}

fn parse_pss(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resident set size of one process, KiB (`VmRSS` in `/proc/<pid>/status`): what the
/// kernel holds in memory for it right now, shared pages included.
pub fn rss_kib(pid: u32) -> Result<u64, BenchError> {
    let path = format!("/proc/{pid}/status");
    let text = fs::read_to_string(&path)
        .map_err(|e| BenchError::io(format!("cannot read {path}; is the server running?"), e))?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| BenchError::Protocol(format!("{path} has no VmRSS line")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_smaps_rollup() {
        let t = "55d0-7ffd ---p 00000000 00:00 0 [rollup]\nRss:  2048 kB\nPss:  1234 kB\nPss_Anon: 1000 kB\n";
        assert_eq!(parse_pss(t), Some(1234));
        assert_eq!(parse_pss("Rss: 1 kB\n"), None);
    }

    #[test]
    fn reads_this_process_rss() {
        let kib = rss_kib(std::process::id()).unwrap_or_else(|e| panic!("{e}"));
        assert!(kib > 0);
    }

    #[test]
    fn measures_this_process() {
        let m = pss_tree(std::process::id()).unwrap_or_else(|e| panic!("{e}"));
        assert!(m.pss_kib > 0 && m.processes >= 1);
    }
}
