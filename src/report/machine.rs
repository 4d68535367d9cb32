//! The report's Machine section: the host, its cores and SMT siblings, the
//! steal time over the run, and the kernel settings that change what a
//! socket benchmark measures (THP, somaxconn, tcp_tw_reuse, the local port
//! range) — what a reader needs to compare this run with their own.

use std::fmt::Write as _;

use crate::results::ResultSet;

/// Appends `## Machine` for `results`.
pub fn write(md: &mut String, results: &ResultSet) {
    let info = &results.info;
    let m = &info.machine;
    let _ = writeln!(md, "## Machine\n");
    let _ = writeln!(md, "| | |\n| --- | --- |");
    let or_unknown = |v: &str| {
        if v.is_empty() {
            "unknown".to_string()
        } else {
            v.to_string()
        }
    };
    let machine = [
        ("host", m.hostname.clone()),
        ("CPU", m.cpu_model.clone()),
        ("cores (online CPUs)", m.cores.to_string()),
        (
            "SMT siblings per core",
            match m.threads_per_core {
                0 => "unknown".to_string(),
                1 => "1 (no SMT: each CPU is a core of its own)".to_string(),
                n => format!("{n} (CPUs pinned apart may still share one core's execution units)"),
            },
        ),
        (
            "steal time over the run",
            info.steal_pct.map_or("unknown".to_string(), |p| {
                format!("{p:.2}% of CPU time taken by the hypervisor")
            }),
        ),
        (
            "memory",
            format!("{:.1} GiB", m.memory_kb as f64 / 1048576.0),
        ),
        ("kernel", m.kernel.clone()),
        ("transparent huge pages", or_unknown(&m.thp)),
        (
            "net.core.somaxconn (backlog ceiling)",
            or_unknown(&m.somaxconn),
        ),
        ("net.ipv4.tcp_tw_reuse", or_unknown(&m.tcp_tw_reuse)),
        (
            "net.ipv4.ip_local_port_range",
            or_unknown(&m.ip_local_port_range),
        ),
        ("rustc", m.rustc.clone()),
        ("sockbench revision", m.git_revision.clone()),
    ];
    for (k, v) in machine {
        let _ = writeln!(md, "| {k} | {v} |");
    }
    let _ = writeln!(md);
}
