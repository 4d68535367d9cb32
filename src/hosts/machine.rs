//! This machine described for a run across hosts: the build (what
//! `--version` prints), the machine (CPU, cores, kernel, memory) and its
//! addresses. `sockbench machine` prints it as JSON, which is how the run
//! learns the server host's description over SSH.

use std::net::IpAddr;

use super::ssh::HostDescription;

/// `0.1.0 (git 1a2b3c4)`: the version and the revision this build came from.
pub fn version() -> String {
    format!(
        "{} (git {})",
        env!("CARGO_PKG_VERSION"),
        loadgen::machine::GIT_REVISION
    )
}

/// This machine: build, hardware, kernel, addresses.
pub fn describe() -> HostDescription {
    HostDescription {
        version: version(),
        machine: loadgen::machine::machine(),
        addresses: addresses(),
    }
}

/// The addresses of this machine's interfaces (this network namespace's),
/// without loopback and IPv6 link-local ones, which no other host reaches by name.
pub fn addresses() -> Vec<IpAddr> {
    let Ok(interfaces) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut found: Vec<IpAddr> = interfaces
        .filter_map(|i| i.address)
        .filter_map(|a| {
            if let Some(v4) = a.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                a.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .filter(|ip| !ip.is_loopback() && !is_link_local(ip))
        .collect();
    found.sort();
    found.dedup();
    found
}

fn is_link_local(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}
