//! Per-partner admission of searches: a rate (a token bucket refilled
//! evenly over a minute), a daily quota (UTC days) and a cap on searches in
//! flight. One partner that tries names to list another's cases is slowed to
//! a pace at which that takes months; one partner's flood holds at most its
//! own few slots, so the others' searches keep their speed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::PartnerConfig;
use crate::config::SearchLimits;

/// Why a search was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Over the per-minute rate: retry after this many seconds.
    Rate { retry_after: u64 },
    /// The day's quota is used: retry after this many seconds (next UTC day).
    Quota { retry_after: u64 },
    /// Too many of this partner's searches in flight.
    Busy,
}

impl Refusal {
    /// A stable name for metrics and error codes.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Refusal::Rate { .. } => "rate_limited",
            Refusal::Quota { .. } => "quota_exceeded",
            Refusal::Busy => "too_many_in_flight",
        }
    }

    /// Seconds a client should wait.
    pub(crate) fn retry_after(self) -> u64 {
        match self {
            Refusal::Rate { retry_after } | Refusal::Quota { retry_after } => retry_after,
            Refusal::Busy => 1,
        }
    }
}

#[derive(Debug)]
struct Usage {
    tokens: f64,
    refreshed: Instant,
    day: u64,
    used_today: u32,
    alerted_day: Option<u64>,
    in_flight: u32,
}

/// What admission decided besides yes: whether this search crossed the
/// alert share of the daily quota.
#[derive(Debug, Default)]
pub(crate) struct Admitted {
    /// The partner just reached the alert share of its quota today.
    pub(crate) alert: bool,
}

/// The counters of every partner.
#[derive(Debug, Default)]
pub(crate) struct Admission {
    usage: Mutex<HashMap<String, Usage>>,
    /// Hits delivered today: (searcher, owner) → (UTC day, hits).
    hits: Mutex<HashMap<(String, String), (u64, u64)>>,
}

/// A search in flight; dropping it frees the partner's slot.
#[derive(Debug)]
pub(crate) struct InFlight {
    admission: Arc<Admission>,
    partner: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut usage) = self.admission.usage.lock()
            && let Some(usage) = usage.get_mut(&self.partner)
        {
            usage.in_flight = usage.in_flight.saturating_sub(1);
        }
    }
}

fn utc_day(now: SystemTime) -> (u64, u64) {
    let seconds = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    (seconds / 86_400, 86_400 - seconds % 86_400)
}

/// Today's counts as kept on disk: searches per partner and hits per
/// (searcher, owner), with the UTC day they belong to.
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct SavedCounts {
    day: u64,
    searches: Vec<(String, u32)>,
    hits: Vec<(String, String, u64)>,
}

impl Admission {
    /// Today's counts from `path` (written by [`Admission::save`]): a restart
    /// must not give every partner a fresh quota and hit budget. Counts of
    /// another day, or a file that cannot be read, start from zero.
    pub(crate) fn load(path: &std::path::Path) -> Admission {
        let (today, _) = utc_day(SystemTime::now());
        let saved: SavedCounts = std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .filter(|saved: &SavedCounts| saved.day == today)
            .unwrap_or_default();
        let now = Instant::now();
        let usage = saved
            .searches
            .into_iter()
            .map(|(partner, used)| {
                let usage = Usage {
                    tokens: 0.0,
                    refreshed: now,
                    day: today,
                    used_today: used,
                    alerted_day: None,
                    in_flight: 0,
                };
                (partner, usage)
            })
            .collect();
        let hits = saved
            .hits
            .into_iter()
            .map(|(searcher, owner, used)| ((searcher, owner), (today, used)))
            .collect();
        Admission {
            usage: Mutex::new(usage),
            hits: Mutex::new(hits),
        }
    }

