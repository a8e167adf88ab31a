//! The examples of RFC 5228 (and of RFC 5233, RFC 3894 and RFC 5429) that fall inside
//! Buzón's Sieve subset, compiled and run against the RFC 5228 §1.2 example messages and
//! variations of them; the examples outside the subset and broken scripts, with the exact
//! error each gives; and a property test that no input makes the compiler panic.

// Helpers outside #[test] functions fail the test by panicking too (clippy.toml's
// allow-unwrap-in-tests covers only the test functions themselves).
#![allow(clippy::unwrap_used)]

use buzon_sieve::{compile, parse_headers, Action, Envelope, Header, Message, Script};

/// RFC 5228 §1.2, message A.
const MESSAGE_A: &str = "Date: Tue, 1 Apr 1997 09:06:31 -0800 (PST)\r\n\
From: coyote@desert.example.org\r\n\
To: roadrunner@acme.example.com\r\n\
Subject: I have a present for you\r\n\
\r\n\
Look, I'm sorry about the whole anvil thing, and I really\r\n\
didn't mean to try and drop it on you from the top of the\r\n\
cliff.  I want to try to make it up to you.  I've got some\r\n\
great birdseed over here at my place--top of the line\r\n\
stuff--and if you come by, I'll have it all wrapped up\r\n\
for you.  I'm really sorry for all the problems I've caused\r\n\
for you over the years, but I know we can work this out.\r\n\
--\r\n\
Wile E. Coyote   \"Super Genius\"   coyote@desert.example.org\r\n";

/// RFC 5228 §1.2, message B.
const MESSAGE_B: &str = "From: youcouldberich!@reply-by-postal-mail.invalid\r\n\
Sender: b1ff@de.res.example.com\r\n\
To: rube@landmark.example.com\r\n\
Date:  Mon, 31 Mar 1997 18:26:10 -0800\r\n\
Subject: $$$ YOU, TOO, CAN BE A MILLIONAIRE! $$$\r\n\
\r\n\
YOU MAY HAVE ALREADY WON TEN MILLION DOLLARS, BUT I DOUBT\r\n\
IT!  SO JUST POST THIS TO 3 NEWSGROUPS, AND IN A FEW DAYS\r\n\
YOU WILL RECEIVE CASH!\r\n";

const ENVELOPE: Envelope<'static> = Envelope {
    from: "sender@example.net",
    to: "me@example.com",
};

fn script(src: &str) -> Script {
    match compile(src) {
        Ok(s) => s,
        Err(e) => panic!("script does not compile: {e}\n{src}"),
    }
}

/// Runs `src` on a message given as text, with its real size, and returns the actions
/// (asserting there were no runtime errors).
fn run_with(src: &str, envelope: &Envelope<'_>, message: &str) -> Vec<Action> {
    run_sized(src, envelope, message, message.len() as u64)
}

fn run_sized(src: &str, envelope: &Envelope<'_>, message: &str, size: u64) -> Vec<Action> {
    let headers = parse_headers(message.as_bytes());
    let outcome = script(src).evaluate(
        envelope,
        &Message {
            headers: &headers,
            size,
        },
    );
    assert_eq!(
        outcome.errors,
        Vec::<String>::new(),
        "runtime errors in\n{src}"
    );
    outcome.actions
}

fn run(src: &str, message: &str) -> Vec<Action> {
    run_with(src, &ENVELOPE, message)
}

fn compile_error(src: &str) -> String {
    match compile(src) {
        Ok(s) => panic!("compiled, but should not have: {s:?}\n{src}"),
        Err(e) => e.to_string(),
    }
}

fn fileinto(folder: &str) -> Action {
    Action::FileInto {
        folder: folder.to_owned(),
    }
}

use Action::{Discard, Keep};

/// A message with the given header lines and a short body.
fn msg(headers: &[&str]) -> String {
    let mut m = headers.join("\r\n");
    m.push_str("\r\n\r\nbody\r\n");
    m
}

// ---------------------------------------------------------------- RFC 5228 §2

#[test]
fn rfc5228_2_3_hash_comment() {
    let src = "if size :over 100k { # this is a comment\n    discard;\n}\n";
    assert_eq!(run(src, MESSAGE_A), vec![Keep]);
    assert_eq!(run_sized(src, &ENVELOPE, MESSAGE_A, 100 * 1024), vec![Keep]);
    assert_eq!(
        run_sized(src, &ENVELOPE, MESSAGE_A, 100 * 1024 + 1),
        vec![Discard]
    );
}

#[test]
fn rfc5228_2_3_bracket_comment() {
    let src = "if size :over 100K { /* this is a comment\n    this is still a comment */ discard /* this is a comment\n    */ ;\n}\n";
    assert_eq!(run(src, MESSAGE_A), vec![Keep]);
    assert_eq!(run_sized(src, &ENVELOPE, MESSAGE_A, 200_000), vec![Discard]);
}

#[test]
fn rfc5228_2_4_2_4_encoded_character_is_refused() {
    let src = "require \"encoded-character\";\nif header :contains \"Subject\" \"$${hex:24 24}\" {\n    discard;\n}\n";
    assert_eq!(
        compile_error(src),
        "line 1:9: the Sieve extension \"encoded-character\" is not supported by Buzón; it supports \
         fileinto, envelope, copy, reject, ereject, subaddress, comparator-i;octet, comparator-i;ascii-casemap"
    );
}

