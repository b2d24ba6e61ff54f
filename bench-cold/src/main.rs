//! `bench-cold`: the cold start of each function, beside an empty
//! `lambda_runtime` function built the same way.
//!
//! Each bootstrap runs `--runs` times as a child process, each time against a
//! stand-in for the Lambda Runtime API of its own on 127.0.0.1, with the
//! settings and secrets as environment variables (so init makes no network
//! call) and the AWS endpoint pointed at the emulator. Per function it prints
//! the bootstrap's size and its zip's, init (spawn → first `GET /next`: best
//! and median, and the best's ratio to the empty function's, run once with
//! each of the function's runs so both are timed in the same minutes), the first
//! invocation (its event handed out → its answer, median), warm invocations
//! (`--warm` more per run, p50 and p99 over all runs), the peak resident
//! memory (`VmHWM`, median) and what the invocations answered.
//!
//! Before each function the emulator is emptied, the template's resources
//! are created again and a user is signed up (one unmeasured run of
//! `auth-anonymous`); the sample events (`events/`) act for that user, with
//! a fresh access token in place of the sample's.
//!
//! Usage: `bench-cold --endpoint URL --hello PATH [--runs N] [--warm N]
//! [--events DIR] [--template PATH] [--logs DIR] BOOTSTRAP...` (`bin/bench-cold`
//! builds everything and starts the emulator).

mod connections;
mod run;
mod runtime_api;
mod setup;
mod table;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hyper::body::Bytes;
use local_stack::template::Template;
use shared::error::BoxError;

use crate::run::Target;
use crate::setup::{Secrets, Tokens};
use crate::table::{HELLO, Row, ms, render};

struct Args {
    runs: usize,
    warm: usize,
    endpoint: String,
    hello: PathBuf,
    events: PathBuf,
    template: PathBuf,
    logs: PathBuf,
    /// The secrets in the emulator's Secrets Manager (`APP_SECRETS_ARN`), not variables.
    secrets_manager: bool,
    bootstraps: Vec<PathBuf>,
}

fn args() -> Result<Args, BoxError> {
    let mut endpoint = None;
    let mut hello = None;
    let mut a = Args {
        runs: 15,
        warm: 50,
        endpoint: String::new(),
        hello: PathBuf::new(),
        events: "events".into(),
        template: "template.yaml".into(),
        logs: ".local/bench-cold".into(),
        secrets_manager: false,
        bootstraps: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--runs" => a.runs = value()?.parse().map_err(|_| "--runs must be a whole number")?,
            "--warm" => a.warm = value()?.parse().map_err(|_| "--warm must be a whole number")?,
            "--endpoint" => endpoint = Some(value()?),
            "--hello" => hello = Some(PathBuf::from(value()?)),
            "--events" => a.events = value()?.into(),
            "--template" => a.template = value()?.into(),
            "--logs" => a.logs = value()?.into(),
            "--secrets-manager" => a.secrets_manager = true,
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}; see bin/bench-cold").into()),
            path => a.bootstraps.push(path.into()),
        }
    }
    a.endpoint = endpoint.ok_or("--endpoint URL (the AWS emulator) is required")?;
    a.hello = hello.ok_or("--hello PATH (the empty function) is required")?;
    if a.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    Ok(a)
}

/// A function's name: its binary's, or for a `bootstrap` the binary its
/// directory's logical id builds (`.aws-sam/build/GetMeFunction/bootstrap`: `get-me`).
fn name_of(path: &Path, binaries: &HashMap<String, String>) -> String {
    let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    if file == "bootstrap"
        && let Some(dir) = path.parent().and_then(Path::file_name)
    {
        let dir = dir.to_string_lossy().into_owned();
        return binaries.get(&dir).cloned().unwrap_or(dir);
    }
    file
}

/// Bytes of the bootstrap zipped as Lambda takes it (`zip` of one file named
/// `bootstrap`, default compression); `None` without the `zip` command.
fn zip_size(name: &str, path: &Path, scratch: &Path) -> Option<u64> {
    let dir = scratch.join(name);
    std::fs::create_dir_all(&dir).ok()?;
    let link = dir.join("bootstrap");
    let zip = dir.join("bootstrap.zip");
    let _ = std::fs::remove_file(&link);
    let _ = std::fs::remove_file(&zip);
    std::os::unix::fs::symlink(std::fs::canonicalize(path).ok()?, &link).ok()?;
    let ok = Command::new("zip").arg("-q").arg("-X").arg("-j").arg(&zip).arg(&link).status().ok()?.success();
    let size = if ok { std::fs::metadata(&zip).ok().map(|m| m.len()) } else { None };
    let _ = std::fs::remove_dir_all(&dir);
    size
}

