//! Runs a compiled [`Script`] against one message: the tests read the envelope and the
//! header fields, the actions are collected, and RFC 5228 §2.10 decides the outcome
//! (implicit keep, duplicate deliveries collapsed, errors fall back to keeping).
//!
//! Evaluation never fails and never performs an action itself: the caller delivers,
//! discards or rejects according to the returned [`Outcome`]. The work is bounded by the
//! script and message sizes: Sieve has no loops, every command runs at most once.

use crate::address::{parse_address_list, parse_envelope_address};
use crate::compile::{Command, EnvelopePart, Script, Test};
use crate::error::Pos;
use crate::header::Header;
use crate::MAX_ACTIONS;

/// The SMTP envelope of the delivery (RFC 5321), for the `envelope` test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The reverse-path (`MAIL FROM`), with or without angle brackets; "" or "<>" for the
    /// null sender.
    pub from: &'a str,
    /// The recipient (`RCPT TO`) this delivery is for, as given: it may carry a
    /// `+detail` (RFC 5233).
    pub to: &'a str,
}

/// The message under test: its header fields (see [`crate::parse_headers`]) and its
/// size in octets, for the `size` test (RFC 5228 §5.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// The header fields in message order.
    pub headers: &'a [Header],
    /// The size of the whole message in octets.
    pub size: u64,
}

/// What to do with the message. The caller carries out every action of an [`Outcome`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Deliver to the main mailbox (INBOX): an explicit `keep`, the implicit keep of
    /// RFC 5228 §2.10.2, `fileinto "INBOX"`, or the fallback after a runtime error.
    Keep,
    /// Deliver to this folder (RFC 5228 §4.1). The name is the script's string as it is;
    /// the caller maps it to a Maildir++ folder and validates it
    /// (`buzon_store::name::validate_folder_name`), keeping the message in INBOX if the
    /// name is refused.
    FileInto {
        /// The folder name from the script.
        folder: String,
    },
    /// Deliver nowhere (RFC 5228 §4.4). Only ever the sole action.
    Discard,
    /// Refuse the message with this reason, by a delivery status notification after
    /// acceptance if need be (RFC 5429 §2.2). Only ever the sole action.
    Reject {
        /// The human-readable reason from the script.
        reason: String,
    },
    /// Refuse the message at the SMTP/LMTP level with this reason where the protocol
    /// still allows it, otherwise as [`Action::Reject`] (RFC 5429 §2.1). Only ever the
    /// sole action.
    Ereject {
        /// The human-readable reason from the script.
        reason: String,
    },
}

/// The result of running a script on one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The actions to carry out, in the order the script first asked for them; never
    /// empty. Deliveries to one folder appear once.
    pub actions: Vec<Action>,
    /// Runtime errors (RFC 5228 §2.10.6). When there are any, `actions` is just
    /// [`Action::Keep`]: the message goes to INBOX and the errors should be logged.
    pub errors: Vec<String>,
}

impl Script {
    /// Runs the script against one message (RFC 5228 §2.10).
    pub fn evaluate(&self, envelope: &Envelope<'_>, message: &Message<'_>) -> Outcome {
        let mut run = Run {
            envelope,
            message,
            deliveries: Vec::new(),
            reject: None,
            implicit_keep: true,
        };
        match run.block(&self.commands) {
            Ok(_) => run.outcome(),
            Err(error) => Outcome {
                actions: vec![Action::Keep],
                errors: vec![error],
            },
        }
    }
}

/// Whether evaluation goes on after a block.
enum Flow {
    Continue,
    Stop,
}

struct Run<'a, 'm> {
    envelope: &'a Envelope<'m>,
    message: &'a Message<'m>,
    /// Keep and FileInto actions, deduplicated, with where each was first asked for.
    deliveries: Vec<(Action, Pos)>,
    /// The one reject or ereject, with its position.
    reject: Option<(Action, Pos)>,
    implicit_keep: bool,
}

