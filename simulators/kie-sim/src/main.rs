//! `kie-sim`: serves the KIE simulator on 127.0.0.1.
//!
//! `kie-sim --port N --api-key K [--hmac-key K] [--delay-ms N]` prints
//! `KIE_SIM_URL=http://127.0.0.1:<port>` once listening (port 0 picks a free port) and serves
//! until interrupted. The HMAC key is taken as the bytes of the given string. Logs go to stderr
//! (`RUST_LOG` filters them; default `info`).

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

fn parse_args(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut hmac_key, mut delay_ms) = (None, 2000);
    let (port, api_key) = sim_http::cli::parse_flags(args, |flag, value| {
        match flag {
            "--hmac-key" => hmac_key = Some(value()?),
            "--delay-ms" => {
                delay_ms = value()?.parse::<u64>().map_err(|e| format!("--delay-ms: {e}"))?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(Args { port, api_key, hmac_key, delay_ms })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(msg) => return sim_http::cli::usage_error("kie-sim", USAGE, &msg),
    };
    sim_http::cli::serve_until_interrupted("kie-sim", "KIE_SIM_URL", args.port, |listener| {
        Simulator::new(SimConfig {
            api_key: args.api_key,
            hmac_key: args.hmac_key.map(String::into_bytes),
            default_delay: Duration::from_millis(args.delay_ms),
        })
        .spawn(listener)
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
        let a = parse("--port 0 --api-key k --hmac-key h --delay-ms 5").expect("args");
        assert_eq!((a.port, a.api_key.as_str(), a.hmac_key.as_deref(), a.delay_ms), (0, "k", Some("h"), 5));
        assert_eq!(parse("--port 1 --api-key k").expect("args").delay_ms, 2000);
        assert!(parse("--api-key k").is_err());
        assert!(parse("--port 1").is_err());
        assert!(parse("--port x --api-key k").is_err());
        assert!(parse("--port 1 --api-key").is_err());
        assert!(parse("--port 1 --api-key k --bogus").is_err());
    }
}
