//! Who this server process is when it writes on its own authority (docs/decisions/0004, 0011):
//! an instance id and an Automerge actor made at start, never shared with another process, so
//! two processes never reuse each other's change numbers. The actor is bound to
//! `server:<instance>` in the `actors` table on its first write, as a phone's is on first use:
//! no device can then send changes under it.

use automerge::ActorId;
use chrono::{DateTime, Utc};
use doorstep_core::record::{home, Author};

#[derive(Debug, Clone)]
pub struct ServerIdentity {
    pub instance: String,
    pub actor: ActorId,
}

impl ServerIdentity {
    /// A new identity for a process starting now.
    pub fn new() -> ServerIdentity {
        ServerIdentity {
            instance: doorstep_core::ids::new_id(),
            actor: ActorId::random(),
        }
    }

    /// The name the log and the actors table know this process by.
    pub fn device_id(&self) -> String {
        format!("server:{}", self.instance)
    }

    pub fn author(&self, at: DateTime<Utc>) -> Author {
        home::server_author(&self.instance, at)
    }
}

impl Default for ServerIdentity {
    fn default() -> Self {
        ServerIdentity::new()
    }
}
