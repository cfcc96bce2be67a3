//! Sliding-window rate limits for the citizen chat.
//!
//! A small hand-written limiter rather than a crate: the chat needs two
//! keyed windows (per session, per address) checked under a lock it
//! already holds, and the well-known crates (governor, tower's limit)
//! either limit a whole service or bring a clock abstraction the server
//! does not otherwise need.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// At most `max` events per `window` for each key.
pub(crate) struct Window<K> {
    max: usize,
    window: Duration,
    seen: HashMap<K, VecDeque<Instant>>,
}

impl<K: Hash + Eq + Clone> Window<K> {
    pub(crate) fn new(max: usize, window: Duration) -> Self {
        Window {
            max,
            window,
            seen: HashMap::new(),
        }
    }

    /// Records an event for `key` at `now`, or says how long until one is
    /// allowed.
    pub(crate) fn check(&mut self, key: &K, now: Instant) -> Result<(), Duration> {
        let events = self.seen.entry(key.clone()).or_default();
        while events
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            events.pop_front();
        }
        if events.len() >= self.max {
            let oldest = events.front().copied().unwrap_or(now);
            return Err(self.window.saturating_sub(now.duration_since(oldest)));
        }
        events.push_back(now);
        Ok(())
    }

    /// Forgets keys with no event inside the window, so the map stays small.
    pub(crate) fn sweep(&mut self, now: Instant) {
        let window = self.window;
        self.seen.retain(|_, events| {
            events
                .back()
                .is_some_and(|t| now.duration_since(*t) < window)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_max_per_window_then_refuses_until_the_oldest_expires() {
        let mut w = Window::new(2, Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(w.check(&"a", t0).is_ok());
        assert!(w.check(&"a", t0 + Duration::from_secs(1)).is_ok());
        let wait = w
            .check(&"a", t0 + Duration::from_secs(2))
            .expect_err("third within the window");
        assert_eq!(wait, Duration::from_secs(8));
        assert!(w.check(&"b", t0).is_ok(), "keys are separate");
        assert!(w.check(&"a", t0 + Duration::from_secs(10)).is_ok());
        w.sweep(t0 + Duration::from_secs(60));
        assert!(w.seen.is_empty());
    }
}
