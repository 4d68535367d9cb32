//! A server host reached over OpenSSH, made per test: two network
//! namespaces and a veth link (`netns`), a host key and a user key in a
//! temporary directory, and Debian's sshd (scripts/install-deps.sh) started
//! in the server namespace with key-only login on the link's address. The
//! load generator's side runs in the client namespace.
//!
//! sshd enters the namespace as every server does (`Host::command`:
//! `nsenter --net`, which leaves the cgroup hierarchies the server's probe
//! counts CPU with in view). Everything is removed on drop, sshd by pid.
//!
//! [`SshLab::with_client_hosts`] adds client hosts for `run --client-host`:
//! more client namespaces, each with an sshd of its own, routed through the
//! server namespace so the run's namespace reaches them and they reach the
//! server's address.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sockbench::netns::{LinkOptions, Network};

use super::hosts::{exe, network};
use super::ChildGuard;

const SSHD: &str = "/usr/sbin/sshd";
/// How long sshd may take to listen.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// The two hosts and the sshd on the server one.
pub struct SshLab {
    /// Dropped last: the namespaces go after sshd.
    pub net: Network,
    sshd: Option<ChildGuard>,
    /// The sshds of the client hosts (`net.clients[1..]`).
    client_sshds: Vec<ChildGuard>,
    pub dir: tempfile::TempDir,
}

fn found(program: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(program))
        .find(|p| p.exists())
}

