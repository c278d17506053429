//! Any body through the sync decoder (both versions, both directions): an error, never a panic
//! or unbounded memory.
#![no_main]
use doorstep_core::sync::protocol::{self, v1};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = protocol::decode::<protocol::SyncRequest>(data);
    let _ = protocol::decode::<protocol::SyncResponse>(data);
    let _ = protocol::decode::<v1::SyncRequest>(data);
    let _ = protocol::decode::<v1::SyncResponse>(data);
});
