//! The coordinator's metrics, through the Prometheus client library: the
//! federation's searches, and per partner how its node answered. Labels are
//! partner ids (from the config) and outcomes, never tokens. Who searched how
//! often is not exposed: `/metrics` is not authenticated yet, and that is the
//! audit log's business.

use poshuk_protocol::{FederatedResponse, PartnerOutcome};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds of the node answer-time buckets, seconds.
const BUCKETS: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

/// The content type of [`Metrics::render`]'s text.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Answer {
    partner: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Partner {
    partner: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Refused {
    partner: String,
    reason: &'static str,
}

/// The coordinator's metrics and their registry.
pub(crate) struct Metrics {
    registry: Registry,
    searches: Counter,
    partial: Counter,
    unauthorized: Counter,
    refused: Family<Refused, Counter>,
    alerts: Family<Partner, Counter>,
    answers: Family<Answer, Counter>,
    answer_seconds: Family<Partner, Histogram, fn() -> Histogram>,
}

fn answer_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

impl Metrics {
    /// The metrics of a federation of `partners`.
    pub(crate) fn new(partners: usize) -> Metrics {
        let mut metrics = Metrics {
            registry: Registry::default(),
            searches: Counter::default(),
            partial: Counter::default(),
            unauthorized: Counter::default(),
            refused: Family::default(),
            alerts: Family::default(),
            answers: Family::default(),
            answer_seconds: Family::new_with_constructor(answer_histogram),
        };
        let registry = &mut metrics.registry;
        let configured = Gauge::<i64>::default();
        configured.set(i64::try_from(partners).unwrap_or(i64::MAX));
        registry.register("poshuk_partners", "Partners configured", configured);
        registry.register(
            "poshuk_federated_searches",
            "Federated searches",
            metrics.searches.clone(),
        );
        registry.register(
            "poshuk_federated_partial",
            "Federated searches where a node did not answer",
            metrics.partial.clone(),
        );
        registry.register(
            "poshuk_unauthorized_requests",
            "Requests refused for want of a valid token",
            metrics.unauthorized.clone(),
        );
        registry.register(
            "poshuk_searches_refused",
            "Searches refused by a partner's rate, daily quota or in-flight cap",
            metrics.refused.clone(),
        );
        registry.register(
            "poshuk_quota_alerts",
            "Times a partner reached the alert share of its daily quota",
            metrics.alerts.clone(),
        );
        registry.register(
            "poshuk_node_answers",
            "Answers of each partner's node to federated searches, by outcome",
            metrics.answers.clone(),
        );
        registry.register(
            "poshuk_node_answer_seconds",
            "Time until each partner's node answered (or its deadline)",
            metrics.answer_seconds.clone(),
        );
        metrics
    }

    /// Records one federated search and each node's answer.
    pub(crate) fn observe_search(&self, response: &FederatedResponse) {
        self.searches.inc();
        if response.partial {
            self.partial.inc();
        }
        for (partner, status) in &response.partners {
            let outcome = match status.status {
                PartnerOutcome::Ok => "ok",
                PartnerOutcome::TimedOut => "timed_out",
                PartnerOutcome::Failed => "failed",
                PartnerOutcome::Unavailable => "unavailable",
                PartnerOutcome::Limited => "limited",
            };
            let partner = partner.clone();
            self.answer_seconds
                .get_or_create(&Partner {
                    partner: partner.clone(),
                })
                .observe(status.took_ms as f64 / 1000.0);
            self.answers
                .get_or_create(&Answer { partner, outcome })
                .inc();
        }
    }

    /// Counts a request refused at the gate.
    pub(crate) fn count_unauthorized(&self) {
        self.unauthorized.inc();
    }

    /// Counts a search refused at admission.
    pub(crate) fn count_refused(&self, partner: &str, reason: &'static str) {
        self.refused
            .get_or_create(&Refused {
                partner: partner.to_string(),
                reason,
            })
            .inc();
    }

    /// Counts a partner reaching the alert share of its quota.
    pub(crate) fn count_alert(&self, partner: &str) {
        self.alerts
            .get_or_create(&Partner {
                partner: partner.to_string(),
            })
            .inc();
    }

    /// The exposition.
    pub(crate) fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
