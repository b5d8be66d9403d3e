//! The fan-out: one search sent to every searchable partner's node, each in
//! the key epoch it serves, with deadlines, at most one retry, and the
//! answers merged. A node's failure is a status, never an error.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use poshuk_protocol::client::ClientError;
use poshuk_protocol::{
    EpochQueries, FederatedHit, FederatedResponse, PartnerOutcome, PartnerStatus,
};
use rand::RngExt;

use crate::{Coordinator, PartnerConfig, Permission};

/// Why a partner's hits are withheld (no count: a count would tell).
const SPENT: &str = "today's hits from this partner to you are used; more tomorrow (UTC)";

/// One node's answer: its status and its hits.
type Answer = (PartnerStatus, Vec<FederatedHit>);

fn answer(started: Instant, outcome: PartnerOutcome, error: Option<String>) -> Answer {
    (
        PartnerStatus {
            status: outcome,
            took_ms: started.elapsed().as_millis() as u64,
            hits: 0,
            error,
        },
        Vec::new(),
    )
}

impl Coordinator {
    /// The newest of the query's epochs that a node serves, as last heard;
    /// the newest of the query's if the node was never heard from.
    fn epoch_for(&self, partner: &PartnerConfig, bodies: &BTreeMap<u32, Bytes>) -> Option<u32> {
        match self.served_by(&partner.id) {
            Some(served) => bodies.keys().rev().find(|e| served.contains(e)).copied(),
            None => bodies.keys().next_back().copied(),
        }
    }

    /// Asks one node in the epoch it serves, with at most one jittered retry
    /// after a connection error (never after a timeout), and one after the
    /// node says it no longer serves that epoch (it switched generations).
    async fn ask_node(&self, partner: &PartnerConfig, bodies: &BTreeMap<u32, Bytes>) -> Answer {
        let started = Instant::now();
        let deadline = Duration::from_millis(self.config.deadlines.per_node_ms);
        let mut retried_connect = false;
        let mut retried_epoch = false;
        let mut epoch = self.epoch_for(partner, bodies);
        let Some(node) = self.node(partner) else {
            let message = "the node is not connected".to_string();
            return answer(started, PartnerOutcome::Unavailable, Some(message));
        };
        loop {
            let Some(body) = epoch.and_then(|epoch| bodies.get(&epoch)).cloned() else {
                let served = self.served_by(&partner.id).unwrap_or_default();
                let message = format!(
                    "the node serves key epochs {served:?}; the query was tokenized for {:?}",
                    bodies.keys().collect::<Vec<_>>()
                );
                return answer(started, PartnerOutcome::Failed, Some(message));
            };
            let remaining = deadline.saturating_sub(started.elapsed());
            let early = started.elapsed() < deadline / 2;
            match node.node_search(body, remaining).await {
                Ok(response) => {
                    let hits: Vec<FederatedHit> = response
                        .hits
                        .into_iter()
                        .map(|hit| FederatedHit {
                            partner: partner.id.clone(),
                            partner_name: partner.name.clone(),
                            handle: hit.handle,
                            score: hit.score,
                            band: hit.band,
                            agreeing: hit.agreeing,
                            fields: hit.fields,
                            namesakes: hit.namesakes,
                            own: false,
                            record_id: None,
                        })
                        .collect();
                    let (mut status, _) = answer(started, PartnerOutcome::Ok, None);
                    status.hits = hits.len();
                    return (status, hits);
                }
                Err(ClientError::Refused { status: 409, body }) if !retried_epoch && early => {
                    // Most likely the node switched generations since its
                    // last status: ask it again, then retry in its epoch.
                    retried_epoch = true;
                    self.fetch_status(partner).await;
                    let next = self.epoch_for(partner, bodies);
                    if next == epoch {
                        let message = format!("409: {}", body.message);
                        return answer(started, PartnerOutcome::Failed, Some(message));
                    }
                    epoch = next;
                }
                Err(ClientError::Unreachable(_)) if !retried_connect && early => {
                    retried_connect = true;
                    let jitter = rand::rng().random_range(20..80);
                    tokio::time::sleep(Duration::from_millis(jitter)).await;
                }
                Err(error) => {
                    // Why, in the operator's log: a wrong node token shows
                    // here as the node's 401, not only as "failed".
                    let reason = describe(&error);
                    tracing::warn!(partner = %partner.id, reason = %reason, "a node did not answer a search");
                    return answer(started, outcome_of(&error), Some(reason));
                }
            }
        }
    }