#[test]
fn rfc5228_2_5_anyof_not_exists() {
    let src = "if anyof (not exists [\"From\", \"Date\"],\n          header :contains \"from\" \"fool@example.com\") {\n    discard;\n}\n";
    assert_eq!(run(src, MESSAGE_A), vec![Keep]);
    assert_eq!(run(src, MESSAGE_B), vec![Keep]);
    assert_eq!(run(src, &msg(&["From: a@example.com"])), vec![Discard]);
    assert_eq!(
        run(src, &msg(&["From: Fool <FOOL@example.com>", "Date: today"])),
        vec![Discard]
    );
}

#[test]
fn rfc5228_2_7_3_comparator_octet() {
    let src = "if header :contains :comparator \"i;octet\" \"Subject\"\n    \"MAKE MONEY FAST\" {\n    discard;\n}\n";
    assert_eq!(
        run(src, &msg(&["Subject: MAKE MONEY FAST now"])),
        vec![Discard]
    );
    assert_eq!(
        run(src, &msg(&["Subject: make money fast now"])),
        vec![Keep]
    );
    assert_eq!(run(src, MESSAGE_B), vec![Keep]);
}

#[test]
fn rfc5228_2_10_size_over_500k() {
    let src = "if size :over 500K { discard; }";
    assert_eq!(run(src, MESSAGE_A), vec![Keep]);
    assert_eq!(
        run_sized(src, &ENVELOPE, MESSAGE_A, 500 * 1024 + 1),
        vec![Discard]
    );
}

// ---------------------------------------------------------------- RFC 5228 §3

const RFC5228_3_1_FILEINTO: &str = r#"require "fileinto";
if header :contains "from" "coyote" {
    discard;
} elsif header :contains ["subject"] ["$$$"] {
    discard;
} else {
    fileinto "INBOX";
}
"#;

#[test]
fn rfc5228_3_1_if_elsif_else() {
    assert_eq!(run(RFC5228_3_1_FILEINTO, MESSAGE_A), vec![Discard]);
    assert_eq!(run(RFC5228_3_1_FILEINTO, MESSAGE_B), vec![Discard]);
    // `fileinto "INBOX"` is the main mailbox: a keep.
    assert_eq!(
        run(
            RFC5228_3_1_FILEINTO,
            &msg(&["From: friend@example.com", "Subject: hi"])
        ),
        vec![Keep]
    );
}

#[test]
fn rfc5228_3_1_redirect_example_is_refused() {
    let src = r#"if header :contains ["From"] ["coyote"] {
    redirect "acm@example.com";
} elsif header :contains "Subject" "$$$" {
    redirect "postmaster@example.com";
} else {
    redirect "field@example.com";
}
"#;
    assert_eq!(
        compile_error(src),
        "line 2:5: `redirect` is not supported by Buzón: it would send mail out; use fileinto instead"
    );
}

#[test]
fn rfc5228_3_2_require() {
    // Capabilities are case-insensitive strings; a single string or a list.
    script("require \"fileinto\";\nrequire [\"ENVELOPE\", \"copy\"];\nkeep;");
    assert_eq!(
        compile_error("keep;\nrequire \"fileinto\";"),
        "line 2:1: `require` must come before every other command (RFC 5228 §3.2); move it to the top of the script"
    );
    assert_eq!(
        compile_error("require [\"fileinto\", \"x-frobnicate\"];"),
        "line 1:22: unknown Sieve extension \"x-frobnicate\" in `require`; Buzón supports \
         fileinto, envelope, copy, reject, ereject, subaddress, comparator-i;octet, comparator-i;ascii-casemap"
    );
    assert_eq!(
        compile_error("require \"vacation\";"),
        "line 1:9: the Sieve extension \"vacation\" is not supported by Buzón: it would send automatic replies out; \
         it supports fileinto, envelope, copy, reject, ereject, subaddress, comparator-i;octet, comparator-i;ascii-casemap"
    );
    // RFC 5228 §2.7.3: the two mandatory comparators may be required, and need not be.
    script("require [\"comparator-i;octet\", \"comparator-i;ascii-casemap\"];");
}

#[test]
fn rfc5228_3_3_stop() {
    let src = "require \"fileinto\";\nif true { fileinto \"a\"; stop; }\nfileinto \"b\";";
    assert_eq!(run(src, MESSAGE_A), vec![fileinto("a")]);
    // Stop at the top level keeps the implicit keep.
    assert_eq!(run("stop;\ndiscard;", MESSAGE_A), vec![Keep]);
}

// ---------------------------------------------------------------- RFC 5228 §4

#[test]
fn rfc5228_4_1_fileinto() {
    let src = "require \"fileinto\";\nif header :contains [\"from\"] \"coyote\" {\n    fileinto \"INBOX.harassment\";\n}\n";
    assert_eq!(run(src, MESSAGE_A), vec![fileinto("INBOX.harassment")]);
    assert_eq!(run(src, MESSAGE_B), vec![Keep]);
}

#[test]
fn rfc5228_4_2_redirect_is_refused() {
    assert_eq!(
        compile_error("redirect \"bart@example.com\";"),
        "line 1:1: `redirect` is not supported by Buzón: it would send mail out; use fileinto instead"
    );
}

#[test]
fn rfc5228_4_3_keep() {
    let src = "if size :under 1M { keep; } else { discard; }";
    assert_eq!(run(src, MESSAGE_A), vec![Keep]);
    assert_eq!(run_sized(src, &ENVELOPE, MESSAGE_A, 1 << 20), vec![Discard]);
}