impl Run<'_, '_> {
    fn block(&mut self, commands: &[Command]) -> Result<Flow, String> {
        for command in commands {
            match command {
                Command::If {
                    branches,
                    otherwise,
                } => {
                    let chosen = branches
                        .iter()
                        .find(|(test, _)| self.test(test))
                        .map(|(_, block)| block)
                        .or(otherwise.as_ref());
                    if let Some(block) = chosen {
                        if let Flow::Stop = self.block(block)? {
                            return Ok(Flow::Stop);
                        }
                    }
                }
                Command::Stop => return Ok(Flow::Stop),
                Command::Keep { pos } => self.deliver(Action::Keep, *pos)?,
                Command::Discard => self.implicit_keep = false,
                Command::FileInto { folder, copy, pos } => {
                    // RFC 3501 §5.1: INBOX, in any case, is the main mailbox.
                    let action = if folder.eq_ignore_ascii_case("INBOX") {
                        Action::Keep
                    } else {
                        Action::FileInto {
                            folder: folder.clone(),
                        }
                    };
                    self.deliver(action, *pos)?;
                    if !copy {
                        self.implicit_keep = false;
                    }
                }
                Command::Reject {
                    reason,
                    ereject,
                    pos,
                } => {
                    let name = if *ereject { "ereject" } else { "reject" };
                    if let Some((_, first)) = &self.reject {
                        return Err(format!(
                            "`{name}` at {pos} ran after a reject at {first}: only one reject or ereject may run (RFC 5429)"
                        ));
                    }
                    if let Some((_, first)) = self.deliveries.first() {
                        return Err(format!(
                            "`{name}` at {pos} cannot run together with the keep or fileinto at {first} (RFC 5429)"
                        ));
                    }
                    let reason = reason.clone();
                    self.reject = Some((
                        if *ereject {
                            Action::Ereject { reason }
                        } else {
                            Action::Reject { reason }
                        },
                        *pos,
                    ));
                    self.implicit_keep = false;
                }
            }
        }
        Ok(Flow::Continue)
    }

    fn deliver(&mut self, action: Action, pos: Pos) -> Result<(), String> {
        if let Some((_, first)) = &self.reject {
            return Err(format!(
                "the keep or fileinto at {pos} cannot run together with the reject at {first} (RFC 5429)"
            ));
        }
        // RFC 5228 §2.10.3: one message is delivered to a mailbox at most once.
        if self.deliveries.iter().any(|(a, _)| *a == action) {
            return Ok(());
        }
        if self.deliveries.len() >= MAX_ACTIONS {
            return Err(format!(
                "the fileinto at {pos} would deliver to more than {MAX_ACTIONS} folders; Buzón stops there"
            ));
        }
        self.deliveries.push((action, pos));
        Ok(())
    }

    fn outcome(self) -> Outcome {
        let mut actions: Vec<Action> = match self.reject {
            Some((reject, _)) => vec![reject],
            None => self.deliveries.into_iter().map(|(a, _)| a).collect(),
        };
        // RFC 5228 §2.10.2: the implicit keep, unless something cancelled it.
        if self.implicit_keep && !actions.contains(&Action::Keep) {
            actions.push(Action::Keep);
        }
        if actions.is_empty() {
            actions.push(Action::Discard);
        }
        Outcome {
            actions,
            errors: Vec::new(),
        }
    }

