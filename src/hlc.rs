//! Hybrid logical clock: 48 bits of wall-clock milliseconds, 16 bits of counter.
//!
//! Every stored change carries the HLC of the node that made it; replication resolves
//! concurrent attribute edits by the larger (HLC, node ID). The clock never runs
//! backwards, even when the wall clock does, and moves past any timestamp it receives.

use std::sync::atomic::{AtomicU64, Ordering};

/// A hybrid logical clock shared by one node's tasks.
#[derive(Debug, Default)]
pub struct Hlc {
    last: AtomicU64,
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Hlc {
    /// A clock starting at the current time.
    pub fn new() -> Hlc {
        Hlc::default()
    }

    /// A timestamp greater than every one this clock has issued or observed.
    pub fn now(&self) -> u64 {
        self.advance(wall_ms() << 16)
    }

    /// Moves the clock past a timestamp seen from a peer or the database.
    pub fn observe(&self, remote: u64) {
        self.advance(remote);
    }

    /// A timestamp for a write that replaces a row stamped `prev`: greater than `prev`
    /// as well as than everything this clock has seen. Nodes sharing a database keep
    /// separate clocks, so the row may carry another node's, faster, clock; a write
    /// stamped below it would be kept here and discarded by every other replica.
    pub fn after(&self, prev: i64) -> u64 {
        self.observe(u64::try_from(prev).unwrap_or(0));
        self.now()
    }

    fn advance(&self, floor: u64) -> u64 {
        let mut prev = self.last.load(Ordering::Relaxed);
        loop {
            let next = if floor > prev { floor } else { prev + 1 };
            match self
                .last
                .compare_exchange_weak(prev, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(p) => prev = p,
            }
        }
    }
}

/// The HLC as the signed integer the databases store.
pub fn to_db(hlc: u64) -> i64 {
    i64::try_from(hlc).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictly_increasing() {
        let c = Hlc::new();
        let mut prev = 0;
        for _ in 0..10_000 {
            let t = c.now();
            assert!(t > prev);
            prev = t;
        }
    }

    #[test]
    fn observing_a_future_stamp_moves_past_it() {
        let c = Hlc::new();
        let future = (wall_ms() + 60_000) << 16;
        c.observe(future);
        assert!(c.now() > future);
    }

    #[test]
    fn a_replacing_write_outranks_the_row_it_replaces() {
        let c = Hlc::new();
        let row = to_db((wall_ms() + 60_000) << 16);
        assert!(to_db(c.after(row)) > row);
        assert!(to_db(c.after(-1)) > row, "the clock kept what it saw");
    }
}
