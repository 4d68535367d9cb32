//! `run --server-host`: before the first point, the server host is reached,
//! checked to run this very build, and described (both machines go into
//! run.json); every failure is one line that says what to do.

use std::net::IpAddr;

use anyhow::Result;

use crate::hosts::{machine, ssh, SshHost};
use crate::results::RemoteInfo;

/// Checks `destination` and describes both machines, or says why not.
pub fn prepare(
    destination: &str,
    ssh_command: &str,
    remote_sockbench: &str,
    server_addr: Option<IpAddr>,
) -> Result<RemoteInfo> {
    let host = SshHost {
        destination: destination.to_string(),
        ssh_command: ssh_command.to_string(),
        remote_sockbench: remote_sockbench.to_string(),
    };
    host.check_same_build(&machine::version())?;
    let server = host.describe()?;
    let server_addr = match server_addr {
        Some(ip) => ip,
        None => ssh::resolve(host.host()).map_err(anyhow::Error::msg)?,
    };
    let listed = server.addresses.is_empty() || server.addresses.contains(&server_addr);
    if !listed && !server_addr.is_loopback() {
        anyhow::bail!(
            "{server_addr} is not an address of {} (it has {}): give the one the load generator reaches with --server-addr",
            host.host(),
            server
                .addresses
                .iter()
                .map(IpAddr::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(RemoteInfo {
        destination: destination.to_string(),
        ssh_command: ssh_command.to_string(),
        remote_sockbench: remote_sockbench.to_string(),
        server_addr,
        server,
        client: machine::describe(),
    })
}
