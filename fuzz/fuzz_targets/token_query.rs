//! A token query as a node and the coordinator receive it: parsed, then
//! checked (caps per slot, "identifies a person"); never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use poshuk_protocol::{EpochQueries, TokenQuery};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(query) = serde_json::from_slice::<TokenQuery>(bytes) {
        let _ = query.to_record();
    }
    if let Ok(bundle) = serde_json::from_slice::<EpochQueries>(bytes) {
        for query in &bundle.queries {
            let _ = query.to_record();
        }
    }
});
