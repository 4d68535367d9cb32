//! `run --client-host`: before the first point, every client host is
//! reached, checked to run this very build, and described (each goes into
//! run.json and the report's Machine section); a failure is one line that
//! names the host and says what to do.

use anyhow::{Context, Result};

use crate::hosts::{machine, SshHost};
use crate::results::{ClientHostInfo, ClientHostsInfo, CLIENTS_SPREAD};

/// Checks and describes each of `destinations`, or says why not.
pub fn prepare(
    destinations: &[String],
    ssh_command: &str,
    remote_sockbench: &str,
) -> Result<ClientHostsInfo> {
    let mut hosts = Vec::with_capacity(destinations.len());
    for destination in destinations {
        let host = SshHost {
            destination: destination.clone(),
            ssh_command: ssh_command.to_string(),
            remote_sockbench: remote_sockbench.to_string(),
        };
        host.check_same_build(&machine::version())
            .context("a client host cannot be used")?;
        let description = host.describe().context("a client host cannot be used")?;
        hosts.push(ClientHostInfo {
            destination: destination.clone(),
            description,
        });
    }
    Ok(ClientHostsInfo {
        hosts,
        spread: CLIENTS_SPREAD.to_string(),
        ssh_command: ssh_command.to_string(),
        remote_sockbench: remote_sockbench.to_string(),
    })
}
