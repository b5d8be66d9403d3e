//! One module per subcommand.

pub(crate) mod audit;
pub(crate) mod backup;
pub(crate) mod bench;
pub(crate) mod config;
pub(crate) mod coordinator;
pub(crate) mod demo;
pub(crate) mod encode;
pub(crate) mod http;
pub(crate) mod ingest;
pub(crate) mod keys;
pub(crate) mod link;
pub(crate) mod node;
pub(crate) mod offline;
pub(crate) mod pool;
pub(crate) mod probe;
pub(crate) mod processes;
pub(crate) mod progress;
pub(crate) mod reading;
pub(crate) mod report;
pub(crate) mod search;
pub(crate) mod signals;
pub(crate) mod staff;
pub(crate) mod synth;
pub(crate) mod tls;
