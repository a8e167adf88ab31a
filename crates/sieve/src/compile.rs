//! Gives the syntax tree its meaning: checks every command and test against the subset of
//! Sieve that Buzón runs, and turns it into a [`Script`] that evaluation can walk without
//! further checks. Everything a script can get wrong is found here, before any mail
//! arrives: unknown or refused commands, tests and extensions, missing `require`,
//! wrong arguments, bad header names.

use crate::address::AddressPart;
use crate::error::{CompileError, Pos};
use crate::matching::{Comparator, MatchType, Matcher};
use crate::parser::{ArgValue, Argument, CommandNode, TestNode, Tests};
use buzon_i18n::t;

/// The `require` capabilities Buzón supports (RFC 5228 §3.2 and the extensions'
/// RFCs). `comparator-i;octet` and `comparator-i;ascii-casemap` are accepted though those
/// comparators need no `require` (RFC 5228 §2.7.3).
pub const CAPABILITIES: &[&str] = &[
    "fileinto",
    "envelope",
    "copy",
    "reject",
    "ereject",
    "subaddress",
    "comparator-i;octet",
    "comparator-i;ascii-casemap",
];

/// Registered Sieve extensions that Buzón refuses, with the reason where it is more
/// than "not implemented".
/// The reason is a catalog key (empty: no reason beyond "not supported").
const REFUSED_CAPABILITIES: &[(&str, &str)] = &[
    ("vacation", "sieve-why-replies"),
    ("vacation-seconds", "sieve-why-replies"),
    ("enotify", "sieve-why-notifications"),
    ("notify", "sieve-why-notifications"),
    ("redirect-dsn", "sieve-why-redirect"),
    ("redirect-deliverby", "sieve-why-redirect"),
    ("body", ""),
    ("variables", ""),
    ("imap4flags", ""),
    ("imapflags", ""),
    ("relational", ""),
    ("regex", ""),
    ("date", ""),
    ("index", ""),
    ("editheader", ""),
    ("mailbox", ""),
    ("mboxmetadata", ""),
    ("servermetadata", ""),
    ("include", ""),
    ("environment", ""),
    ("spamtest", ""),
    ("spamtestplus", ""),
    ("virustest", ""),
    ("encoded-character", ""),
    ("duplicate", ""),
    ("foreverypart", ""),
    ("mime", ""),
    ("extracttext", ""),
    ("replace", ""),
    ("enclose", ""),
    ("convert", ""),
    ("ihave", ""),
    ("extlists", ""),
    ("special-use", ""),
    ("fcc", ""),
    ("imapsieve", ""),
    ("envelope-dsn", ""),
    ("envelope-deliverby", ""),
    ("comparator-i;ascii-numeric", ""),
];

/// Commands from Sieve extensions that Buzón refuses, and why.
/// The reason is a catalog key.
const REFUSED_COMMANDS: &[(&str, &str)] = &[
    ("redirect", "sieve-why-redirect-command"),
    ("vacation", "sieve-why-replies"),
    ("notify", "sieve-why-notifications"),
    ("setflag", "sieve-why-flags"),
    ("addflag", "sieve-why-flags"),
    ("removeflag", "sieve-why-flags"),
    ("mark", "sieve-why-flags"),
    ("unmark", "sieve-why-flags"),
    ("set", "sieve-why-variables"),
    ("include", "sieve-why-include"),
    ("return", "sieve-why-include"),
    ("global", "sieve-why-include"),
    ("addheader", "sieve-why-unchanged"),
    ("deleteheader", "sieve-why-unchanged"),
    ("error", "sieve-why-ihave"),
    ("foreverypart", "sieve-why-mime"),
    ("break", "sieve-why-mime"),
    ("extracttext", "sieve-why-mime"),
    ("replace", "sieve-why-unchanged"),
    ("enclose", "sieve-why-unchanged"),
    ("convert", "sieve-why-unchanged"),
];

/// Tests from Sieve extensions that Buzón refuses.
const REFUSED_TESTS: &[&str] = &[
    "body",
    "date",
    "currentdate",
    "string",
    "environment",
    "spamtest",
    "virustest",
    "mailboxexists",
    "metadata",
    "metadataexists",
    "servermetadata",
    "servermetadataexists",
    "duplicate",
    "hasflag",
    "valid_notify_method",
    "notify_method_capability",
    "ihave",
    "valid_ext_list",
    "specialuse_exists",
];

