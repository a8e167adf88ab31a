//! The RFC transcripts of `crates/pop3-proto/tests/transcripts/`, replayed over real TCP
//! (and real TLS after STLS or on the POP3S port) against the real server on a real
//! Maildir, by the runner in `buzon_testkit::transcript_tcp`. The state-machine runner
//! (`crates/pop3-proto/tests/transcripts.rs`) proves the protocol logic; this one proves
//! the runtime around it sends exactly the same bytes.

use std::path::Path;

#[test]
fn rfc_transcripts_over_tcp() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pop3-proto/tests/transcripts");
    let (mut ran, mut skipped, mut failures) = (0, 0, Vec::new());
    for (f, r, s, fails) in buzon_testkit::transcript_tcp::run_dir(&dir) {
        eprintln!("{}: {r} sessions run over TCP, {s} skipped", f.display());
        ran += r;
        skipped += s;
        failures.extend(fails);
    }
    assert!(
        failures.is_empty(),
        "{} transcript sessions failed over TCP:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        ran > skipped && ran >= 20,
        "too few sessions ran over TCP: {ran} run, {skipped} skipped"
    );
}
