//! A server host reached over OpenSSH, made per test: two network
//! namespaces and a veth link (`netns`), a host key and a user key in a
//! temporary directory, and Debian's sshd (scripts/install-deps.sh) started
//! in the server namespace with key-only login on the link's address. The
//! load generator's side runs in the client namespace.
//!
//! sshd enters the namespace as every server does (`Host::command`:
//! `nsenter --net`, which leaves the cgroup hierarchies the server's probe
//! counts CPU with in view). Everything is removed on drop, sshd by pid.

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
        for program in ["sshd", "ssh", "ssh-keygen"] {
            if found(program).is_none() {
                eprintln!("SKIPPED: no {program} here: run scripts/install-deps.sh (openssh-server, openssh-client)");
                return None;
            }
        }
        let net = network(&LinkOptions::default())?;
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
        let config = format!(
            "ListenAddress {addr}\nPort 22\nHostKey {dir}/host_key\nAuthorizedKeysFile {dir}/authorized_keys\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n\
             UsePAM no\nPidFile none\nStrictModes no\nLogLevel ERROR\n",
            addr = net.server.addr,
            dir = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        // sshd insists on its privilege-separation directory (the package's
        // service makes it at boot, which a container never has).
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
        let sshd = ChildGuard::spawn(
            net.server
                .command(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(d.join("sshd_config"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let lab = SshLab {
            net,
            sshd: Some(sshd),
            dir,
        };
        lab.wait_listening();
        Some(lab)
    }

    /// Until sshd accepts a connection from the client host.
    fn wait_listening(&self) {
        let _inside = self.net.clients[0].enter().expect("enter the client host");
        let addr = SocketAddr::from((self.net.server.addr, 22));
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

    fn pids_whose_command_has(&self, word: &str) -> Vec<i32> {
        let out = super::hosts::ip()
            .args(["netns", "pids", &self.net.server.netns])
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
}

impl Drop for SshLab {
    fn drop(&mut self) {
        // sshd first (by its pid), then the namespaces with `net`.
        self.sshd.take();
    }
}

/// Whether process `pid` still exists.
pub fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}
