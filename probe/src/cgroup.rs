//! The server's own cgroups: `sockbench serve` moves itself into fresh groups
//! `sockbench/<pid>` (beneath the groups it was started in, so any limit
//! above still holds) before its model starts a thread or forks; the probe
//! reads them; the server, or whoever started it, removes them.
//!
//! Why cgroups: the kernel charges every task that ever ran in a group to its
//! `cpuacct.usage` (nanoseconds; cgroup v2: `cpu.stat usage_usec`): live
//! threads, exited threads, zombies, children reaped by a handler, by nobody,
//! or by the kernel under `SIGCHLD = SIG_IGN`. No /proc walk can see the last
//! kind. And cgroup v1 `memory.kmem.tcp.usage_in_bytes` is the socket buffer
//! memory of the group's TCP sockets — once a TCP limit has been written
//! (without one the kernel does not account it: measured, it reads 0), so
//! joining writes an unlimited one.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::parse::{cgroup_mount, cgroup_path};

/// The directory beneath each hierarchy's current group that holds one group per server pid.
const PARENT: &str = "sockbench";

/// The hierarchies a server joins: v1 `cpuacct` (CPU in ns), v1 `memory`
/// (TCP socket memory), and the v2 tree (`cpu.stat`, always present there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hierarchy {
    Cpuacct,
    Memory,
    Unified,
}

impl Hierarchy {
    const ALL: [Hierarchy; 3] = [Hierarchy::Cpuacct, Hierarchy::Memory, Hierarchy::Unified];

    /// The controller name in /proc/<pid>/cgroup and /proc/self/mounts ("" for v2).
    fn controller(self) -> &'static str {
        match self {
            Hierarchy::Cpuacct => "cpuacct",
            Hierarchy::Memory => "memory",
            Hierarchy::Unified => "",
        }
    }

    /// Where this hierarchy is mounted, if it is.
    fn mount(self) -> Option<PathBuf> {
        let mounts = fs::read_to_string("/proc/self/mounts").ok()?;
        cgroup_mount(&mounts, self.controller()).map(PathBuf::from)
    }

    /// The directory of `pid`'s group in this hierarchy.
    fn group_of(self, pid: u32) -> Option<PathBuf> {
        let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        let path = cgroup_path(&text, self.controller())?;
        Some(self.mount()?.join(path.trim_start_matches('/')))
    }
}

/// Why no server group could be made.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// No cgroup hierarchy could be joined (not root, no cgroupfs, or a
    /// delegated tree we may not write); the probe falls back to per-process clocks.
    #[error(
        "no cgroup could be created for the server ({why}); CPU falls back to per-process clocks"
    )]
    Unavailable { why: String },
}

/// The groups this process joined; dropping it moves the process back and
/// removes them (see [`ServerGroup::leave`]).
#[derive(Debug)]
pub struct ServerGroup {
    /// (the new group, the group the process came from) per joined hierarchy.
    joined: Vec<(PathBuf, PathBuf)>,
}

impl ServerGroup {
    /// Moves this process (all its threads) into a fresh group `sockbench/<pid>`
    /// in every hierarchy that allows it. Call it before the process starts
    /// threads or forks, so everything it ever runs is charged there. Stale
    /// groups of servers that died without cleaning up are removed on the way.
    pub fn join_fresh() -> Result<ServerGroup, GroupError> {
        let pid = std::process::id();
        let mut joined = Vec::new();
        let mut why = Vec::new();
        for h in Hierarchy::ALL {
            match join(h, pid) {
                Ok(pair) => joined.push(pair),
                Err(e) => why.push(format!("{}: {e}", h.controller_or_v2())),
            }
        }
        if joined.iter().all(|(dir, _)| !counts_cpu(dir)) {
            // Memory alone gives no CPU: undo, so the probe does not half-trust it.
            ServerGroup { joined }.leave();
            return Err(GroupError::Unavailable {
                why: why.join("; "),
            });
        }
        Ok(ServerGroup { joined })
    }

    /// The directories of the groups joined.
    pub fn dirs(&self) -> impl Iterator<Item = &Path> {
        self.joined.iter().map(|(dir, _)| dir.as_path())
    }