fn run_ok(command: &mut Command) {
    let out = command.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl SshLab {
    /// The hosts with sshd listening, or `None` (the reason printed) where
    /// this machine cannot make namespaces or has no OpenSSH.
    pub fn start() -> Option<SshLab> {
        SshLab::with_client_hosts(0)
    }

    /// [`SshLab::start`] with `client_hosts` more client namespaces
    /// (`net.clients[1..]`), each with an sshd on its address.
    pub fn with_client_hosts(client_hosts: usize) -> Option<SshLab> {
        for program in ["sshd", "ssh", "ssh-keygen"] {
            if found(program).is_none() {
                eprintln!("SKIPPED: no {program} here: run scripts/install-deps.sh (openssh-server, openssh-client)");
                return None;
            }
        }
        let net = network(&LinkOptions {
            clients: 1 + client_hosts,
            ..LinkOptions::default()
        })?;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let d = dir.path();
        for key in ["host_key", "user_key"] {
            run_ok(
                Command::new(found("ssh-keygen").unwrap())
                    .args(["-q", "-t", "ed25519", "-N", ""])
                    .arg("-f")
                    .arg(d.join(key)),
            );
        }
        std::fs::copy(d.join("user_key.pub"), d.join("authorized_keys")).unwrap();
        // sshd insists on its privilege-separation directory (the package's
        // service makes it at boot, which a container never has).
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
        let sshd = spawn_sshd(&net.server, net.server.addr, d);
        let client_sshds = net.clients[1..]
            .iter()
            .map(|host| spawn_sshd(host, host.addr, d))
            .collect();
        let mut lab = SshLab {
            net,
            sshd: Some(sshd),
            client_sshds,
            dir,
        };
        if client_hosts > 0 {
            lab.route_through_the_server_host();
        }
        lab.wait_listening(lab.net.server.addr);
        for addr in lab.client_host_addrs() {
            lab.wait_listening(addr);
        }
        Some(lab)
    }

    /// The server namespace forwards between its links, and every client
    /// namespace sends the lab's other addresses through it: the run's
    /// namespace reaches the client hosts, and they the server's address.
    fn route_through_the_server_host(&mut self) {
        run_ok(super::hosts::ip().args([
            "netns",
            "exec",
            &self.net.server.netns,
            "sh",
            "-c",
            "echo 1 > /proc/sys/net/ipv4/ip_forward",
        ]));
        for host in &self.net.clients {
            run_ok(super::hosts::ip().args([
                "-n",
                &host.netns,
                "route",
                "add",
                "10.251.0.0/24",
                "via",
                &host.peer.to_string(),
            ]));
        }
    }

    /// The client hosts' addresses (`net.clients[1..]`).
    pub fn client_host_addrs(&self) -> Vec<std::net::Ipv4Addr> {
        self.net.clients[1..].iter().map(|h| h.addr).collect()
    }

    /// `--client-host` for each client host.
    pub fn client_destinations(&self) -> Vec<String> {
        self.client_host_addrs()
            .iter()
            .map(|a| format!("root@{a}"))
            .collect()
    }

    /// Until the sshd on `addr` accepts a connection from the run's host.
    fn wait_listening(&self, addr: std::net::Ipv4Addr) {
        let _inside = self.net.clients[0].enter().expect("enter the client host");
        let addr = SocketAddr::from((addr, 22));
        let deadline = Instant::now() + LISTEN_TIMEOUT;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen on {addr}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `--server-host` for the server host.
    pub fn destination(&self) -> String {
        format!("root@{}", self.net.server.addr)
    }

    /// `--ssh-command`: this test's key and known-hosts file.
    pub fn ssh_command(&self) -> String {
        let d = self.dir.path().display();
        format!(
            "ssh -i {d}/user_key -o UserKnownHostsFile={d}/known_hosts -o StrictHostKeyChecking=accept-new"
        )
    }

    /// `sockbench run --server-host …` in the client namespace, with `args` after.
    pub fn run_command(&self, remote_sockbench: &str, args: &[&str]) -> Command {
        self.run_command_via(&self.ssh_command(), remote_sockbench, args)
    }

    /// [`SshLab::run_command`] with another `--ssh-command`.
    pub fn run_command_via(
        &self,
        ssh_command: &str,
        remote_sockbench: &str,
        args: &[&str],
    ) -> Command {
        let mut command = self.net.clients[0].command(exe());
        command
            .args(["run", "--server-host", &self.destination()])
            .args(["--ssh-command", ssh_command])
            .args(["--remote-sockbench", remote_sockbench])
            .args(args);
        command
    }

    /// Pids of this project's processes (sockbench) in the server namespace.
    pub fn project_pids(&self) -> Vec<i32> {
        self.pids_whose_command_has("sockbench")
    }

    /// Pids of models serving in the server namespace (the tether's children).
    pub fn model_pids(&self) -> Vec<i32> {
        self.pids_whose_command_has("--die-with-parent")
    }

    /// Pids of this project's processes in the client hosts' namespaces.
    pub fn client_host_pids(&self) -> Vec<i32> {
        self.net.clients[1..]
            .iter()
            .flat_map(|h| pids_in(&h.netns, "sockbench"))
            .collect()
    }

    fn pids_whose_command_has(&self, word: &str) -> Vec<i32> {
        pids_in(&self.net.server.netns, word)
    }
}

/// Pids in namespace `netns` whose command line has `word`.
fn pids_in(netns: &str, word: &str) -> Vec<i32> {
    let out = super::hosts::ip()
        .args(["netns", "pids", netns])
        .output()
        .expect("ip netns pids");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok())
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(word))
                .unwrap_or(false)
        })
        .collect()
}

impl Drop for SshLab {
    fn drop(&mut self) {
        // sshd first (by its pid), then the namespaces with `net`.
        self.sshd.take();
        self.client_sshds.clear();
    }
}

/// Whether process `pid` still exists.
pub fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// sshd on `host`, listening on `addr` with the lab's keys in `dir`.
fn spawn_sshd(host: &sockbench::netns::Host, addr: std::net::Ipv4Addr, dir: &Path) -> ChildGuard {
    let config = format!(
        "ListenAddress {addr}\nPort 22\nHostKey {dir}/host_key\nAuthorizedKeysFile {dir}/authorized_keys\n\
         PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n\
         UsePAM no\nPidFile none\nStrictModes no\nLogLevel ERROR\n",
        dir = dir.display()
    );
    let file = dir.join(format!("sshd_config-{addr}"));
    std::fs::write(&file, config).unwrap();
    ChildGuard::spawn(
        host.command(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
}
