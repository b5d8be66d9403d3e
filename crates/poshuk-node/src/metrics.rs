//! Prometheus metrics: counters and a latency histogram, in the text format.
//! Labels carry only route names and status classes, never request content.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the search latency buckets, seconds.
const BUCKETS: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

/// The node's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    searches: AtomicU64,
    search_errors: AtomicU64,
    search_buckets: [AtomicU64; BUCKETS.len()],
    search_seconds_micros: AtomicU64,
    records_added: AtomicU64,
    records_updated: AtomicU64,
    records_unchanged: AtomicU64,
    records_deleted: AtomicU64,
    records_rejected: AtomicU64,
}

impl Metrics {
    /// Records one search and its duration.
    pub fn observe_search(&self, seconds: f64, ok: bool) {
        self.searches.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.search_errors.fetch_add(1, Ordering::Relaxed);
        }
        for (bucket, bound) in self.search_buckets.iter().zip(BUCKETS) {
            if seconds <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.search_seconds_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// Records ingest counts.
    pub fn observe_ingest(&self, counts: &poshuk_protocol::IngestCounts) {
        self.records_added
            .fetch_add(counts.added, Ordering::Relaxed);
        self.records_updated
            .fetch_add(counts.updated, Ordering::Relaxed);
        self.records_unchanged
            .fetch_add(counts.unchanged, Ordering::Relaxed);
        self.records_deleted
            .fetch_add(counts.deleted, Ordering::Relaxed);
        self.records_rejected
            .fetch_add(counts.rejected, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self, records: u64, index_bytes: u64) -> String {
        let load = |value: &AtomicU64| value.load(Ordering::Relaxed);
        let mut text = String::new();
        let _ = writeln!(
            text,
            "# HELP poshuk_records Records in the index.\n# TYPE poshuk_records gauge\nposhuk_records {records}"
        );
        let _ = writeln!(
            text,
            "# HELP poshuk_index_bytes Bytes of the index on disk.\n# TYPE poshuk_index_bytes gauge\nposhuk_index_bytes {index_bytes}"
        );
        let _ = writeln!(
            text,
            "# HELP poshuk_searches_total Federation searches answered.\n# TYPE poshuk_searches_total counter\nposhuk_searches_total {}",
            load(&self.searches)
        );
        let _ = writeln!(
            text,
            "# HELP poshuk_search_errors_total Federation searches that failed.\n# TYPE poshuk_search_errors_total counter\nposhuk_search_errors_total {}",
            load(&self.search_errors)
        );
        let _ = writeln!(
            text,
            "# HELP poshuk_search_seconds Time to answer a search.\n# TYPE poshuk_search_seconds histogram"
        );
        for (bucket, bound) in self.search_buckets.iter().zip(BUCKETS) {
            let _ = writeln!(
                text,
                "poshuk_search_seconds_bucket{{le=\"{bound}\"}} {}",
                load(bucket)
            );
        }
        let _ = writeln!(
            text,
            "poshuk_search_seconds_bucket{{le=\"+Inf\"}} {}",
            load(&self.searches)
        );
        let _ = writeln!(
            text,
            "poshuk_search_seconds_sum {}",
            load(&self.search_seconds_micros) as f64 / 1e6
        );
        let _ = writeln!(text, "poshuk_search_seconds_count {}", load(&self.searches));
        let _ = writeln!(
            text,
            "# HELP poshuk_ingested_records_total Records ingested, by outcome.\n# TYPE poshuk_ingested_records_total counter"
        );
        for (outcome, value) in [
            ("added", &self.records_added),
            ("updated", &self.records_updated),
            ("unchanged", &self.records_unchanged),
            ("deleted", &self.records_deleted),
            ("rejected", &self.records_rejected),
        ] {
            let _ = writeln!(
                text,
                "poshuk_ingested_records_total{{outcome=\"{outcome}\"}} {}",
                load(value)
            );
        }
        text
    }
}