    /// Fans a search out to every searchable partner (or the named ones),
    /// each in the key epoch it serves, and merges. Queries in retired
    /// epochs are dropped; the caller has checked that one is left.
    /// The answer is returned only once it is in the audit log
    /// (`fingerprint`: the query's keyed fingerprint).
    pub async fn search(
        &self,
        requester: &PartnerConfig,
        queries: EpochQueries,
        only: Option<&[String]>,
        fingerprint: &str,
    ) -> std::io::Result<FederatedResponse> {
        let started = Instant::now();
        let mut limit = 1;
        let mut bodies = BTreeMap::new();
        for query in queries.queries.iter().filter(|q| !self.is_retired(q.epoch)) {
            limit = query.limit.min(self.config.max_hits).max(1);
            // The protocol's own types always serialize.
            let body = serde_json::to_vec(query).unwrap_or_default();
            bodies.insert(query.epoch, Bytes::from(body));
        }
        let overall = Duration::from_millis(self.config.deadlines.overall_ms);
        let bodies = &bodies;
        // A partner whose hits for this searcher are used up today is not
        // asked at all: asking, then withholding, would still say whether it
        // knows the person.
        let mut budget_left = std::collections::HashSet::new();
        for owner in self.targets(only) {
            let left = owner.id == requester.id
                || match self.shared.as_ref() {
                    Some(shared) => {
                        shared
                            .has_hit_budget(&requester.id, &owner.id, self.hit_budget(owner))
                            .await
                    }
                    None => self.admission.has_hit_budget(
                        &requester.id,
                        &owner.id,
                        self.hit_budget(owner),
                    ),
                };
            if left {
                budget_left.insert(owner.id.clone());
            }
        }
        let (asked, spent): (Vec<&PartnerConfig>, Vec<&PartnerConfig>) = self
            .targets(only)
            .into_iter()
            .partition(|owner| budget_left.contains(&owner.id));
        let asks = asked.into_iter().map(|partner| async move {
            let asked = tokio::time::timeout(overall, self.ask_node(partner, bodies)).await;
            let answer = asked.unwrap_or_else(|_| {
                let message = "no answer before the overall deadline".to_string();
                answer(started, PartnerOutcome::TimedOut, Some(message))
            });
            (partner, answer)
        });
        let mut answers = futures_util::future::join_all(asks).await;
        answers.extend(spent.into_iter().map(|owner| {
            (
                owner,
                answer(started, PartnerOutcome::Limited, Some(SPENT.into())),
            )
        }));
        let mut response = merge(requester, answers, limit, started);
        let granted = self.shared_hit_grants(requester, &response).await;
        self.withhold_beyond_budget(requester, &mut response, granted);
        // Whom to ask: the contact of each other partner with a hit.
        for hit in response.hits.iter().filter(|hit| !hit.own) {
            if let Some(partner) = self.config.partners.iter().find(|p| p.id == hit.partner)
                && !partner.anonymous
                && !partner.contact.trim().is_empty()
            {
                response
                    .contacts
                    .insert(partner.id.clone(), partner.contact.clone());
            }
        }
        self.metrics.observe_search(&response);
        self.audit_search(&requester.id, fingerprint, &response)?;
        self.hide_anonymous(requester, &mut response);
        Ok(response)
    }

