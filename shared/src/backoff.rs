//! Jittered exponential backoff between tries of a contended write: each
//! pause is about twice the last, up to a cap, and randomised so that
//! writers who collided once do not collide again in lockstep.

use std::time::Duration;

/// The pauses of one retry loop.
#[derive(Debug, Clone)]
pub struct Backoff {
    next_ms: u64,
    cap_ms: u64,
}

impl Backoff {
    /// For writes contending for one item (a balance, a counter): starts at
    /// 20 ms and stops growing at 640 ms, so eight tries span about 1.5 s.
    pub fn contention() -> Self {
        Backoff { next_ms: 20, cap_ms: 640 }
    }

    /// The next pause: between half and all of the current step ("equal
    /// jitter"), then the step doubles.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.next_ms.max(2);
        self.next_ms = (step * 2).min(self.cap_ms);
        Duration::from_millis(step / 2 + rand::random::<u64>() % (step / 2 + 1))
    }

    /// Sleeps for [`Backoff::next_delay`].
    pub async fn pause(&mut self) {
        tokio::time::sleep(self.next_delay()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_with_jitter_up_to_the_cap() {
        let mut b = Backoff::contention();
        let pauses: Vec<u64> = (0..8).map(|_| b.next_delay().as_millis() as u64).collect();
        let steps = [20, 40, 80, 160, 320, 640, 640, 640];
        for (pause, step) in pauses.iter().zip(steps) {
            assert!((step / 2..=step).contains(pause), "{pauses:?}");
        }
        let total: u64 = pauses.iter().sum();
        assert!((1_270..=2_540).contains(&total), "eight tries span about 1.5 s: {total} ms");
    }
}
