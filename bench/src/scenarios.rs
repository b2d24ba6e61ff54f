//! The measured runs: real users, credits, photos and jobs on the stack, each
//! route called `runs` times in-process on its happy path, plus the checks
//! below the route level (the token check, the session read, presigning).
//! Jobs are deleted as they go, so the 3-active-jobs limit never binds. The
//! purchase and account-deletion routes are in [`crate::credits`].

use shared::entry::FromContext;
use shared::entry::Function;
use shared::ports::{LedgerStore, PhotoStore};
use std::net::IpAddr;

use rand::Rng;
use serde_json::{Value, json};
use shared::credits::ledger::{LedgerReason, Posting};
use shared::error::BoxError;

use crate::harness::{Bench, Call, Outcome};
use crate::report::Row;

/// The photo every job uses (512×512 JPEG).
const PHOTO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/astronaut.jpg");

/// Every route, built once over the counting context (as a cold start would).
struct Routes {
    anonymous: auth_anonymous::AuthAnonymous,
    refresh: auth_refresh::AuthRefresh,
    me: get_me::GetMe,
    styles: get_styles::GetStyles,
    upload: create_upload::CreateUpload,
    create: create_job::CreateJob,
    list: list_jobs::ListJobs,
    get: get_job::GetJob,
    delete: delete_job::DeleteJob,
}

impl Routes {
    async fn new(b: &Bench) -> Result<Self, BoxError> {
        let c = || b.ctx.clone();
        Ok(Routes {
            anonymous: auth_anonymous::AuthAnonymous::from_context(c()).unwrap(),
            refresh: auth_refresh::AuthRefresh::from_context(c()).unwrap(),
            me: get_me::GetMe::from_context(c()).unwrap(),
            // Needs no settings or clients: its constructor reads nothing.
            styles: get_styles::GetStyles::from_env().await?,
            upload: create_upload::CreateUpload::from_context(c()).unwrap(),
            create: create_job::CreateJob::from_context(c()).unwrap(),
            list: list_jobs::ListJobs::from_context(c()).unwrap(),
            get: get_job::GetJob::from_context(c()).unwrap(),
            delete: delete_job::DeleteJob::from_context(c()).unwrap(),
        })
    }
}

/// A signed-up user's tokens.
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) access: String,
    refresh: String,
}

impl User {
    fn from(body: &Value) -> Self {
        let s = |k: &str| body[k].as_str().unwrap_or_default().to_string();
        User { id: s("user_id"), access: s("access_token"), refresh: s("refresh_token") }
    }
}

/// What `runs` uses: the stack's clients, the photo's bytes, an HTTP client for presigned PUTs.
pub(crate) struct Run<'a> {
    pub(crate) b: &'a Bench,
    r: Routes,
    pub(crate) http: reqwest::Client,
    photo: Vec<u8>,
}

pub(crate) fn expect(out: &Outcome, status: u16, what: &str) -> Result<(), BoxError> {
    if out.status != status {
        return Err(format!("{what}: expected {status}, got {} {}", out.status, out.body).into());
    }
    Ok(())
}

fn random_loopback() -> IpAddr {
    let mut r = rand::rng();
    IpAddr::from([127, r.random_range(1..=254), r.random_range(0..=255), r.random_range(1..=254)])
}

fn style() -> Value {
    json!({"attire": "business_suit", "background": "office", "lighting": "soft_studio", "quality": "standard"})
}