/// The clients and codecs a bootstrap carries, told by the source paths
/// their code leaves in the binary (panic locations survive stripping):
/// `S3`, `SQS`, `image` (a JPEG, PNG or WebP decoder), or `–` for none.
fn links(path: &Path) -> String {
    let Ok(bytes) = std::fs::read(path) else { return "?".into() };
    let has = |marker: &str| bytes.windows(marker.len()).any(|w| w == marker.as_bytes());
    let found: Vec<&str> = [("S3", &["/aws-sdk-s3-"][..]), ("SQS", &["/aws-sdk-sqs-"]), ("image", &["/zune-jpeg-", "/image-webp-", "/png-0."])]
        .into_iter()
        .filter(|(_, markers)| markers.iter().any(|m| has(m)))
        .map(|(name, _)| name)
        .collect();
    if found.is_empty() { "–".into() } else { found.join(" ") }
}

/// The pause before each measured start, so that it does not begin while the
/// machine still settles the run before it.
const SETTLE: Duration = Duration::from_millis(50);

/// The event the empty function is given (it answers with it).
fn hello_event() -> serde_json::Value {
    serde_json::json!({ "hello": "world" })
}

/// Whether the empty function goes first in the pair of the `run`th run beside
/// a function: in every other pair (f h, h f, f h, …), so that each of the two
/// follows each of them as often and neither inherits the other's aftermath
/// (the emulator still busy, the killed process's memory being freed) more.
fn empty_goes_first(run: usize) -> bool {
    run % 2 == 1
}

struct Bench {
    args: Args,
    template: Template,
    secrets: Secrets,
    /// The providers' stand-in.
    providers: String,
    /// What RevenueCat's webhook sends in `Authorization`.
    webhook_auth: String,
    /// `auth-anonymous`'s bootstrap, to sign users up with.
    sign_up_with: Option<PathBuf>,
    /// The environment every bootstrap gets.
    base_env: Vec<(String, String)>,
    /// The user the sample events act for.
    tokens: Tokens,
    /// The relay the bootstraps reach the emulator through.
    relay: connections::Relay,
}

impl Bench {
    fn target(&self, name: &str, path: &Path) -> Target {
        let mut env = self.base_env.clone();
        env.extend(setup::function_env(name));
        Target { name: name.into(), path: path.into(), env, timeout: self.template.timeout_of(name).max(Duration::from_secs(3)) }
    }

    /// Empties the emulator, creates the template's resources again and signs
    /// up the user the sample events act for: each function starts from the
    /// same state, whatever the ones before it wrote.
    async fn fresh_state(&mut self) -> Result<(), BoxError> {
        setup::reset_emulator(&self.args.endpoint).await?;
        let created = setup::create_resources(&self.args.endpoint, &self.template).await?;
        self.base_env = setup::base_env(&self.template, &created, &self.relay.url, &self.secrets, &self.providers, &self.webhook_auth);
        if self.args.secrets_manager {
            let arn = setup::create_app_secret(&self.args.endpoint, &self.secrets, &self.webhook_auth).await?;
            setup::secrets_from_manager(&mut self.base_env, arn);
        }
        self.tokens = match self.sign_up().await {
            Ok(tokens) => tokens,
            Err(e) => {
                eprintln!("== no sign-up ({e}): the sample events act for a user that does not exist");
                Tokens::sample(&self.secrets)
            }
        };
        Ok(())
    }

