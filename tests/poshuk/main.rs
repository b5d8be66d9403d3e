//! Integration tests: the `poshuk` binary run as a user runs it, on files it
//! reads and writes on disk. One test binary, a module per area.

mod anonymous;
mod architecture;
mod at_rest;
mod bad_input;
mod deploy;
mod encode_link;
mod federation;
mod keys;
mod node;
mod offline;
mod outbound;
mod privacy;
mod quality;
mod replicas;
mod rotation;
mod support;
mod tls;
mod web;
