//! Every route of the project, once: routers and clients use these
//! constants, so a path cannot drift between a server and its callers.
//! Paths with a parameter come as a pattern for the router (`{name}`) and a
//! function that fills it in for clients.

/// Liveness: the process answers. Never authenticated.
pub const LIVEZ: &str = "/livez";
/// Readiness. Never authenticated.
pub const READYZ: &str = "/readyz";
/// Prometheus metrics.
pub const METRICS: &str = "/metrics";

/// The header naming the staff user behind a local request (the web page,
/// or `POSHUK_STAFF` for the command line), for the node's audit log.
pub const STAFF_HEADER: &str = "x-poshuk-staff";

/// Routes of a node's federation API (called by the coordinator).
pub mod node {
    /// `POST` a token query, answered with hits.
    pub const SEARCH: &str = "/v1/search";
    /// `GET` the node's epochs, records and re-key progress.
    pub const STATUS: &str = "/v1/status";
    /// `POST` drop the generations of a retired epoch.
    pub const RETIRE: &str = "/v1/retire";
    /// `GET ?pseudonym=`: the key an anonymous partner's node receives
    /// letters under for that pseudonym.
    pub const RECIPIENT: &str = "/v1/recipient";
}

/// Routes of a node's local API (the partner's own tools, on loopback).
pub mod local {
    /// `POST` start an ingest session.
    pub const INGEST_SESSIONS: &str = "/local/v1/ingest/sessions";
    /// `POST` a batch of raw records into a session (router pattern).
    pub const INGEST_BATCHES: &str = "/local/v1/ingest/sessions/{session}/batches";
    /// `POST` finish a session, optionally replacing (router pattern).
    pub const INGEST_FINISH: &str = "/local/v1/ingest/sessions/{session}/finish";
    /// `POST` delete records by case id.
    pub const DELETE: &str = "/local/v1/delete";
    /// `POST` merge away deleted documents.
    pub const COMPACT: &str = "/local/v1/compact";
    /// `GET` the case id behind a handle (router pattern).
    pub const RESOLVE: &str = "/local/v1/resolve/{handle}";
    /// `POST` search this node alone by raw fields.
    pub const SEARCH: &str = "/local/v1/search";
    /// `POST` search the federation by raw fields.
    pub const FEDERATED_SEARCH: &str = "/local/v1/federated-search";
    /// `GET` the node's status.
    pub const STATUS: &str = "/local/v1/status";
    /// `POST` a sealed key file to install.
    pub const KEYS_INSTALL: &str = "/local/v1/keys/install";
    /// `POST` fetch this partner's sealed key from the coordinator and install it.
    pub const KEYS_FETCH: &str = "/local/v1/keys/fetch";
    /// `GET` the staff accounts of the web page; `POST` add one or change
    /// its password and role.
    pub const STAFF: &str = "/local/v1/staff";
    /// `POST` remove a staff account.
    pub const STAFF_REMOVE: &str = "/local/v1/staff/remove";
    /// `POST` a sealed request of a partner without a node: answered with
    /// this node's hits, sealed back (`poshuk overlap --answer`).
    pub const OFFLINE_ANSWER: &str = "/local/v1/offline/answer";

    /// [`INGEST_BATCHES`] for one session.
    pub fn ingest_batches(session: &str) -> String {
        format!("/local/v1/ingest/sessions/{session}/batches")
    }

    /// [`INGEST_FINISH`] for one session.
    pub fn ingest_finish(session: &str) -> String {
        format!("/local/v1/ingest/sessions/{session}/finish")
    }

    /// [`RESOLVE`] for one handle.
    pub fn resolve(handle: &crate::Handle) -> String {
        resolve_text(&handle.to_string())
    }

    /// [`resolve`] for a handle as typed (its first digits, say); the text
    /// is checked to be hex digits only, so it cannot leave the route.
    pub fn resolve_text(handle: &str) -> String {
        let digits: String = handle.chars().filter(char::is_ascii_hexdigit).collect();
        format!("/local/v1/resolve/{digits}")
    }
}

/// Routes of the coordinator.
pub mod coordinator {
    /// `POST` a searcher's epoch queries, fanned out to every node.
    pub const FEDERATED_SEARCH: &str = "/v1/federated-search";
    /// `GET` the partners and their contacts.
    pub const PARTNERS: &str = "/v1/partners";
    /// `GET` every node's status.
    pub const FEDERATION_STATUS: &str = "/v1/federation/status";
    /// `GET` the epochs searches should be tokenized for.
    pub const EPOCHS: &str = "/v1/epochs";
    /// `GET` this partner's sealed key (`?epoch=N`).
    pub const SEALED_KEY: &str = "/v1/keys/sealed";
    /// `GET` (admin) which node serves which epochs.
    pub const ADMIN_KEYS: &str = "/v1/admin/keys";
    /// `POST` (admin) retire an epoch.
    pub const ADMIN_RETIRE: &str = "/v1/admin/retire";
    /// `PUT` (admin) a sealed key for a partner (router pattern).
    pub const ADMIN_SEALED: &str = "/v1/admin/sealed/{partner}/{epoch}";

    /// `POST` a contact request; `GET` those this partner sent or received.
    pub const CONTACTS: &str = "/v1/contacts";
    /// An outbound-only node's connection (a WebSocket), over which the
    /// coordinator sends it the federation's requests.
    pub const TUNNEL: &str = "/v1/tunnel";
    /// `GET ?to=`: the key to seal a contact request to a partner or a
    /// pseudonym.
    pub const CONTACT_RECIPIENT: &str = "/v1/contacts/recipient";
    /// `POST` the owner's answer to a contact request (router pattern).
    pub const CONTACT_ANSWER: &str = "/v1/contacts/{id}/answer";

    /// [`CONTACT_ANSWER`] for one request; the id is checked to be hex
    /// digits only, so it cannot leave the route.
    pub fn contact_answer(id: &str) -> String {
        let digits: String = id.chars().filter(char::is_ascii_hexdigit).collect();
        format!("/v1/contacts/{digits}/answer")
    }

    /// [`ADMIN_SEALED`] for one partner and epoch.
    pub fn admin_sealed(partner: &str, epoch: u32) -> String {
        format!("/v1/admin/sealed/{partner}/{epoch}")
    }
}