#[test]
fn rfc5228_4_4_discard() {
    let src = "if header :contains [\"from\"] [\"idiot@example.com\"] {\n    discard;\n}\n";
    assert_eq!(
        run(src, &msg(&["From: The Idiot <idiot@example.com>"])),
        vec![Discard]
    );
    assert_eq!(run(src, MESSAGE_A), vec![Keep]);
    // Discard cancels only the implicit keep: an explicit keep still happens.
    assert_eq!(run("discard; keep;", MESSAGE_A), vec![Keep]);
}

// ---------------------------------------------------------------- RFC 5228 §5

#[test]
fn rfc5228_5_1_address() {
    let src = "if address :is :all \"from\" \"tim@example.com\" {\n    discard;\n}\n";
    assert_eq!(
        run(src, &msg(&["From: Tim <TIM@Example.COM>"])),
        vec![Discard]
    );
    assert_eq!(
        run(
            src,
            &msg(&["From: \"tim@example.com\" <other@example.com>"])
        ),
        vec![Keep]
    );
    assert_eq!(
        run(src, &msg(&["From: a@example.com, (Tim) tim@example.com"])),
        vec![Discard]
    );
    assert_eq!(run(src, MESSAGE_A), vec![Keep]);
}

#[test]
fn rfc5228_5_4_envelope() {
    let src = "require \"envelope\";\nif envelope :all :is \"from\" \"tim@example.com\" {\n    discard;\n}\n";
    let tim = Envelope {
        from: "<tim@example.com>",
        to: "me@example.com",
    };
    assert_eq!(run_with(src, &tim, MESSAGE_A), vec![Discard]);
    assert_eq!(run_with(src, &ENVELOPE, MESSAGE_A), vec![Keep]);
    // The null reverse-path is "" for every address part.
    let null = Envelope {
        from: "<>",
        to: "me@example.com",
    };
    let empty = "require \"envelope\";\nif envelope :domain :is \"from\" \"\" { discard; }";
    assert_eq!(run_with(empty, &null, MESSAGE_A), vec![Discard]);
    assert_eq!(run_with(empty, &tim, MESSAGE_A), vec![Keep]);
    assert_eq!(
        compile_error("if envelope :all :is \"from\" \"tim@example.com\" { discard; }"),
        "line 1:4: the `envelope` test needs `require \"envelope\";` at the top of the script"
    );
}

#[test]
fn rfc5228_5_5_exists() {
    let src = "if not exists [\"From\",\"Date\"] {\n    discard;\n}\n";
    assert_eq!(run(src, MESSAGE_A), vec![Keep]);
    assert_eq!(run(src, &msg(&["Date: today"])), vec![Discard]);
}

#[test]
fn rfc5228_5_7_header_and_the_empty_key() {
    let m = msg(&["X-Caffeine: C8H10N4O2"]);
    let t = |test: &str| run(&format!("if {test} {{ discard; }}"), &m) == vec![Discard];
    assert!(!t("header :is [\"X-Caffeine\"] [\"\"]"));
    assert!(t("header :contains [\"X-Caffeine\"] [\"\"]"));
    // A missing header matches no key, not even "".
    assert!(!t("header :contains [\"X-Decaf\"] [\"\"]"));
    // `?*` matches any non-empty value; so this is true without a Cc.
    assert!(t("not header :matches \"Cc\" \"?*\""));
    assert!(!run(
        "if not header :matches \"Cc\" \"?*\" { discard; }",
        &msg(&["Cc: a@b"])
    )
    .contains(&Discard));
    assert!(
        run(
            "if header :matches \"Cc\" \"?*\" { discard; }",
            &msg(&["Cc:"])
        ) == vec![Keep]
    );
}

#[test]
fn rfc5228_5_9_size_bounds() {
    let over = "if size :over 100 { discard; }";
    let under = "if size :under 100 { discard; }";
    assert_eq!(run_sized(over, &ENVELOPE, MESSAGE_A, 100), vec![Keep]);
    assert_eq!(run_sized(over, &ENVELOPE, MESSAGE_A, 101), vec![Discard]);
    assert_eq!(run_sized(under, &ENVELOPE, MESSAGE_A, 100), vec![Keep]);
    assert_eq!(run_sized(under, &ENVELOPE, MESSAGE_A, 99), vec![Discard]);
}

#[test]
fn rfc5228_5_true_false_allof_anyof() {
    assert_eq!(run("if true { discard; }", MESSAGE_A), vec![Discard]);
    assert_eq!(run("if false { discard; }", MESSAGE_A), vec![Keep]);
    assert_eq!(
        run("if allof (true, false) { discard; }", MESSAGE_A),
        vec![Keep]
    );
    assert_eq!(
        run("if allof (true, true) { discard; }", MESSAGE_A),
        vec![Discard]
    );
    assert_eq!(
        run("if anyof (false, false) { discard; }", MESSAGE_A),
        vec![Keep]
    );
    assert_eq!(
        run("if anyof (false, true) { discard; }", MESSAGE_A),
        vec![Discard]
    );
    assert_eq!(
        run("if not not true { discard; }", MESSAGE_A),
        vec![Discard]
    );
}

// ---------------------------------------------------------------- RFC 5228 §9

const RFC5228_9: &str = r#"#
# Example Sieve Filter
# Declare any optional features or extension used by the script
#
require ["fileinto"];

#
# Handle messages from known mailing lists
# Move messages from IETF filter discussion list to filter mailbox
#
if header :is "Sender" "owner-ietf-mta-filters@imc.org"
        {
        fileinto "filter";  # move to "filter" mailbox
        }
