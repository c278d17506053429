//! The server's quarantine (issue 8): every change a phone put in quarantine is reported here,
//! with its bytes, so that nothing lives only on one phone, a purge of that person can proceed,
//! and operators see at once when an app release writes changes the rules refuse
//! (`doorstep admin quarantine list`, with counts per reason).

use doorstep_core::sync::protocol::{Direction, QuarantineReport};

use crate::error::Result;
use crate::storage::{DeviceRow, QuarantineRow, Tx};

/// Store a device's reports in the caller's write transaction. A report already held (same
/// device, person, change and direction) is kept once.
pub fn record(
    tx: &mut dyn Tx,
    device: &DeviceRow,
    reports: &[QuarantineReport],
    now_ms: i64,
) -> Result<()> {
    for r in reports {
        tracing::warn!(
            device = %device.device_id, user = %device.user.id, person = %r.person_id,
            code = %r.code, "device reported a quarantined change"
        );
        tx.add_quarantine(&QuarantineRow {
            device_id: device.device_id.clone(),
            user_id: device.user.id.clone(),
            person_id: r.person_id.chars().take(64).collect(),
            compartment: r.compartment,
            direction: match r.direction {
                Direction::Outgoing => "outgoing".into(),
                Direction::Incoming => "incoming".into(),
            },
            change_hash: r.change_hash.clone().map(|h| h.chars().take(64).collect()),
            code: r.code.chars().take(64).collect(),
            reason: r.reason.chars().take(2_000).collect(),
            summary: r.summary.chars().take(500).collect(),
            at_ms: r.at_ms,
            reported_ms: now_ms,
            bytes: r.bytes.clone(),
        })?;
    }
    Ok(())
}

/// Counts per reason, most frequent first, and the newest entries.
pub struct Summary {
    pub by_reason: Vec<(String, u64)>,
    pub newest: Vec<QuarantineRow>,
}

pub fn summary(tx: &mut dyn Tx, newest: u32) -> Result<Summary> {
    Ok(Summary {
        by_reason: tx.quarantine_counts()?,
        newest: tx.quarantine_newest(newest)?,
    })
}
