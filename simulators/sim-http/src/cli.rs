//! The simulators' command line: `--port N --api-key K` plus each simulator's own flags, and
//! the startup that serves on 127.0.0.1 until interrupted.

use std::io::Write;
use std::process::ExitCode;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Parses `--port N` and `--api-key K` (both required, the key non-empty) among `args`; any other
/// flag goes to `own` with a way to take its value, which answers whether it knew the flag.
///
/// `Err` holds the message to print before the usage line; it is empty for `-h`/`--help`.
pub fn parse_flags<I, F>(mut args: I, mut own: F) -> Result<(u16, String), String>
where
    I: Iterator<Item = String>,
    F: FnMut(&str, &mut dyn FnMut() -> Result<String, String>) -> Result<bool, String>,
{
    let (mut port, mut api_key) = (None, None);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => {
                port = Some(value()?.parse::<u16>().map_err(|e| format!("--port: {e}"))?);
            }
            "--api-key" => api_key = Some(value()?),
            "-h" | "--help" => return Err(String::new()),
            other => {
                if !own(other, &mut value)? {
                    return Err(format!("unknown argument {other}"));
                }
            }
        }
    }
    let port = port.ok_or("--port is required")?;
    let api_key = api_key.filter(|k| !k.is_empty()).ok_or("--api-key is required")?;
    Ok((port, api_key))
}

/// Prints `{name}: {msg}` (unless `msg` is empty) and `usage` to stderr; exit code 2.
pub fn usage_error(name: &str, usage: &str, msg: &str) -> ExitCode {
    if !msg.is_empty() {
        eprintln!("{name}: {msg}");
    }
    eprintln!("{usage}");
    ExitCode::from(2)
}

/// Logs to stderr (`RUST_LOG` filters; default `info`), listens on `127.0.0.1:port` (0 picks a
/// free port), serves with `spawn`, prints `{url_var}=http://127.0.0.1:<port>` and serves until
/// Ctrl-C. A failed bind prints `{name}: cannot listen on …` and fails.
pub async fn serve_until_interrupted(name: &str, url_var: &str, port: u16, spawn: impl FnOnce(TcpListener) -> JoinHandle<()>) -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")))
        .init();

    let listener = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{name}: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bound = listener.local_addr().map_or(port, |a| a.port());
    let server = spawn(listener);
    println!("{url_var}=http://127.0.0.1:{bound}");
    let _ = std::io::stdout().flush();
    let _ = tokio::signal::ctrl_c().await;
    server.abort();
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `line` with one own flag, `--extra V`.
    fn parse(line: &str) -> Result<(u16, String, Option<String>), String> {
        let mut extra = None;
        let (port, key) = parse_flags(line.split_whitespace().map(str::to_string), |flag, value| {
            match flag {
                "--extra" => extra = Some(value()?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok((port, key, extra))
    }

    #[test]
    fn common_and_own_flags_parse() {
        assert_eq!(parse("--extra e --port 0 --api-key k"), Ok((0, "k".to_string(), Some("e".to_string()))));
        assert_eq!(parse("--port 1 --api-key k"), Ok((1, "k".into(), None)));
        assert_eq!(parse("--api-key k"), Err("--port is required".into()));
        assert_eq!(parse("--port 1"), Err("--api-key is required".into()));
        assert_eq!(parse("--port 1 --api-key"), Err("--api-key needs a value".into()));
        assert_eq!(parse("--port 1 --extra"), Err("--extra needs a value".into()));
        assert!(parse("--port x --api-key k").is_err());
        assert_eq!(parse("--port 1 --api-key k --bogus"), Err("unknown argument --bogus".into()));
        assert_eq!(parse("--help"), Err(String::new()));
    }
}