#
# Keep all messages to or from people in my company
#
elsif address :DOMAIN :is ["From", "To"] "example.com"
        {
        keep;               # keep in "In" mailbox
        }

#
# Try and catch unsolicited email.  If a message is not to me,
# or it contains a subject known to be spam, file it away.
#
elsif anyof (NOT address :all :contains
               ["To", "Cc", "Bcc"] "me@example.com",
             header :matches "subject"
               ["*make*money*fast*", "*university*dipl*mas*"])
        {
        fileinto "spam";   # move to "spam" mailbox
        }
else
        {
        # Move all other (non-company) mail to "personal"
        # mailbox.
        fileinto "personal";
        }
"#;

#[test]
fn rfc5228_9_example() {
    let list = msg(&[
        "Sender: owner-ietf-mta-filters@imc.org",
        "From: x@y.example",
        "To: me@example.com",
    ]);
    assert_eq!(run(RFC5228_9, &list), vec![fileinto("filter")]);
    let colleague = msg(&["From: Boss <boss@EXAMPLE.com>", "To: me@other.example"]);
    assert_eq!(run(RFC5228_9, &colleague), vec![Keep]);
    // :domain :is is exact: a subdomain is not the company.
    let sub = msg(&["From: a@mail.example.com", "Cc: me@example.com"]);
    assert_eq!(run(RFC5228_9, &sub), vec![fileinto("personal")]);
    // Mail to me@example.com is company mail by the second rule; only copies reach the third.
    assert_eq!(
        run(
            RFC5228_9,
            &msg(&[
                "From: x@y.example",
                "To: me@example.com",
                "Subject: make money fast"
            ])
        ),
        vec![Keep]
    );
    let spam = msg(&[
        "From: x@y.example",
        "To: list@lists.example",
        "Cc: me@example.com",
        "Subject: MAKE MONEY FAST!!!",
    ]);
    assert_eq!(run(RFC5228_9, &spam), vec![fileinto("spam")]);
    let diplomas = msg(&[
        "From: x@y.example",
        "Bcc: me@example.com",
        "Subject: University Diplomas",
    ]);
    assert_eq!(run(RFC5228_9, &diplomas), vec![fileinto("spam")]);
    let friend = msg(&[
        "From: x@y.example",
        "To: list@lists.example",
        "Cc: Me <me@example.com>",
        "Subject: lunch?",
    ]);
    assert_eq!(run(RFC5228_9, &friend), vec![fileinto("personal")]);
    // Neither RFC message is addressed to me@example.com.
    assert_eq!(run(RFC5228_9, MESSAGE_A), vec![fileinto("spam")]);
    assert_eq!(run(RFC5228_9, MESSAGE_B), vec![fileinto("spam")]);
}

// ---------------------------------------------------------------- RFC 5233

const RFC5233_EXAMPLE: &str = r#"require ["envelope", "subaddress", "fileinto"];

# In this example the same user account receives mail for both
# "ken@example.com" and "postmaster@example.com"

# File all messages to postmaster into a single mailbox,
# ignoring the :detail part.
if envelope :user "to" "postmaster" {
    fileinto "inbox.postmaster";
    stop;
}

# File mailing list messages (subscribed as "ken+mta-filters").
if envelope :detail "to" "mta-filters" {
    fileinto "inbox.ietf-mta-filters";
}
"#;

#[test]
fn rfc5233_subaddress_example() {
    let to = |to: &'static str| Envelope {
        from: "list@example.org",
        to,
    };
    assert_eq!(
        run_with(RFC5233_EXAMPLE, &to("postmaster@example.com"), MESSAGE_A),
        vec![fileinto("inbox.postmaster")]
    );
    assert_eq!(
        run_with(
            RFC5233_EXAMPLE,
            &to("postmaster+mta-filters@example.com"),
            MESSAGE_A
        ),
        vec![fileinto("inbox.postmaster")]
    );
    assert_eq!(
        run_with(
            RFC5233_EXAMPLE,
            &to("ken+mta-filters@example.com"),
            MESSAGE_A
        ),
        vec![fileinto("inbox.ietf-mta-filters")]
    );
    assert_eq!(
        run_with(RFC5233_EXAMPLE, &to("ken+foo@example.com"), MESSAGE_A),
        vec![Keep]
    );
    // No separator: :detail matches nothing, not even "".
    assert_eq!(
        run_with(RFC5233_EXAMPLE, &to("ken@example.com"), MESSAGE_A),
        vec![Keep]
    );
    let empty_detail =
        "require [\"envelope\", \"subaddress\"];\nif envelope :detail \"to\" \"\" { discard; }";
    assert_eq!(
        run_with(empty_detail, &to("ken+@example.com"), MESSAGE_A),
        vec![Discard]
    );
    assert_eq!(
        run_with(empty_detail, &to("ken@example.com"), MESSAGE_A),
        vec![Keep]
    );
}

#[test]
fn rfc5233_subaddress_in_headers_and_its_require() {
    let src = "require \"subaddress\";\nif address :detail :matches \"to\" \"list-*\" { discard; }";
    assert_eq!(
        run(src, &msg(&["To: Ken <ken+list-ietf@example.com>"])),
        vec![Discard]
    );
    assert_eq!(run(src, &msg(&["To: ken+other@example.com"])), vec![Keep]);
    assert_eq!(
        compile_error("if address :user \"to\" \"ken\" { discard; }"),
        "line 1:12: `:user` needs `require \"subaddress\";` at the top of the script"
    );
}

