//! The command line in Spanish and English: `buzon check` run by the real binary against
//! the classic broken setups (a wrong password, a closed port, TLS spoken to the plain
//! port, plain POP3 spoken to the TLS port, a certificate for another name, a server name
//! that does not exist), its whole output compared with a snapshot in both languages;
//! how the language is chosen (`LANG`, `LC_ALL` over `LANG`, `--lang` over both); and
//! that `--json` and exit codes never change with the language.

use std::process::{Command, Stdio};
use std::time::Duration;

use buzon_testkit::{DnsRecord, TestDns, TestServer};

use crate::BIN;

/// Runs the binary with a deadline and only the given locale variables; returns (exit
/// code, stdout, stderr).
fn buzon(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG")
        .env("XDG_CONFIG_HOME", "/nonexistent-buzon-test")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    if buzon_testkit::poll(Duration::from_secs(60), || child.try_wait().ok().flatten()).is_none() {
        let _ = child.kill();
        panic!("buzon {args:?} did not finish within 60 s");
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Output with what changes from run to run (ports, fingerprints) made fixed.
fn normalize(text: &str, ports: &[(u16, &str)]) -> String {
    let mut t = text.to_string();
    for (port, name) in ports {
        t = t.replace(&format!(":{port}"), &format!(":{name}"));
    }
    // sha256:AB:CD:… (32 pairs)
    let mut out = String::new();
    let mut rest = t.as_str();
    while let Some(i) = rest.find("sha256:") {
        out.push_str(&rest[..i]);
        out.push_str("sha256:FP");
        let tail = &rest[i + 7..];
        let len = tail
            .find(|c: char| !(c.is_ascii_hexdigit() || c == ':'))
            .unwrap_or(tail.len());
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

struct Setup {
    name: &'static str,
    args: Vec<String>,
    exit: i32,
    en: &'static str,
    es: &'static str,
}

#[test]
fn check_explains_broken_setups_in_spanish_and_english() {
    let s = TestServer::builder().user("alice", "pw").start();
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("ca.pem");
    s.ca.write_pem(&ca);
    let ca = ca.to_str().unwrap_or_default().to_string();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().map(|a| a.port()).unwrap_or(1)
    };
    // A name the certificate (localhost, 127.0.0.1) is not for, resolving to the server.
    let dns = TestDns::start(vec![(
        "pop.example.test",
        DnsRecord::A(std::net::Ipv4Addr::LOCALHOST),
    )]);
    let dns_addr = dns.addr.to_string();
    let ledger = tmp.path().join("ledger");
    let ledger = ledger.to_str().unwrap_or_default().to_string();
    let args = |host: &str, port: u16, security: &str, user: &str| -> Vec<String> {
        [
            "check",
            "--host",
            host,
            "--port",
            &port.to_string(),
            "--security",
            security,
            "--user",
            user,
            "--password-env",
            "PW",
            "--ca-file",
            &ca,
            "--ledger-dir",
            &ledger,
            "--timeout",
            "3s",
            "--connect-timeout",
            "3s",
            "--dns-server",
            &dns_addr,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let (pop3, pop3s) = (s.pop3.port(), s.pop3s.port());
    let setups = vec![
        Setup {
            name: "wrong password",
            args: args("localhost", pop3s, "tls", "alice"),
            exit: 6,
            en: "\
alice@localhost (localhost:POP3S, tls)
  ✓ DNS       localhost → 127.0.0.1
  ✓ TCP       connected to 127.0.0.1:POP3S
  ✓ TLS       TLS 1.3, certificate accepted for localhost (sha256:FP)
  ✓ greeting  Buzon ready.
  ✓ CAPA      CAPA, TOP, UIDL, RESP-CODES, AUTH-RESP-CODE, PIPELINING, USER, SASL PLAIN LOGIN, UTF8, LANG
  ✓ STLS      not needed: TLS from the first byte
  ✗ login     localhost rejected the login for \"alice\": Authentication failed.
              fix: check the password and the user name: many providers want the full e-mail address as the user name
",
            es: "\
alice@localhost (localhost:POP3S, tls)
  ✓ DNS       localhost → 127.0.0.1
  ✓ TCP       conectado a 127.0.0.1:POP3S
  ✓ TLS       TLS 1.3, certificado aceptado para localhost (sha256:FP)
  ✓ saludo    Buzon ready.
  ✓ CAPA      CAPA, TOP, UIDL, RESP-CODES, AUTH-RESP-CODE, PIPELINING, USER, SASL PLAIN LOGIN, UTF8, LANG
  ✓ STLS      no hace falta: TLS desde el primer byte
  ✗ acceso    localhost rechazó el inicio de sesión de \"alice\": Authentication failed.
              solución: revisa la contraseña y el nombre de usuario: muchos proveedores piden la dirección de correo completa como usuario
",
        },
        Setup {
            name: "wrong port (closed)",
            args: args("localhost", closed, "tls", "alice"),
            exit: 4,
            en: "\
alice@localhost (localhost:CLOSED, tls)
  ✓ DNS       localhost → 127.0.0.1
  ✗ TCP       cannot connect to localhost:CLOSED: connection refused
              fix: the port is wrong or the server is down; POP3 uses 995 (TLS) and 110 (STLS)
",
            es: "\
alice@localhost (localhost:CLOSED, tls)
  ✓ DNS       localhost → 127.0.0.1
  ✗ TCP       no se puede conectar con localhost:CLOSED: conexión rechazada
              solución: el puerto no es el correcto o el servidor está apagado; POP3 usa el puerto 995 (con TLS) y el 110 (con STLS)
",
        },
        Setup {
            name: "TLS to the plain port",
            args: args("localhost", pop3, "tls", "alice"),
            exit: 5,
            en: "\
alice@localhost (localhost:POP3, tls)
  ✓ DNS       localhost → 127.0.0.1
  ✓ TCP       connected to 127.0.0.1:POP3
  ✗ TLS       TLS with localhost failed: the server did not answer with TLS (its first bytes are not a TLS record)
              fix: this port speaks plain POP3: use security = \"starttls\" (port 110), or port 995 for TLS
",
            es: "\
alice@localhost (localhost:POP3, tls)
  ✓ DNS       localhost → 127.0.0.1
  ✓ TCP       conectado a 127.0.0.1:POP3
  ✗ TLS       falló la conexión cifrada (TLS) con localhost: el servidor no respondió con TLS (sus primeros bytes no son un registro TLS)
              solución: este puerto habla POP3 sin cifrar: usa security = \"starttls\" (puerto 110), o el puerto 995 para TLS
",
        },
        Setup {
            name: "plain POP3 to the TLS port",
            args: args("localhost", pop3s, "starttls", "alice"),
            exit: 4,
            en: "\
alice@localhost (localhost:POP3S, starttls)
  ✓ DNS       localhost → 127.0.0.1
  ✓ TCP       connected to 127.0.0.1:POP3S
  ✗ greeting  localhost accepted the connection but sent no greeting within 3 s
              fix: this port expects TLS from the first byte (POP3S): use security = \"tls\"
",
            es: "\
alice@localhost (localhost:POP3S, starttls)
  ✓ DNS       localhost → 127.0.0.1
  ✓ TCP       conectado a 127.0.0.1:POP3S
  ✗ saludo    localhost aceptó la conexión pero no envió ningún saludo en 3 s
              solución: este puerto espera TLS desde el primer byte (POP3S): usa security = \"tls\"
",
        },
        Setup {
            name: "certificate for another name",
            args: args("pop.example.test", pop3s, "tls", "alice"),
            exit: 5,
            en: "\
alice@pop.example.test (pop.example.test:POP3S, tls)
  ✓ DNS       pop.example.test → 127.0.0.1
  ✓ TCP       connected to 127.0.0.1:POP3S
  ✗ TLS       TLS with pop.example.test failed: the server's certificate is for localhost, 127.0.0.1, not pop.example.test
              fix: use the host name the certificate was issued for (localhost)
",
            es: "\
alice@pop.example.test (pop.example.test:POP3S, tls)
  ✓ DNS       pop.example.test → 127.0.0.1
  ✓ TCP       conectado a 127.0.0.1:POP3S
  ✗ TLS       falló la conexión cifrada (TLS) con pop.example.test: el certificado del servidor es de localhost, 127.0.0.1, no de pop.example.test
              solución: usa el nombre de servidor para el que se emitió el certificado (localhost)
",
        },
    ];
    let ports = [(pop3, "POP3"), (pop3s, "POP3S"), (closed, "CLOSED")];
    let mut failures = Vec::new();
    for setup in &setups {
        let a: Vec<&str> = setup.args.iter().map(String::as_str).collect();
        for (env, want) in [
            (vec![("PW", "wrong"), ("LANG", "C")], setup.en),
            (vec![("PW", "wrong"), ("LANG", "es_ES.UTF-8")], setup.es),
        ] {
            let (code, out, err) = buzon(&a, &env);
            let got = normalize(&out, &ports);
            if got != want || code != setup.exit {
                failures.push(format!(
                    "{} with {env:?}: exit {code} (want {})\n--- got\n{got}{err}--- want\n{want}",
                    setup.name, setup.exit
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn language_comes_from_lc_all_lc_messages_lang_and_lang_flag() {
    // A closed port: the quickest failure, one line to compare.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().map(|a| a.port()).unwrap_or(1)
    };
    let port = closed.to_string();
    let base = [
        "check",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--user",
        "u",
        "--connect-timeout",
        "3s",
    ];
    let spanish = |out: &str| out.contains("conexión rechazada") && out.contains("solución:");
    let english = |out: &str| out.contains("connection refused") && out.contains("fix:");
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        buzon(&a, env)
    };
    for (extra, env, want_es) in [
        (&[][..], &[][..], false),
        (&[], &[("LANG", "es_ES.UTF-8")], true),
        (&[], &[("LANG", "es")], true),
        (&[], &[("LANG", "es_MX")], true),
        (&[], &[("LANG", "fr_FR.UTF-8")], false),
        (&[], &[("LANG", "es_ES.UTF-8"), ("LC_ALL", "C")], false),
        (&[], &[("LANG", "C"), ("LC_MESSAGES", "es_AR.UTF-8")], true),
        (
            &[],
            &[("LC_ALL", "es_ES.UTF-8"), ("LC_MESSAGES", "en_US")],
            true,
        ),
        (&["--lang", "en"], &[("LANG", "es_ES.UTF-8")], false),
        (&["--lang", "es"], &[("LANG", "C")], true),
    ] {
        let (code, out, err) = run(extra, env);
        assert_eq!(code, 4, "{extra:?} {env:?}: {out}{err}");
        if want_es {
            assert!(spanish(&out), "{extra:?} {env:?} should be Spanish:\n{out}");
        } else {
            assert!(english(&out), "{extra:?} {env:?} should be English:\n{out}");
        }
    }
    // The flag also goes after the subcommand (global), and a language Buzón does not
    // speak is a usage error.
    let (code, out, _) = buzon(
        &[
            "--lang",
            "es",
            "check",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--user",
            "u",
        ],
        &[],
    );
    assert!(code == 4 && spanish(&out), "{out}");
    let (code, _, err) = run(&["--lang", "fr"], &[]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn json_and_exit_codes_do_not_change_with_the_language() {
    let s = TestServer::builder().user("alice", "pw").start();
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("ca.pem");
    s.ca.write_pem(&ca);
    let port = s.pop3s.port().to_string();
    let a = [
        "check",
        "--json",
        "--host",
        "localhost",
        "--port",
        &port,
        "--user",
        "alice",
        "--password-env",
        "PW",
        "--ca-file",
        ca.to_str().unwrap_or_default(),
        "--timeout",
        "3s",
    ];
    let (en_code, en, _) = buzon(&a, &[("PW", "wrong"), ("LANG", "C")]);
    let (es_code, es, _) = buzon(&a, &[("PW", "wrong"), ("LANG", "es_ES.UTF-8")]);
    let mut flag = a.to_vec();
    flag.extend(["--lang", "es"]);
    let (flag_code, flagged, _) = buzon(&flag, &[("PW", "wrong")]);
    assert_eq!(en_code, 6);
    assert_eq!((es_code, flag_code), (en_code, en_code));
    let fixed = |t: &str| normalize(t, &[]);
    assert_eq!(fixed(&es), fixed(&en));
    assert_eq!(fixed(&flagged), fixed(&en));
    assert!(
        en.contains("\"step\": \"login\"") && en.contains("Authentication failed."),
        "{en}"
    );
}

/// The errors an administrator meets most, in Spanish: three classic configuration
/// mistakes (`check-config`), a broken accounts file (`fetch`), an existing user
/// (`user add`) — each the whole line, so a half-translated message fails.
#[test]
fn configuration_accounts_and_user_errors_read_in_spanish() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let typo = write("typo.toml", "[limits]\nmax_conections = 5\n");
    let duration = write(
        "duration.toml",
        "[limits]\nidle_timeout = \"diez minutos\"\n",
    );
    let pg_key = write(
        "pgkey.toml",
        &format!(
            "data_dir = {:?}\n[store]\nurl = \"postgresql://buzon@db/buzon\"\n",
            dir.path().join("data")
        ),
    );
    let es = [("LANG", "es_ES.UTF-8")];
    let cases = [
        (typo.clone(), format!("buzon: {typo} línea 2: clave desconocida `max_conections`; esta sección admite `max_connections`, `max_connections_per_ip`, `max_connections_per_user`, `idle_timeout`, `handshake_timeout`, `write_timeout`, `lock_lease`, `max_bad_commands`, `auth_timeout`, `ipv6_prefix`\n")),
        (duration.clone(), format!("buzon: {duration} línea 2: `limits.idle_timeout` no es una duración: \"diez minutos\" — escribe un número con su unidad, p. ej. \"30s\", \"10m\", \"2h\"\n")),
        (pg_key.clone(), format!("buzon: {pg_key} línea 3: `store.url` está puesto, pero el almacén es Maildir (`kind` es \"maildir\" o no está puesto) y lo ignoraría — añade kind = \"postgres\" a [store] para usar una base de datos PostgreSQL, o quita la clave\n")),
    ];
    for (file, want) in &cases {
        let (code, _, err) = buzon(&["check-config", file], &es);
        assert_eq!(code, 2, "{err}");
        assert_eq!(&err, want);
    }
    let accounts = write(
        "accounts.toml",
        "[accounts.work]\nuser = \"ana@example.com\"\nmaildir = \"/tmp/x\"\n",
    );
    let (code, _, err) = buzon(&["fetch", "--config", &accounts, "work"], &es);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cuenta work: host: falta: el nombre del servidor POP3, p. ej. host = \"pop.example.com\""),
        "{err}"
    );
    let data = dir.path().join("zc");
    let users = data.join("users");
    std::fs::create_dir_all(&data).unwrap();
    buzon_auth::add_user(&users, "ana", "{PLAIN}x").unwrap();
    let mut cmd = Command::new(BIN);
    let out = cmd
        .args(["user", "--data-dir"])
        .arg(&data)
        .args(["add", "ana"])
        .env("LANG", "es_ES.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            if let Some(mut i) = c.stdin.take() {
                let _ = i.write_all(b"secreto-largo\nsecreto-largo\n");
            }
            c.wait_with_output()
        })
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "el usuario \"ana\" ya existe — usa `buzon user passwd` para cambiar la contraseña"
        ),
        "{err}"
    );
}

/// `buzon sieve check` in Spanish: three classic mistakes read in Spanish with the same
/// FILE:LINE:COLUMN and exit code, the English unchanged; and a corpus reaching every kind
/// of compile error (lexer, parser, compiler) is translated everywhere, with no English
/// sentence or unfilled placeholder left.
#[test]
fn sieve_compile_errors_read_in_spanish() {
    let dir = tempfile::tempdir().unwrap();
    let script = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };
    let syntax = script(
        "syntax.sieve",
        "if header :contains \"subject\" \"x\" {\n  keep\n}\n",
    );
    let missing = script("missing.sieve", "fileinto \"Work\";\n");
    let refused = script("refused.sieve", "require [\"vacation\"];\n");
    let cases = [
        (
            &syntax,
            "syntax.sieve:3:1: expected `;` or a block after `keep`, found `}`: is a `;` missing?",
            "syntax.sieve:3:1: se esperaba `;` o un bloque después de `keep` y hay `}`: ¿falta un `;`?",
        ),
        (
            &missing,
            "missing.sieve:1:1: `fileinto` needs `require \"fileinto\";` at the top of the script",
            "missing.sieve:1:1: `fileinto` necesita `require \"fileinto\";` al principio del script",
        ),
        (
            &refused,
            "refused.sieve:1:10: the Sieve extension \"vacation\" is not supported by Buzón: it would send automatic replies out;",
            "refused.sieve:1:10: Buzón no admite la extensión de Sieve \"vacation\": enviaría respuestas automáticas fuera;",
        ),
    ];
    for (file, en, es) in cases {
        let (code_en, out_en, err_en) = buzon(&["sieve", "check", file, "--lang", "en"], &[]);
        let (code_es, out_es, err_es) = buzon(&["sieve", "check", file, "--lang", "es"], &[]);
        assert_eq!(
            (code_en, code_es),
            (2, 2),
            "{out_en}{err_en}{out_es}{err_es}"
        );
        let (en_text, es_text) = (format!("{out_en}{err_en}"), format!("{out_es}{err_es}"));
        let tail = |t: &str, want: &str| t.contains(want);
        assert!(tail(&en_text, en), "English: {en_text}\nwanted: {en}");
        assert!(tail(&es_text, es), "Spanish: {es_text}\nwanted: {es}");
    }
    // Every kind of error, one script each: the Spanish differs from the English, keeps
    // the position, and leaves no placeholder.
    let corpus = [
        "keep",                                         // missing ;
        "}",                                            // unmatched brace
        "keep; @",                                      // unexpected character
        "/* never closed",                              // comment
        "reject \"unterminated",                        // string
        "require [\"reject\"]; reject text:\nno end\n", // multi-line string
        "if size :over 10KB { keep; }",                 // invalid number
        "if size :over 99999999999999999999 { keep; }", // too large
        "if true { keep;",                              // block never closed
        "require [];",                                  // empty list
        "require [\"a\" \"b\"];",                       // , or ] expected
        "if anyof (true false) { keep; }",              // , or ) expected
        "if : { keep; }",                               // tag without name
        "elsif true { keep; }",                         // elsif without if
        "require \"fileinto\"; fileinto :copy \"x\";",  // :copy needs require
        "require [\"fileinto\", \"copy\"]; fileinto :copy :copy \"x\";",
        "require \"fileinto\"; fileinto :create \"x\";",
        "require \"fileinto\"; fileinto :bogus \"x\";",
        "require \"fileinto\"; fileinto;",
        "require \"fileinto\"; fileinto [\"a\", \"b\"];",
        "require \"reject\"; reject :x \"no\";",
        "redirect \"a@example.com\";",
        "frobnicate;",
        "keep; require \"fileinto\";",
        "require :x \"fileinto\";",
        "require;",
        "require \"body\";",
        "require \"frob\";",
        "if [true, false] { keep; }",
        "if { keep; }",
        "if true;",
        "if body :text \"x\" { keep; }",
        "if frob { keep; }",
        "if envelope \"from\" \"x\" { keep; }",
        "if header \"subject\" { keep; }",
        "if header :is :contains \"s\" \"x\" { keep; }",
        "if header :comparator { keep; }",
        "if header :comparator \"i;frob\" \"s\" \"x\" { keep; }",
        "if address :user \"from\" \"x\" { keep; }",
        "if header :count \"s\" \"x\" { keep; }",
        "if header :regex \"s\" \"x\" { keep; }",
        "if header :frob \"s\" \"x\" { keep; }",
        "if address :frob \"from\" \"x\" { keep; }",
        "if allof true { keep; }",
        "if not (true, false) { keep; }",
        "if not { keep; }",
        "if address \"subject\" \"x\" { keep; }",
        "require \"envelope\"; if envelope \"via\" \"x\" { keep; }",
        "if exists :is \"x\" { keep; }",
        "if exists { keep; }",
        "if size :frob 1 { keep; }",
        "if size :over :under 1 { keep; }",
        "if size 1 { keep; }",
        "if size :over \"x\" { keep; }",
        "if size :over 1 2 { keep; }",
        "if size :over { keep; }",
        "if header \"s\" :is \"x\" { keep; }",
        "if header 1 \"x\" { keep; }",
        "if header \"bad name\" \"x\" { keep; }",
        "keep 1;",
        "keep true;",
        "stop { keep; }",
        "if true 1 { keep; }",
        "if true true { keep; }",
        "if not true (false) { keep; }",
    ];
    let mut differ = 0;
    for (i, text) in corpus.iter().enumerate() {
        let file = script(&format!("c{i}.sieve"), text);
        let (code_en, out_en, err_en) = buzon(&["sieve", "check", &file, "--lang", "en"], &[]);
        let (code_es, out_es, err_es) = buzon(&["sieve", "check", &file, "--lang", "es"], &[]);
        let (en, es) = (format!("{out_en}{err_en}"), format!("{out_es}{err_es}"));
        assert_eq!(code_en, 2, "{text:?} compiled: {en}");
        assert_eq!(code_es, 2, "{text:?}: {es}");
        assert!(es.contains(&format!("c{i}.sieve:")), "{text:?}: {es}");
        assert!(!es.contains("{$") && !es.contains("{ $"), "{text:?}: {es}");
        for english in [
            " needs ",
            " takes ",
            "expected",
            " is not supported",
            "unknown ",
            "missing?",
        ] {
            assert!(
                !es.contains(english),
                "{text:?} left English in Spanish: {es}"
            );
        }
        if en != es {
            differ += 1;
        }
    }
    assert_eq!(differ, corpus.len());
}
