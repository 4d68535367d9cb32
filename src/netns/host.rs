//! One host of the network: its namespace and address, running a program
//! there (`nsenter --net`, else `ip netns exec`), moving a thread there
//! (setns(2)), and whether its link is still up.

use std::ffi::OsStr;
use std::fs::File;
use std::marker::PhantomData;
use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

use nix::sched::{setns, CloneFlags};

use super::tools::{ip, Tool};
use super::{NetnsError, CLIENT_END};
use crate::results::LinkInfo;

/// Where `ip netns` keeps the namespaces it names.
pub(super) const NETNS_DIR: &str = "/run/netns";
/// The calling thread's own network namespace.
pub(super) const THREAD_NETNS: &str = "/proc/thread-self/ns/net";

/// One host: a network namespace with an address on its link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The namespace's name (`ip netns list`).
    pub netns: String,
    /// This host's address (the server's on its first link).
    pub addr: Ipv4Addr,
    /// The other end's address: for a client, the server's address on its link.
    pub peer: Ipv4Addr,
}

impl Host {
    /// `program` to be run on this host (see [`command_in`]).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        command_in(&self.netns, program)
    }

    /// Moves the calling thread into this host's namespace; threads it starts
    /// from now on are born there too. Back where it was when the guard drops.
    pub fn enter(&self) -> Result<Entered, NetnsError> {
        let fail = |message: String| NetnsError::Enter {
            name: self.netns.clone(),
            message,
        };
        let original =
            File::open(THREAD_NETNS).map_err(|e| fail(format!("{THREAD_NETNS}: {e}")))?;
        let path = format!("{NETNS_DIR}/{}", self.netns);
        let target = File::open(&path).map_err(|e| fail(format!("{path}: {e}")))?;
        setns(&target, CloneFlags::CLONE_NEWNET).map_err(|e| fail(e.to_string()))?;
        let entered = Entered {
            original,
            _same_thread: PhantomData,
        };
        // Never send traffic meant for the namespace from this host's own network.
        if !same_file(THREAD_NETNS, &target) {
            return Err(fail("setns returned but the thread is elsewhere".into()));
        }
        Ok(entered)
    }
}

/// `program` to be run in network namespace `netns`: `nsenter
/// --net=/run/netns/NETNS program`, or `ip netns exec NETNS program` where
/// there is no nsenter. nsenter first because `ip netns exec` also mounts a
/// fresh /sys, which hides the cgroup hierarchies: a server started that way
/// cannot join a cgroup of its own, and its CPU falls back to per-process clocks.
pub fn command_in(netns: &str, program: impl AsRef<OsStr>) -> Command {
    if Tool::Nsenter.installed() {
        let mut command = Command::new(Tool::Nsenter.path());
        command
            .arg(format!("--net={NETNS_DIR}/{netns}"))
            .arg("--")
            .arg(program);
        return command;
    }
    let mut command = Command::new(Tool::Ip.path());
    command.args(["netns", "exec", netns]).arg(program);
    command
}

/// Whether every client's link to the server is still up at both ends (its
/// end exists, is up, and has a carrier, which it loses when the server's
/// end goes down), or why not: a link deleted or set down mid-run.
pub fn check_link(link: &LinkInfo) -> Result<(), String> {
    for netns in &link.client_netns {
        let shown =
            ip(&["-n", netns, "-o", "link", "show", "dev", CLIENT_END]).map_err(|e| match e {
                NetnsError::Command { message, .. } => {
                    format!("{CLIENT_END} in {netns}: {message}")
                }
                other => other.to_string(),
            })?;
        if !link_is_up(&shown) {
            let flags = shown
                .split_once('<')
                .and_then(|(_, rest)| rest.split_once('>'))
                .map_or(shown.trim(), |(flags, _)| flags);
            return Err(format!("{CLIENT_END} in {netns} is down: <{flags}>"));
        }
    }
    Ok(())
}

/// Whether `ip -o link show` says the interface is up and has a carrier.
fn link_is_up(shown: &str) -> bool {
    let Some((_, rest)) = shown.split_once('<') else {
        return false;
    };
    let flags = rest.split_once('>').map_or(rest, |(f, _)| f);
    let has = |flag: &str| flags.split(',').any(|f| f == flag);
    has("UP") && has("LOWER_UP")
}

/// The calling thread is inside a host's namespace until this drops (on the
/// same thread: the guard cannot be sent to another one).
pub struct Entered {
    original: File,
    _same_thread: PhantomData<*const ()>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        if let Err(e) = setns(&self.original, CloneFlags::CLONE_NEWNET) {
            eprintln!("warning: failed to return to the original network namespace: {e}");
        }
    }
}

/// Whether `path` and `file` are one namespace (same inode on the same device).
pub(super) fn same_file(path: &str, file: &File) -> bool {
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_up_only_with_its_carrier() {
        let up = "5: to-srv@if4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP";
        let peer_down = "5: to-srv@if4: <NO-CARRIER,BROADCAST,MULTICAST,UP,M-DOWN> mtu 1500 state LOWERLAYERDOWN";
        let down = "5: to-srv@if4: <BROADCAST,MULTICAST> mtu 1500 qdisc noqueue state DOWN";
        assert!(link_is_up(up));
        assert!(!link_is_up(peer_down));
        assert!(!link_is_up(down));
        assert!(!link_is_up(""));
    }
}