/// Header fields the `address` test may look at: those whose RFC 5322 (or common
/// practice) syntax is an address list (RFC 5228 §5.1 names the minimum).
const ADDRESS_HEADERS: &[&str] = &[
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "bcc",
    "resent-from",
    "resent-sender",
    "resent-to",
    "resent-cc",
    "resent-bcc",
    "resent-reply-to",
    "return-path",
    "delivered-to",
    "envelope-to",
    "x-original-to",
    "x-envelope-to",
    "x-envelope-from",
    "apparently-to",
    "errors-to",
    "mail-followup-to",
    "mail-reply-to",
    "disposition-notification-to",
];

/// A compiled script, ready to be evaluated against any number of messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub(crate) commands: Vec<Command>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// RFC 5228 §3.1: `if`, any `elsif`, an optional `else`.
    If {
        branches: Vec<(Test, Vec<Command>)>,
        otherwise: Option<Vec<Command>>,
    },
    /// RFC 5228 §3.3.
    Stop,
    /// RFC 5228 §4.3.
    Keep { pos: Pos },
    /// RFC 5228 §4.4.
    Discard,
    /// RFC 5228 §4.1, with RFC 3894 `:copy`.
    FileInto {
        folder: String,
        copy: bool,
        pos: Pos,
    },
    /// RFC 5429 §2.2 `reject` (`ereject: false`) and §2.1 `ereject`.
    Reject {
        reason: String,
        ereject: bool,
        pos: Pos,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EnvelopePart {
    From,
    To,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Test {
    /// RFC 5228 §5.1.
    Address {
        part: AddressPart,
        headers: Vec<String>,
        matcher: Matcher,
    },
    /// RFC 5228 §5.4.
    Envelope {
        part: AddressPart,
        which: Vec<EnvelopePart>,
        matcher: Matcher,
    },
    /// RFC 5228 §5.7.
    Header {
        names: Vec<String>,
        matcher: Matcher,
    },
    /// RFC 5228 §5.5.
    Exists(Vec<String>),
    /// RFC 5228 §5.9: `:over` is `over: true`.
    Size { over: bool, limit: u64 },
    /// RFC 5228 §5.2.
    AllOf(Vec<Test>),
    /// RFC 5228 §5.3.
    AnyOf(Vec<Test>),
    /// RFC 5228 §5.8.
    Not(Box<Test>),
    /// RFC 5228 §5.10.
    True,
    /// RFC 5228 §5.6.
    False,
}

pub(crate) fn compile(nodes: &[CommandNode]) -> Result<Script, CompileError> {
    let mut c = Compiler {
        capabilities: Vec::new(),
        require_allowed: true,
    };
    Ok(Script {
        commands: c.block(nodes)?,
    })
}

struct Compiler {
    capabilities: Vec<String>,
    /// RFC 5228 §3.2: `require` only before any other command.
    require_allowed: bool,
}

/// A tag, where it is, and the string after it (for `:comparator`).
type Tagged = (String, Pos, Option<(String, Pos)>);

/// Tagged arguments of one command or test, and the positional ones after them.
struct Args<'a> {
    tags: Vec<Tagged>,
    positional: Vec<&'a Argument>,
}

/// "`name` needs WHAT", with WHAT already in the current language.
fn need(name: &str, pos: Pos, what: &str) -> CompileError {
    CompileError::new(pos, t!("sieve-needs", name = name, what = what))
}

impl Compiler {
    fn has(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }

    fn require_capability(
        &self,
        capability: &str,
        what: &str,
        pos: Pos,
    ) -> Result<(), CompileError> {
        if self.has(capability) {
            Ok(())
        } else {
            Err(CompileError::new(
                pos,
                t!("sieve-needs-require", what = what, capability = capability),
            ))
        }
    }

    fn block(&mut self, nodes: &[CommandNode]) -> Result<Vec<Command>, CompileError> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < nodes.len() {
            let node = &nodes[i];
            i += 1;
            if node.name == "require" {
                self.require(node)?;
                continue;
            }
            self.require_allowed = false;
            match node.name.as_str() {
                "if" => {
                    let mut branches = vec![self.branch(node)?];
                    let mut otherwise = None;
                    while let Some(next) = nodes.get(i) {
                        match next.name.as_str() {
                            "elsif" => branches.push(self.branch(next)?),
                            "else" => {
                                no_arguments(next)?;
                                no_tests(next)?;
                                otherwise = Some(self.body(next)?);
                                i += 1;
                                break;
                            }
                            _ => break,
                        }
                        i += 1;
                    }
                    out.push(Command::If {
                        branches,
                        otherwise,
                    });
                }
                "elsif" | "else" => {
                    return Err(CompileError::new(
                        node.pos,
                        t!("sieve-else-without-if", name = node.name.as_str()),
                    ))
                }
                "stop" | "keep" | "discard" => {
                    no_arguments(node)?;
                    no_tests(node)?;
                    no_block(node)?;
                    out.push(match node.name.as_str() {
                        "stop" => Command::Stop,
                        "keep" => Command::Keep { pos: node.pos },
                        _ => Command::Discard,
                    });
                }
                "fileinto" => {
                    self.require_capability("fileinto", "`fileinto`", node.pos)?;
                    no_tests(node)?;
                    no_block(node)?;
                    let args = split_args(&node.name, &node.args)?;
                    let mut copy = false;
                    for (tag, pos, _) in &args.tags {
                        match tag.as_str() {
                            "copy" if !copy => {
                                self.require_capability("copy", "`:copy`", *pos)?;
                                copy = true;
                            }
                            "copy" => return Err(CompileError::new(*pos, t!("sieve-copy-twice"))),
                            "create" | "flags" | "specialuse" | "mailboxid" => {
                                return Err(CompileError::new(
                                    *pos,
                                    t!("sieve-fileinto-tag-unsupported", tag = tag.as_str()),
                                ))
                            }
                            _ => {
                                return Err(CompileError::new(
                                    *pos,
                                    t!("sieve-fileinto-tag-unknown", tag = tag.as_str()),
                                ))
                            }
                        }
                    }
                    let folder = one_string(
                        &node.name,
                        node.pos,
                        &args.positional,
                        &t!("sieve-what-folder"),
                    )?;
                    out.push(Command::FileInto {
                        folder,
                        copy,
                        pos: node.pos,
                    });
                }
                "reject" | "ereject" => {
                    self.require_capability(&node.name, &format!("`{}`", node.name), node.pos)?;
                    no_tests(node)?;
                    no_block(node)?;
                    let args = split_args(&node.name, &node.args)?;
                    if let Some((tag, pos, _)) = args.tags.first() {
                        return Err(CompileError::new(
                            *pos,
                            t!(
                                "sieve-no-tags",
                                name = node.name.as_str(),
                                tag = tag.as_str()
                            ),
                        ));
                    }
                    let reason = one_string(
                        &node.name,
                        node.pos,
                        &args.positional,
                        &t!("sieve-what-reason"),
                    )?;
                    out.push(Command::Reject {
                        reason,
                        ereject: node.name == "ereject",
                        pos: node.pos,
                    });
                }
                name => {
                    if let Some((_, why)) = REFUSED_COMMANDS.iter().find(|(n, _)| *n == name) {
                        return Err(CompileError::new(
                            node.pos,
                            t!("sieve-command-unsupported", name = name, why = t!(why)),
                        ));
                    }
                    return Err(CompileError::new(
                        node.pos,
                        t!("sieve-command-unknown", name = name),
                    ));
                }
            }
        }
        Ok(out)
    }

    fn require(&mut self, node: &CommandNode) -> Result<(), CompileError> {
        if !self.require_allowed {
            return Err(CompileError::new(node.pos, t!("sieve-require-first")));
        }
        no_tests(node)?;
        no_block(node)?;
        let args = split_args(&node.name, &node.args)?;
        if let Some((tag, pos, _)) = args.tags.first() {
            return Err(CompileError::new(
                *pos,
                t!("sieve-no-tags", name = "require", tag = tag.as_str()),
            ));
        }
        let [arg] = args.positional.as_slice() else {
            return Err(need("require", node.pos, &t!("sieve-what-capabilities")));
        };
        let ArgValue::Strings { items, .. } = &arg.value else {
            return Err(CompileError::new(arg.pos, t!("sieve-require-needs-names")));
        };
        for (cap, pos) in items {
            let lower = cap.to_ascii_lowercase();
            if CAPABILITIES.contains(&lower.as_str()) {
                if !self.has(&lower) {
                    self.capabilities.push(lower);
                }
                continue;
            }
            let supported = CAPABILITIES.join(", ");
            let message = match REFUSED_CAPABILITIES.iter().find(|(n, _)| *n == lower) {
                Some((_, "")) => t!(
                    "sieve-extension-unsupported",
                    extension = cap.as_str(),
                    supported = supported.as_str()
                ),
                Some((_, why)) => t!(
                    "sieve-extension-unsupported-why",
                    extension = cap.as_str(),
                    why = t!(why),
                    supported = supported.as_str()
                ),
                None => t!(
                    "sieve-extension-unknown",
                    extension = cap.as_str(),
                    supported = supported.as_str()
                ),
            };
            return Err(CompileError::new(*pos, message));
        }
        Ok(())
    }

    fn branch(&mut self, node: &CommandNode) -> Result<(Test, Vec<Command>), CompileError> {
        no_arguments(node)?;
        let test = match &node.tests {
            Some(Tests::Single(t)) => self.test(t)?,
            Some(Tests::List(_, pos)) => {
                return Err(CompileError::new(
                    *pos,
                    t!("sieve-one-test-not-list", name = node.name.as_str()),
                ))
            }
            None => {
                return Err(need(
                    &node.name,
                    node.end_pos,
                    &t!("sieve-what-test-before-block"),
                ))
            }
        };
        Ok((test, self.body(node)?))
    }

    fn body(&mut self, node: &CommandNode) -> Result<Vec<Command>, CompileError> {
        match &node.block {
            Some(block) => self.block(block),
            None => Err(need(&node.name, node.end_pos, &t!("sieve-what-block"))),
        }
    }

    fn test(&self, node: &TestNode) -> Result<Test, CompileError> {
        match node.name.as_str() {
            "address" | "envelope" | "header" => self.match_test(node),
            "exists" => exists_test(node),
            "size" => size_test(node),
            "allof" | "anyof" => self.list_test(node),
            "not" => self.not_test(node),
            "true" | "false" => constant_test(node),
            name if REFUSED_TESTS.contains(&name) => Err(CompileError::new(
                node.pos,
                t!("sieve-test-unsupported", name = name),
            )),
            name => Err(CompileError::new(
                node.pos,
                t!("sieve-test-unknown", name = name),
            )),
        }
    }

    /// RFC 5228 §5.1 `address`, §5.4 `envelope`, §5.7 `header`: match options, then two
    /// string lists (what to look at, and the keys).
    fn match_test(&self, node: &TestNode) -> Result<Test, CompileError> {
        let name = node.name.as_str();
        if name == "envelope" {
            self.require_capability("envelope", &t!("sieve-the-envelope-test"), node.pos)?;
        }
        no_test_tests(node)?;
        let args = split_args(name, &node.args)?;
        let options = self.match_options(name, &args.tags)?;
        let (example, what) = match name {
            "header" => (
                "header :contains \"subject\" \"money\"",
                t!("sieve-the-header-names"),
            ),
            "address" => (
                "address :domain \"from\" \"example.com\"",
                t!("sieve-the-header-names"),
            ),
            _ => (
                "envelope :all \"from\" \"tim@example.com\"",
                t!("sieve-the-envelope-parts"),
            ),
        };
        let [fields, keys] = args.positional.as_slice() else {
            let at = args.positional.get(2).map_or(node.pos, |a| a.pos);
            return Err(need(
                name,
                at,
                &t!("sieve-what-two-lists", what = what, example = example),
            ));
        };
        let fields = string_list(name, fields)?;
        let keys: Vec<String> = string_list(name, keys)?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let matcher = Matcher::new(options.comparator, options.match_type, &keys);
        match name {
            "header" => Ok(Test::Header {
                names: header_names(&fields)?,
                matcher,
            }),
            "address" => Ok(Test::Address {
                part: options.address_part,
                headers: address_headers(&fields)?,
                matcher,
            }),
            _ => Ok(Test::Envelope {
                part: options.address_part,
                which: envelope_parts(&fields)?,
                matcher,
            }),
        }
    }

    /// The tagged arguments shared by the match tests (RFC 5228 §2.7): one match type,
    /// one comparator and, except for `header`, one address part; each at most once.
    fn match_options(&self, name: &str, tags: &[Tagged]) -> Result<MatchOptions, CompileError> {
        let mut seen = MatchOptionsSeen::default();
        let mut options = MatchOptions::default();
        for (tag, pos, value) in tags {
            let pos = *pos;
            match tag.as_str() {
                "is" | "contains" | "matches" => {
                    once(&mut seen.match_type, pos, &t!("sieve-a-match-type"))?;
                    options.match_type = match tag.as_str() {
                        "is" => MatchType::Is,
                        "contains" => MatchType::Contains,
                        _ => MatchType::Matches,
                    };
                }
                "comparator" => {
                    once(&mut seen.comparator, pos, &t!("sieve-a-comparator"))?;
                    let Some((cname, cpos)) = value else {
                        return Err(CompileError::new(pos, t!("sieve-comparator-needs-name")));
                    };
                    options.comparator = Comparator::from_name(cname).ok_or_else(|| {
                        CompileError::new(
                            *cpos,
                            t!("sieve-comparator-unsupported", comparator = cname.as_str()),
                        )
                    })?;
                }
                "all" | "localpart" | "domain" | "user" | "detail" if name != "header" => {
                    once(&mut seen.address_part, pos, &t!("sieve-an-address-part"))?;
                    if matches!(tag.as_str(), "user" | "detail") {
                        self.require_capability("subaddress", &format!("`:{tag}`"), pos)?;
                    }
                    options.address_part = match tag.as_str() {
                        "all" => AddressPart::All,
                        "localpart" => AddressPart::LocalPart,
                        "domain" => AddressPart::Domain,
                        "user" => AddressPart::User,
                        _ => AddressPart::Detail,
                    };
                }
                "count" | "value" => {
                    return Err(CompileError::new(
                        pos,
                        t!("sieve-relational-unsupported", tag = tag.as_str()),
                    ))
                }
                "regex" => return Err(CompileError::new(pos, t!("sieve-regex-unsupported"))),
                _ => {
                    let key = if name == "header" {
                        "sieve-match-tag-unknown-header"
                    } else {
                        "sieve-match-tag-unknown"
                    };
                    return Err(CompileError::new(
                        pos,
                        t!(key, tag = tag.as_str(), name = name),
                    ));
                }
            }
        }
        Ok(options)
    }

    /// RFC 5228 §5.2 `allof`, §5.3 `anyof`.
    fn list_test(&self, node: &TestNode) -> Result<Test, CompileError> {
        let name = node.name.as_str();
        no_test_arguments(node)?;
        match &node.tests {
            Some(Tests::List(list, _)) => {
                let tests = list
                    .iter()
                    .map(|t| self.test(t))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(if name == "allof" {
                    Test::AllOf(tests)
                } else {
                    Test::AnyOf(tests)
                })
            }
            _ => Err(need(
                name,
                node.pos,
                &t!("sieve-what-test-list", name = name),
            )),
        }
    }

    /// RFC 5228 §5.8 `not`.
    fn not_test(&self, node: &TestNode) -> Result<Test, CompileError> {
        no_test_arguments(node)?;
        match &node.tests {
            Some(Tests::Single(t)) => Ok(Test::Not(Box::new(self.test(t)?))),
            Some(Tests::List(_, pos)) => Err(CompileError::new(*pos, t!("sieve-not-one-test"))),
            None => Err(need(&node.name, node.pos, &t!("sieve-what-not-test"))),
        }
    }
}

