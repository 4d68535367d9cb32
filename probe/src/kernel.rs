//! The kernel's counters: TCP backlog overflows, UDP buffer drops, the
//! machine's busy time, and this process's own CPU.

use std::collections::HashMap;
use std::fs;
use std::io;

use nix::sys::resource::{getrusage, UsageWho};
use nix::sys::time::TimeValLike;

use crate::parse::keyed_counters;
use crate::ticks_per_s;
use crate::tree::busy_ticks;

/// Absolute kernel TCP counters (/proc/net/netstat); callers take deltas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelTcp {
    pub listen_overflows: u64,
    pub listen_drops: u64,
    /// `TcpExt: TCPSynRetrans` (0 on kernels without it).
    pub syn_retransmits: u64,
}

impl KernelTcp {
    /// The growth since `before` (saturating).
    pub fn delta_since(&self, before: &KernelTcp) -> KernelTcp {
        KernelTcp {
            listen_overflows: self
                .listen_overflows
                .saturating_sub(before.listen_overflows),
            listen_drops: self.listen_drops.saturating_sub(before.listen_drops),
            syn_retransmits: self.syn_retransmits.saturating_sub(before.syn_retransmits),
        }
    }
}

/// Absolute kernel UDP counters (/proc/net/snmp); callers take deltas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelUdp {
    pub rcvbuf_errors: u64,
    pub in_errors: u64,
}

impl KernelUdp {
    /// The growth since `before` (saturating).
    pub fn delta_since(&self, before: &KernelUdp) -> KernelUdp {
        KernelUdp {
            rcvbuf_errors: self.rcvbuf_errors.saturating_sub(before.rcvbuf_errors),
            in_errors: self.in_errors.saturating_sub(before.in_errors),
        }
    }
}

/// Absolute `TcpExt: ListenOverflows, ListenDrops` (/proc/net/netstat) of
/// this process's network namespace.
pub fn kernel_tcp() -> io::Result<KernelTcp> {
    tcp_from("/proc/net/netstat")
}

/// The same counters in the network namespace of process `pid` (the server's:
/// on another host, its backlog overflows are counted there, not here).
pub fn kernel_tcp_of(pid: u32) -> io::Result<KernelTcp> {
    tcp_from(&format!("/proc/{pid}/net/netstat"))
}

fn tcp_from(file: &str) -> io::Result<KernelTcp> {
    let text = fs::read_to_string(file)?;
    let counters = keyed_counters(&text, "TcpExt:");
    Ok(KernelTcp {
        listen_overflows: counter(&counters, file, "TcpExt", "ListenOverflows")?,
        listen_drops: counter(&counters, file, "TcpExt", "ListenDrops")?,
        // Older kernels lack it; the backlog experiment then shows none.
        syn_retransmits: counter(&counters, file, "TcpExt", "TCPSynRetrans").unwrap_or(0),
    })
}

/// Absolute `Udp: RcvbufErrors, InErrors` (/proc/net/snmp) of this process's
/// network namespace.
pub fn kernel_udp() -> io::Result<KernelUdp> {
    udp_from("/proc/net/snmp")
}

/// The same counters in the network namespace of process `pid` (the server's).
pub fn kernel_udp_of(pid: u32) -> io::Result<KernelUdp> {
    udp_from(&format!("/proc/{pid}/net/snmp"))
}

fn udp_from(file: &str) -> io::Result<KernelUdp> {
    let text = fs::read_to_string(file)?;
    let counters = keyed_counters(&text, "Udp:");
    Ok(KernelUdp {
        rcvbuf_errors: counter(&counters, file, "Udp", "RcvbufErrors")?,
        in_errors: counter(&counters, file, "Udp", "InErrors")?,
    })
}

fn counter(map: &HashMap<&str, u64>, file: &str, group: &str, name: &str) -> io::Result<u64> {
    map.get(name).copied().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{file} has no {group} {name} counter (an unusual kernel?)"),
        )
    })
}

/// This process's own CPU time so far (getrusage RUSAGE_SELF): (user_s, system_s).
pub fn self_cpu() -> (f64, f64) {
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(usage) => (
            usage.user_time().num_microseconds() as f64 / 1e6,
            usage.system_time().num_microseconds() as f64 / 1e6,
        ),
        // getrusage(RUSAGE_SELF) cannot fail on Linux; zero is the safe answer.
        Err(_) => (0.0, 0.0),
    }
}

/// The busy time of every CPU of the machine so far (/proc/stat: user, nice,
/// system, irq, softirq; not steal; clock-tick resolution per CPU), in ns: what
/// server, load generator, the kernel's softirqs and anyone else used.
/// `None` without /proc/stat.
pub fn machine_busy_ns() -> Option<u64> {
    busy_ticks(None).map(|t| (t as f64 * 1e9 / ticks_per_s()) as u64)
}

/// Busy time of the chosen `cpus` so far, in ns (see [`machine_busy_ns`]).
pub fn cpus_busy_ns(cpus: &[usize]) -> Option<u64> {
    busy_ticks(Some(cpus)).map(|t| (t as f64 * 1e9 / ticks_per_s()) as u64)
}