impl Run<'_> {
    pub(crate) async fn sign_up(&self) -> Result<(Outcome, User), BoxError> {
        let call = Call::new("POST", "/v1/auth/anonymous", "/v1/auth/anonymous").json(json!({})).from_ip(random_loopback());
        let out = self.b.send(&self.r.anonymous, call.build()?).await;
        expect(&out, 201, "sign-up")?;
        let user = User::from(&out.body);
        Ok((out, user))
    }

    async fn grant(&self, user: &User, credits: i64) -> Result<(), BoxError> {
        let posting = Posting {
            user_id: &user.id,
            amount: credits,
            reason: LedgerReason::SupportGrant,
            reference: None,
            active_jobs_delta: 0,
            max_active_jobs: None,
            now: shared::time::now(),
        };
        if !self.b.ctx.store.post(&posting).await? {
            return Err("the credit grant was refused".into());
        }
        Ok(())
    }

    /// `POST /v1/uploads`, then the `PUT` of the photo's bytes to the returned link.
    async fn upload(&self, user: &User) -> Result<(Outcome, String), BoxError> {
        let body = json!({"content_type": "image/jpeg", "content_length": self.photo.len()});
        let call = Call::new("POST", "/v1/uploads", "/v1/uploads").bearer(&user.access).json(body);
        let out = self.b.send(&self.r.upload, call.build()?).await;
        expect(&out, 201, "create upload")?;
        let mut put = self.http.put(out.body["upload_url"].as_str().ok_or("no upload_url")?);
        for (name, value) in out.body["headers"].as_object().ok_or("no headers")? {
            put = put.header(name.as_str(), value.as_str().unwrap_or_default());
        }
        let stored = put.body(self.photo.clone()).send().await?;
        if !stored.status().is_success() {
            return Err(format!("PUT to the presigned link: {}", stored.status()).into());
        }
        let id = out.body["upload_id"].as_str().ok_or("no upload_id")?.to_string();
        Ok((out, id))
    }

    async fn create_job(&self, user: &User, upload_id: &str, key: Option<&str>) -> Result<Outcome, BoxError> {
        let mut call = Call::new("POST", "/v1/jobs", "/v1/jobs").bearer(&user.access);
        if let Some(key) = key {
            call = call.header("idempotency-key", key);
        }
        let call = call.json(json!({"upload_id": upload_id, "style": style()}));
        let out = self.b.send(&self.r.create, call.build()?).await;
        expect(&out, 202, "create job")?;
        Ok(out)
    }

    async fn job_route(&self, method: &'static str, user: &User, job_id: &str) -> Result<Outcome, BoxError> {
        let call = Call::new(method, "/v1/jobs/{job_id}", format!("/v1/jobs/{job_id}")).param("job_id", job_id).bearer(&user.access);
        Ok(match method {
            "DELETE" => self.b.send(&self.r.delete, call.build()?).await,
            _ => self.b.send(&self.r.get, call.build()?).await,
        })
    }
}

fn job_id(out: &Outcome) -> Result<String, BoxError> {
    Ok(out.body["job_id"].as_str().ok_or("the job has no job_id")?.to_string())
}