/// The match options of one test, defaults filled in.
#[derive(Default)]
struct MatchOptions {
    comparator: Comparator,
    match_type: MatchType,
    address_part: AddressPart,
}

/// Where each match option was first given, to refuse a second one.
#[derive(Default)]
struct MatchOptionsSeen {
    comparator: Option<Pos>,
    match_type: Option<Pos>,
    address_part: Option<Pos>,
}

/// Records the first occurrence of an option that may be given once.
fn once(seen: &mut Option<Pos>, pos: Pos, what: &str) -> Result<(), CompileError> {
    if let Some(first) = seen {
        return Err(CompileError::new(
            pos,
            t!("sieve-only-one", what = what, first = first.to_string()),
        ));
    }
    *seen = Some(pos);
    Ok(())
}

/// The header names of an `address` test, each one that holds addresses.
fn address_headers(fields: &[(String, Pos)]) -> Result<Vec<String>, CompileError> {
    let headers = header_names(fields)?;
    for (h, (_, pos)) in headers.iter().zip(fields) {
        if !ADDRESS_HEADERS.contains(&h.as_str()) {
            return Err(CompileError::new(
                *pos,
                t!("sieve-address-header", header = h.as_str()),
            ));
        }
    }
    Ok(headers)
}

/// The envelope parts of an `envelope` test (RFC 5228 §5.4): "from" and "to".
fn envelope_parts(fields: &[(String, Pos)]) -> Result<Vec<EnvelopePart>, CompileError> {
    fields
        .iter()
        .map(|(p, pos)| match p.to_ascii_lowercase().as_str() {
            "from" => Ok(EnvelopePart::From),
            "to" => Ok(EnvelopePart::To),
            _ => Err(CompileError::new(
                *pos,
                t!("sieve-envelope-part", part = p.as_str()),
            )),
        })
        .collect()
}

