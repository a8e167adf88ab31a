//! A real browser for the web tests: Chromium headless (Debian `chromium`), driven through
//! `chromedriver` (Debian `chromium-driver`) with the W3C WebDriver protocol — JSON over
//! HTTP on a loopback port. The few commands the tests use (open a URL, find elements by
//! CSS selector or XPath, type, click, read text, take a screenshot) are spoken here
//! directly: the Rust WebDriver clients depend on the MPL-licensed `webdriver` crate,
//! which Buzón's licence policy does not take in.
//!
//! The browser accepts the test CA's certificates only through WebDriver's
//! `acceptInsecureCerts` (Chromium reads trust from an NSS database, not a file); the
//! server's TLS is the real one. Dropping the value ends the session and chromedriver.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

/// Where Debian installs them.
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A browser session.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

/// An element of the current page (its WebDriver reference).
#[derive(Debug, Clone)]
pub struct Element(String);

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    // chromedriver keeps the connection open: read the head, then Content-Length bytes.
    let mut r = BufReader::new(s);
    let mut length = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Err("chromedriver closed the connection".into());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut raw = vec![0u8; length];
    r.read_exact(&mut raw).map_err(|e| e.to_string())?;
    let body = String::from_utf8_lossy(&raw).into_owned();
    let v: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
    if let Some(err) = v["value"].get("error") {
        return Err(format!("{err}: {}", v["value"]["message"]));
    }
    Ok(v["value"].clone())
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; `Err` says what is missing.
    pub fn start(lang: &str) -> Result<Browser, String> {
        for p in [CHROMIUM, CHROMEDRIVER] {
            if !Path::new(p).exists() {
                return Err(format!(
                    "{p} is not installed (Debian packages chromium and chromium-driver)"
                ));
            }
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let mut driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run chromedriver: {e}"))?;
        let stdout = driver.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let ok = lines.any(|l| {
                l.map(|l| l.contains("started successfully"))
                    .unwrap_or(false)
            });
            let _ = tx.send(ok);
            for _ in lines {}
        });
        if rx.recv_timeout(Duration::from_secs(30)) != Ok(true) {
            let _ = driver.kill();
            let _ = driver.wait();
            return Err("chromedriver did not start within 30 s".into());
        }
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "acceptInsecureCerts": true,
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--window-size=1100,1400",
                        format!("--lang={lang}"),
                        format!("--user-data-dir={}", profile.path().display()),
                    ],
                    "prefs": { "intl.accept_languages": lang },
                },
            }}
        });
        let v = match http(port, "POST", "/session", Some(&caps)) {
            Ok(v) => v,
            Err(e) => {
                let _ = driver.kill();
                let _ = driver.wait();
                return Err(format!("cannot start Chromium: {e}"));
            }
        };
        let session = v["sessionId"].as_str().ok_or("no session id")?.to_string();
        Ok(Browser {
            driver,
            port,
            session,
            _profile: profile,
        })
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        http(
            self.port,
            method,
            &format!("/session/{}{path}", self.session),
            body.as_ref(),
        )
        .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    /// Opens `url` and waits for the page to load.
    pub fn open(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    /// The current page's URL.
    pub fn url(&self) -> String {
        self.cmd("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The page's source.
    pub fn source(&self) -> String {
        self.cmd("GET", "/source", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn find_by(&self, using: &str, value: &str) -> Element {
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({ "using": using, "value": value })),
        );
        Element(v[ELEMENT_KEY].as_str().unwrap_or_default().to_string())
    }

    /// The first element matching a CSS selector (panics when there is none).
    pub fn css(&self, selector: &str) -> Element {
        self.find_by("css selector", selector)
    }

    /// The first element matching an XPath expression.
    pub fn xpath(&self, expr: &str) -> Element {
        self.find_by("xpath", expr)
    }

    /// Every element matching a CSS selector.
    pub fn all(&self, selector: &str) -> Vec<Element> {
        self.cmd(
            "POST",
            "/elements",
            Some(json!({ "using": "css selector", "value": selector })),
        )
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| Element(e[ELEMENT_KEY].as_str().unwrap_or_default().to_string()))
        .collect()
    }

    /// Waits (at most 15 s) until an element matches a CSS selector: after a click, the
    /// next page may still be loading.
    pub fn wait_for(&self, selector: &str) -> Element {
        let found = crate::wait::poll(Duration::from_secs(15), || {
            self.all(selector).into_iter().next()
        });
        found.unwrap_or_else(|| {
            panic!(
                "no {selector} within 15 s on {}:\n{}",
                self.url(),
                self.source()
            )
        })
    }

    /// Types `text` into an input.
    pub fn type_into(&self, e: &Element, text: &str) {
        self.cmd(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": text })),
        );
    }

    /// Clicks an element (a button submits its form and the page loads).
    pub fn click(&self, e: &Element) {
        self.cmd("POST", &format!("/element/{}/click", e.0), Some(json!({})));
    }

    /// The visible text of an element.
    pub fn text(&self, e: &Element) -> String {
        self.cmd("GET", &format!("/element/{}/text", e.0), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Saves a screenshot of the page as PNG.
    pub fn screenshot(&self, path: &Path) {
        use base64::Engine as _;
        let b64 = self.cmd("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .unwrap_or_default();
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
