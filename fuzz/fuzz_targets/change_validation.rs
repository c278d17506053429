//! Any bytes as a change of any compartment, through the checks the phone and the server share:
//! a refusal, never a panic; a change that passes applies to a document in panic isolation.
#![no_main]
use automerge::AutoCommit;
use doorstep_core::record::{apply, validate, Compartment};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    let compartment = Compartment::ALL[usize::from(which) % Compartment::ALL.len()];
    // Re-seal half of the inputs so they reach past the checksum into Automerge's decoder.
    let sealed;
    let bytes = if which & 0x80 != 0 && bytes.len() > 1 {
        sealed = doorstep_core::testing::fuzz::seal(1, bytes);
        &sealed[..]
    } else {
        bytes
    };
    if let Ok(change) = validate::parse_change(bytes) {
        if validate::check_change(compartment, &change).is_ok() {
            let _ = apply::apply_isolated(&mut AutoCommit::new(), vec![change]);
        }
    }
});