/// RFC 5228 §5.5 `exists`.
fn exists_test(node: &TestNode) -> Result<Test, CompileError> {
    let name = node.name.as_str();
    no_test_tests(node)?;
    let args = split_args(name, &node.args)?;
    if let Some((tag, pos, _)) = args.tags.first() {
        return Err(CompileError::new(
            *pos,
            t!("sieve-no-tags", name = "exists", tag = tag.as_str()),
        ));
    }
    let [names] = args.positional.as_slice() else {
        let at = args.positional.get(1).map_or(node.pos, |a| a.pos);
        return Err(need(name, at, &t!("sieve-what-exists")));
    };
    Ok(Test::Exists(header_names(&string_list(name, names)?)?))
}

/// RFC 5228 §5.9 `size`: exactly one of `:over` and `:under`, then a number.
fn size_test(node: &TestNode) -> Result<Test, CompileError> {
    let name = node.name.as_str();
    no_test_tests(node)?;
    let args = split_args(name, &node.args)?;
    let mut over: Option<bool> = None;
    for (tag, pos, _) in &args.tags {
        let this = match tag.as_str() {
            "over" => true,
            "under" => false,
            _ => {
                return Err(CompileError::new(
                    *pos,
                    t!("sieve-size-tag-unknown", tag = tag.as_str()),
                ))
            }
        };
        if over.is_some() {
            return Err(CompileError::new(*pos, t!("sieve-size-one-of")));
        }
        over = Some(this);
    }
    let Some(over) = over else {
        return Err(need(name, node.pos, &t!("sieve-what-size-tag")));
    };
    match args.positional.as_slice() {
        [Argument {
            value: ArgValue::Number(limit),
            ..
        }] => Ok(Test::Size {
            over,
            limit: *limit,
        }),
        [other] => Err(CompileError::new(other.pos, t!("sieve-size-needs-number"))),
        [_, extra, ..] => Err(CompileError::new(extra.pos, t!("sieve-size-one-number"))),
        [] => Err(need(name, node.pos, &t!("sieve-what-number"))),
    }
}

