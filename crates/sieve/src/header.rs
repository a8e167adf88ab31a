//! The header section of a message as the Sieve tests see it: fields split, folded lines
//! unfolded (RFC 5322 §2.2.3) and RFC 2047 encoded-words decoded (RFC 5228 §2.4.2.2:
//! "comparisons are performed on the decoded value").
//!
//! Tolerant by design, because mail arrives from everywhere: bare LF line ends, a mbox
//! `From ` line, lines without a colon, 8-bit bytes that are not UTF-8 (read as
//! ISO-8859-1 so no byte is lost) and malformed encoded-words (left as they are) never
//! stop the parse. It ends at the first empty line, the end of the header section.

/// One header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The field name as written, without the colon (compared case-insensitively).
    pub name: String,
    /// The value unfolded and trimmed, encoded-words left as they are. The `address`
    /// test parses this, so that a decoded display name such as `Doe, John` cannot be
    /// mistaken for two addresses.
    pub raw: String,
    /// The value unfolded, trimmed and RFC 2047-decoded. The `header` test matches this.
    pub value: String,
}

impl Header {
    /// A field from its name and unfolded value; the value is decoded here.
    pub fn new(name: impl Into<String>, raw_value: impl Into<String>) -> Self {
        let raw = raw_value.into().trim().to_owned();
        Header {
            name: name.into(),
            value: decode_rfc2047(&raw),
            raw,
        }
    }
}

/// Parses the header section at the start of `message` (the whole message may be
/// given; parsing stops at the first empty line).
pub fn parse_headers(message: &[u8]) -> Vec<Header> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for line in message.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            // Continuation: unfolding removes only the line break (RFC 5322 §2.2.3).
            if let Some((_, value)) = out.last_mut() {
                value.extend_from_slice(line);
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue; // junk such as a mbox "From " line
        };
        // RFC 5322 §4.5 obsolete syntax allows white space before the colon.
        let name = trim_bytes(&line[..colon]);
        if name.is_empty() || !name.iter().all(|&b| (33..=126).contains(&b)) {
            continue;
        }
        out.push((
            String::from_utf8_lossy(name).into_owned(),
            line[colon + 1..].to_vec(),
        ));
    }
    out.into_iter()
        .map(|(name, value)| Header::new(name, bytes_to_string(&value)))
        .collect()
}

fn trim_bytes(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// UTF-8 when it is valid (RFC 6532), otherwise ISO-8859-1, which maps every byte.
fn bytes_to_string(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => b.iter().map(|&c| char::from(c)).collect(),
    }
}

