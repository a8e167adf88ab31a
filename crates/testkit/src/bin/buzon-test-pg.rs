//! Keeps one private PostgreSQL cluster ([`buzon_testkit::PgCluster`]) running for a
//! whole test run: `buzon-test-pg URL_FILE` starts it, writes the URL of its `buzon`
//! database to URL_FILE, and stops it when its standard input closes (`scripts/test`
//! holds that pipe open and closes it on exit, however it exits).

use std::io::Read;

fn main() -> std::process::ExitCode {
    let Some(url_file) = std::env::args_os().nth(1) else {
        eprintln!("usage: buzon-test-pg URL_FILE (stops the cluster when stdin closes)");
        return std::process::ExitCode::from(2);
    };
    let cluster = match buzon_testkit::PgCluster::start() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot start the test PostgreSQL cluster: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let tmp = std::path::PathBuf::from(&url_file).with_extension("tmp");
    if let Err(e) =
        std::fs::write(&tmp, cluster.url()).and_then(|()| std::fs::rename(&tmp, &url_file))
    {
        eprintln!("cannot write the URL file: {e}");
        return std::process::ExitCode::from(1);
    }
    let mut sink = [0u8; 256];
    let mut stdin = std::io::stdin();
    loop {
        match stdin.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    if let Err(e) = cluster.stop() {
        eprintln!("stopping the test cluster: {e}");
    }
    std::process::ExitCode::SUCCESS
}
