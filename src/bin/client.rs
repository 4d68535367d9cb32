//! The socket lab's client: `client HOST PORT` prompts for a message, sends
//! it, and prints the server's answer; `--udp` and `--unix PATH` likewise.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use sockbench::lab::{run_client, LabTarget};

/// The socket lab's client.
#[derive(Debug, Parser)]
#[command(name = "client")]
struct Args {
    /// Host the server runs on (e.g. localhost).
    #[arg(required_unless_present = "unix")]
    host: Option<String>,
    /// Port the server listens on.
    #[arg(required_unless_present = "unix")]
    port: Option<u16>,
    /// Send a datagram instead of opening a connection.
    #[arg(long)]
    udp: bool,
    /// Connect to a Unix-domain socket file instead of a host and port.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["host", "port", "udp"])]
    unix: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let target = match (args.unix, args.host, args.port) {
        (Some(path), _, _) => LabTarget::Unix(path),
        (None, Some(host), Some(port)) if args.udp => LabTarget::Udp { host, port },
        (None, Some(host), Some(port)) => LabTarget::Tcp { host, port },
        // clap's required_unless_present rules this out.
        _ => unreachable!("clap requires HOST and PORT without --unix"),
    };
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut output = std::io::stdout();
    match run_client(&target, &mut input, &mut output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