    /// Writes today's counts to `path` (atomically: a temporary file
    /// renamed over it).
    pub(crate) fn save(&self, path: &std::path::Path) -> std::io::Result<()> {
        let (today, _) = utc_day(SystemTime::now());
        let searches = self
            .usage
            .lock()
            .map(|usage| {
                usage
                    .iter()
                    .filter(|(_, usage)| usage.day == today)
                    .map(|(partner, usage)| (partner.clone(), usage.used_today))
                    .collect()
            })
            .unwrap_or_default();
        let hits = self
            .hits
            .lock()
            .map(|hits| {
                hits.iter()
                    .filter(|(_, (day, _))| *day == today)
                    .map(|((searcher, owner), (_, used))| (searcher.clone(), owner.clone(), *used))
                    .collect()
            })
            .unwrap_or_default();
        let saved = SavedCounts {
            day: today,
            searches,
            hits,
        };
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, serde_json::to_vec(&saved)?)?;
        std::fs::rename(&temporary, path)
    }

    /// Whether `searcher` has hits of `owner`'s left today.
    pub(crate) fn has_hit_budget(&self, searcher: &str, owner: &str, budget: u64) -> bool {
        let (day, _) = utc_day(SystemTime::now());
        let Ok(hits) = self.hits.lock() else {
            return false;
        };
        hits.get(&(searcher.to_string(), owner.to_string()))
            .is_none_or(|&(used_day, used)| used_day != day || used < budget)
    }

    /// Takes one hit of `owner`'s from today's budget of `searcher`; false
    /// when the budget (`budget` hits a day) is used.
    pub(crate) fn take_hit(&self, searcher: &str, owner: &str, budget: u64) -> bool {
        self.take_hit_at(searcher, owner, budget, SystemTime::now())
    }

    fn take_hit_at(&self, searcher: &str, owner: &str, budget: u64, wall: SystemTime) -> bool {
        let (day, _) = utc_day(wall);
        let Ok(mut hits) = self.hits.lock() else {
            return false;
        };
        let used = hits
            .entry((searcher.to_string(), owner.to_string()))
            .or_insert((day, 0));
        if used.0 != day {
            *used = (day, 0);
        }
        if used.1 >= budget {
            return false;
        }
        used.1 += 1;
        true
    }

    /// Admits one search of `partner` or says why not.
    pub(crate) fn admit(
        self: &Arc<Admission>,
        partner: &PartnerConfig,
        limits: &SearchLimits,
    ) -> Result<(InFlight, Admitted), Refusal> {
        self.admit_at(partner, limits, Instant::now(), SystemTime::now())
    }

    fn admit_at(
        self: &Arc<Admission>,
        partner: &PartnerConfig,
        limits: &SearchLimits,
        now: Instant,
        wall: SystemTime,
    ) -> Result<(InFlight, Admitted), Refusal> {
        let per_minute = f64::from(
            partner
                .searches_per_minute
                .unwrap_or(limits.searches_per_minute)
                .max(1),
        );
        let per_day = partner.searches_per_day.unwrap_or(limits.searches_per_day);
        let (day, until_tomorrow) = utc_day(wall);
        let Ok(mut all) = self.usage.lock() else {
            return Err(Refusal::Busy);
        };
        let usage = all.entry(partner.id.clone()).or_insert(Usage {
            tokens: per_minute,
            refreshed: now,
            day,
            used_today: 0,
            alerted_day: None,
            in_flight: 0,
        });
        if usage.day != day {
            usage.day = day;
            usage.used_today = 0;
        }
        let elapsed = now.saturating_duration_since(usage.refreshed).as_secs_f64();
        usage.tokens = (usage.tokens + elapsed * per_minute / 60.0).min(per_minute);
        usage.refreshed = now;
        if usage.in_flight >= limits.concurrent_searches.max(1) {
            return Err(Refusal::Busy);
        }
        if usage.used_today >= per_day {
            return Err(Refusal::Quota {
                retry_after: until_tomorrow,
            });
        }
        if usage.tokens < 1.0 {
            let wait = (1.0 - usage.tokens) * 60.0 / per_minute;
            return Err(Refusal::Rate {
                retry_after: wait.ceil().max(1.0) as u64,
            });
        }
        usage.tokens -= 1.0;
        usage.used_today += 1;
        usage.in_flight += 1;
        let threshold = (f64::from(per_day) * limits.alert_share).ceil() as u32;
        let alert = usage.used_today >= threshold && usage.alerted_day != Some(day);
        if alert {
            usage.alerted_day = Some(day);
        }
        Ok((
            InFlight {
                admission: self.clone(),
                partner: partner.id.clone(),
            },
            Admitted { alert },
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn partner() -> PartnerConfig {
        PartnerConfig::new("ngo", "http://127.0.0.1:1", "token-0123456789abcdef-xyz")
    }

    #[test]
    fn rate_quota_and_in_flight_are_held_per_partner() {
        let admission = Arc::new(Admission::default());
        let limits = SearchLimits {
            searches_per_minute: 3,
            searches_per_day: 5,
            concurrent_searches: 2,
            alert_share: 0.8,
            ..SearchLimits::default()
        };
        let (start, wall) = (Instant::now(), SystemTime::now());
        let ngo = partner();
        let first = admission
            .admit_at(&ngo, &limits, start, wall)
            .expect("first");
        let second = admission
            .admit_at(&ngo, &limits, start, wall)
            .expect("second");
        assert_eq!(
            admission.admit_at(&ngo, &limits, start, wall).map(|_| ()),
            Err(Refusal::Busy)
        );
        drop((first, second));
        admission
            .admit_at(&ngo, &limits, start, wall)
            .expect("third, a slot is free");
        let refused = admission
            .admit_at(&ngo, &limits, start, wall)
            .map(|_| ())
            .expect_err("the burst of 3 is spent");
        assert_eq!(refused, Refusal::Rate { retry_after: 20 });
        // Another partner is not slowed.
        let other = PartnerConfig::new("intl", "http://127.0.0.1:1", "token-other-0123456789abc");
        assert!(admission.admit_at(&other, &limits, start, wall).is_ok());
        // Two minutes later: two more; the fourth reaches 80% of 5 and is
        // reported, once.
        let later = start + Duration::from_secs(120);
        assert!(
            admission
                .admit_at(&ngo, &limits, later, wall)
                .expect("4")
                .1
                .alert
        );
        assert!(
            !admission
                .admit_at(&ngo, &limits, later, wall)
                .expect("5")
                .1
                .alert
        );
        let quota = admission
            .admit_at(&ngo, &limits, later + Duration::from_secs(60), wall)
            .map(|_| ())
            .expect_err("the day's quota is used");
        assert_eq!(quota.code(), "quota_exceeded");
        // The next UTC day starts afresh.
        let tomorrow = wall + Duration::from_secs(86_400);
        assert!(
            admission
                .admit_at(&ngo, &limits, later + Duration::from_secs(120), tomorrow)
                .is_ok()
        );
    }
}

#[cfg(test)]
mod hit_tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn hits_per_day_are_budgeted_per_searcher_and_owner() {
        let admission = Admission::default();
        let now = SystemTime::now();
        assert!(admission.take_hit_at("intl", "ngo", 2, now));
        assert!(admission.take_hit_at("intl", "ngo", 2, now));
        assert!(!admission.take_hit_at("intl", "ngo", 2, now), "budget used");
        assert!(admission.take_hit_at("intl", "ru", 2, now), "another owner");
        assert!(
            admission.take_hit_at("ru", "ngo", 2, now),
            "another searcher"
        );
        let tomorrow = now + Duration::from_secs(86_400);
        assert!(admission.take_hit_at("intl", "ngo", 2, tomorrow));
    }
}

#[cfg(test)]
mod saved_tests {
    use super::*;

    #[test]
    fn todays_counts_survive_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("limits.json");
        let admission = Arc::new(Admission::default());
        let limits = SearchLimits {
            searches_per_day: 2,
            ..SearchLimits::default()
        };
        let ngo = PartnerConfig::new("ngo", "http://127.0.0.1:1", "token-0123456789abcdef-xyz");
        drop(admission.admit(&ngo, &limits).expect("first"));
        drop(admission.admit(&ngo, &limits).expect("second"));
        assert!(admission.take_hit("ngo", "intl", 1));
        admission.save(&path).expect("saves");

        let restarted = Arc::new(Admission::load(&path));
        let refused = restarted
            .admit(&ngo, &limits)
            .map(|_| ())
            .expect_err("quota used");
        assert_eq!(refused.code(), "quota_exceeded");
        assert!(!restarted.has_hit_budget("ngo", "intl", 1));
        // A missing or damaged file starts from zero.
        std::fs::write(&path, "not json").expect("write");
        assert!(
            Arc::new(Admission::load(&path))
                .admit(&ngo, &limits)
                .is_ok()
        );
    }
}