#[test]
fn rfc5233_full_example_with_redirect_is_refused() {
    let src = format!(
        "{RFC5233_EXAMPLE}\n# Redirect all mail sent to \"ken+foo\".\nif envelope :detail \"to\" \"foo\" {{\n    redirect \"ken@example.net\";\n}}\n"
    );
    assert_eq!(
        compile_error(&src),
        "line 20:5: `redirect` is not supported by Buzón: it would send mail out; use fileinto instead"
    );
}

// ---------------------------------------------------------------- RFC 3894

#[test]
fn rfc3894_copy() {
    let src = "require [\"copy\", \"fileinto\"];\nfileinto :copy \"incoming\";\n";
    assert_eq!(run(src, MESSAGE_A), vec![fileinto("incoming"), Keep]);
    // A later discard still cancels the implicit keep.
    assert_eq!(
        run(
            "require [\"copy\", \"fileinto\"];\nfileinto :copy \"incoming\";\ndiscard;",
            MESSAGE_A
        ),
        vec![fileinto("incoming")]
    );
    assert_eq!(
        compile_error("require \"fileinto\";\nfileinto :copy \"incoming\";"),
        "line 2:10: `:copy` needs `require \"copy\";` at the top of the script"
    );
    // RFC 3894's other example copies with redirect, which Buzón refuses.
    assert_eq!(
        compile_error("require [\"copy\"];\nredirect :copy \"x@example.com\";"),
        "line 2:1: `redirect` is not supported by Buzón: it would send mail out; use fileinto instead"
    );
}

// ---------------------------------------------------------------- RFC 5429

#[test]
fn rfc5429_ereject_example() {
    let src = "require [\"ereject\"];\n\nif address \"from\" \"someone@example.com\" {\n    ereject \"I no longer accept mail from this address\";\n}\n";
    assert_eq!(
        run(src, &msg(&["From: Someone <someone@example.com>"])),
        vec![Action::Ereject {
            reason: "I no longer accept mail from this address".into()
        }]
    );
    assert_eq!(run(src, MESSAGE_A), vec![Keep]);
}

#[test]
fn rfc5429_reject_examples() {
    let big = "require [\"reject\"];\n\nif size :over 100K {\n    reject text:\nYour message is too big.  If you want to send me a big attachment,\nput it on a public web site and send me a URL.\n.\n;\n}\n";
    assert_eq!(
        run_sized(big, &ENVELOPE, MESSAGE_A, 200_000),
        vec![Action::Reject {
            reason: "Your message is too big.  If you want to send me a big attachment,\r\n\
                     put it on a public web site and send me a URL.\r\n"
                .into()
        }]
    );
    assert_eq!(run(big, MESSAGE_A), vec![Keep]);
    let coyote = "require [\"reject\"];\n\nif header :contains \"from\" \"coyote@desert.example.org\" {\n    reject text:\nI am not taking mail from you, and I don't\nwant your birdseed, either!\n.\n    ;\n}\n";
    assert_eq!(
        run(coyote, MESSAGE_A),
        vec![Action::Reject {
            reason: "I am not taking mail from you, and I don't\r\nwant your birdseed, either!\r\n"
                .into()
        }]
    );
    assert_eq!(run(coyote, MESSAGE_B), vec![Keep]);
    assert_eq!(
        compile_error("reject \"no\";"),
        "line 1:1: `reject` needs `require \"reject\";` at the top of the script"
    );
    assert_eq!(
        compile_error("require \"reject\";\nereject \"no\";"),
        "line 2:1: `ereject` needs `require \"ereject\";` at the top of the script"
    );
}

#[test]
fn rfc5429_reject_conflicts_are_runtime_errors_that_keep() {
    let headers: Vec<Header> = parse_headers(MESSAGE_A.as_bytes());
    let m = Message {
        headers: &headers,
        size: 10,
    };
    let cases = [
        (
            "require [\"reject\", \"fileinto\"];\nfileinto \"a\";\nreject \"no\";",
            "`reject` at line 3:1 cannot run together with the keep or fileinto at line 2:1 (RFC 5429)",
        ),
        (
            "require [\"reject\"];\nreject \"no\";\nkeep;",
            "the keep or fileinto at line 3:1 cannot run together with the reject at line 2:1 (RFC 5429)",
        ),
        (
            "require [\"reject\", \"ereject\"];\nreject \"no\";\nereject \"never\";",
            "`ereject` at line 3:1 ran after a reject at line 2:1: only one reject or ereject may run (RFC 5429)",
        ),
    ];
    for (src, error) in cases {
        let outcome = script(src).evaluate(&ENVELOPE, &m);
        assert_eq!(outcome.actions, vec![Keep], "{src}");
        assert_eq!(outcome.errors, vec![error.to_owned()], "{src}");
    }
    // A reject after discard is fine: discard only cancelled the implicit keep.
    assert_eq!(
        run("require \"reject\";\ndiscard;\nreject \"no\";", MESSAGE_A),
        vec![Action::Reject {
            reason: "no".into()
        }]
    );
}

// ---------------------------------------------------------------- RFC 5228 §2.10