    /// Puts each anonymous partner's answer under a pseudonym of this
    /// search alone: its hits named "a partner of the federation", their
    /// handles disguised, its status without timing (which could tell
    /// where it runs). The searcher's own hits stay its own.
    fn hide_anonymous(&self, requester: &PartnerConfig, response: &mut FederatedResponse) {
        let mut hidden = false;
        for partner in self.config.partners.iter().filter(|p| p.anonymous) {
            if partner.id == requester.id {
                continue;
            }
            let Some(mut status) = response.partners.remove(&partner.id) else {
                continue;
            };
            hidden = true;
            let pseudonym = self.pseudonyms.new_for(&partner.id);
            status.took_ms = 0;
            if status.error.is_some() {
                status.error = Some("did not answer".into());
            }
            for hit in response
                .hits
                .iter_mut()
                .filter(|hit| hit.partner == partner.id)
            {
                hit.partner = pseudonym.clone();
                hit.partner_name = crate::pseudonyms::ANONYMOUS_NAME.into();
                hit.handle = self.pseudonyms.alias(&pseudonym, &hit.handle);
            }
            response.contacts.remove(&partner.id);
            response.partners.insert(pseudonym, status);
        }
        // Ordered again under the names shown: ties were broken by the real
        // ids, and where an anonymous partner's hit fell among equal scores
        // would tell where its id sorts. Each partner's hits are still in
        // its node's order.
        order_hits(&mut response.hits);
        // The whole search's time would be an anonymous node's own when it
        // answers last: not told.
        if hidden {
            response.took_ms = 0;
        }
    }

    /// A search in the audit log: who asked, the query's fingerprint,
    /// whether it was partial, and per partner the outcome and the number
    /// of hits (never the tokens).
    fn audit_search(
        &self,
        requester: &str,
        fingerprint: &str,
        response: &FederatedResponse,
    ) -> std::io::Result<()> {
        let per_partner: std::collections::BTreeMap<&String, serde_json::Value> = response
            .partners
            .iter()
            .map(|(id, status)| {
                (
                    id,
                    serde_json::json!({"status": status.status, "hits": status.hits}),
                )
            })
            .collect();
        self.audit.append(serde_json::json!({
            "event": "search",
            "route": poshuk_protocol::routes::coordinator::FEDERATED_SEARCH,
            "requester": requester,
            "query": fingerprint,
            "partial": response.partial,
            "partners": per_partner,
        }))
    }

    /// With replicas, the hits each owner may still give this searcher
    /// today, taken from the shared counts for the hits the answer holds;
    /// `None` without a shared database (the local counts decide).
    async fn shared_hit_grants(
        &self,
        requester: &PartnerConfig,
        response: &FederatedResponse,
    ) -> Option<std::collections::HashMap<String, u64>> {
        let shared = self.shared.as_ref()?;
        let mut wanted: BTreeMap<&str, u64> = BTreeMap::new();
        for hit in response.hits.iter().filter(|hit| !hit.own) {
            *wanted.entry(hit.partner.as_str()).or_default() += 1;
        }
        let mut granted = std::collections::HashMap::new();
        for (owner_id, count) in wanted {
            let Some(owner) = self.config.partners.iter().find(|p| p.id == owner_id) else {
                continue;
            };
            let given = shared
                .take_hits(&requester.id, owner_id, count, self.hit_budget(owner))
                .await;
            granted.insert(owner_id.to_string(), given);
        }
        Some(granted)
    }

    /// Hits `owner` may give one searcher a day: a share of its records, at
    /// least the configured minimum.
    fn hit_budget(&self, owner: &PartnerConfig) -> u64 {
        let limits = &self.config.limits;
        // An anonymous partner's budget says nothing of its list's size.
        if owner.anonymous {
            return u64::from(limits.hits_per_day_min);
        }
        let records = self
            .views
            .read()
            .ok()
            .and_then(|views| views.get(&owner.id).cloned().flatten())
            .map_or(0, |status| status.records);
        ((records as f64 * limits.hits_per_day_share).floor() as u64)
            .max(u64::from(limits.hits_per_day_min))
    }