    /// Runs `path` `--runs` times with `event`, signed afresh for each run, and
    /// with each run the empty function once, when `beside` is true.
    /// `DELETE /v1/me` deletes its user: each of its runs gets a user of its own.
    async fn measure(&self, name: &str, path: &Path, event: &serde_json::Value, scratch: &Path, beside: bool) -> Row {
        let target = self.target(name, path);
        let log = self.args.logs.join(format!("{name}.log"));
        let _ = std::fs::remove_file(&log);
        let mut row = Row {
            name: name.into(),
            links: links(path),
            bootstrap_bytes: std::fs::metadata(path).ok().map(|m| m.len()),
            zip_bytes: zip_size(name, path, scratch),
            runs: Vec::new(),
            beside: Vec::new(),
            failure: None,
        };
        let hello = self.target(HELLO, &self.args.hello);
        let hello_log = self.args.logs.join(format!("{HELLO}-beside-{name}.log"));
        let hello_event = Bytes::from(hello_event().to_string());
        let run_hello = async |row: &mut Row| {
            tokio::time::sleep(SETTLE).await;
            match run::run_once(&hello, &hello_event, 0, &hello_log).await {
                Ok(result) => row.beside.push(result.init),
                Err(e) => row.failure = Some(format!("{HELLO} beside it: {e}")),
            }
        };
        for i in 0..self.args.runs {
            let own_user = if name == "delete-me" { self.sign_up().await.ok() } else { None };
            let event = Bytes::from(own_user.as_ref().unwrap_or(&self.tokens).sign(event).to_string());
            let hello_first = beside && empty_goes_first(i);
            if hello_first {
                run_hello(&mut row).await;
                if row.failure.is_some() {
                    break;
                }
            }
            tokio::time::sleep(SETTLE).await;
            match run::run_once(&target, &event, self.args.warm, &log).await {
                Ok(mut result) => {
                    let [spawned, ready, first, last] = result.phases;
                    let after = last + Duration::from_millis(1);
                    result.connections =
                        [self.relay.opened_between(spawned, ready), self.relay.opened_between(ready, first), self.relay.opened_between(first, after)];
                    eprint!("\r== {name}: run {}/{}, init {} ms   ", i + 1, self.args.runs, ms(Some(result.init)));
                    row.runs.push(result);
                }
                Err(e) => {
                    eprintln!("\n== {name}: run {} failed: {e} (its output: {})", i + 1, log.display());
                    row.failure = Some(e.to_string());
                }
            }
            if beside && !hello_first && row.failure.is_none() {
                run_hello(&mut row).await;
            }
            if row.failure.is_some() {
                break;
            }
        }
        eprintln!();
        row
    }

    /// Signs up one user with `auth-anonymous` (one unmeasured run).
    async fn sign_up(&self) -> Result<Tokens, BoxError> {
        let path = self.sign_up_with.as_ref().ok_or("auth-anonymous is not among the bootstraps")?;
        let (_, event) = setup::sample_event(&self.args.events, "auth-anonymous")?;
        let target = self.target("auth-anonymous", path);
        let log = self.args.logs.join("sign-up.log");
        let result = run::run_once(&target, &Bytes::from(event.to_string()), 0, &log).await?;
        Tokens::from_sign_up(&self.secrets, &result.first_answer)
    }
}

