//! Every catalog key the code names (a string literal such as `"client-refused"` in any
//! crate's sources) is in both catalogs, so no message ever comes out as its bare key.

use std::path::{Path, PathBuf};

use buzon_i18n::Lang;

const AREAS: &[&str] = &[
    "pop3",
    "sasl",
    "client",
    "tls",
    "check",
    "fetch",
    "setup",
    "user",
    "deliver",
    "serve",
    "sieve",
    "config",
    "cli",
    "dns",
    "app",
    "oauth",
    "two",
    "credentials",
    "web",
    "accounts",
];

/// Literals in the sources that look like keys but name something else.
const NOT_KEYS: &[&str] = &[
    "tls-failed",
    "fetch-headers",
    "app-password",
    "tls-exporter",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// String literals of the form `"area-words"` (lowercase, digits, dashes).
fn keys_in(text: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for piece in text.split('"').skip(1).step_by(2) {
        let Some((area, rest)) = piece.split_once('-') else {
            continue;
        };
        let well_formed = !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if AREAS.contains(&area) && well_formed && !NOT_KEYS.contains(&piece) {
            keys.push(piece.to_string());
        }
    }
    keys
}

#[test]
fn every_key_named_in_the_code_is_in_both_catalogs() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for krate in [
        "pop3-proto",
        "server",
        "client",
        "buzon",
        "auth",
        "store-pg",
        "sieve",
    ] {
        rust_files(&crates.join(krate).join("src"), &mut files);
    }
    let mut checked = 0;
    let mut missing = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for key in keys_in(&text) {
            // Literals that merely look like keys (e.g. CLI flag values) are not ours
            // unless some catalog has them.
            if !Lang::ALL.iter().any(|l| buzon_i18n::has(*l, &key)) {
                missing.push(format!("{}: {key} is in no catalog", f.display()));
                continue;
            }
            for lang in Lang::ALL {
                if !buzon_i18n::has(lang, &key) {
                    missing.push(format!("{}: {key} missing in {lang}", f.display()));
                }
            }
            checked += 1;
        }
    }
    println!(
        "keys named in the code: {checked} uses in {} files",
        files.len()
    );
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    assert!(checked > 150, "found only {checked} key uses");
}
