//! The socket lab's Server and Client VMs on one machine: network namespaces
//! joined by veth links, each with its own addresses and `lo`, optionally
//! lossy (an nftables `numgen random` drop rule) and slow (netem, where the
//! kernel has it).
//!
//! ```text
//!  sb-srv-<pid>-<n>                             sb-cli1-<pid>-<n>
//!  lo, to-cli1 10.251.0.1/30  <──── veth ────>  to-srv 10.251.0.2/30, lo
//!      to-cli2 10.251.0.5/30  <──── veth ────>  to-srv 10.251.0.6/30, lo   (sb-cli2-…)
//! ```
//!
//! The veth ends are created directly inside the namespaces and the
//! 10.251.0.0/24 addresses exist only there: nothing is added to this host's
//! own network and no traffic can leave the machine. Loss drops each packet
//! arriving over a link with the given probability, in both directions, so
//! the sender is never told (a drop on the way out would return EPERM to it).
//!
//! A [`Network`] removes everything it created when it is dropped, on a panic
//! too; the main job stops on Ctrl-C and drops it. A run killed outright
//! leaves names whose pid is gone, and the next [`Network::create`] removes them.
//!
//! To run something on a host: [`Host::command`] wraps a program in
//! `nsenter --net` (or `ip netns exec`); [`Host::enter`] moves the calling thread, and the threads
//! it starts afterwards, into the namespace with setns(2) until the guard drops;
//! [`check_link`] says whether the link is still up (it may be deleted or set down mid-run).
//!
//! | file | what |
//! | --- | --- |
//! | `netns.rs` | [`Network`]: build, loss, delay, teardown; [`LinkInfo`] for run.json |
//! | `host.rs` | [`Host`]: run a program there, move a thread there; is the link up |
//! | `tools.rs` | the `ip`, `nft`, `tc` and `nsenter` programs, and the sweep of stale namespaces |

mod host;
mod tools;

use std::fs::File;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use nix::sched::{setns, CloneFlags};

pub use host::{check_link, command_in, Entered, Host};
use host::{same_file, NETNS_DIR, THREAD_NETNS};
use tools::{ip, kill_pids_in, nft_script, sweep_stale, tc_netem, Tool};

/// Why the hosts could not be built.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// Namespaces cannot be made here (no `ip`, not root, no CAP_SYS_ADMIN):
    /// skip, or run as root with iproute2 installed (scripts/install-deps.sh).
    #[error("network namespaces are unavailable here: {0}")]
    Unavailable(String),
    /// Loss was asked for but `nft` is missing: install nftables (scripts/install-deps.sh).
    #[error(
        "packet loss needs nft (nftables), which is not installed: run scripts/install-deps.sh"
    )]
    NoNft,
    /// The options make no sense; the message says which one.
    #[error("{0}")]
    BadOptions(String),
    /// A setup command failed; its own message says why.
    #[error("`{command}` failed: {message}")]
    Command { command: String, message: String },
    /// setns(2) into a namespace failed (or landed elsewhere).
    #[error("failed to enter network namespace {name}: {message}")]
    Enter { name: String, message: String },
}

/// The link to build.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkOptions {
    /// Client hosts, each on its own veth link to the server host (1 to 63).
    pub clients: usize,
    /// Probability of dropping each packet, in each direction, in percent.
    pub loss_pct: f64,
    /// One-way delay added in each direction (netem), if the kernel has it.
    pub delay: Option<Duration>,
}

impl Default for LinkOptions {
    fn default() -> Self {
        LinkOptions {
            clients: 1,
            loss_pct: 0.0,
            delay: None,
        }
    }
}

/// How the link was set up: plain data that lives with the results (run.json).
pub use crate::results::LinkInfo;

/// A server host and its client hosts, removed with everything in them on drop.
pub struct Network {
    pub server: Host,
    pub clients: Vec<Host>,
    /// Namespaces created so far, in order (torn down in reverse).
    created: Vec<String>,
    /// Interfaces, as (namespace, name): the server's ends.
    links: Vec<(String, String)>,
    info: LinkInfo,
    /// The namespace this process started in, to return a thread left inside.
    home: Option<File>,
}

/// The server's end of every link is named `to-cli<i>`, the client's `to-srv`.
const CLIENT_END: &str = "to-srv";
/// Most clients: one /30 each within 10.251.0.0/24.
const MAX_CLIENTS: usize = 63;
/// Longest delay accepted (netem takes more, but a run must stay bounded).
const MAX_DELAY: Duration = Duration::from_secs(1);

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