    /// Charges the hits the searcher receives (after the merge's cut to its
    /// limit) to its budget with each owner; a hit beyond the budget is
    /// withheld and its owner's outcome says `limited`. Each partner's hit
    /// count is what was delivered.
    fn withhold_beyond_budget(
        &self,
        requester: &PartnerConfig,
        response: &mut FederatedResponse,
        mut granted: Option<std::collections::HashMap<String, u64>>,
    ) {
        let mut limited: Vec<String> = Vec::new();
        response.hits.retain(|hit| {
            if hit.own {
                return true;
            }
            let Some(owner) = self.config.partners.iter().find(|p| p.id == hit.partner) else {
                return false;
            };
            let kept = match granted.as_mut() {
                // With replicas: what the shared counts granted, in order.
                Some(granted) => match granted.get_mut(&owner.id) {
                    Some(left) if *left > 0 => {
                        *left -= 1;
                        true
                    }
                    _ => false,
                },
                None => self
                    .admission
                    .take_hit(&requester.id, &owner.id, self.hit_budget(owner)),
            };
            if !kept && !limited.contains(&owner.id) {
                limited.push(owner.id.clone());
            }
            kept
        });
        for (id, status) in response.partners.iter_mut() {
            status.hits = response
                .hits
                .iter()
                .filter(|hit| &hit.partner == id)
                .count();
            if limited.contains(id) {
                status.status = PartnerOutcome::Limited;
                status.error = Some(SPENT.into());
                tracing::warn!(
                    searcher = %requester.id,
                    owner = %id,
                    "a partner used its daily hits from another: hits withheld"
                );
            }
        }
        response.partial = response
            .partners
            .values()
            .any(|status| status.status != PartnerOutcome::Ok);
    }

    /// The partners a search goes to: allowed to be searched, not
    /// suspended, and among `only` when given.
    fn targets(&self, only: Option<&[String]>) -> Vec<&PartnerConfig> {
        self.config
            .partners
            .iter()
            .filter(|partner| partner.permissions.contains(&Permission::BeSearched))
            .filter(|partner| !self.is_suspended(&partner.id))
            .filter(|partner| only.is_none_or(|names| names.contains(&partner.id)))
            .collect()
    }
}

/// Orders hits by band (strong, possible, then relatives: a namesake held
/// as a lead at 0.2 is still a candidate for the person, a brother at 0.2
/// never is), then by score; among equal scores, by their rank in their
/// partner's answer (a node orders its hits of one tenth by what the tenth
/// hides: the exact probability, then the evidence), then by handle (keyed,
/// random-looking), then partner: never first by partner id, which would
/// tell where an anonymous partner's id sorts among the others by which of
/// two equal hits is kept. `hits` holds each partner's hits in the order
/// its node gave them.
fn order_hits(hits: &mut Vec<FederatedHit>) {
    let mut ranks: BTreeMap<String, usize> = BTreeMap::new();
    let mut ranked: Vec<(usize, FederatedHit)> = hits
        .drain(..)
        .map(|hit| {
            let next = ranks.entry(hit.partner.clone()).or_default();
            let rank = *next;
            *next += 1;
            (rank, hit)
        })
        .collect();
    ranked.sort_by(|(a_rank, a), (b_rank, b)| {
        b.band
            .cmp(&a.band)
            .then(b.score.total_cmp(&a.score))
            .then(a_rank.cmp(b_rank))
            .then_with(|| a.handle.cmp(&b.handle))
            .then_with(|| a.partner.cmp(&b.partner))
    });
    hits.extend(ranked.into_iter().map(|(_, hit)| hit));
}

/// Merges the nodes' answers: hits in [`order_hits`]'s order, capped at
/// `limit`; a status per partner.
fn merge(
    requester: &PartnerConfig,
    answers: Vec<(&PartnerConfig, Answer)>,
    limit: usize,
    started: Instant,
) -> FederatedResponse {
    let mut partners = BTreeMap::new();
    let mut hits = Vec::new();
    for (partner, (status, partner_hits)) in answers {
        partners.insert(partner.id.clone(), status);
        hits.extend(partner_hits.into_iter().map(|mut hit| {
            hit.own = hit.partner == requester.id;
            hit
        }));
    }
    order_hits(&mut hits);
    hits.truncate(limit);
    let partial = partners
        .values()
        .any(|status| status.status != PartnerOutcome::Ok);
    FederatedResponse {
        hits,
        partners,
        partial,
        took_ms: started.elapsed().as_millis() as u64,
        contacts: BTreeMap::new(),
        advice: None,
    }
}

fn outcome_of(error: &ClientError) -> PartnerOutcome {
    match error {
        ClientError::TimedOut => PartnerOutcome::TimedOut,
        ClientError::Unreachable(_) | ClientError::Disconnected => PartnerOutcome::Unavailable,
        _ => PartnerOutcome::Failed,
    }
}

