//! What the pool reports (SPEC 3.3, 3.4): consumption rates, peaks, drains.
//!
//! Kept in memory per node: the peak is "since this node started", which is what an
//! administrator sizing a pool for a backup window needs from a running node.

use std::collections::HashMap;
use std::sync::Mutex;

/// Seconds in the sliding window over which the per-minute rate is measured.
const WINDOW: usize = 60;

/// Per key group counters.
#[derive(Debug)]
struct GroupStats {
    /// Keys taken in each of the last `WINDOW` seconds (ring indexed by second).
    ring: [u32; WINDOW],
    /// The second each ring slot counts.
    ring_at: [i64; WINDOW],
    taken: u64,
    refilled: u64,
    peak_per_second: u32,
    peak_per_minute: u64,
    drains: u64,
    last_drain_at: Option<i64>,
    draining: bool,
    empty_answers: u64,
}

impl Default for GroupStats {
    fn default() -> Self {
        GroupStats {
            ring: [0; WINDOW],
            ring_at: [i64::MIN; WINDOW],
            taken: 0,
            refilled: 0,
            peak_per_second: 0,
            peak_per_minute: 0,
            drains: 0,
            last_drain_at: None,
            draining: false,
            empty_answers: 0,
        }
    }
}

impl GroupStats {
    fn count_take(&mut self, now_s: i64) {
        let i = now_s.rem_euclid(WINDOW as i64) as usize;
        if self.ring_at[i] != now_s {
            self.ring_at[i] = now_s;
            self.ring[i] = 0;
        }
        self.ring[i] = self.ring[i].saturating_add(1);
        self.taken += 1;
        self.peak_per_second = self.peak_per_second.max(self.ring[i]);
        let minute = self.last_minute(now_s);
        self.peak_per_minute = self.peak_per_minute.max(minute);
    }

    fn last_minute(&self, now_s: i64) -> u64 {
        self.ring
            .iter()
            .zip(self.ring_at.iter())
            .filter(|(_, at)| now_s.saturating_sub(**at) < WINDOW as i64)
            .map(|(n, _)| u64::from(*n))
            .sum()
    }
}

/// A snapshot of one key group's pool on this node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PoolReport {
    /// Key group (wallet) ID.
    pub wallet_id: String,
    /// Key group name.
    pub wallet: String,
    /// Ready keys now.
    pub ready: i64,
    /// Target size.
    pub size: u64,
    /// Refills start below this.
    pub low_water: u64,
    /// Keys handed out since the node started.
    pub taken: u64,
    /// Keys generated since the node started.
    pub refilled: u64,
    /// Keys taken in the last 60 seconds.
    pub last_minute: u64,
    /// Most keys taken in one second since the node started.
    pub peak_per_second: u32,
    /// Most keys taken in 60 seconds since the node started: size the pool above this
    /// times the minutes a refill needs to catch up.
    pub peak_per_minute: u64,
    /// Times the pool ran empty since the node started.
    pub drains: u64,
    /// When it last ran empty, Unix seconds.
    pub last_drain_at: Option<i64>,
    /// "No ready key" answers given since the node started.
    pub empty_answers: u64,
}

/// Counters of every key group's pool on this node.
#[derive(Debug, Default)]
pub struct PoolStats {
    groups: Mutex<HashMap<String, GroupStats>>,
}

impl PoolStats {
    fn with<R>(&self, wallet_id: &str, f: impl FnOnce(&mut GroupStats) -> R) -> Option<R> {
        let mut map = self.groups.lock().ok()?;
        Some(f(map.entry(wallet_id.to_owned()).or_default()))
    }

    /// Counts keys handed out.
    pub fn taken(&self, wallet_id: &str, n: usize, now_s: i64) {
        self.with(wallet_id, |g| {
            for _ in 0..n {
                g.count_take(now_s);
            }
        });
    }

    /// Counts keys generated.
    pub fn refilled(&self, wallet_id: &str, n: usize) {
        self.with(wallet_id, |g| g.refilled += n as u64);
    }

    /// Counts a "no ready key" answer. Returns true when this starts a drain (the pool
    /// was not already known to be empty), so the caller raises the alert once.
    pub fn empty(&self, wallet_id: &str, now_s: i64) -> bool {
        self.with(wallet_id, |g| {
            g.empty_answers += 1;
            if g.draining {
                return false;
            }
            g.draining = true;
            g.drains += 1;
            g.last_drain_at = Some(now_s);
            true
        })
        .unwrap_or(false)
    }

    /// The pool is above its low-water mark again: the drain is over.
    pub fn recovered(&self, wallet_id: &str) -> bool {
        self.with(wallet_id, |g| std::mem::replace(&mut g.draining, false))
            .unwrap_or(false)
    }

    /// A report for one key group.
    pub fn report(
        &self,
        wallet_id: &str,
        wallet: &str,
        ready: i64,
        size: u64,
        low_water: u64,
        now_s: i64,
    ) -> PoolReport {
        let mut r = PoolReport {
            wallet_id: wallet_id.to_owned(),
            wallet: wallet.to_owned(),
            ready,
            size,
            low_water,
            taken: 0,
            refilled: 0,
            last_minute: 0,
            peak_per_second: 0,
            peak_per_minute: 0,
            drains: 0,
            last_drain_at: None,
            empty_answers: 0,
        };
        self.with(wallet_id, |g| {
            r.taken = g.taken;
            r.refilled = g.refilled;
            r.last_minute = g.last_minute(now_s);
            r.peak_per_second = g.peak_per_second;
            r.peak_per_minute = g.peak_per_minute;
            r.drains = g.drains;
            r.last_drain_at = g.last_drain_at;
            r.empty_answers = g.empty_answers;
        });
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_and_window() {
        let s = PoolStats::default();
        s.taken("w", 5, 100);
        s.taken("w", 3, 101);
        let r = s.report("w", "W", 0, 10, 5, 101);
        assert_eq!((r.taken, r.peak_per_second, r.peak_per_minute), (8, 5, 8));
        // A minute later the window has moved on; the peaks stay.
        let r = s.report("w", "W", 0, 10, 5, 161);
        assert_eq!(
            (r.last_minute, r.peak_per_second, r.peak_per_minute),
            (0, 5, 8)
        );
    }

    #[test]
    fn a_drain_is_counted_once_until_recovered() {
        let s = PoolStats::default();
        assert!(s.empty("w", 1));
        assert!(!s.empty("w", 2), "same drain");
        assert!(s.recovered("w"));
        assert!(!s.recovered("w"));
        assert!(s.empty("w", 3));
        let r = s.report("w", "W", 0, 10, 5, 3);
        assert_eq!(
            (r.drains, r.empty_answers, r.last_drain_at),
            (2, 3, Some(3))
        );
    }
}
