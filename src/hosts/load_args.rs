//! A [`LoadPlan`] as the `sockbench load` flags that make it, for the load
//! generators a run starts on its client hosts: the command line there says
//! what runs, and reads back as the same plan (tested below). Durations go
//! in nanoseconds and rates in Rust's shortest exact form, so nothing is
//! rounded on the way. The server's probe (`--server-pid` and friends) is
//! left out: a client host does not watch the server.

use loadgen::{Attack, LoadPlan, Mode, Target, Workload};

fn nanos(d: std::time::Duration) -> String {
    format!("{}ns", d.as_nanos())
}

/// The flags after `sockbench load` that run `plan`.
pub fn load_args(plan: &LoadPlan) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    let mut flag = |name: &str, value: String| {
        args.push(format!("--{name}"));
        args.push(value);
    };
    match &plan.target {
        Target::Tcp(addr) => {
            flag("transport", "tcp".into());
            flag("target", addr.to_string());
        }
        Target::Udp(addr) => {
            flag("transport", "udp".into());
            flag("target", addr.to_string());
        }
        Target::Unix(path) => {
            flag("transport", "unix".into());
            flag("path", path.display().to_string());
        }
    }
    flag("mode", plan.mode.name().into());
    if let Mode::Open { rate_rps } = plan.mode {
        flag("rate", rate_rps.to_string());
    }
    match plan.workload {
        Workload::Echo { size } => {
            flag("service", "echo".into());
            flag("size", size.to_string());
        }
        Workload::Synthetic {
            payload_len,
            response_len,
            cpu_us,
            wait_us,
        } => {
            flag("service", "synthetic".into());
            flag("size", payload_len.to_string());
            flag("response-size", response_len.to_string());
            flag("cpu", format!("{cpu_us}us"));
            flag("wait", format!("{wait_us}us"));
        }
    }
    flag("connections", plan.connections.to_string());
    flag("idle", plan.idle_connections.to_string());
    flag("threads", plan.threads.to_string());
    flag("think", nanos(plan.think_time));
    flag("warmup", nanos(plan.warmup));
    flag("duration", nanos(plan.duration));
    flag("timeout", nanos(plan.request_timeout));
    if let Some(n) = plan.max_requests {
        flag("requests", n.to_string());
    }
    if let Some(share) = plan.wait_share {
        flag("wait-share", share.to_string());
    }
    if let Some(n) = plan.requests_per_connection {
        flag("requests-per-connection", n.to_string());
    }
    match plan.attack {
        Some(Attack::Slowloris {
            connections,
            interval_ms,
        }) => {
            flag("slowloris", connections.to_string());
            flag("slowloris-interval", format!("{interval_ms}ms"));
        }
        Some(Attack::Flood { rate_cps }) => flag("flood", rate_cps.to_string()),
        None => {}
    }
    if plan.linger_zero {
        args.push("--linger-zero".into());
    }
    args
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    use super::*;
    use crate::cli::load::LoadArgs;

    #[derive(Parser)]
    struct Load {
        #[command(flatten)]
        args: LoadArgs,
    }

    fn read_back(plan: &LoadPlan) -> LoadPlan {
        let words = std::iter::once("load".to_string()).chain(load_args(plan));
        Load::try_parse_from(words)
            .expect("the flags parse")
            .args
            .to_plan()
            .expect("the flags make a plan")
    }

    #[test]
    fn every_shape_of_plan_reads_back_from_its_flags() {
        let addr = "10.0.0.1:7000".parse().unwrap();
        let mut rr = LoadPlan::new(Target::Tcp(addr), Mode::Rr);
        rr.connections = 8;
        rr.idle_connections = 1000;
        rr.think_time = Duration::from_nanos(1_234_567);
        rr.warmup = Duration::from_millis(300);
        rr.duration = Duration::from_secs(2);
        rr.max_requests = Some(12_345);
        let mut open = LoadPlan::new(Target::Tcp(addr), Mode::Open { rate_rps: 3333.3 });
        open.workload = Workload::Synthetic {
            payload_len: 100,
            response_len: 2000,
            cpu_us: 20,
            wait_us: 1000,
        };
        open.wait_share = Some(0.2);
        let mut crr = LoadPlan::new(Target::Tcp(addr), Mode::Crr);
        crr.linger_zero = true;
        crr.requests_per_connection = Some(4);
        crr.attack = Some(Attack::Slowloris {
            connections: 256,
            interval_ms: 2000,
        });
        let mut flood = LoadPlan::new(Target::Tcp(addr), Mode::Rr);
        flood.attack = Some(Attack::Flood { rate_cps: 2000.5 });
        let udp = LoadPlan::new(Target::Udp(addr), Mode::Udp);
        for plan in [rr, open, crr, flood, udp] {
            assert_eq!(read_back(&plan), plan);
        }
    }
}