fn describe(error: &ClientError) -> String {
    match error {
        ClientError::TimedOut => "no answer before the deadline".into(),
        ClientError::Unreachable(_) => "the node cannot be reached".into(),
        ClientError::Refused { status, body } => format!("{status}: {}", body.message),
        ClientError::BadAnswer(_) => "the node's answer is not a search response".into(),
        ClientError::TooLarge => "the node's answer is too large".into(),
        ClientError::Other(_) => "the request failed".into(),
        ClientError::Unsignable => "the request cannot be signed".into(),
        ClientError::Disconnected => "the node's connection closed".into(),
    }
}

#[cfg(test)]
mod tests {
    use poshuk_protocol::{Band, Handle};

    use super::*;

    fn partner(id: &str) -> PartnerConfig {
        PartnerConfig {
            id: id.into(),
            name: id.to_uppercase(),
            node_url: "http://127.0.0.1:1".into(),
            outbound: false,
            anonymous: false,
            token: format!("token-of-{id}"),
            node_token: None,
            permissions: vec![Permission::Search, Permission::BeSearched],
            contact: String::new(),
            public_key: None,
            searches_per_minute: None,
            searches_per_day: None,
        }
    }

    fn hit(partner: &PartnerConfig, handle: u8, score: f64) -> FederatedHit {
        FederatedHit {
            partner: partner.id.clone(),
            partner_name: partner.name.clone(),
            handle: Handle([handle; 16]),
            score,
            band: Band::Strong,
            agreeing: Vec::new(),
            fields: Vec::new(),
            namesakes: None,
            own: false,
            record_id: None,
        }
    }

    fn status(outcome: PartnerOutcome, hits: usize) -> PartnerStatus {
        PartnerStatus {
            status: outcome,
            took_ms: 1,
            hits,
            error: None,
        }
    }

    #[test]
    fn hits_are_merged_by_score_ties_broken_by_each_nodes_order_then_handle() {
        let (ngo, intl, down) = (partner("ngo"), partner("intl"), partner("down"));
        let answers = vec![
            (
                &ngo,
                (
                    status(PartnerOutcome::Ok, 2),
                    vec![hit(&ngo, 2, 0.9), hit(&ngo, 1, 0.9)],
                ),
            ),
            (
                &intl,
                (
                    status(PartnerOutcome::Ok, 2),
                    vec![hit(&intl, 3, 0.99), hit(&intl, 9, 0.9)],
                ),
            ),
            (&down, (status(PartnerOutcome::Unavailable, 0), Vec::new())),
        ];
        let merged = merge(&ngo, answers, 3, Instant::now());
        let order: Vec<(String, u8)> = merged
            .hits
            .iter()
            .map(|hit| (hit.partner.clone(), hit.handle.0[0]))
            .collect();
        assert_eq!(
            order,
            [("intl".into(), 3), ("ngo".into(), 2), ("ngo".into(), 1)],
            "best first; of one score, each node's first before any node's second \
             (ngo's node put handle 2 before 1), then handle; capped at the limit"
        );
        assert!(
            merged
                .hits
                .iter()
                .all(|hit| hit.own == (hit.partner == "ngo"))
        );
        assert!(merged.partial, "a partner did not answer");
        assert_eq!(merged.partners.len(), 3);
    }

    #[test]
    fn a_lead_for_the_person_comes_before_a_relative_of_a_higher_score() {
        let (ngo, intl) = (partner("ngo"), partner("intl"));
        let mut brother = hit(&intl, 7, 0.2);
        brother.band = Band::Relative;
        let mut namesake = hit(&ngo, 4, 0.1);
        namesake.band = Band::Possible;
        let answers = vec![
            (&intl, (status(PartnerOutcome::Ok, 1), vec![brother])),
            (&ngo, (status(PartnerOutcome::Ok, 1), vec![namesake])),
        ];
        let merged = merge(&ngo, answers, 10, Instant::now());
        let bands: Vec<Band> = merged.hits.iter().map(|hit| hit.band).collect();
        assert_eq!(
            bands,
            [Band::Possible, Band::Relative],
            "one of several namesakes may be the person; a brother never is"
        );
    }
}