fn link_addrs(client: usize) -> (Ipv4Addr, Ipv4Addr) {
    let base = 4 * client as u8; // client < MAX_CLIENTS, so base + 2 < 256
    (
        Ipv4Addr::new(10, 251, 0, base + 1),
        Ipv4Addr::new(10, 251, 0, base + 2),
    )
}

impl Network {
    /// Builds the hosts and their links. [`NetnsError::Unavailable`] means
    /// this machine cannot make namespaces: say so and skip.
    pub fn create(options: &LinkOptions) -> Result<Network, NetnsError> {
        if options.clients == 0 || options.clients > MAX_CLIENTS {
            return Err(NetnsError::BadOptions(format!(
                "{} client hosts: give 1 to {MAX_CLIENTS}",
                options.clients
            )));
        }
        if !(0.0..100.0).contains(&options.loss_pct) {
            return Err(NetnsError::BadOptions(format!(
                "loss {}%: give a percentage from 0 up to (not including) 100",
                options.loss_pct
            )));
        }
        if options.delay.is_some_and(|d| d > MAX_DELAY) {
            return Err(NetnsError::BadOptions(format!(
                "delay {:?}: give at most {MAX_DELAY:?} each way",
                options.delay.unwrap_or_default()
            )));
        }
        if !Tool::Ip.installed() {
            return Err(NetnsError::Unavailable(
                "`ip` (iproute2) is not installed: run scripts/install-deps.sh".into(),
            ));
        }
        if options.loss_pct > 0.0 && !Tool::Nft.installed() {
            return Err(NetnsError::NoNft);
        }
        sweep_stale();
        let id = format!(
            "{}-{}",
            std::process::id(),
            NEXT_ID.fetch_add(1, Ordering::Relaxed)
        );
        let server_ns = format!("sb-srv-{id}");
        let (server_addr, first_client) = link_addrs(0);
        let mut net = Network {
            server: Host {
                netns: server_ns.clone(),
                addr: server_addr,
                peer: first_client,
            },
            clients: Vec::new(),
            created: Vec::new(),
            links: Vec::new(),
            info: LinkInfo {
                server_netns: server_ns.clone(),
                server_addr,
                client_netns: Vec::new(),
                client_addrs: Vec::new(),
                loss_pct: options.loss_pct,
                delay_ms: options.delay.map(|d| d.as_secs_f64() * 1e3),
                delay_applied: false,
                netem_available: false,
                netem_error: None,
            },
            home: File::open(THREAD_NETNS).ok(),
        };
        // The first step tells whether this machine lets us make namespaces at all.
        ip(&["netns", "add", &server_ns]).map_err(|e| NetnsError::Unavailable(e.to_string()))?;
        net.created.push(server_ns.clone());
        ip(&["-n", &server_ns, "link", "set", "lo", "up"])?;
        for i in 0..options.clients {
            net.add_client(i)?;
        }
        net.apply_delay(options.delay);
        net.set_loss(options.loss_pct)?;
        Ok(net)
    }

    fn add_client(&mut self, i: usize) -> Result<(), NetnsError> {
        let server_ns = self.server.netns.clone();
        let name = format!("sb-cli{}-{}", i + 1, &server_ns["sb-srv-".len()..]);
        ip(&["netns", "add", &name])?;
        self.created.push(name.clone());
        ip(&["-n", &name, "link", "set", "lo", "up"])?;
        let server_end = format!("to-cli{}", i + 1);
        ip(&[
            "link",
            "add",
            &server_end,
            "netns",
            &server_ns,
            "type",
            "veth",
            "peer",
            "name",
            CLIENT_END,
            "netns",
            &name,
        ])?;
        let (server_addr, client_addr) = link_addrs(i);
        for (ns, dev, addr) in [
            (&server_ns, server_end.as_str(), server_addr),
            (&name, CLIENT_END, client_addr),
        ] {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/30"), "dev", dev])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
        }
        self.links.push((server_ns, server_end));
        self.info.client_netns.push(name.clone());
        self.info.client_addrs.push(client_addr);
        self.clients.push(Host {
            netns: name,
            addr: client_addr,
            peer: server_addr,
        });
        Ok(())
    }