/// Runs every route `runs` times (at least 1) and returns the table's rows.
pub async fn run_all(b: &Bench, runs: usize) -> Result<Vec<Row>, BoxError> {
    let runs = runs.max(1);
    let run = Run { b, r: Routes::new(b).await?, http: reqwest::Client::new(), photo: std::fs::read(PHOTO)? };
    let mut rows = Vec::new();

    let mut row = Row::new("POST /v1/auth/anonymous");
    let mut users = Vec::new();
    for i in 0..runs.max(3) {
        let (out, user) = run.sign_up().await?;
        if i < runs {
            row.add(&out);
        }
        users.push(user);
    }
    rows.push(row);
    let (main, lister, refresher) = (&users[0], &users[1], &users[2]);

    let mut row = Row::new("POST /v1/auth/refresh");
    let mut token = refresher.refresh.clone();
    for _ in 0..runs {
        let call = Call::new("POST", "/v1/auth/refresh", "/v1/auth/refresh").json(json!({"refresh_token": token}));
        let out = b.send(&run.r.refresh, call.build()?).await;
        expect(&out, 200, "refresh")?;
        token = User::from(&out.body).refresh;
        row.add(&out);
    }
    rows.push(row);

    // Below the route level, on a GET /v1/me request of a live session.
    let req = Call::new("GET", "/v1/me", "/v1/me").bearer(&main.access).build()?;
    let (mut sig, mut live) = (Row::new("  App::claims (token signature)"), Row::new("  sessions::require_live (+ session read)"));
    for _ in 0..runs {
        let (ok, calls, t) = b.measure(async || b.ctx.claims(shared::http::request::authorization(&req)).is_ok()).await;
        if !ok {
            return Err("authenticate refused a fresh token".into());
        }
        sig.add_run(None, calls, t);
        let (ok, calls, t) = b.measure(async || authenticate_live(&b.ctx, &req).await).await;
        if !ok {
            return Err("authenticate_live refused a live session".into());
        }
        live.add_run(None, calls, t);
    }
    rows.extend([sig, live]);

    let mut row = Row::new("GET /v1/me");
    for _ in 0..runs {
        let out = b.send(&run.r.me, Call::new("GET", "/v1/me", "/v1/me").bearer(&main.access).build()?).await;
        expect(&out, 200, "me")?;
        row.add(&out);
    }
    rows.push(row);

    let mut row = Row::new("GET /v1/styles");
    for _ in 0..runs {
        let out = b.send(&run.r.styles, Call::new("GET", "/v1/styles", "/v1/styles").build()?).await;
        expect(&out, 200, "styles")?;
        row.add(&out);
    }
    rows.push(row);

    run.grant(main, 1000).await?;
    run.grant(lister, 1000).await?;
    let mut row = Row::new("POST /v1/uploads");
    let mut pool = Vec::new();
    for _ in 0..runs {
        let (out, id) = run.upload(main).await?;
        row.add(&out);
        pool.push(id);
    }
    rows.push(row);

    let mut row = Row::new("  PhotoStorage presign GET + PUT (no transmit)");
    let key = shared::object_keys::UserObjects::new(&b.ctx.secrets.ip_hash_key, &main.id).upload(&pool[0]);
    let ttl = std::time::Duration::from_secs(60);
    for _ in 0..runs {
        let photos = &b.ctx.photos;
        let (res, calls, t) = b.measure(async || (photos.presign_get(&key, ttl).await, photos.presign_put(&key, "image/jpeg", 10, ttl).await)).await;
        res.0?;
        res.1?;
        row.add_run(None, calls, t);
    }
    rows.push(row);

    let (mut plain, mut keyed, mut replay) =
        (Row::new("POST /v1/jobs"), Row::new("POST /v1/jobs (Idempotency-Key)"), Row::new("POST /v1/jobs (idempotent replay)"));
    let (mut get, mut delete) = (Row::new("GET /v1/jobs/{job_id}"), Row::new("DELETE /v1/jobs/{job_id}"));
    for i in 0..runs {
        let first = match pool.pop() {
            Some(id) => id,
            None => run.upload(main).await?.1,
        };
        let out = run.create_job(main, &first, None).await?;
        let job1 = job_id(&out)?;
        plain.add(&out);

        let second = run.upload(main).await?.1;
        let key = format!("bench-{}-{i}", uuid::Uuid::new_v4());
        let out = run.create_job(main, &second, Some(&key)).await?;
        let job2 = job_id(&out)?;
        keyed.add(&out);
        let out = run.create_job(main, &second, Some(&key)).await?;
        if job_id(&out)? != job2 {
            return Err("the replay returned another job".into());
        }
        replay.add(&out);

        let out = run.job_route("GET", main, &job1).await?;
        expect(&out, 200, "get job")?;
        get.add(&out);
        for job in [&job1, &job2] {
            let out = run.job_route("DELETE", main, job).await?;
            expect(&out, 204, "delete job")?;
            delete.add(&out);
        }
    }

    // A user with 3 jobs, so the list has links to presign.
    for _ in 0..3 {
        let upload = run.upload(lister).await?.1;
        run.create_job(lister, &upload, None).await?;
    }
    let mut list = Row::new("GET /v1/jobs (3 jobs listed)");
    for _ in 0..runs {
        let out = b.send(&run.r.list, Call::new("GET", "/v1/jobs", "/v1/jobs").bearer(&lister.access).build()?).await;
        expect(&out, 200, "list jobs")?;
        if out.body["jobs"].as_array().map(Vec::len) != Some(3) {
            return Err(format!("list: expected 3 jobs, got {}", out.body).into());
        }
        list.add(&out);
    }
    rows.extend([plain, keyed, replay, list, get, delete]);
    rows.extend(crate::credits::run_all(&run, runs).await?);
    Ok(rows)
}

/// Verified claims whose session is confirmed alive (what a bearer route does first).
async fn authenticate_live(ctx: &shared::context::AppContext, req: &shared::http::Request) -> bool {
    let Ok(claims) = ctx.claims(shared::http::request::authorization(req)) else { return false };
    shared::usecases::sessions::require_live(&ctx.store, claims, shared::time::now()).await.is_ok()
}
