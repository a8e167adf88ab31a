//! User name rules. Names become mailbox directory names, so the rules exist
//! to make path traversal and odd file names impossible, not for taste.

use crate::error::AuthError;

/// Longest accepted user name, in bytes.
pub const MAX_USERNAME_LEN: usize = 64;

/// Checks a user name: 1–64 bytes of ASCII letters, digits and `.` `_` `-`
/// `+` `@`; not starting with `.` or `-`; never containing `..`.
///
/// The error names the first offending character and its byte offset.
pub fn validate_username(user: &str) -> Result<(), AuthError> {
    let fail = |reason: String| {
        Err(AuthError::InvalidUsername {
            name: user.to_string(),
            reason,
        })
    };
    if user.is_empty() {
        return fail("it is empty".into());
    }
    if user.len() > MAX_USERNAME_LEN {
        return fail(format!(
            "it is {} bytes long; the limit is {MAX_USERNAME_LEN}",
            user.len()
        ));
    }
    if let Some((at, c)) = user.char_indices().find(|&(_, c)| !allowed(c)) {
        return fail(format!(
            "character {c:?} at byte {at} is not allowed — use ASCII letters, digits \
             and . _ - + @"
        ));
    }
    if user.starts_with('.') || user.starts_with('-') {
        return fail("it must not start with '.' or '-'".into());
    }
    if user.contains("..") {
        return fail("it must not contain \"..\"".into());
    }
    Ok(())
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '@')
}

/// The on-disk mailbox directory name for a user: the ASCII-lowercased name.
///
/// Call it only with a name that passed [`validate_username`] (every name in a
/// loaded [`crate::UserDb`] has); lowercasing keeps `Alice` and `alice` in one
/// mailbox, which is why the passwd-file may not hold both.
pub fn mailbox_dir_name(user: &str) -> String {
    user.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_table() {
        let long = "a".repeat(65);
        let max = "a".repeat(64);
        let cases: &[(&str, Option<&str>)] = &[
            ("alice", None),
            ("Alice.Smith", None),
            ("bob+pop@example.com", None),
            ("a_b-c", None),
            ("0", None),
            (&max, None),
            ("", Some("empty")),
            (&long, Some("65 bytes")),
            ("a/b", Some("'/'")),
            ("..", Some("start with")),
            ("a..b", Some("\"..\"")),
            (".hidden", Some("start with")),
            ("-rf", Some("start with")),
            ("nul\0byte", Some("'\\0'")),
            ("a:b", Some("':'")),
            ("a b", Some("' '")),
            ("josé", Some("'é' at byte 3")),
            ("a\\b", Some("'\\\\'")),
            ("a\nb", Some("'\\n'")),
        ];
        for (name, want) in cases {
            match (validate_username(name), want) {
                (Ok(()), None) => {}
                (Err(e), Some(fragment)) => {
                    let msg = e.to_string();
                    assert!(msg.contains(fragment), "{name:?}: {msg}");
                }
                (got, want) => panic!("{name:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn mailbox_dir_is_lowercase() {
        assert_eq!(mailbox_dir_name("Alice@Example.COM"), "alice@example.com");
    }
}
