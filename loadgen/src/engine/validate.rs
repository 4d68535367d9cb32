//! Before a run: the plan is checked (each refusal names the setting to
//! change), the descriptor limit raised, and one connection (or datagram) sent,
//! so a target nobody listens at is one clear error, not a report of refusals.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use servers::wire::{MAX_DATAGRAM, RESPONSE_HEADER_LEN};

use super::LoadError;
use crate::check::{self, SEQ_BITS};
use crate::plan::{LoadPlan, Mode, Target, Workload};

fn bad_plan(why: impl Into<String>) -> LoadError {
    LoadError::BadPlan { why: why.into() }
}

/// Refuses plans that cannot run, saying which setting to change.
pub fn validate(plan: &LoadPlan) -> Result<(), LoadError> {
    if plan.connections == 0 {
        return Err(bad_plan("zero connections: give --connections 1 or more"));
    }
    let udp_target = matches!(plan.target, Target::Udp(_));
    match (plan.mode, udp_target) {
        (Mode::Udp, false) => {
            return Err(bad_plan("udp mode needs a UDP target (--transport udp)"));
        }
        (Mode::Rr | Mode::Crr | Mode::Open { .. }, true) => {
            return Err(bad_plan(format!(
                "{} mode needs a stream target (tcp or unix); for UDP use --mode udp",
                plan.mode.name()
            )));
        }
        _ => {}
    }
    if let Mode::Open { rate_rps } = plan.mode {
        if !(rate_rps.is_finite() && rate_rps > 0.0) {
            return Err(bad_plan(
                "open mode needs a rate above 0 requests/s (--rate R)",
            ));
        }
        if !plan.think_time.is_zero() {
            return Err(bad_plan(
                "think time is for the closed-loop modes; in open mode the rate sets the pace",
            ));
        }
    }
    if udp_target && plan.idle_connections > 0 {
        return Err(bad_plan(
            "idle connections need a stream target (tcp or unix)",
        ));
    }
    if (plan.connections + plan.idle_connections) as u64 >= 1 << (64 - SEQ_BITS) {
        return Err(bad_plan("too many connections: at most 16 million"));
    }
    if plan.duration.is_zero() && plan.max_requests.is_none() {
        return Err(bad_plan(
            "nothing bounds the run: give a duration above 0 or a request count",
        ));
    }
    if plan.max_requests == Some(0) {
        return Err(bad_plan(
            "a request count of 0 runs nothing: give 1 or more",
        ));
    }
    match plan.attack {
        Some(_) if udp_target => {
            return Err(bad_plan("attackers need a stream target (tcp or unix)"));
        }
        Some(crate::plan::Attack::Slowloris {
            connections,
            interval_ms,
        }) if connections == 0 || interval_ms == 0 => {
            return Err(bad_plan(
                "a slowloris attack needs 1 or more connections and an interval above 0 ms",
            ));
        }
        Some(crate::plan::Attack::Flood { rate_cps })
            if !(rate_cps.is_finite() && rate_cps > 0.0) =>
        {
            return Err(bad_plan(
                "a connection flood needs a rate above 0 connections/s",
            ));
        }
        _ => {}
    }
    if plan.request_timeout.is_zero() {
        return Err(bad_plan("the request timeout must be above 0"));
    }
    if let Some(share) = plan.wait_share {
        if !(0.0..=1.0).contains(&share) {
            return Err(bad_plan(
                "the share of waiting requests must lie between 0 and 1 (--wait-share)",
            ));
        }
        if !matches!(plan.workload, Workload::Synthetic { .. }) {
            return Err(bad_plan(
                "a share of waiting requests needs the synthetic service (--service synthetic)",
            ));
        }
    }
    if let Some(k) = plan.requests_per_connection {
        if k == 0 {
            return Err(bad_plan(
                "zero requests per connection: give 1 or more (--requests-per-connection)",
            ));
        }
        if plan.mode != Mode::Crr {
            return Err(bad_plan(
                "requests per connection are for crr mode; rr keeps its connections for the whole run",
            ));
        }
    }
    match plan.workload {
        Workload::Echo { size: 0 } => {
            return Err(bad_plan("an echo request needs at least 1 byte (--size)"));
        }
        Workload::Echo { size }
            if udp_target && !(check::UDP_SEQ_LEN..=MAX_DATAGRAM).contains(&size) =>
        {
            return Err(bad_plan(format!(
                "UDP echo datagrams carry an 8-byte sequence number and fit in {MAX_DATAGRAM} bytes: \
                 give --size between 8 and {MAX_DATAGRAM}"
            )));
        }
        Workload::Synthetic { response_len, .. }
            if udp_target
                && (check::request_len(&plan.workload) > MAX_DATAGRAM
                    || RESPONSE_HEADER_LEN + response_len as usize > MAX_DATAGRAM) =>
        {
            return Err(bad_plan(format!(
                "a synthetic datagram (request or response) must fit in {MAX_DATAGRAM} bytes"
            )));
        }
        _ => {}
    }
    Ok(())
}

/// Raises the open-file limit to its hard limit and checks that the run fits.
pub(super) fn ensure_descriptors(plan: &LoadPlan) -> Result<(), LoadError> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return Ok(());
    };
    let limit = if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        hard
    } else {
        soft
    };
    let slow = match plan.attack {
        Some(crate::plan::Attack::Slowloris { connections, .. }) => connections,
        _ => 0,
    };
    let need = (plan.connections + plan.idle_connections + slow) as u64 + 64;
    if need > limit {
        return Err(bad_plan(format!(
            "{need} descriptors needed but the limit is {limit}: raise it (ulimit -n) \
             or use fewer connections"
        )));
    }
    Ok(())
}

/// One connection (or one datagram) before the run, so that a target nobody
/// listens at is one clear error instead of a report full of refusals.
pub(super) fn preflight(plan: &LoadPlan) -> Result<(), LoadError> {
    let timeout = plan.request_timeout;
    let unreachable =
        |target: String| move |source: io::Error| LoadError::Unreachable { target, source };
    match &plan.target {
        Target::Tcp(addr) => std::net::TcpStream::connect_timeout(addr, timeout)
            .map(drop)
            .map_err(unreachable(addr.to_string())),
        Target::Unix(path) => std::os::unix::net::UnixStream::connect(path)
            .map(drop)
            .map_err(unreachable(path.display().to_string())),
        Target::Udp(addr) => {
            probe_udp(*addr, &plan.workload, timeout).map_err(unreachable(format!("udp {addr}")))
        }
    }
}

/// Sends a request datagram (up to three times) and waits for any answer.
fn probe_udp(addr: SocketAddr, workload: &Workload, timeout: Duration) -> io::Result<()> {
    let local: SocketAddr = if addr.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = std::net::UdpSocket::bind(local)?;
    socket.connect(addr)?;
    socket.set_read_timeout(Some((timeout / 3).max(Duration::from_millis(1))))?;
    let mut datagram = Vec::new();
    // A connection id no flow uses, so a late answer cannot be mistaken for one.
    let probe_uid = (1 << (64 - SEQ_BITS)) - 1;
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    for seq in 1..=3 {
        check::build_datagram(workload, check::request_key(probe_uid, seq), &mut datagram);
        socket.send(&datagram)?;
        match socket.recv(&mut buf) {
            Ok(_) => return Ok(()),
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut => {
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("no answer to 3 datagrams within {timeout:?}"),
    ))
}
