//! The node's metrics, through the Prometheus client library
//! (`prometheus-client`), in the OpenMetrics text format.
//!
//! Labels carry only route templates (`/local/v1/resolve/{handle}`, never a
//! handle), status classes and outcomes: never request content.

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

/// One route, and the class of its answer's status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteStatus {
    route: String,
    status: &'static str,
}

/// One route.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    route: String,
}

type HistogramFamily<Labels> = Family<Labels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// Upper bounds of the local API's latency buckets, seconds: ingest batches
/// and compaction take far longer than a search.
const LOCAL_BUCKETS: [f64; 10] = [0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0, 120.0];

fn local_histogram() -> Histogram {
    Histogram::new(LOCAL_BUCKETS)
}

/// The requests of one API: counted by route template and status class, and
/// timed by route template.
struct ApiRequests {
    counts: Family<RouteStatus, Counter>,
    seconds: HistogramFamily<Route>,
}

/// The node's metrics and their two registries: the federation API's
/// `/metrics` shows only what concerns the federation (searches, the index's
/// size); the local API's shows everything, the staff's own activity too.
pub struct Metrics {
    federation_registry: Registry,
    local_registry: Registry,
    searches: Counter,
    search_errors: Counter,
    search_seconds: Histogram,
    ingested: Family<Outcome, Counter>,
    federation_requests: ApiRequests,
    local_requests: ApiRequests,
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
            federation_registry: Registry::default(),
            local_registry: Registry::default(),
            searches: Counter::default(),
            search_errors: Counter::default(),
            search_seconds: latency_histogram(),
            ingested: Family::default(),
            federation_requests: ApiRequests {
                counts: Family::default(),
                seconds: Family::new_with_constructor(latency_histogram),
            },
            local_requests: ApiRequests {
                counts: Family::default(),
                seconds: Family::new_with_constructor(local_histogram),
            },
            records: Gauge::default(),
            index_bytes: Gauge::default(),
        };
        metrics.registered()
    }
}

/// Which API a request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// The federation API (the coordinator).
    Federation,
    /// The local API (the partner's own staff and tools).
    Local,
}

impl Metrics {
    fn registered(mut self) -> Metrics {
        // The metric handles share their values: registering one in both
        // registries shows the same series in both expositions.
        for registry in [&mut self.federation_registry, &mut self.local_registry] {
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
                "poshuk_federation_requests",
                "Federation API requests, by route and status class (route - : not routed: timed out, shed, unknown path)",
                self.federation_requests.counts.clone(),
            );
            registry.register(
                "poshuk_federation_request_seconds",
                "Time to answer a federation API request, by route",
                self.federation_requests.seconds.clone(),
            );
        }
        let local = &mut self.local_registry;
        local.register(
            "poshuk_ingested_records",
            "Records ingested, by outcome",
            self.ingested.clone(),
        );
        local.register(
            "poshuk_local_requests",
            "Local API requests, by route and status class (route - : not routed: timed out, shed, unknown path)",
            self.local_requests.counts.clone(),
        );
        local.register(
            "poshuk_local_request_seconds",
            "Time to answer a local API request, by route",
            self.local_requests.seconds.clone(),
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

    /// Records one answered request: `route` is the router's template, or
    /// `-` for a request that was not routed.
    pub fn observe_request(&self, api: Api, route: &str, status: u16, seconds: f64) {
        let status = match status {
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        let requests = match api {
            Api::Federation => &self.federation_requests,
            Api::Local => &self.local_requests,
        };
        let route = route.to_string();
        let labels = RouteStatus {
            route: route.clone(),
            status,
        };
        requests.counts.get_or_create(&labels).inc();
        let labels = Route { route };
        requests.seconds.get_or_create(&labels).observe(seconds);
    }

    /// The exposition for `api`, with the index's size as of now.
    pub fn render(&self, api: Api, records: u64, index_bytes: u64) -> String {
        self.records.set(i64::try_from(records).unwrap_or(i64::MAX));
        self.index_bytes
            .set(i64::try_from(index_bytes).unwrap_or(i64::MAX));
        let registry = match api {
            Api::Federation => &self.federation_registry,
            Api::Local => &self.local_registry,
        };
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, registry);
        text
    }
}
