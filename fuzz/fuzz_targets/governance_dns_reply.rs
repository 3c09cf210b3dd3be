//! Decodes DNS replies (from any server on the path) and turns their SRV
//! answers into instances: never panics, respects the instance cap, and
//! every instance receives traffic (weight ≥ 1).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wego_governance::discovery::dns::instances_from_reply;

fuzz_target!(|data: &[u8]| {
    let list = instances_from_reply(data, 8);
    assert!(list.len() <= 8);
    assert!(
        list.iter()
            .all(|i| i.weight >= 1 && i.tag("dns.target").is_some())
    );
});