/// RFC 5228 §5.10 `true`, §5.6 `false`.
fn constant_test(node: &TestNode) -> Result<Test, CompileError> {
    no_test_arguments(node)?;
    no_test_tests(node)?;
    Ok(if node.name == "true" {
        Test::True
    } else {
        Test::False
    })
}

/// Separates tagged from positional arguments (RFC 5228 §2.6.2: tagged ones come first)
/// and takes the string that follows `:comparator`.
fn split_args<'a>(name: &str, args: &'a [Argument]) -> Result<Args<'a>, CompileError> {
    let mut out = Args {
        tags: Vec::new(),
        positional: Vec::new(),
    };
    let mut it = args.iter().peekable();
    while let Some(arg) = it.next() {
        match &arg.value {
            ArgValue::Tag(tag) => {
                if let Some(first) = out.positional.first() {
                    return Err(CompileError::new(
                        arg.pos,
                        t!(
                            "sieve-tag-after-arguments",
                            tag = tag.as_str(),
                            name = name,
                            first = first.pos.to_string()
                        ),
                    ));
                }
                let mut value = None;
                if tag == "comparator" {
                    if let Some(Argument {
                        value:
                            ArgValue::Strings {
                                items,
                                bracketed: false,
                            },
                        ..
                    }) = it.peek()
                    {
                        value = items.first().cloned();
                        it.next();
                    }
                }
                out.tags.push((tag.clone(), arg.pos, value));
            }
            _ => out.positional.push(arg),
        }
    }
    Ok(out)
}

