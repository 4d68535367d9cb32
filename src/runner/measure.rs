//! One measurement's server lifecycle: the `serve` arguments of a point,
//! start the server, wait for its readiness line, drive it with the load
//! generator (and any background load), stop it, and turn whatever happened
//! — a clean stop, a crash, a hang — into a stored [`Measurement`].

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use loadgen::{LoadPlan, LoadReport, Target};
use servers::Transport;

use super::RunConfig;
use crate::experiments::{LoadSpec, Point};
use crate::results::{HostShare, Measurement, Outcome};

/// How long a server may take to print its readiness line.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server may take to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The `sockbench serve` arguments of one point; `bind`: the address to
/// serve on instead of loopback (port 0 either way).
pub fn server_args(
    point: &Point,
    cpus: Option<&[usize]>,
    unix_path: &Path,
    bind: Option<IpAddr>,
) -> Vec<String> {
    let s = &point.server;
    let mut args: Vec<String> = vec![
        "serve".into(),
        "--model".into(),
        s.model.name().into(),
        "--transport".into(),
        s.transport.name().into(),
        "--service".into(),
        s.service.name().into(),
    ];
    match (s.transport, bind) {
        (Transport::Unix, _) => args.extend(["--path".into(), unix_path.display().to_string()]),
        (_, Some(ip)) => args.extend(["--addr".into(), SocketAddr::new(ip, 0).to_string()]),
        (_, None) => {}
    }
    if let Some(cpus) = cpus {
        let list = cpus
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(",");
        args.extend(["--cpus".into(), list]);
    }
    args.extend(s.args.iter().cloned());
    args
}

fn load_plan(
    config: &RunConfig,
    spec: &LoadSpec,
    target: Target,
    server_pid: Option<u32>,
) -> LoadPlan {
    let mut plan = LoadPlan::new(target, spec.mode);
    plan.workload = spec.workload;
    plan.connections = spec.connections;
    plan.idle_connections = spec.idle;
    plan.threads = config.loadgen_cpus.as_ref().map_or(0, Vec::len);
    plan.think_time = spec.think;
    plan.warmup = config.profile.warmup();
    plan.duration = spec.window.unwrap_or(config.profile.duration());
    plan.max_requests = spec.requests;
    plan.request_timeout = spec.timeout;
    plan.linger_zero = spec.linger_zero;
    plan.attack = spec.attack;
    plan.wait_share = spec.wait_share;
    plan.requests_per_connection = spec.requests_per_connection;
    plan.server_pid = server_pid;
    plan.count_syscalls = spec.count_syscalls && server_pid.is_some();
    plan.server_cpus = config.server_cpus.clone();
    plan
}

/// How long background load goes on past the measured window's planned end:
/// the two runs start their clocks a little apart, and the neighbours must
/// still be there when the last measured request is sent.
const BACKGROUND_OVERHANG: Duration = Duration::from_millis(200);

/// Stretches background load over the whole of the measured run: the same
/// warm-up, and a window at least as long as the measured one plus
/// [`BACKGROUND_OVERHANG`]. A point that asks its measured client for a
/// longer window would otherwise record half of it with no neighbours.
fn cover(background: &mut LoadPlan, measured: &LoadPlan) {
    background.warmup = measured.warmup;
    background.duration = background
        .duration
        .max(measured.duration.saturating_add(BACKGROUND_OVERHANG));
    // A request budget would end the neighbours early, whatever the window.
    background.max_requests = None;
}

