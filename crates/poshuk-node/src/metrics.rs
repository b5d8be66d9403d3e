//! The node's metrics, through the Prometheus client library
//! (`prometheus-client`), in the OpenMetrics text format.
//!
//! Labels carry only route templates (`/local/v1/resolve/{handle}`, never a
//! handle), API names, status classes and outcomes: never request content.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds of the latency buckets, seconds.
const BUCKETS: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// An ingest outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

/// One route of one API, and the class of its answer's status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteStatus {
    api: &'static str,
    route: String,
    status: &'static str,
}

/// One route of one API.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    api: &'static str,
    route: String,
}

type HistogramFamily<Labels> = Family<Labels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// The node's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    searches: Counter,
    search_errors: Counter,
    search_seconds: Histogram,
    ingested: Family<Outcome, Counter>,
    requests: Family<RouteStatus, Counter>,
    request_seconds: HistogramFamily<Route>,
    records: Gauge,
    index_bytes: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        let metrics = Metrics {
            registry: Registry::default(),
            searches: Counter::default(),
            search_errors: Counter::default(),
            search_seconds: latency_histogram(),
            ingested: Family::default(),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(latency_histogram),
            records: Gauge::default(),
            index_bytes: Gauge::default(),
        };
        metrics.registered()
    }
}

impl Metrics {
    fn registered(mut self) -> Metrics {
        let registry = &mut self.registry;
        registry.register(
            "poshuk_records",
            "Records in the index",
            self.records.clone(),
        );
        registry.register(
            "poshuk_index_bytes",
            "Bytes of the index on disk",
            self.index_bytes.clone(),
        );
        registry.register(
            "poshuk_searches",
            "Federation searches answered",
            self.searches.clone(),
        );
        registry.register(
            "poshuk_search_errors",
            "Federation searches that failed",
            self.search_errors.clone(),
        );
        registry.register(
            "poshuk_search_seconds",
            "Time to answer a federation search",
            self.search_seconds.clone(),
        );
        registry.register(
            "poshuk_ingested_records",
            "Records ingested, by outcome",
            self.ingested.clone(),
        );
        registry.register(
            "poshuk_http_requests",
            "Requests answered, by API, route and status class",
            self.requests.clone(),
        );
        registry.register(
            "poshuk_http_request_seconds",
            "Time to answer a request, by API and route",
            self.request_seconds.clone(),
        );
        self
    }

    /// Records one federation search and its duration.
    pub fn observe_search(&self, seconds: f64, ok: bool) {
        self.searches.inc();
        if !ok {
            self.search_errors.inc();
        }
        self.search_seconds.observe(seconds);
    }

    /// Records ingest counts.
    pub fn observe_ingest(&self, counts: &poshuk_protocol::IngestCounts) {
        for (outcome, count) in [
            ("added", counts.added),
            ("updated", counts.updated),
            ("unchanged", counts.unchanged),
            ("deleted", counts.deleted),
            ("rejected", counts.rejected),
        ] {
            self.ingested
                .get_or_create(&Outcome { outcome })
                .inc_by(count);
        }
    }

    /// Records one answered request: `route` is the router's template.
    pub fn observe_request(&self, api: &'static str, route: &str, status: u16, seconds: f64) {
        let status = match status {
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        let route = route.to_string();
        self.requests
            .get_or_create(&RouteStatus {
                api,
                route: route.clone(),
                status,
            })
            .inc();
        self.request_seconds
            .get_or_create(&Route { api, route })
            .observe(seconds);
    }

    /// The exposition, with the index's size as of now.
    pub fn render(&self, records: u64, index_bytes: u64) -> String {
        self.records.set(i64::try_from(records).unwrap_or(i64::MAX));
        self.index_bytes
            .set(i64::try_from(index_bytes).unwrap_or(i64::MAX));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
