//! Arbitrary client bytes, fed to a `ServerSession` (which owns its input) driven by a
//! trivial in-memory driver, never make the state machine panic, and everything it
//! writes is CRLF lines, with a reply beginning with a status line for every line read.
//! After an accepted STLS the rest of the piece is still fed: the session must drop it.
//!
//! Input: byte 0 chooses the connection (bit 0 TLS active, bit 1 STLS available, bit 2
//! plaintext allowed without TLS, bit 3 APOP offered, bit 4 bare LF accepted), byte 1 the
//! size of the pieces the client bytes arrive in (0: all at once); the rest is what the
//! client sends.
#![no_main]

use std::sync::Arc;

use buzon_pop3_proto::response::parse_status_line;
use buzon_pop3_proto::sasl::{apop_digest, scram_keys, scram_proof_ok, scram_server_final};
use buzon_pop3_proto::server::{
    ConnectionInfo, Credential, MessageInfo, ServerSession, SessionConfig, Step,
};
use buzon_pop3_proto::wire::{encode_message, WireSize};
use buzon_pop3_proto::{RespCode, Response, Uidl};
use libfuzzer_sys::fuzz_target;

const TIMESTAMP: &str = "<1896.697170952@fuzz.example>";
const PASSWORD: &[u8] = b"p";
const SALT: &[u8] = b"fuzz-salt";
const MESSAGES: [&[u8]; 3] = [b"Subject: a\n\nbody\n.dot\n", b"no final newline", b""];

fuzz_target!(|data: &[u8]| {
    let [flags, piece, client @ ..] = data else { return };
    let info = ConnectionInfo {
        tls_active: flags & 1 != 0,
        stls_available: flags & 2 != 0,
        plaintext_without_tls: flags & 4 != 0,
        apop_timestamp: (flags & 8 != 0).then(|| TIMESTAMP.to_string()),
        apop_without_tls: flags & 32 != 0,
        scram: flags & 64 != 0,
        channel_binding: (flags & 128 != 0).then(|| vec![7u8; 32]),
        oauth: flags & 64 != 0,
    };
    // A small limit, so that the fuzzer reaches the close on bad commands quickly too.
    let config = SessionConfig {
        max_bad_commands: 8,
        lenient_bare_lf: flags & 16 != 0,
        ..SessionConfig::default()
    };
    let mut session = ServerSession::new(Arc::new(config), info);
    let mut out = Vec::new();
    session.greeting(&mut out);
    check_reply(&out);

    let piece = if *piece == 0 { client.len().max(1) } else { usize::from(*piece) };
    for chunk in client.chunks(piece) {
        session.feed(chunk);
        let mut handshake = false;
        loop {
            out.clear();
            let Some(step) = session.next_step(&mut out) else { break };
            match drive(&mut session, step, &mut out) {
                Next::Read => check_reply(&out),
                Next::Handshake => {
                    check_reply(&out);
                    handshake = true;
                }
                Next::Close => {
                    check_reply(&out);
                    return;
                }
            }
        }
        // The rest of this piece was sent before the handshake, and dropped.
        if handshake {
            session.tls_started();
            session.set_channel_binding(Some(vec![7u8; 32]));
            assert!(session.tls_active());
            out.clear();
            assert!(session.next_step(&mut out).is_none(), "input survived STLS");
        }
    }
});

enum Next {
    Read,
    /// STLS accepted: the handshake follows this piece.
    Handshake,
    Close,
}

fn drive(session: &mut ServerSession, mut step: Step, out: &mut Vec<u8>) -> Next {
    loop {
        step = match step {
            Step::Continue => {
                assert!(!session.is_closed(), "Continue from a closed session");
                return Next::Read;
            }
            Step::Close => {
                assert!(session.is_closed(), "Close while the session is still open");
                return Next::Close;
            }
            Step::Authenticate => {
                let req = session.take_pending_auth().expect("Authenticate without a pending login");
                let right = req.user == "u"
                    && match &req.credential {
                        Credential::Password(p) => p.expose() == PASSWORD,
                        Credential::Apop { timestamp, digest } => apop_digest(timestamp, PASSWORD) == *digest,
                        Credential::Scram { auth_message, proof, binding_ok } => {
                            let (stored, server) = scram_keys(PASSWORD, SALT, 4096);
                            if *binding_ok && scram_proof_ok(&stored, auth_message, proof) {
                                let fin = scram_server_final(&server, auth_message);
                                step = session.scram_verified(req.user.clone(), req.mechanism, &fin, out);
                                continue;
                            }
                            false
                        }
                        Credential::Bearer { token, .. } => token.expose() == b"token-u",
                    };
                if matches!(req.credential, Credential::Bearer { .. }) && !right {
                    step = session.bearer_refused(r#"{"status":"invalid_token"}"#, out);
                    continue;
                }
                if right {
                    let infos = MESSAGES
                        .iter()
                        .enumerate()
                        .map(|(i, m)| MessageInfo {
                            size: WireSize::of(m),
                            uidl: Uidl::new(format!("uid-{i}")).expect("valid unique-id"),
                        })
                        .collect();
                    session.login_succeeded(req.user, infos, out)
                } else {
                    session.login_failed(Response::err_code(RespCode::Auth, "Authentication failed."), out)
                }
            }
            Step::SendMessage { index, extent, status } => {
                let message = MESSAGES.get(index).expect("SendMessage for a message that does not exist");
                status.encode(out);
                out.extend(encode_message(message, extent));
                Step::Continue
            }
            Step::ScramParams { .. } => session.scram_server_first(SALT, 4096, "servernonce", out),
            Step::Authorized { user, .. } => {
                let infos = MESSAGES
                    .iter()
                    .enumerate()
                    .map(|(i, m)| MessageInfo {
                        size: WireSize::of(m),
                        uidl: Uidl::new(format!("uid-{i}")).expect("valid unique-id"),
                    })
                    .collect();
                session.login_succeeded(user, infos, out)
            }
            Step::StartTls => return Next::Handshake,
            Step::Update(doomed) => {
                assert!(doomed.windows(2).all(|w| w[0] < w[1]) && doomed.iter().all(|&i| i < MESSAGES.len()));
                session.update_done(Ok(doomed.len()), out)
            }
        };
    }
}

/// One reply: non-empty, CRLF lines only, and a status line (or SASL continuation) first.
fn check_reply(out: &[u8]) {
    assert!(out.ends_with(b"\r\n"), "reply does not end with CRLF: {out:?}");
    for (i, &b) in out.iter().enumerate() {
        if b == b'\n' {
            assert!(i > 0 && out[i - 1] == b'\r', "bare LF in reply: {out:?}");
        }
    }
    let first = out.split(|&b| b == b'\n').next().unwrap_or_default();
    let status = first.strip_suffix(b"\r").unwrap_or(first);
    assert!(parse_status_line(status).is_ok(), "reply does not begin with a status line: {out:?}");
}