fn string_list(name: &str, arg: &Argument) -> Result<Vec<(String, Pos)>, CompileError> {
    match &arg.value {
        ArgValue::Strings { items, .. } => Ok(items.clone()),
        _ => Err(CompileError::new(
            arg.pos,
            t!("sieve-needs-strings-here", name = name),
        )),
    }
}

fn one_string(
    name: &str,
    pos: Pos,
    positional: &[&Argument],
    what: &str,
) -> Result<String, CompileError> {
    match positional {
        [arg] => match &arg.value {
            ArgValue::Strings {
                items,
                bracketed: false,
            } => Ok(items.first().map(|(s, _)| s.clone()).unwrap_or_default()),
            ArgValue::Strings {
                bracketed: true, ..
            } => Err(CompileError::new(
                arg.pos,
                t!("sieve-needs-single-string", name = name, what = what),
            )),
            _ => Err(CompileError::new(
                arg.pos,
                t!("sieve-needs-string", name = name, what = what),
            )),
        },
        [] => Err(need(name, pos, &t!("sieve-what-a-string", what = what))),
        [_, extra, ..] => Err(CompileError::new(
            extra.pos,
            t!("sieve-one-string", name = name, what = what),
        )),
    }
}

/// RFC 5322 §3.6.8 field names: printable ASCII except `:`. Returned lower-cased.
fn header_names(fields: &[(String, Pos)]) -> Result<Vec<String>, CompileError> {
    fields
        .iter()
        .map(|(h, pos)| {
            if h.is_empty() || !h.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
                Err(CompileError::new(
                    *pos,
                    t!("sieve-bad-header-name", header = format!("{h:?}")),
                ))
            } else {
                Ok(h.to_ascii_lowercase())
            }
        })
        .collect()
}

