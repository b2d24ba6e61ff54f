//! `kie-sim`: serves the KIE simulator on 127.0.0.1.
//!
//! `kie-sim --port N --api-key K [--hmac-key K] [--delay-ms N]` prints
//! `KIE_SIM_URL=http://127.0.0.1:<port>` once listening (port 0 picks a free port) and serves
//! until interrupted. The HMAC key is taken as the bytes of the given string. Logs go to stderr
//! (`RUST_LOG` filters them; default `info`).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use kie_sim::{SimConfig, Simulator};

const USAGE: &str = "usage: kie-sim --port N --api-key K [--hmac-key K] [--delay-ms N]";

/// Command-line options.
struct Args {
    port: u16,
    api_key: String,
    hmac_key: Option<String>,
    delay_ms: u64,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut port, mut api_key, mut hmac_key, mut delay_ms) = (None, None, None, 2000);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => {
                port = Some(
                    value()?
                        .parse::<u16>()
                        .map_err(|e| format!("--port: {e}"))?,
                )
            }
            "--api-key" => api_key = Some(value()?),
            "--hmac-key" => hmac_key = Some(value()?),
            "--delay-ms" => {
                delay_ms = value()?
                    .parse::<u64>()
                    .map_err(|e| format!("--delay-ms: {e}"))?
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let port = port.ok_or("--port is required")?;
    let api_key = api_key
        .filter(|k| !k.is_empty())
        .ok_or("--api-key is required")?;
    Ok(Args {
        port,
        api_key,
        hmac_key,
        delay_ms,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("kie-sim: {msg}");
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

    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("kie-sim: cannot listen on 127.0.0.1:{}: {e}", args.port);
            return ExitCode::FAILURE;
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(args.port);
    let sim = Simulator::new(SimConfig {
        api_key: args.api_key,
        hmac_key: args.hmac_key.map(String::into_bytes),
        default_delay: Duration::from_millis(args.delay_ms),
    });
    let server = sim.spawn(listener);
    println!("KIE_SIM_URL=http://127.0.0.1:{port}");
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
        let a = parse("--port 0 --api-key k --hmac-key h --delay-ms 5").expect("args");
        assert_eq!(
            (
                a.port,
                a.api_key.as_str(),
                a.hmac_key.as_deref(),
                a.delay_ms
            ),
            (0, "k", Some("h"), 5)
        );
        assert_eq!(parse("--port 1 --api-key k").expect("args").delay_ms, 2000);
        assert!(parse("--api-key k").is_err());
        assert!(parse("--port 1").is_err());
        assert!(parse("--port x --api-key k").is_err());
        assert!(parse("--port 1 --api-key").is_err());
        assert!(parse("--port 1 --api-key k --bogus").is_err());
    }
}
