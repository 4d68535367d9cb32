//! How a run across real hosts was set up (`run --server-host`), as recorded
//! in run.json and the report's Machine section: both machines, their
//! builds and addresses, and how the server host was reached.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// One machine of the run: its build, hardware and addresses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostDescription {
    /// `sockbench --version`'s text after the name: `0.1.0 (git 1a2b3c4)`.
    pub version: String,
    pub machine: loadgen::report::Machine,
    /// The host's addresses, loopback and link-local left out.
    pub addresses: Vec<IpAddr>,
}

/// The server host of a run and how it was reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteInfo {
    /// `[USER@]HOST`, as given to `--server-host`.
    pub destination: String,
    /// `--ssh-command`.
    pub ssh_command: String,
    /// `--remote-sockbench`.
    pub remote_sockbench: String,
    /// The address the models bound there and the load went to.
    pub server_addr: IpAddr,
    /// The server host, as its own sockbench described it.
    pub server: HostDescription,
    /// This machine, the load generator's.
    pub client: HostDescription,
}

impl RemoteInfo {
    /// The hosts in one line, for the report's configuration table.
    pub fn describe(&self) -> String {
        format!(
            "two machines over SSH: servers on {} ({}, {} cores) at {}, load generator on {} ({}, {} cores)",
            self.destination,
            self.server.machine.hostname,
            self.server.machine.cores,
            self.server_addr,
            self.client.machine.hostname,
            self.client.machine.cpu_model,
            self.client.machine.cores,
        )
    }
}