fn no_arguments(node: &CommandNode) -> Result<(), CompileError> {
    match node.args.first() {
        Some(a) => Err(CompileError::new(
            a.pos,
            t!("sieve-no-arguments", name = node.name.as_str()),
        )),
        None => Ok(()),
    }
}

fn no_tests(node: &CommandNode) -> Result<(), CompileError> {
    match &node.tests {
        Some(Tests::Single(t)) => Err(CompileError::new(
            t.pos,
            t!(
                "sieve-unexpected-after",
                found = t.name.as_str(),
                name = node.name.as_str()
            ),
        )),
        Some(Tests::List(_, pos)) => Err(CompileError::new(
            *pos,
            t!("sieve-no-tests", name = node.name.as_str()),
        )),
        None => Ok(()),
    }
}

fn no_block(node: &CommandNode) -> Result<(), CompileError> {
    if node.block.is_some() {
        Err(CompileError::new(
            node.end_pos,
            t!("sieve-no-block", name = node.name.as_str()),
        ))
    } else {
        Ok(())
    }
}

fn no_test_arguments(node: &TestNode) -> Result<(), CompileError> {
    match node.args.first() {
        Some(a) => Err(CompileError::new(
            a.pos,
            t!("sieve-test-no-arguments", name = node.name.as_str()),
        )),
        None => Ok(()),
    }
}

fn no_test_tests(node: &TestNode) -> Result<(), CompileError> {
    match &node.tests {
        Some(Tests::Single(t)) => Err(CompileError::new(
            t.pos,
            t!(
                "sieve-unexpected-after-test",
                found = t.name.as_str(),
                name = node.name.as_str()
            ),
        )),
        Some(Tests::List(_, pos)) => Err(CompileError::new(
            *pos,
            t!("sieve-test-no-test-list", name = node.name.as_str()),
        )),
        None => Ok(()),
    }
}
