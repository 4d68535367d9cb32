//! How a two-host run's link was set up, as recorded in run.json and REPORT.md:
//! plain data, filled in by `netns` and read by the report.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// How the link was set up, as recorded in run.json and REPORT.md.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkInfo {
    pub server_netns: String,
    /// The server host's address on the first link (the one servers bind).
    pub server_addr: Ipv4Addr,
    pub client_netns: Vec<String>,
    pub client_addrs: Vec<Ipv4Addr>,
    /// Probability of dropping each packet, each direction, in percent (nftables).
    pub loss_pct: f64,
    /// One-way delay asked for, each direction, in milliseconds.
    pub delay_ms: Option<f64>,
    /// Whether that delay is in force (it needs netem).
    pub delay_applied: bool,
    /// Whether the kernel has `sch_netem` (tried with `tc qdisc add … netem`).
    pub netem_available: bool,
    /// Why netem could not be used, in tc's words.
    #[serde(default)]
    pub netem_error: Option<String>,
}

impl LinkInfo {
    /// The link in one line, for the report's configuration table.
    pub fn describe(&self) -> String {
        let loss = if self.loss_pct > 0.0 {
            format!("{}% of packets dropped each way (nftables)", self.loss_pct)
        } else {
            "no loss".to_string()
        };
        let delay = match (self.delay_ms, self.delay_applied) {
            (Some(ms), true) => format!("{ms} ms delay each way (netem)"),
            (Some(ms), false) => {
                format!("{ms} ms delay asked for, none applied: this kernel lacks sch_netem")
            }
            (None, _) if self.netem_available => "no delay (netem available)".to_string(),
            (None, _) => "no delay (this kernel lacks sch_netem)".to_string(),
        };
        format!(
            "two hosts: server {} in netns {}, client {} in netns {}, over a veth link; {loss}; {delay}",
            self.server_addr,
            self.server_netns,
            self.client_addrs
                .iter()
                .map(Ipv4Addr::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            self.client_netns.join(", "),
        )
    }
}