/// One measurement: start the server, load it, stop it, judge how it went.
pub(super) fn measure(
    config: &RunConfig,
    experiment: &str,
    point: &Point,
    repeat: u32,
    stop: &AtomicBool,
) -> Measurement {
    let socket_dir = tempfile::Builder::new().prefix("sockbench-").tempdir();
    let unix_path = socket_dir
        .as_ref()
        .map(|d| d.path().join("server.sock"))
        .unwrap_or_else(|_| {
            std::env::temp_dir().join(format!("sockbench-{}.sock", std::process::id()))
        });
    let host = super::server_host(config);
    let bind = host.bind();
    let args = server_args(point, config.server_cpus.as_deref(), &unix_path, bind);
    let mut m = Measurement {
        experiment: experiment.to_string(),
        series: point.series.clone(),
        model: point.server.model.name().to_string(),
        transport: point.server.transport.name().to_string(),
        x: point.x,
        repeat,
        server_args: args.clone(),
        outcome: Outcome::Ok,
        report: None,
        background: None,
        server_summary: None,
        same_as: None,
        hosts: Vec::new(),
    };
    // Across two hosts the server starts in the server's namespace, or on its host.
    let mut server = match host.start(&config.exe, &args, START_TIMEOUT) {
        Ok(s) => s,
        Err(message) => {
            m.outcome = Outcome::ServerFailedToStart { message };
            return m;
        }
    };
    let target = match (point.server.transport, server.ready().addr) {
        (Transport::Tcp, Some(addr)) => Target::Tcp(addr),
        (Transport::Udp, Some(addr)) => Target::Udp(addr),
        _ => Target::Unix(unix_path.clone()),
    };
    let udp = matches!(target, Target::Udp(_));
    let clients = client_hosts(config);
    let generators = clients.len() + 1;
    let whole = load_plan(config, &point.load, target.clone(), server.local_pid());
    // This machine's share; each client host's is started now, to set up
    // while this one does, and meets it at the start.
    let plan = crate::hosts::clients::share_of(&whole, 0, generators);
    let mut others = if clients.is_empty() {
        None
    } else {
        match crate::hosts::clients::Generators::start(&clients, &whole) {
            Ok(g) => Some(g),
            Err(message) => {
                m.outcome = Outcome::LoadFailed { message };
                let _ = server.stop(STOP_GRACE);
                return m;
            }
        }
    };
    // The server's cost is measured where it runs, by the same probe.
    let watch = match server.watch(udp, config.server_cpus.clone(), point.load.count_syscalls) {
        Ok(w) => w,
        Err(message) => {
            m.outcome = Outcome::LoadFailed {
                message: format!("cannot probe the server: {message}"),
            };
            let _ = server.stop(STOP_GRACE);
            return m;
        }
    };
    let background = point.background.as_ref().map(|spec| {
        let mut neighbours = load_plan(config, spec, target, None);
        cover(&mut neighbours, &plan);
        neighbours
    });
    let (report, background_report) = std::thread::scope(|scope| {
        let bg = background
            .as_ref()
            .map(|plan| scope.spawn(move || loadgen::run(plan, stop)));
        let meet = others.as_mut().map(|g| g.rendezvous());
        let report = loadgen::run_together(&plan, stop, None, Some(watch), meet);
        (report, bg.map(|h| h.join()))
    });
    let report = report.map_err(|e| format!("{:#}", anyhow::Error::from(e)));
    match (report, others) {
        (Ok(r), None) => m.report = Some(r),
        (Ok(r), Some(mut others)) => {
            if stop.load(std::sync::atomic::Ordering::SeqCst) {
                // Ctrl-C: the client hosts end their runs too, partial like this one.
                others.interrupt();
            }
            match merged(r, others, plan.request_timeout) {
                Ok((merged, hosts)) => {
                    m.report = Some(merged);
                    m.hosts = hosts;
                }
                Err(message) => m.outcome = Outcome::LoadFailed { message },
            }
        }
        (Err(message), _) => m.outcome = Outcome::LoadFailed { message },
    }
    if let Some(Ok(Ok(r))) = background_report {
        m.background = Some(r);
    }
    if !server.is_running() {
        let stderr = server.stderr_text();
        let last = stderr.lines().last().unwrap_or("no message").to_string();
        m.outcome = Outcome::ServerCrashed { message: last };
    }
    match server.stop(STOP_GRACE) {
        Ok(stopped) => {
            m.server_summary = stopped.summary;
            if stopped.killed && m.outcome == Outcome::Ok {
                m.outcome = Outcome::ServerHung;
            }
        }
        Err(e) => {
            if m.outcome == Outcome::Ok {
                m.outcome = Outcome::ServerCrashed {
                    message: e.to_string(),
                };
            }
        }
    }
    m
}

/// The client hosts' generators of this run (`run --client-host`).
fn client_hosts(config: &RunConfig) -> Vec<crate::hosts::SshHost> {
    config.clients.as_ref().map_or_else(Vec::new, |c| {
        c.hosts
            .iter()
            .map(|h| crate::hosts::SshHost {
                destination: h.destination.clone(),
                ssh_command: c.ssh_command.clone(),
                remote_sockbench: c.remote_sockbench.clone(),
            })
            .collect()
    })
}

/// This machine's report and the client hosts' merged exactly (summed
/// histograms), with each generator's share; the server's cost is this
/// machine's watch's (the first report's), spread over all the requests.
fn merged(
    here: LoadReport,
    others: crate::hosts::clients::Generators,
    request_timeout: Duration,
) -> Result<(LoadReport, Vec<HostShare>), String> {
    let mut parts = vec![("here".to_string(), here)];
    parts.extend(others.reports(request_timeout)?);
    let reports: Vec<LoadReport> = parts.iter().map(|(_, r)| r.clone()).collect();
    let merged =
        loadgen::merge(&reports).map_err(|e| format!("merging the generators' reports: {e}"))?;
    let shares = parts
        .into_iter()
        .map(|(host, report)| HostShare::of(&host, report))
        .collect();
    Ok((merged, shares))
}

#[cfg(test)]
mod tests {
    use super::*;
    use loadgen::Mode;

    fn plan(warmup_ms: u64, window_ms: u64) -> LoadPlan {
        let mut p = LoadPlan::new(Target::Tcp("127.0.0.1:9".parse().unwrap()), Mode::Rr);
        p.warmup = Duration::from_millis(warmup_ms);
        p.duration = Duration::from_millis(window_ms);
        p
    }

    #[test]
    fn background_load_lasts_past_a_measured_window_longer_than_its_own() {
        let measured = plan(250, 1600);
        let mut neighbours = plan(100, 800);
        neighbours.max_requests = Some(10);
        cover(&mut neighbours, &measured);
        assert_eq!(neighbours.warmup, measured.warmup);
        assert_eq!(neighbours.duration, Duration::from_millis(1800));
        assert_eq!(neighbours.max_requests, None);
    }

    #[test]
    fn a_longer_background_window_is_kept() {
        let measured = plan(250, 800);
        let mut neighbours = plan(250, 5000);
        cover(&mut neighbours, &measured);
        assert_eq!(neighbours.duration, Duration::from_secs(5));
    }
}
