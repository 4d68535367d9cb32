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
    if let Some(remote) = &info.remote {
        write_server_host(md, remote);
    }
    if let Some(clients) = &info.clients {
        write_client_hosts(md, clients);
    }
}

/// The further load generators' hosts (`run --client-host`), one row each,
/// and how a point's load was spread over the generators.
fn write_client_hosts(md: &mut String, clients: &crate::results::ClientHostsInfo) {
    let _ = writeln!(
        md,
        "### Client hosts
"
    );
    let _ = writeln!(
        md,
        "Besides the load generator above, one ran on each of these hosts over SSH, all started at one instant; each measurement's `report` is their exact merge (summed histograms) and its `hosts` holds each one's share. Spread: {}.\n",
        clients.spread
    );
    let _ = writeln!(
        md,
        "| host | name | CPU | cores | memory | kernel | addresses | sockbench |\n| --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for h in &clients.hosts {
        let m = &h.description.machine;
        let addresses = h
            .description
            .addresses
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {:.1} GiB | {} | {} | {} |",
            h.destination,
            m.hostname,
            m.cpu_model,
            m.cores,
            m.memory_kb as f64 / 1048576.0,
            m.kernel,
            addresses,
            h.description.version
        );
    }
    let _ = writeln!(md);
}

/// The server host of a run across machines, beside the table above (the
/// load generator's machine): what its own sockbench said of it.
fn write_server_host(md: &mut String, remote: &crate::results::RemoteInfo) {
    let s = &remote.server.machine;
    let list = |addrs: &[std::net::IpAddr]| {
        if addrs.is_empty() {
            "unknown".to_string()
        } else {
            addrs
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let _ = writeln!(
        md,
        "The table above is the load generator's machine ({}). The models ran on the server host, reached over SSH:\n",
        list(&remote.client.addresses)
    );
    let _ = writeln!(md, "### Server host\n");
    let _ = writeln!(md, "| | |\n| --- | --- |");
    let rows = [
        ("host", format!("{} ({})", remote.destination, s.hostname)),
        ("CPU", s.cpu_model.clone()),
        ("cores (online CPUs)", s.cores.to_string()),
        (
            "memory",
            format!("{:.1} GiB", s.memory_kb as f64 / 1048576.0),
        ),
        ("kernel", s.kernel.clone()),
        ("addresses", list(&remote.server.addresses)),
        ("models bound", remote.server_addr.to_string()),
        ("net.core.somaxconn (backlog ceiling)", s.somaxconn.clone()),
        ("sockbench", remote.server.version.clone()),
        ("ssh command", format!("`{}`", remote.ssh_command)),
    ];
    for (k, v) in rows {
        let _ = writeln!(md, "| {k} | {v} |");
    }
    let _ = writeln!(md);
}
