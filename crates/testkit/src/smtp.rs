//! A blocking SMTP/LMTP test client over [`LineClient`]: replies parsed with the protocol
//! crate, message data encoded (dot-stuffed) with it. Every read has the line client's
//! timeout.

use std::net::SocketAddr;

use buzon_smtp_proto::client::{ParsedReply, ReplyCollector};
pub use buzon_smtp_proto::data::encode_data;

use crate::client::LineClient;

/// An SMTP or LMTP session.
pub struct SmtpClient {
    pub line: LineClient,
}

impl SmtpClient {
    /// Connects and reads the 220 greeting (panics on anything else).
    pub fn connect(addr: SocketAddr) -> SmtpClient {
        let mut s = SmtpClient {
            line: LineClient::connect(addr),
        };
        let g = s.reply();
        assert_eq!(g.code, 220, "greeting: {g:?}");
        s
    }

    /// Reads one complete (possibly multi-line) reply.
    pub fn reply(&mut self) -> ParsedReply {
        self.try_reply().unwrap()
    }

    /// Reads one reply; `Err` when the connection ends or sends something else.
    pub fn try_reply(&mut self) -> Result<ParsedReply, String> {
        let mut collector = ReplyCollector::new();
        for _ in 0..1000 {
            let line = match self.line.try_read_line() {
                Ok(Some(l)) => l,
                Ok(None) => return Err("connection closed while waiting for a reply".into()),
                Err(e) => return Err(format!("reading a reply: {e}")),
            };
            match collector.push(&line) {
                Ok(Some(r)) => return Ok(r),
                Ok(None) => {}
                Err(_) => {
                    return Err(format!(
                        "not a reply line: {:?}",
                        String::from_utf8_lossy(&line)
                    ))
                }
            }
        }
        Err("reply without end".into())
    }

    /// Sends a command line and reads its reply.
    pub fn cmd(&mut self, line: &str) -> ParsedReply {
        self.line.send(line);
        self.reply()
    }

    /// Sends a command and asserts the reply code.
    pub fn expect(&mut self, line: &str, code: u16) -> ParsedReply {
        let r = self.cmd(line);
        assert_eq!(r.code, code, "{line}: {r:?}");
        r
    }

    /// DATA (expecting 354), then the message, dot-stuffed; reads `replies` replies (one
    /// for SMTP, one per accepted recipient for LMTP).
    pub fn data(&mut self, message: &[u8], replies: usize) -> Vec<ParsedReply> {
        self.expect("DATA", 354);
        self.line
            .send_raw(&encode_data(message))
            .expect("send data");
        (0..replies).map(|_| self.reply()).collect()
    }
}

/// The enhanced status code of a reply as text ("" when absent).
pub fn status(r: &ParsedReply) -> String {
    r.status().map(|s| s.to_string()).unwrap_or_default()
}
