//! Quiet failures: a cache that keeps failing is logged at the first failure of a streak and
//! then at most once per [`QUIET_INTERVAL`], and once more when it works again, instead of at
//! every read (about ten a second under load).

use std::time::{Duration, Instant};

/// The shortest time between two logged failures of one streak.
const QUIET_INTERVAL: Duration = Duration::from_secs(60);

/// Failures of one kind of operation (reads, or writes) since it last succeeded.
#[derive(Debug, Default)]
pub(crate) struct Streak {
    /// When the last logged failure was logged; `None` outside a streak.
    logged_at: Option<Instant>,
    /// Failures of this streak, logged or not.
    failures: u64,
    /// Failures not logged since `logged_at`.
    unlogged: u64,
}

/// What to do with a failure.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Report {
    /// Log it, noting how many failures since the last one logged were not.
    Log { unlogged: u64 },
    /// Say nothing: one was logged less than [`QUIET_INTERVAL`] ago.
    Quiet,
}

impl Streak {
    /// A failure at `now`.
    pub(crate) fn failed(&mut self, now: Instant) -> Report {
        self.failures += 1;
        match self.logged_at {
            Some(at) if now.saturating_duration_since(at) < QUIET_INTERVAL => {
                self.unlogged += 1;
                Report::Quiet
            }
            _ => {
                self.logged_at = Some(now);
                Report::Log {
                    unlogged: std::mem::take(&mut self.unlogged),
                }
            }
        }
    }

    /// A success: the number of failures of the streak it ends, if it ends one.
    pub(crate) fn succeeded(&mut self) -> Option<u64> {
        self.logged_at?;
        let failures = self.failures;
        *self = Streak::default();
        Some(failures)
    }
}

/// `" (N more failures since the last report)"`, or nothing.
pub(crate) fn unlogged_note(unlogged: u64) -> String {
    if unlogged == 0 {
        String::new()
    } else {
        format!(" ({unlogged} more failures not logged since the last report)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streak_is_logged_first_then_once_per_interval_then_at_its_end() {
        let start = Instant::now();
        let mut streak = Streak::default();
        assert_eq!(streak.succeeded(), None, "no streak, nothing ends");
        assert_eq!(streak.failed(start), Report::Log { unlogged: 0 });
        // Ten a second for most of a minute: quiet.
        for tenth in 1..590 {
            let now = start + Duration::from_millis(tenth * 100);
            assert_eq!(streak.failed(now), Report::Quiet, "{tenth}");
        }
        assert_eq!(
            streak.failed(start + QUIET_INTERVAL),
            Report::Log { unlogged: 589 }
        );
        assert_eq!(
            streak.failed(start + QUIET_INTERVAL + Duration::from_secs(1)),
            Report::Quiet
        );
        assert_eq!(streak.succeeded(), Some(592));
        assert_eq!(streak.succeeded(), None, "ended once");
        // A new streak is logged at once.
        let later = start + QUIET_INTERVAL + Duration::from_secs(2);
        assert_eq!(streak.failed(later), Report::Log { unlogged: 0 });
    }

    #[test]
    fn the_note_counts_what_was_not_logged() {
        assert_eq!(unlogged_note(0), "");
        assert!(unlogged_note(7).contains("7 more failures"));
    }
}