    /// Adds netem delay on both ends of every link, or finds out (with a
    /// zero-delay probe) whether the kernel could.
    fn apply_delay(&mut self, delay: Option<Duration>) {
        let ends: Vec<(String, String)> = self
            .links
            .iter()
            .cloned()
            .chain(
                self.clients
                    .iter()
                    .map(|c| (c.netns.clone(), CLIENT_END.to_string())),
            )
            .collect();
        match delay {
            Some(d) => {
                for (ns, dev) in &ends {
                    if let Err(message) = tc_netem(ns, dev, Some(d)) {
                        self.info.netem_error = Some(message);
                        return;
                    }
                }
                self.info.netem_available = true;
                self.info.delay_applied = true;
            }
            None => {
                let (ns, dev) = &ends[0];
                match tc_netem(ns, dev, Some(Duration::ZERO)) {
                    Ok(()) => {
                        self.info.netem_available = true;
                        let _ = tc_netem(ns, dev, None);
                    }
                    Err(message) => self.info.netem_error = Some(message),
                }
            }
        }
    }

    /// Drops `pct` percent of the packets arriving over every link (each
    /// direction), replacing any earlier rate; 0 removes the rule.
    pub fn set_loss(&mut self, pct: f64) -> Result<(), NetnsError> {
        if !(0.0..100.0).contains(&pct) {
            return Err(NetnsError::BadOptions(format!(
                "loss {pct}%: give a percentage from 0 up to (not including) 100"
            )));
        }
        if pct > 0.0 && !Tool::Nft.installed() {
            return Err(NetnsError::NoNft);
        }
        if Tool::Nft.installed() {
            for ns in &self.created {
                nft_script(ns, pct)?;
            }
        }
        self.info.loss_pct = pct;
        Ok(())
    }

    /// How the link is set up.
    pub fn info(&self) -> LinkInfo {
        self.info.clone()
    }

    /// What a user must be told about the link (a delay that is not in force).
    pub fn notes(&self) -> Vec<String> {
        match (&self.info.delay_ms, self.info.delay_applied) {
            (Some(_), false) => vec![format!(
                "delay needs sch_netem, which this kernel lacks; running without delay (tc: {})",
                self.info.netem_error.as_deref().unwrap_or("unknown error")
            )],
            _ => Vec::new(),
        }
    }

    /// Every namespace name this network made (for checking it is gone).
    pub fn names(&self) -> Vec<String> {
        self.created.clone()
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        // A thread still inside one of ours would keep it alive: bring it home.
        if let Some(home) = &self.home {
            let inside = self
                .created
                .iter()
                .filter_map(|ns| File::open(format!("{NETNS_DIR}/{ns}")).ok())
                .any(|f| same_file(THREAD_NETNS, &f));
            if inside {
                let _ = setns(home, CloneFlags::CLONE_NEWNET);
            }
        }
        for ns in self.created.iter().rev() {
            kill_pids_in(ns);
            if let Err(e) = ip(&["netns", "del", ns]) {
                eprintln!("warning: {e}; remove it with `ip netns del {ns}`");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_link_gets_its_own_slash_30() {
        assert_eq!(
            link_addrs(0),
            (Ipv4Addr::new(10, 251, 0, 1), Ipv4Addr::new(10, 251, 0, 2))
        );
        assert_eq!(
            link_addrs(1),
            (Ipv4Addr::new(10, 251, 0, 5), Ipv4Addr::new(10, 251, 0, 6))
        );
        let (s, c) = link_addrs(MAX_CLIENTS - 1);
        assert_eq!((s.octets()[3], c.octets()[3]), (249, 250));
    }

    #[test]
    fn bad_options_are_refused_before_anything_is_made() {
        for options in [
            LinkOptions {
                clients: 0,
                ..LinkOptions::default()
            },
            LinkOptions {
                loss_pct: 100.0,
                ..LinkOptions::default()
            },
            LinkOptions {
                delay: Some(Duration::from_secs(5)),
                ..LinkOptions::default()
            },
        ] {
            assert!(matches!(
                Network::create(&options),
                Err(NetnsError::BadOptions(_))
            ));
        }
    }

    #[test]
    fn the_link_is_described_with_its_loss_and_delay() {
        let info = LinkInfo {
            server_netns: "sb-srv-1-0".into(),
            server_addr: Ipv4Addr::new(10, 251, 0, 1),
            client_netns: vec!["sb-cli1-1-0".into()],
            client_addrs: vec![Ipv4Addr::new(10, 251, 0, 2)],
            loss_pct: 1.0,
            delay_ms: Some(1.0),
            delay_applied: false,
            netem_available: false,
            netem_error: Some("Error: Specified qdisc kind is unknown.".into()),
        };
        let line = info.describe();
        assert!(line.contains("1% of packets dropped each way"), "{line}");
        assert!(line.contains("lacks sch_netem"), "{line}");
    }
}