/// Decodes RFC 2047 encoded-words (`=?charset?B?…?=`, `=?charset?Q?…?=`) in a header
/// value. Charsets: UTF-8, US-ASCII, ISO-8859-1, ISO-8859-15 and Windows-1252; an RFC 2231
/// language suffix (`utf-8*en`) is ignored. White space between two adjacent
/// encoded-words is dropped (RFC 2047 §6.2), and adjacent words in one charset are
/// decoded together, so a UTF-8 character split across two words survives. A word with an
/// unknown charset or a bad encoding stays as it is. Encoded-words are also recognised
/// inside other text, as common mail programs do.
pub fn decode_rfc2047(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    // Bytes of the previous adjacent encoded-words, not yet converted.
    let mut pending: Option<(Charset, Vec<u8>)> = None;
    // White space seen after an encoded-word, emitted only if plain text follows.
    let mut gap = String::new();
    let mut rest = value;
    while !rest.is_empty() {
        if let Some((charset, bytes, len)) =
            rest.starts_with("=?").then(|| encoded_word(rest)).flatten()
        {
            match &mut pending {
                Some((cs, buf)) if *cs == charset => buf.extend_from_slice(&bytes),
                _ => {
                    if let Some((cs, buf)) = pending.take() {
                        out.push_str(&cs.decode(&buf));
                    }
                    pending = Some((charset, bytes));
                }
            }
            gap.clear();
            rest = &rest[len..];
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        if pending.is_some() && (c == ' ' || c == '\t') {
            gap.push(c);
        } else {
            if let Some((cs, buf)) = pending.take() {
                out.push_str(&cs.decode(&buf));
            }
            out.push_str(&gap);
            gap.clear();
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    if let Some((cs, buf)) = pending.take() {
        out.push_str(&cs.decode(&buf));
    }
    out.push_str(&gap);
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    Utf8,
    Latin1,
    Latin9,
    Windows1252,
}

impl Charset {
    fn from_name(name: &str) -> Option<Self> {
        let name = name.split('*').next().unwrap_or(name).to_ascii_lowercase();
        match name.as_str() {
            "utf-8" | "utf8" | "us-ascii" | "ascii" => Some(Charset::Utf8),
            "iso-8859-1" | "iso8859-1" | "iso_8859-1" | "latin1" | "l1" => Some(Charset::Latin1),
            "iso-8859-15" | "iso8859-15" | "iso_8859-15" | "latin9" => Some(Charset::Latin9),
            "windows-1252" | "cp1252" => Some(Charset::Windows1252),
            _ => None,
        }
    }

    fn decode(self, b: &[u8]) -> String {
        match self {
            Charset::Utf8 => String::from_utf8_lossy(b).into_owned(),
            Charset::Latin1 => b.iter().map(|&c| char::from(c)).collect(),
            Charset::Latin9 => b
                .iter()
                .map(|&c| match c {
                    0xA4 => '€',
                    0xA6 => 'Š',
                    0xA8 => 'š',
                    0xB4 => 'Ž',
                    0xB8 => 'ž',
                    0xBC => 'Œ',
                    0xBD => 'œ',
                    0xBE => 'Ÿ',
                    c => char::from(c),
                })
                .collect(),
            Charset::Windows1252 => b
                .iter()
                .map(|&c| match c {
                    0x80..=0x9F => WINDOWS_1252_80[usize::from(c - 0x80)],
                    c => char::from(c),
                })
                .collect(),
        }
    }
}

/// Windows-1252 0x80–0x9F; the five unassigned positions map to U+FFFD.
const WINDOWS_1252_80: [char; 32] = [
    '€', '\u{FFFD}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{FFFD}', 'Ž',
    '\u{FFFD}', '\u{FFFD}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{FFFD}',
    'ž', 'Ÿ',
];

/// Parses one encoded-word at the start of `s`: its charset, decoded bytes and length.
fn encoded_word(s: &str) -> Option<(Charset, Vec<u8>, usize)> {
    let body = s.strip_prefix("=?")?;
    let (charset, rest) = body.split_once('?')?;
    let charset = Charset::from_name(charset)?;
    let (encoding, rest) = rest.split_once('?')?;
    let end = rest.find("?=")?;
    let text = &rest[..end];
    if text.contains(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    let bytes = match encoding {
        "B" | "b" => base64(text)?,
        "Q" | "q" => quoted_printable(text)?,
        _ => return None,
    };
    let len = 2 + body.len() - rest.len() + end + 2;
    Some((charset, bytes, len))
}

fn base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// RFC 2047 §4.2 "Q": `_` is a space, `=XX` a byte in hex.
fn quoted_printable(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = b.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2047_decoding_table() {
        let table: &[(&str, &str)] = &[
            ("plain text", "plain text"),
            ("=?utf-8?Q?caf=C3=A9?=", "café"),
            ("=?UTF-8?B?Y2Fmw6k=?=", "café"),
            ("=?utf-8?b?Y2Fmw6k?=", "café"), // padding missing
            ("=?iso-8859-1?Q?caf=E9?=", "café"),
            ("=?ISO-8859-1?B?Y2Fm6Q==?=", "café"),
            ("=?iso-8859-15?Q?=A4?=", "€"),
            ("=?windows-1252?Q?=80=93?=", "€“"),
            ("=?us-ascii?Q?a_b?=", "a b"),
            ("=?utf-8*en?Q?hi?=", "hi"),
            // RFC 2047 §8 examples.
            ("(=?ISO-8859-1?Q?a?=)", "(a)"),
            ("(=?ISO-8859-1?Q?a?= b)", "(a b)"),
            ("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"),
            ("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)"),
            ("(=?ISO-8859-1?Q?a?=\t =?ISO-8859-1?Q?b?=)", "(ab)"),
            ("(=?ISO-8859-1?Q?a_b?=)", "(a b)"),
            (
                "(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)",
                "(a =?ISO-8859-2?Q?_b?=)",
            ),
            // A UTF-8 character split across two words.
            ("=?utf-8?Q?caf=C3?= =?utf-8?Q?=A9!?=", "café!"),
            ("Re: =?utf-8?Q?=C2=A1Hola!?= amigo", "Re: ¡Hola! amigo"),
            ("trailing =?utf-8?Q?x?=  ", "trailing x  "),
            // Malformed or unknown: left alone.
            ("=?utf-8?Q?unterminated", "=?utf-8?Q?unterminated"),
            ("=?koi8-r?Q?abc?=", "=?koi8-r?Q?abc?="),
            ("=?utf-8?X?abc?=", "=?utf-8?X?abc?="),
            ("=?utf-8?B?!!!?=", "=?utf-8?B?!!!?="),
            ("=?utf-8?Q?a=Zb?=", "=?utf-8?Q?a=Zb?="),
            ("=?utf-8?Q?has space?=", "=?utf-8?Q?has space?="),
            ("=?utf-8?Q?=FF?=", "\u{FFFD}"),
            ("=?", "=?"),
            ("=?=?utf-8?Q?x?=", "=?x"),
        ];
        for (input, want) in table {
            assert_eq!(decode_rfc2047(input), *want, "{input:?}");
        }
    }

    #[test]
    fn header_section_table() {
        let msg = b"From coyote  Tue Apr  1 09:06:31 1997\n\
            Date: Tue, 1 Apr 1997 09:06:31 -0800 (PST)\r\n\
            From: coyote@desert.example.org\r\n\
            Subject: I have\r\n\t a present\r\n  for you\r\n\
            junk line without colon\n\
            X-Empty:\n\
            Bad Name: dropped\n\
            X-Spaced :  value  \n\
            X-Latin: caf\xe9\n\
            X-Enc: =?utf-8?Q?Doe=2C_John?= <jd@example.com>\n\
            \n\
            Body: not a header\n";
        let got: Vec<(String, String, String)> = parse_headers(msg)
            .into_iter()
            .map(|h| (h.name, h.raw, h.value))
            .collect();
        let s = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
        assert_eq!(
            got,
            vec![
                s(
                    "Date",
                    "Tue, 1 Apr 1997 09:06:31 -0800 (PST)",
                    "Tue, 1 Apr 1997 09:06:31 -0800 (PST)"
                ),
                s(
                    "From",
                    "coyote@desert.example.org",
                    "coyote@desert.example.org"
                ),
                s(
                    "Subject",
                    "I have\t a present  for you",
                    "I have\t a present  for you"
                ),
                s("X-Empty", "", ""),
                s("X-Spaced", "value", "value"),
                s("X-Latin", "café", "café"),
                s(
                    "X-Enc",
                    "=?utf-8?Q?Doe=2C_John?= <jd@example.com>",
                    "Doe, John <jd@example.com>"
                ),
            ]
        );
    }

    #[test]
    fn continuation_before_any_field_and_empty_input() {
        assert_eq!(parse_headers(b""), vec![]);
        assert_eq!(parse_headers(b"\r\nSubject: body\r\n"), vec![]);
        assert_eq!(
            parse_headers(b"  stray\r\nA: b\r\n"),
            vec![Header::new("A", "b")]
        );
    }

    /// Every split of the input gives the same fields as far as the split allows: no
    /// buffer-boundary surprises when callers hand over a truncated header section.
    #[test]
    fn prefixes_never_panic() {
        let msg = "Subject: =?utf-8?B?w6k=?= x\r\n\tcont\r\nTo: a@b\r\n\r\n".as_bytes();
        for n in 0..=msg.len() {
            let _ = parse_headers(&msg[..n]);
        }
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics(s in "\\PC{0,60}") {
            let _ = decode_rfc2047(&s);
        }

        #[test]
        fn parse_never_panics(b in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = parse_headers(&b);
        }

        #[test]
        fn text_without_encoded_words_is_unchanged(s in "[^=]{0,60}") {
            proptest::prop_assert_eq!(decode_rfc2047(&s), s);
        }
    }
}