/// Measures every bootstrap, the empty function first and again last, and
/// prints the table. The machine's speed drifts over a run of many minutes:
/// the empty function's row pools its runs first and last, and each
/// function's `init ×hello` is taken against the empty function's runs
/// interleaved with its own, not against its luck in another spell.
async fn bench_all(args: Args) -> Result<(), BoxError> {
    std::fs::create_dir_all(&args.logs)?;
    let template = Template::load(&args.template)?;

    // The functions, each with its sample event.
    let binaries = setup::binaries_by_logical_id(&args.template)?;
    let mut functions = Vec::new();
    for path in &args.bootstraps {
        let name = name_of(path, &binaries);
        let (_, event) = setup::sample_event(&args.events, &name)?;
        functions.push((name, path.clone(), event));
    }
    // RevenueCat's webhook authorises with a shared secret: the one its sample sends.
    let webhook_auth = functions
        .iter()
        .find(|(name, _, _)| name == "revenuecat-webhook")
        .and_then(|(_, _, event)| setup::authorization(event).map(str::to_string))
        .unwrap_or_else(|| "Bearer rc-webhook-secret-sample".into());
    let sign_up_with = functions.iter().find(|(name, _, _)| name == "auth-anonymous").map(|(_, path, _)| path.clone());
    let secrets = Secrets::generate()?;
    let tokens = Tokens::sample(&secrets);
    let providers = setup::start_providers().await?;
    let relay = connections::Relay::start(&args.endpoint).await?;
    let mut bench = Bench { args, template, secrets, providers, webhook_auth, sign_up_with, base_env: Vec::new(), tokens, relay };

    let scratch = std::env::temp_dir().join(format!("bench-cold-{}", std::process::id()));
    let mut rows = Vec::new();
    let hello_event = hello_event();
    let hello = bench.args.hello.clone();
    bench.fresh_state().await.map_err(|e| format!("setting up the emulator: {e}"))?;
    rows.push(bench.measure(HELLO, &hello, &hello_event, &scratch, false).await);
    for (name, path, event) in &functions {
        bench.fresh_state().await.map_err(|e| format!("resetting the emulator before {name}: {e}"))?;
        rows.push(bench.measure(name, path, event, &scratch, true).await);
    }
    bench.fresh_state().await.map_err(|e| format!("resetting the emulator before {HELLO}: {e}"))?;
    let again = bench.measure(HELLO, &hello, &hello_event, &scratch, false).await;
    rows[0].runs.extend(again.runs);
    rows[0].failure = rows[0].failure.take().or(again.failure);
    let _ = std::fs::remove_dir_all(&scratch);

    println!(
        "Cold start: {} runs per function ({HELLO}: as many first and last), {} warm invocations per run; times in ms (init: spawn → first GET /next; invoke: event handed out → answer).",
        bench.args.runs, bench.args.warm
    );
    println!("Sizes in MB of 10^6 bytes; zip: the bootstrap alone, `zip` default compression. Outputs: {}.", bench.args.logs.display());
    println!(
        "Secrets: {}. AWS conns: connections opened to the emulator during init, the first invocation, and all the warm ones (medians).\n",
        if bench.args.secrets_manager {
            "read from the emulator's Secrets Manager at init (APP_SECRETS_ARN)"
        } else {
            "environment variables (no call at init)"
        }
    );
    print!("{}", render(&rows));
    let failed = rows.iter().filter(|r| r.failure.is_some()).count();
    if failed > 0 {
        return Err(format!("{failed} function(s) failed; see their logs in {}", bench.args.logs.display()).into());
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stopped() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let args = args()?;
    // Stopping drops the run in progress, which kills its bootstrap.
    tokio::select! {
        result = bench_all(args) => result,
        () = stopped() => Err("stopped".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_function_goes_first_in_every_other_pair() {
        let firsts: Vec<bool> = (0..6).map(empty_goes_first).collect();
        assert_eq!(firsts, [false, true, false, true, false, true]);
    }

    #[test]
    fn a_sam_build_bootstrap_is_named_after_its_binary() {
        let binaries = setup::binaries_by_logical_id(Path::new("../template.yaml")).unwrap();
        assert_eq!(name_of(Path::new(".aws-sam/build/GetMeFunction/bootstrap"), &binaries), "get-me");
        assert_eq!(name_of(Path::new("target/release/get-me"), &binaries), "get-me");
        assert!(binaries.values().any(|b| b == "generation-worker"), "{binaries:?}");
    }

    #[test]
    fn links_are_told_by_the_crates_paths_in_the_binary() {
        let dir = std::env::temp_dir().join(format!("bench-cold-links-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bootstrap");
        std::fs::write(&file, b"\0.../aws-sdk-sqs-1.102.0/src/x.rs\0.../zune-jpeg-0.5.3/src/y.rs\0").unwrap();
        assert_eq!(links(&file), "SQS image");
        std::fs::write(&file, b"nothing of the kind").unwrap();
        assert_eq!(links(&file), "–");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_cold_start_link_script_gathers_the_init_path_before_text() {
        // What every release bootstrap is linked with (functions/bootstrap-link.rs);
        // a malformed line would fail only a release link, which the tests don't run.
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions/cold-start.ld");
        let script = std::fs::read_to_string(&path).unwrap();
        assert!(script.contains("  .text.cold_start :\n") && script.trim_end().ends_with("}\nINSERT BEFORE .text;"), "{script:.300}");
        let patterns: Vec<&str> = script.lines().filter_map(|l| l.strip_prefix("    *(")).collect();
        assert!(patterns.len() > 300, "{} patterns", patterns.len());
        for line in &patterns {
            let (hot, cold) = line.strip_suffix(')').and_then(|l| l.split_once(' ')).unwrap();
            let name = hot.strip_prefix(".text.").unwrap();
            assert_eq!(cold, format!(".text.unlikely.{name}"));
            assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "_$.*".contains(c)), "{line}");
        }
        // The profile it came from covered our own set-up and an AWS client's.
        for init in ["_ZN6shared5entry", "_ZN6shared6config", "_ZN16aws_sdk_dynamodb6client6Client3new"] {
            assert!(patterns.iter().any(|p| p.contains(init)), "no pattern for {init}");
        }
    }
}
