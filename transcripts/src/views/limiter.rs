//! Failed-login rate limit per user name and per client address.
//!
//! A sliding window of failure times per key, in memory: a restart forgets
//! it, which is acceptable for slowing down password guessing (the argon2
//! hash already costs each guess tens of milliseconds). Keys whose failures
//! have all left the window are pruned, so the maps stay small.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Prune the maps when they hold more keys than this.
const PRUNE_ABOVE: usize = 10_000;

pub(super) struct LoginLimiter {
    per_user: usize,
    per_address: usize,
    window: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    users: HashMap<String, VecDeque<Instant>>,
    addresses: HashMap<Option<IpAddr>, VecDeque<Instant>>,
}

fn recent(q: &mut VecDeque<Instant>, now: Instant, window: Duration) -> usize {
    while q
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        q.pop_front();
    }
    q.len()
}

impl LoginLimiter {
    pub(super) fn new(per_user: u32, per_address: u32, window: Duration) -> LoginLimiter {
        LoginLimiter {
            per_user: per_user as usize,
            per_address: per_address as usize,
            window,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a login attempt for `user` from `address` must be refused.
    pub(super) fn blocked(&self, user: &str, address: Option<IpAddr>, now: Instant) -> bool {
        let mut s = self.state();
        let window = self.window;
        let by_user = s.users.get_mut(user).map_or(0, |q| recent(q, now, window));
        let by_address = s
            .addresses
            .get_mut(&address)
            .map_or(0, |q| recent(q, now, window));
        by_user >= self.per_user || by_address >= self.per_address
    }

    pub(super) fn failure(&self, user: &str, address: Option<IpAddr>, now: Instant) {
        let mut s = self.state();
        let window = self.window;
        if s.users.len() > PRUNE_ABOVE {
            s.users.retain(|_, q| recent(q, now, window) > 0);
        }
        if s.addresses.len() > PRUNE_ABOVE {
            s.addresses.retain(|_, q| recent(q, now, window) > 0);
        }
        let key: String = user.chars().take(100).collect();
        s.users.entry(key).or_default().push_back(now);
        s.addresses.entry(address).or_default().push_back(now);
    }

    /// A successful login clears the user's failures (not the address's).
    pub(super) fn success(&self, user: &str) {
        self.state().users.remove(user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_and_forgets_after_the_window() {
        let l = LoginLimiter::new(3, 5, Duration::from_secs(60));
        let a: Option<IpAddr> = "127.0.0.1".parse().ok();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(!l.blocked("mette", a, t0));
            l.failure("mette", a, t0);
        }
        assert!(l.blocked("mette", a, t0));
        assert!(!l.blocked("jens", a, t0), "other users are not blocked yet");
        l.failure("jens", a, t0);
        l.failure("jens", a, t0);
        assert!(
            l.blocked("ole", a, t0),
            "five failures from one address block it"
        );
        assert!(!l.blocked("ole", "10.0.0.1".parse().ok(), t0));
        let later = t0 + Duration::from_secs(61);
        assert!(!l.blocked("mette", a, later));
    }
}