    /// Moves this process back to the groups it came from and removes its own.
    /// A group that still holds tasks (children not yet gone) stays; the
    /// starter's [`remove_leftover`] removes it once they are.
    pub fn leave(mut self) {
        self.leave_now();
    }

    fn leave_now(&mut self) {
        let me = std::process::id().to_string();
        for (dir, home) in self.joined.drain(..) {
            let _ = fs::write(home.join("cgroup.procs"), &me);
            let _ = remove_group(&dir);
        }
    }
}

impl Drop for ServerGroup {
    fn drop(&mut self) {
        self.leave_now();
    }
}

impl Hierarchy {
    fn controller_or_v2(self) -> &'static str {
        match self {
            Hierarchy::Unified => "cgroup2",
            h => h.controller(),
        }
    }
}

/// Whether a group directory carries a CPU counter.
fn counts_cpu(dir: &Path) -> bool {
    dir.join("cpuacct.usage").exists() || dir.join("cpu.stat").exists()
}

fn join(h: Hierarchy, pid: u32) -> io::Result<(PathBuf, PathBuf)> {
    let home = h
        .group_of(pid)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "not mounted"))?;
    let parent = home.join(PARENT);
    let dir = parent.join(pid.to_string());
    let mut attempts = 0;
    loop {
        fs::create_dir_all(&parent)?;
        sweep_stale(&parent);
        match fs::create_dir(&dir) {
            Ok(()) => break,
            // Our pid's group, left by an earlier process with the same pid.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => break,
            // Another server removed the shared parent as it left, between
            // our two mkdirs: make it again.
            Err(e) if e.kind() == io::ErrorKind::NotFound && attempts < 3 => attempts += 1,
            Err(e) => return Err(e),
        }
    }
    if h == Hierarchy::Memory {
        // TCP socket memory is accounted only once a TCP limit is written;
        // -1 means no limit. An older kernel without the file just has no figure.
        let _ = fs::write(dir.join("memory.kmem.tcp.limit_in_bytes"), "-1");
    }
    if let Err(e) = fs::write(dir.join("cgroup.procs"), pid.to_string()) {
        let _ = fs::remove_dir(&dir);
        return Err(e);
    }
    Ok((dir, home))
}

/// Removes the groups of pids that no longer exist (rmdir refuses a group
/// that still holds a task, so a live one is never touched).
fn sweep_stale(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue; // not one of ours
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir(entry.path());
        }
    }
}

/// Removes one group dir, then the shared parent if it is empty now.
fn remove_group(dir: &Path) -> io::Result<()> {
    fs::remove_dir(dir)?;
    if let Some(parent) = dir.parent() {
        // Another server's group keeps it; that is fine.
        let _ = fs::remove_dir(parent);
    }
    Ok(())
}

/// Removes the groups of a server `pid` that has exited (called by whoever
/// started it, after reaping it): a server killed with SIGKILL could not
/// remove its own. Its groups sit beneath the starter's own groups. Waits
/// up to `grace` for its last children to leave them; returns how many
/// groups are still there (0: nothing left behind).
pub fn remove_leftover(pid: u32, grace: Duration) -> usize {
    let me = std::process::id();
    let dirs: Vec<PathBuf> = Hierarchy::ALL
        .iter()
        .filter_map(|h| h.group_of(me))
        .map(|home| home.join(PARENT).join(pid.to_string()))
        .filter(|d| d.exists())
        .collect();
    let deadline = Instant::now() + grace;
    let mut left = dirs;
    loop {
        left.retain(|d| remove_group(d).is_err() && d.exists());
        if left.is_empty() || Instant::now() >= deadline {
            return left.len();
        }
        // The group's last tasks are exiting (a killed server's children); nothing to wait on.
        thread::sleep(Duration::from_millis(5));
    }
}

/// The group `sockbench/<pid>` that server `pid` joined in hierarchy `h`, if
/// it did: only a group of its own counts nothing but its tree.
pub(crate) fn server_group(h: Hierarchy, pid: u32) -> Option<PathBuf> {
    let dir = h.group_of(pid)?;
    let own = dir.file_name()?.to_str()? == pid.to_string()
        && dir.parent()?.file_name()?.to_str()? == PARENT;
    own.then_some(dir)
}