#[test]
fn implicit_keep_and_duplicate_deliveries() {
    let f = "require \"fileinto\";\n";
    assert_eq!(run("", MESSAGE_A), vec![Keep]);
    assert_eq!(run("keep; keep;", MESSAGE_A), vec![Keep]);
    assert_eq!(
        run(&format!("{f}fileinto \"a\"; fileinto \"a\";"), MESSAGE_A),
        vec![fileinto("a")]
    );
    assert_eq!(
        run(
            &format!("{f}fileinto \"a\"; keep; fileinto \"b\"; fileinto \"a\";"),
            MESSAGE_A
        ),
        vec![fileinto("a"), Keep, fileinto("b")]
    );
    // Folder names are case-sensitive, except INBOX.
    assert_eq!(
        run(
            &format!("{f}fileinto \"a\"; fileinto \"A\"; fileinto \"inbox\";"),
            MESSAGE_A
        ),
        vec![fileinto("a"), fileinto("A"), Keep]
    );
    // Any string is passed on as it is; the store validates it.
    assert_eq!(
        run(&format!("{f}fileinto \"../x\";"), MESSAGE_A),
        vec![fileinto("../x")]
    );
    assert_eq!(run("discard;", MESSAGE_A), vec![Discard]);
}

#[test]
fn too_many_folders_is_a_runtime_error() {
    let mut src = String::from("require \"fileinto\";\n");
    for i in 0..=buzon_sieve::MAX_ACTIONS {
        src.push_str(&format!("fileinto \"f{i}\";\n"));
    }
    let headers = parse_headers(MESSAGE_A.as_bytes());
    let outcome = script(&src).evaluate(
        &ENVELOPE,
        &Message {
            headers: &headers,
            size: 1,
        },
    );
    assert_eq!(outcome.actions, vec![Keep]);
    assert_eq!(
        outcome.errors,
        vec![
            "the fileinto at line 66:1 would deliver to more than 64 folders; Buzón stops there"
                .to_owned()
        ]
    );
}

#[test]
fn header_values_are_decoded_and_addresses_are_not() {
    let m = msg(&[
        "From: =?utf-8?Q?Doe=2C_John?= <jd@example.com>",
        "Subject: =?iso-8859-1?Q?Caf=E9?= =?utf-8?B?w6k=?=",
    ]);
    assert_eq!(
        run("if header :is \"subject\" \"Caféé\" { discard; }", &m),
        vec![Discard]
    );
    assert_eq!(
        run(
            "if header :contains \"from\" \"Doe, John\" { discard; }",
            &m
        ),
        vec![Discard]
    );
    // The decoded comma must not split the address.
    assert_eq!(
        run(
            "if address :is \"from\" \"jd@example.com\" { discard; }",
            &m
        ),
        vec![Discard]
    );
    assert_eq!(
        run(
            "if address :localpart :is \"from\" \"Doe\" { discard; }",
            &m
        ),
        vec![Keep]
    );
}

#[test]
fn repeated_headers_are_all_tested() {
    let m = msg(&["Received: from a", "Received: from b", "X-Tag: one"]);
    assert_eq!(
        run("if header :is \"received\" \"from b\" { discard; }", &m),
        vec![Discard]
    );
    assert_eq!(
        run(
            "if header :is [\"x-other\", \"X-TAG\"] [\"two\", \"one\"] { discard; }",
            &m
        ),
        vec![Discard]
    );
}

// ---------------------------------------------------------------- broken scripts