    fn headers<'h>(&'h self, name: &'h str) -> impl Iterator<Item = &'h Header> + 'h {
        self.message
            .headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
    }

    fn test(&self, test: &Test) -> bool {
        match test {
            Test::True => true,
            Test::False => false,
            Test::Not(t) => !self.test(t),
            Test::AllOf(ts) => ts.iter().all(|t| self.test(t)),
            Test::AnyOf(ts) => ts.iter().any(|t| self.test(t)),
            Test::Size { over, limit } => {
                if *over {
                    self.message.size > *limit
                } else {
                    self.message.size < *limit
                }
            }
            Test::Exists(names) => names.iter().all(|n| self.headers(n).next().is_some()),
            Test::Header { names, matcher } => names
                .iter()
                .any(|n| self.headers(n).any(|h| matcher.matches(&h.value))),
            Test::Address {
                part,
                headers,
                matcher,
            } => headers.iter().any(|n| {
                self.headers(n).any(|h| {
                    parse_address_list(&h.raw)
                        .iter()
                        .filter_map(|a| a.part(*part))
                        .any(|v| matcher.matches(&v))
                })
            }),
            Test::Envelope {
                part,
                which,
                matcher,
            } => which.iter().any(|w| {
                let text = match w {
                    EnvelopePart::From => self.envelope.from,
                    EnvelopePart::To => self.envelope.to,
                };
                parse_envelope_address(text)
                    .part(*part)
                    .is_some_and(|v| matcher.matches(&v))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile;

    fn outcome(src: &str) -> Outcome {
        let headers = [
            Header::new("Subject", "hello"),
            Header::new("To", "a@b.example"),
        ];
        let envelope = Envelope {
            from: "",
            to: "a+x@b.example",
        };
        match compile(src) {
            Ok(s) => s.evaluate(
                &envelope,
                &Message {
                    headers: &headers,
                    size: 100,
                },
            ),
            Err(e) => panic!("{src}: {e}"),
        }
    }

    /// RFC 5228 §2.10.2 and §2.10.3: which actions come out of which commands.
    #[test]
    fn outcome_table() {
        let fi = |f: &str| Action::FileInto { folder: f.into() };
        let rej = |r: &str| Action::Reject { reason: r.into() };
        let table: Vec<(&str, Vec<Action>)> = vec![
            ("", vec![Action::Keep]),
            ("keep;", vec![Action::Keep]),
            ("discard;", vec![Action::Discard]),
            ("discard; discard;", vec![Action::Discard]),
            ("stop; discard;", vec![Action::Keep]),
            ("require \"fileinto\"; fileinto \"x\";", vec![fi("x")]),
            ("require \"fileinto\"; fileinto \"x\"; discard;", vec![fi("x")]),
            ("require \"fileinto\"; fileinto \"INBOX\";", vec![Action::Keep]),
            ("require [\"fileinto\", \"copy\"]; fileinto :copy \"x\";", vec![fi("x"), Action::Keep]),
            ("require [\"fileinto\", \"copy\"]; fileinto :copy \"x\"; fileinto \"x\";", vec![fi("x")]),
            ("require [\"fileinto\", \"copy\"]; keep; fileinto :copy \"x\";", vec![Action::Keep, fi("x")]),
            ("require \"reject\"; reject \"r\";", vec![rej("r")]),
            ("require \"reject\"; discard; reject \"r\"; discard;", vec![rej("r")]),
            ("require \"ereject\"; ereject \"e\";", vec![Action::Ereject { reason: "e".into() }]),
            ("require [\"envelope\", \"subaddress\"]; if envelope :detail \"to\" \"x\" { discard; }", vec![Action::Discard]),
            ("require \"envelope\"; if envelope :is \"from\" \"\" { discard; }", vec![Action::Discard]),
            ("if address :domain \"to\" \"B.EXAMPLE\" { discard; }", vec![Action::Discard]),
            ("if header :matches \"subject\" \"h*o\" { discard; }", vec![Action::Discard]),
            ("if size :over 99 { discard; }", vec![Action::Discard]),
            ("if size :over 100 { discard; }", vec![Action::Keep]),
        ];
        for (src, want) in table {
            let got = outcome(src);
            assert_eq!(got.errors, Vec::<String>::new(), "{src}");
            assert_eq!(got.actions, want, "{src}");
        }
    }

    #[test]
    fn runtime_errors_fall_back_to_keep() {
        let got = outcome("require [\"reject\", \"fileinto\"]; fileinto \"x\"; reject \"no\";");
        assert_eq!(got.actions, vec![Action::Keep]);
        assert_eq!(got.errors.len(), 1);
    }
}
