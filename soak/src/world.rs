//! What the simulated users share: the stack, the knobs, the answer counts,
//! the clock of the run, the pacer that spreads job creations evenly over
//! the acting time, and the bound on jobs in flight. Both keep the load
//! within what the one-request-at-a-time emulator serves: past it, calls
//! queue for tens of seconds, time out and are retried, the load multiplies,
//! and jobs time out for the emulator's sake instead of the code's.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::api::Stats;
use crate::config::{ConfigError, Knobs, Stack};

/// A photo the users upload.
#[derive(Debug, Clone)]
pub struct Photo {
    pub bytes: Vec<u8>,
    /// Its content type.
    pub content_type: &'static str,
}

/// The shared state of a run.
#[derive(Debug)]
pub struct World {
    pub stack: Stack,
    pub knobs: Knobs,
    /// Non-2xx answers.
    pub stats: Stats,
    /// Jobs created so far (202 answers with a new job id).
    pub created: AtomicUsize,
    /// Places for jobs in flight (created, or being created, and not yet
    /// seen ended by their user): `knobs.in_flight` permits, handed out in
    /// the order users asked (a fair semaphore), so no user starves.
    pub places: Arc<Semaphore>,
    /// When the users started.
    pub start: Instant,
    /// The end of the acting time (`SOAK_SECONDS`).
    pub acting_end: Instant,
    /// The latest users keep creating to reach `SOAK_JOBS` ("within reason":
    /// the acting time once more, or 5 minutes if that is longer: under load
    /// from elsewhere the emulator serves fewer jobs a second).
    pub hard_end: Instant,
    /// The photos (tests/fixtures).
    pub photos: Vec<Photo>,
    /// `PRODUCT_CREDITS`, the packs users buy from.
    pub products: Vec<(String, i64)>,
    next_slot: Mutex<Instant>,
    gap: Duration,
}

/// The least time users may go on past the acting time to reach `SOAK_JOBS`.
const EXTRA_AT_LEAST: Duration = Duration::from_secs(300);

/// The fixtures users upload: the astronaut in each accepted format.
fn photos() -> Result<Vec<Photo>, ConfigError> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    [("astronaut.jpg", "image/jpeg"), ("astronaut.png", "image/png"), ("astronaut.webp", "image/webp")]
        .into_iter()
        .map(|(name, content_type)| {
            let path = dir.join(name);
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(Photo { bytes, content_type })
        })
        .collect()
}

impl World {
    /// A world starting now.
    pub fn new(stack: Stack, knobs: Knobs) -> Result<Self, ConfigError> {
        let start = Instant::now();
        let acting = Duration::from_secs(knobs.seconds);
        // Slots a little faster than SOAK_JOBS over SOAK_SECONDS: some
        // creations fail (no credits, the active-job limit, a deleted account).
        let rate = (knobs.jobs.max(1) as f64 / knobs.seconds as f64) * 1.15;
        let places = Arc::new(Semaphore::new(knobs.in_flight));
        let products: Vec<(String, i64)> = stack.products().into_iter().filter(|(_, c)| (5..=20).contains(c)).collect();
        if products.is_empty() {
            return Err("PRODUCT_CREDITS has no pack of 5 to 20 credits to buy".into());
        }
        Ok(World {
            stack,
            knobs,
            stats: Stats::default(),
            created: AtomicUsize::new(0),
            places,
            start,
            acting_end: start + acting,
            hard_end: start + acting + acting.max(EXTRA_AT_LEAST),
            photos: photos()?,
            products,
            next_slot: Mutex::new(start),
            gap: Duration::from_secs_f64(1.0 / rate),
        })
    }

    /// Whether users should keep acting: during the acting time, and past
    /// it until `SOAK_JOBS` jobs exist (for at most the acting time again).
    pub fn acting(&self) -> bool {
        let now = Instant::now();
        now < self.acting_end || (self.created.load(Ordering::Relaxed) < self.knobs.jobs && now < self.hard_end)
    }

    /// Takes the next job-creation slot: the time the caller may create at.
    pub fn next_slot(&self) -> Instant {
        match self.next_slot.lock() {
            Ok(mut next) => {
                let slot = (*next).max(Instant::now());
                *next = slot + self.gap;
                slot
            }
            Err(_) => Instant::now(),
        }
    }

    /// Counts a created job.
    pub fn job_created(&self) {
        self.created.fetch_add(1, Ordering::Relaxed);
    }

    /// Jobs in flight now.
    pub fn in_flight(&self) -> usize {
        self.knobs.in_flight - self.places.available_permits()
    }
}