#[test]
fn broken_scripts_have_exact_errors() {
    let table: &[(&str, &str)] = &[
        ("keep", "line 1:5: expected `;` or a block after `keep`, found the end of the script: is a `;` missing?"),
        ("keep\ndiscard;", "line 2:1: unexpected `discard` after `keep`: is a `;` missing?"),
        ("if true { keep; ", "line 1:9: this `{` is never closed: add the matching `}`"),
        ("keep; }", "line 1:7: `}` without a matching `{`"),
        ("if true keep;", "line 1:9: unexpected `keep` after the `true` test: is a `,` or `)` missing?"),
        ("if true;", "line 1:8: `if` needs a block `{ … }`"),
        ("if { keep; }", "line 1:4: `if` needs a test before its block"),
        ("if (true, false) { keep; }", "line 1:4: `if` takes one test, not a list; combine tests with allof (…) or anyof (…)"),
        ("elsif true { keep; }", "line 1:1: `elsif` must follow the block of an `if` or `elsif`"),
        ("if true { keep; }\nkeep;\nelse { keep; }", "line 3:1: `else` must follow the block of an `if` or `elsif`"),
        ("frobnicate;", "line 1:1: unknown command `frobnicate`; Buzón supports require, if, elsif, else, stop, keep, discard, fileinto, reject and ereject"),
        ("require \"vacation\";\nvacation \"gone\";", "line 1:9: the Sieve extension \"vacation\" is not supported by Buzón: it would send automatic replies out; it supports fileinto, envelope, copy, reject, ereject, subaddress, comparator-i;octet, comparator-i;ascii-casemap"),
        ("vacation \"gone\";", "line 1:1: `vacation` is not supported by Buzón: it would send automatic replies out"),
        ("setflag \"\\\\Seen\";", "line 1:1: `setflag` is not supported by Buzón: IMAP flags mean nothing to POP3"),
        ("fileinto \"x\";", "line 1:1: `fileinto` needs `require \"fileinto\";` at the top of the script"),
        ("require \"fileinto\";\nfileinto;", "line 2:1: `fileinto` needs a string: the folder name, as in fileinto \"Work\""),
        ("require \"fileinto\";\nfileinto [\"a\", \"b\"];", "line 2:10: `fileinto` needs a single string, not a string list, for the folder name, as in fileinto \"Work\""),
        ("require \"fileinto\";\nfileinto \"a\" \"b\";", "line 2:14: `fileinto` takes one string: the folder name, as in fileinto \"Work\""),
        ("require \"fileinto\";\nfileinto 5;", "line 2:10: `fileinto` needs a string: the folder name, as in fileinto \"Work\""),
        ("require \"fileinto\";\nfileinto :create \"a\";", "line 2:10: `:create` for `fileinto` is not supported by Buzón; only `:copy` is"),
        ("require [\"fileinto\", \"copy\"];\nfileinto \"a\" :copy;", "line 2:14: tagged argument `:copy` must come before the other arguments of `fileinto` (the first is at line 2:10)"),
        ("keep \"x\";", "line 1:6: `keep` takes no arguments"),
        ("stop { }", "line 1:6: `stop` takes no block; end it with `;`"),
        ("require;", "line 1:1: `require` needs one string list of capabilities, as in require [\"fileinto\", \"envelope\"];"),
        ("require [];", "line 1:9: empty string list: `[` `]` must hold at least one string"),
        ("require [\"a\" \"b\"];", "line 1:14: expected `,` or `]` in the string list opened at line 1:9, found a string"),
        ("if header :is \"subject\" { keep; }", "line 1:4: `header` needs two string lists, the header names and the keys, as in header :contains \"subject\" \"money\""),
        ("if header :is \"a\" \"b\" \"c\" { keep; }", "line 1:23: `header` needs two string lists, the header names and the keys, as in header :contains \"subject\" \"money\""),
        ("if header :is :contains \"a\" \"b\" { keep; }", "line 1:15: only one match type may be given; the first is at line 1:11"),
        ("if header :comparator \"i;ascii-numeric\" \"a\" \"b\" { keep; }", "line 1:23: comparator \"i;ascii-numeric\" is not supported by Buzón; use \"i;ascii-casemap\" (the default) or \"i;octet\""),
        ("if header :comparator \"a\" \"b\" { keep; }", "line 1:23: comparator \"a\" is not supported by Buzón; use \"i;ascii-casemap\" (the default) or \"i;octet\""),
        ("if header :comparator [\"i;octet\"] \"a\" \"b\" { keep; }", "line 1:11: `:comparator` must be followed by a comparator name, as in :comparator \"i;octet\""),
        ("if header :domain \"from\" \"x\" { keep; }", "line 1:11: unknown tagged argument `:domain` for `header`; it accepts :is, :contains, :matches and :comparator"),
        ("if header :count \"ge\" \"to\" \"2\" { keep; }", "line 1:11: `:count` (the relational extension, RFC 5231) is not supported by Buzón"),
        ("if header :regex \"subject\" \"^x\" { keep; }", "line 1:11: `:regex` (the regex extension) is not supported by Buzón; use :matches with * and ?"),
        ("if header :is \"bad name\" \"x\" { keep; }", "line 1:15: invalid header name \"bad name\": a header name is printable ASCII without spaces or `:`"),
        ("if header :is \"\" \"x\" { keep; }", "line 1:15: invalid header name \"\": a header name is printable ASCII without spaces or `:`"),
        ("if address :is \"subject\" \"x\" { keep; }", "line 1:16: the `address` test only looks at header fields holding addresses (such as From, To, Cc, Sender, Reply-To); \"subject\" is not one; use the `header` test for it"),
        ("if address :all :domain \"from\" \"x\" { keep; }", "line 1:17: only one address part may be given; the first is at line 1:12"),
        ("require \"envelope\";\nif envelope :is \"orcpt\" \"x\" { keep; }", "line 2:17: envelope part \"orcpt\" is not supported by Buzón; use \"from\" or \"to\""),
        ("if exists { keep; }", "line 1:4: `exists` needs one string list of header names, as in exists [\"From\", \"Date\"]"),
        ("if exists :is \"a\" { keep; }", "line 1:11: `exists` takes no tagged argument such as `:is`"),
        ("if size 100 { keep; }", "line 1:4: `size` needs :over or :under, as in size :over 100K"),
        ("if size :over :under 1 { keep; }", "line 1:15: `size` takes exactly one of :over and :under"),
        ("if size :over \"100\" { keep; }", "line 1:15: `size` needs a number, as in size :over 100K"),
        ("if size :over { keep; }", "line 1:4: `size` needs a number, as in size :over 100K"),
        ("if size :above 1 { keep; }", "line 1:9: unknown tagged argument `:above` for `size`; use :over or :under"),
        ("if anyof true { keep; }", "line 1:4: `anyof` needs a list of tests in parentheses, as in anyof (exists \"From\", exists \"Date\")"),
        ("if allof () { keep; }", "line 1:11: expected a test, found `)`"),
        ("if anyof (true false) { keep; }", "line 1:16: unexpected `false` after the `true` test: is a `,` or `)` missing?"),
        ("if anyof (true; false) { keep; }", "line 1:15: expected `,` or `)` in the test list opened at line 1:10, found `;`"),
        ("if not (true) { keep; }", "line 1:8: `not` takes one test, not a list; write not anyof (…) or not allof (…)"),
        ("if not { keep; }", "line 1:4: `not` needs a test, as in not exists \"Date\""),
        ("if true 1 { keep; }", "line 1:9: the `true` test takes no arguments"),
        ("if body :contains \"x\" { keep; }", "line 1:4: the `body` test is not supported by Buzón"),
        ("if frob { keep; }", "line 1:4: unknown test `frob`; Buzón supports address, envelope, header, exists, size, allof, anyof, not, true and false"),
        ("if size :over 10KB { keep; }", "line 1:15: invalid number `10KB`: a number is digits optionally followed by K, M or G (as in 100K)"),
        ("keep;\nif header :is \"a\" \"b\n{ keep; }", "line 2:19: unterminated string: this `\"` has no closing `\"`"),
        ("/* open", "line 1:1: unterminated comment: this `/*` has no matching `*/`"),
        ("require \"reject\";\nreject text:\nno end\n", "line 2:8: unterminated multi-line string: end it with a line holding only `.`"),
        ("keep; $", "line 1:7: unexpected character '$': Sieve has no such token"),
        ("if header : is \"a\" \"b\" {}", "line 1:11: `:` must be followed by a tag name, as in `:is` or `:contains`"),
        ("\"string\";", "line 1:1: expected a command, found a string"),
        ("if true { ; }", "line 1:11: expected a command, found `;`"),
        ("keep (true);", "line 1:6: `keep` takes no tests"),
    ];
    let mut failures = Vec::new();
    for (src, want) in table {
        let got = compile_error(src);
        if got != *want {
            failures.push(format!("{src:?}\n  want: {want}\n  got:  {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn positions_count_characters_and_lines() {
    assert_eq!(
        compile_error("# ñandú\n\t/* é */ frob;"),
        "line 2:10: unknown command `frob`; Buzón supports require, if, elsif, else, stop, keep, discard, fileinto, reject and ereject"
    );
    assert_eq!(
        compile_error("keep;\r\nkeep;\r\n  frob;"),
        "line 3:3: unknown command `frob`; Buzón supports require, if, elsif, else, stop, keep, discard, fileinto, reject and ereject"
    );
}

#[test]
fn nesting_and_size_limits() {
    let deep_ok =
        "if true { ".repeat(buzon_sieve::MAX_NESTING) + &"}".repeat(buzon_sieve::MAX_NESTING);
    script(&deep_ok);
    let too_deep = "if true { ".repeat(buzon_sieve::MAX_NESTING + 1)
        + &"}".repeat(buzon_sieve::MAX_NESTING + 1);
    assert_eq!(
        compile_error(&too_deep),
        "line 1:324: nested too deeply: Buzón accepts at most 32 levels of blocks and tests; split the conditions up"
    );
    // Deep enough to overflow the stack of a naive recursive parser.
    let nots = format!("if {}true {{ keep; }}", "not ".repeat(100_000));
    assert!(compile_error(&nots).contains("nested too deeply"));
    let parens = format!(
        "if {}true{} {{ keep; }}",
        "anyof(".repeat(100_000),
        ")".repeat(100_000)
    );
    assert!(compile_error(&parens).contains("nested too deeply"));
    let big = format!("keep;{}", " ".repeat(buzon_sieve::MAX_SCRIPT_BYTES));
    assert_eq!(
        compile_error(&big),
        "line 1:1: script too large: 1048581 bytes, the limit is 1048576; split it or remove unused rules"
    );
}

#[test]
fn case_insensitive_identifiers_and_tags() {
    let src = "REQUIRE \"FileInto\";\nIF Header :Contains \"SUBJECT\" \"x\" { FileInto \"X\"; } ELSE { KEEP; }";
    assert_eq!(run(src, &msg(&["Subject: x"])), vec![fileinto("X")]);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Pieces of Sieve syntax, so that random scripts get past the lexer often.
    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("if ".to_owned()),
            Just("elsif ".to_owned()),
            Just("else ".to_owned()),
            Just("require [\"fileinto\", \"copy\", \"envelope\", \"reject\", \"ereject\", \"subaddress\"];\n".to_owned()),
            Just("keep".to_owned()),
            Just("discard".to_owned()),
            Just("stop".to_owned()),
            Just("fileinto ".to_owned()),
            Just("reject ".to_owned()),
            Just("header ".to_owned()),
            Just("address ".to_owned()),
            Just("envelope ".to_owned()),
            Just("exists ".to_owned()),
            Just("size ".to_owned()),
            Just("anyof".to_owned()),
            Just("allof".to_owned()),
            Just("not ".to_owned()),
            Just("true".to_owned()),
            Just(":is ".to_owned()),
            Just(":matches ".to_owned()),
            Just(":copy ".to_owned()),
            Just(":over ".to_owned()),
            Just(":detail ".to_owned()),
            Just(":comparator ".to_owned()),
            Just("\"subject\" ".to_owned()),
            Just("\"*a?\\\\*\" ".to_owned()),
            Just("[\"to\", \"from\"] ".to_owned()),
            Just("text:\nx\n..y\n.\n".to_owned()),
            Just("100K ".to_owned()),
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("(".to_owned()),
            Just(")".to_owned()),
            Just(",".to_owned()),
            Just(";\n".to_owned()),
            Just("# c\n".to_owned()),
            Just("/* c */".to_owned()),
            "[ -~\té]{0,4}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn arbitrary_text_never_panics(src in "\\PC{0,200}") {
            let _ = compile(&src);
        }

        #[test]
        fn token_soup_never_panics_and_runs(parts in proptest::collection::vec(fragment(), 0..40)) {
            let src: String = parts.concat();
            if let Ok(s) = compile(&src) {
                let headers = parse_headers(MESSAGE_B.as_bytes());
                let out = s.evaluate(&ENVELOPE, &Message { headers: &headers, size: 5000 });
                prop_assert!(!out.actions.is_empty());
            }
        }

        #[test]
        fn errors_point_inside_the_script(src in "[a-z{}();:\"\\[\\], \n#*/0-9K]{0,80}") {
            if let Err(e) = compile(&src) {
                let lines = src.split('\n').count() as u32;
                prop_assert!(e.line >= 1 && e.line <= lines, "{e} for {src:?}");
                prop_assert!(e.column >= 1);
            }
        }
    }
}
