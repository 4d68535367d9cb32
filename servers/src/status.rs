//! The machine-readable lines a server prints on stdout: one [`Ready`] line
//! once it accepts traffic, and one `Summary` line when it stops.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::{Endpoint, Model, Transport};

/// Printed once, as JSON on one line, when the server accepts traffic.
///
/// A harness starts a server on port 0 and reads the real address from here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ready {
    /// Always `"ready"`.
    pub event: String,
    pub model: String,
    pub transport: String,
    /// The bound address (TCP and UDP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<SocketAddr>,
    /// The socket file (Unix domain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The server's process id (the root of its process tree).
    pub pid: u32,
}

impl Ready {
    pub fn new(model: Model, transport: Transport, endpoint: &Endpoint) -> Self {
        let (addr, path) = match endpoint {
            Endpoint::Inet(a) => (Some(*a), None),
            Endpoint::Unix(p) => (None, Some(p.clone())),
        };
        Ready {
            event: "ready".to_string(),
            model: model.name().to_string(),
            transport: transport.name().to_string(),
            addr,
            path,
            pid: std::process::id(),
        }
    }

    /// Where a client connects.
    pub fn endpoint(&self) -> Option<Endpoint> {
        match (&self.addr, &self.path) {
            (Some(a), _) => Some(Endpoint::Inet(*a)),
            (None, Some(p)) => Some(Endpoint::Unix(p.clone())),
            (None, None) => None,
        }
    }

    /// The JSON line (without its newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("Ready serializes")
    }
}
