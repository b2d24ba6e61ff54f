//! `fault-proxy`: serves the fault proxy on 127.0.0.1 in front of an emulator.
//!
//! `fault-proxy --upstream http://127.0.0.1:N [--port P]` reads `AWS_FAULTS` and
//! `AWS_FAULT_RULES`, prints `AWS_FAULT_PROXY_URL=http://127.0.0.1:<port>` once listening (port
//! 0, the default, picks a free port) and serves until interrupted. Logs go to stderr
//! (`RUST_LOG` filters them; default `info`).

use std::io::Write;
use std::process::ExitCode;

use fault_proxy::{FaultConfig, Faults};
use tokio::net::TcpListener;

const USAGE: &str = "usage: fault-proxy --upstream http://127.0.0.1:N [--port P]";

/// Command-line options.
#[derive(Debug, PartialEq, Eq)]
struct Args {
    upstream: String,
    port: u16,
}

/// Parses the flags; `Err` holds the message to print before the usage line (empty for help).
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut upstream, mut port) = (None, 0);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--upstream" => upstream = Some(value()?),
            "--port" => {
                port = value()?
                    .parse::<u16>()
                    .map_err(|e| format!("--port: {e}"))?
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let upstream = upstream.ok_or("--upstream is required")?;
    if !upstream.starts_with("http://") {
        return Err(format!("--upstream must be an http:// URL, got {upstream}"));
    }
    Ok(Args { upstream, port })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("fault-proxy: {msg}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config = match FaultConfig::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("fault-proxy: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(("127.0.0.1", args.port)).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("fault-proxy: cannot listen on 127.0.0.1:{}: {e}", args.port);
            return ExitCode::FAILURE;
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(args.port);
    let off = config.is_off();
    let server = Faults::new(args.upstream.clone(), config).spawn(listener);
    tracing::info!(upstream = %args.upstream, off, "fault-proxy: serving");
    println!("AWS_FAULT_PROXY_URL=http://127.0.0.1:{port}");
    let _ = std::io::stdout().flush();
    let _ = tokio::signal::ctrl_c().await;
    server.abort();
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Args, String> {
        parse_args(line.split_whitespace().map(str::to_string))
    }

    #[test]
    fn flags_parse() {
        let args = parse("--upstream http://127.0.0.1:5000 --port 7").expect("args");
        assert_eq!(
            args,
            Args {
                upstream: "http://127.0.0.1:5000".into(),
                port: 7
            }
        );
        assert_eq!(parse("--upstream http://x").expect("args").port, 0);
        assert!(parse("--port 1").is_err());
        assert!(parse("--upstream https://x").is_err());
        assert!(parse("--upstream").is_err());
        assert!(parse("--upstream http://x --port x").is_err());
        assert!(parse("--upstream http://x --bogus").is_err());
        assert_eq!(parse("--help"), Err(String::new()));
    }
}
