//! `revenuecat-sim`: serves the RevenueCat simulator on 127.0.0.1.
//!
//! `revenuecat-sim --port N --api-key K [--webhook-url URL --webhook-authorization V]` prints
//! `REVENUECAT_SIM_URL=http://127.0.0.1:<port>` once listening (port 0 picks a free port) and
//! serves until interrupted. Logs go to stderr (`RUST_LOG` filters them; default `info`).

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

fn parse_args(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut webhook_url, mut webhook_authorization) = (None, String::new());
    let (port, api_key) = sim_http::cli::parse_flags(args, |flag, value| {
        match flag {
            "--webhook-url" => {
                let url = value()?;
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err("--webhook-url must be an http:// or https:// URL".into());
                }
                webhook_url = Some(url);
            }
            "--webhook-authorization" => webhook_authorization = value()?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(Args { port, api_key, webhook_url, webhook_authorization })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(msg) => return sim_http::cli::usage_error("revenuecat-sim", USAGE, &msg),
    };
    let url_var = "REVENUECAT_SIM_URL";
    sim_http::cli::serve_until_interrupted("revenuecat-sim", url_var, args.port, |listener| {
        Simulator::new(SimConfig { api_key: args.api_key, webhook_url: args.webhook_url, webhook_authorization: args.webhook_authorization }).spawn(listener)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Args, String> {
        parse_args(line.split_whitespace().map(str::to_string))
    }

    #[test]
    fn flags_parse() {
        let a = parse("--port 0 --api-key k --webhook-url http://h/w --webhook-authorization s").expect("args");
        assert_eq!((a.port, a.api_key.as_str(), a.webhook_url.as_deref(), a.webhook_authorization.as_str()), (0, "k", Some("http://h/w"), "s"));
        let a = parse("--port 1 --api-key k").expect("args");
        assert_eq!((a.webhook_url, a.webhook_authorization), (None, String::new()));
        assert!(parse("--api-key k").is_err());
        assert!(parse("--port 1").is_err());
        assert!(parse("--port x --api-key k").is_err());
        assert!(parse("--port 1 --api-key").is_err());
        assert!(parse("--port 1 --api-key k --webhook-url ftp://x").is_err());
        assert!(parse("--port 1 --api-key k --bogus").is_err());
    }
}
