//! `fault-proxy`: serves the fault proxy on 127.0.0.1 in front of an emulator.
//!
//! `fault-proxy --upstream http://127.0.0.1:N [--port P]` reads `AWS_FAULTS` and
//! `AWS_FAULT_RULES`, prints `AWS_FAULT_PROXY_URL=http://127.0.0.1:<port>` once listening (port
//! 0, the default, picks a free port) and serves until interrupted. Logs go to stderr
//! (`RUST_LOG` filters them; default `info`).

use std::process::ExitCode;

use fault_proxy::{FaultConfig, Faults};
use sim_http::cli::{serve_until_interrupted, usage_error};

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
                port = value()?.parse::<u16>().map_err(|e| format!("--port: {e}"))?;
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
        Err(msg) => return usage_error("fault-proxy", USAGE, &msg),
    };
    let config = match FaultConfig::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("fault-proxy: {e}");
            return ExitCode::from(2);
        }
    };
    let faults = Faults::new(args.upstream.clone(), config);
    serve_until_interrupted("fault-proxy", "AWS_FAULT_PROXY_URL", args.port, |listener| faults.spawn(listener)).await
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
        assert_eq!(args, Args { upstream: "http://127.0.0.1:5000".into(), port: 7 });
        assert_eq!(parse("--upstream http://x").expect("args").port, 0);
        assert!(parse("--port 1").is_err());
        assert!(parse("--upstream https://x").is_err());
        assert!(parse("--upstream").is_err());
        assert!(parse("--upstream http://x --port x").is_err());
        assert!(parse("--upstream http://x --bogus").is_err());
        assert_eq!(parse("--help"), Err(String::new()));
    }
}
