//! One module per subcommand.

pub(crate) mod bench;
pub(crate) mod encode;
pub(crate) mod keys;
pub(crate) mod link;
pub(crate) mod synth;
