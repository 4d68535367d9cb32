//! One host of the network: its namespace and address, running a program
//! there (`nsenter --net`, else `ip netns exec`) and moving a thread there (setns(2)).

use std::ffi::OsStr;
use std::fs::File;
use std::marker::PhantomData;
use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

use nix::sched::{setns, CloneFlags};

use super::tools::Tool;
use super::NetnsError;

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
