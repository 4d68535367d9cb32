//! Where the server's cost is measured. The engine names the window's edges
//! (the end of the warm-up, the moment the threads stop issuing) and, at the
//! end, asks for what the server spent in between: its tree's cost and the
//! kernel counters of its network namespace. [`ServerWatch`] is that
//! question; the engine does not know where the answer comes from.
//!
//! [`LocalWatch`] answers it for a server on this machine (a pid here, in
//! any network namespace), with the probe running in this process. A server
//! on another host is watched by a probe running there, which answers the
//! same calls over the SSH session (the root crate's `hosts` room); both
//! fill the same [`ServerSide`], so a result reads the same either way.

use serde::{Deserialize, Serialize};

use probe::ServerMonitor;

use crate::engine::Counters;
use crate::report::{KernelTcp, ServerCost};
use crate::LoadError;

/// How often the probe samples the server's process tree.
pub const SAMPLE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// The server side of one load run, asked at the window's edges.
pub trait ServerWatch: Send {
    /// The warm-up has ended: the window starts now.
    fn mark_recording_start(&self);
    /// The load stopped issuing requests: the window ends now.
    fn mark_recording_end(&self);
    /// What the server spent over the window; `requests` completed in it give
    /// the per-request figures. A figure that could not be had is `None`.
    fn finish(self: Box<Self>, requests: u64) -> ServerSide;
}

/// What the server side spent over the window: plain data, the same whether
/// it was measured here or on another host (and sent back as JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerSide {
    /// The server tree's cost (CPU, memory, processes, zombies).
    pub cost: Option<ServerCost>,
    /// `TcpExt` counters' growth in the server's network namespace (TCP targets).
    pub kernel_tcp: Option<KernelTcp>,
    /// `Udp: RcvbufErrors, InErrors` growth there (UDP targets).
    pub kernel_udp: Option<KernelUdpDelta>,
}

/// The UDP counters' growth over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelUdpDelta {
    pub rcvbuf_errors: u64,
    pub in_errors: u64,
}

/// A server on this machine, probed from this process.
pub struct LocalWatch {
    monitor: ServerMonitor,
    before: Counters,
    udp: bool,
    pid: u32,
}

impl LocalWatch {
    /// Starts probing the tree of `pid` (pinned to `cpus`, if it is);
    /// `udp`: the kernel counters to read are UDP's, else TCP's;
    /// `count_syscalls`: also count its system calls (which slows them).
    pub fn start(
        pid: u32,
        cpus: Option<Vec<usize>>,
        udp: bool,
        count_syscalls: bool,
    ) -> Result<LocalWatch, LoadError> {
        let mut monitor = ServerMonitor::start(pid, cpus, SAMPLE_INTERVAL)
            .map_err(|source| LoadError::Monitor { pid, source })?;
        if count_syscalls {
            monitor.count_syscalls();
        }
        Ok(LocalWatch {
            monitor,
            before: Counters::of(Some(pid), udp),
            udp,
            pid,
        })
    }
}

impl ServerWatch for LocalWatch {
    fn mark_recording_start(&self) {
        self.monitor.mark_recording_start();
    }

    fn mark_recording_end(&self) {
        self.monitor.mark_recording_end();
    }

    fn finish(self: Box<Self>, requests: u64) -> ServerSide {
        let after = Counters::of(Some(self.pid), self.udp);
        let (kernel_tcp, kernel_udp) = after.delta_since(&self.before);
        ServerSide {
            cost: Some(crate::cost::server_cost(self.monitor.finish(requests))),
            kernel_tcp,
            kernel_udp,
        }
    }
}
