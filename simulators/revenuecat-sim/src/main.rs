//! `revenuecat-sim`: serves the RevenueCat simulator on 127.0.0.1.
//!
//! `revenuecat-sim --port N --api-key K [--webhook-url URL --webhook-authorization V]` prints
//! `REVENUECAT_SIM_URL=http://127.0.0.1:<port>` once listening (port 0 picks a free port) and
//! serves until interrupted. Logs go to stderr (`RUST_LOG` filters them; default `info`).

use std::io::Write;
use std::process::ExitCode;

use revenuecat_sim::{SimConfig, Simulator};

const USAGE: &str = "usage: revenuecat-sim --port N --api-key K \
                     [--webhook-url URL --webhook-authorization V]";

/// Command-line options.
struct Args {
    port: u16,
    api_key: String,
    webhook_url: Option<String>,
    webhook_authorization: String,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut port, mut api_key, mut webhook_url, mut webhook_authorization) =
        (None, None, None, String::new());
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
            "--webhook-url" => {
                let url = value()?;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err("--webhook-url must be an http:// or https:// URL".into());
                }
                webhook_url = Some(url);
            }
            "--webhook-authorization" => webhook_authorization = value()?,
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
        webhook_url,
        webhook_authorization,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("revenuecat-sim: {msg}");
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
            eprintln!(
                "revenuecat-sim: cannot listen on 127.0.0.1:{}: {e}",
                args.port
            );
            return ExitCode::FAILURE;
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(args.port);
    let sim = Simulator::new(SimConfig {
        api_key: args.api_key,
        webhook_url: args.webhook_url,
        webhook_authorization: args.webhook_authorization,
    });
    let server = sim.spawn(listener);
    println!("REVENUECAT_SIM_URL=http://127.0.0.1:{port}");
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
        let a = parse("--port 0 --api-key k --webhook-url http://h/w --webhook-authorization s")
            .expect("args");
        assert_eq!(
            (
                a.port,
                a.api_key.as_str(),
                a.webhook_url.as_deref(),
                a.webhook_authorization.as_str()
            ),
            (0, "k", Some("http://h/w"), "s")
        );
        let a = parse("--port 1 --api-key k").expect("args");
        assert_eq!(
            (a.webhook_url, a.webhook_authorization),
            (None, String::new())
        );
        assert!(parse("--api-key k").is_err());
        assert!(parse("--port 1").is_err());
        assert!(parse("--port x --api-key k").is_err());
        assert!(parse("--port 1 --api-key").is_err());
        assert!(parse("--port 1 --api-key k --webhook-url ftp://x").is_err());
        assert!(parse("--port 1 --api-key k --bogus").is_err());
    }
}
