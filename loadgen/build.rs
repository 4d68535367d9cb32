//! Captures the compiler version and the git revision at build time, so every
//! result records the build it came from (`machine::machine()`).
//!
//! The revision gets `-dirty` when `git status --porcelain` lists anything,
//! and is `unknown` when git or the repository is unavailable (a tarball build).
//! The script reruns when HEAD, the index or the current branch's ref changes;
//! edits that were never staged do not rerun it, so `-dirty` can lag behind them.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-env=SOCKBENCH_RUSTC={}", rustc_version());
    println!("cargo:rustc-env=SOCKBENCH_GIT_REVISION={}", git_revision());
    for path in git_watch_paths() {
        // A rerun-if-changed path that does not exist would rerun the script
        // on every build, so only existing ones are named.
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

/// `rustc --version` of the compiler cargo is using (the RUSTC variable).
fn rustc_version() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    output(Command::new(rustc).arg("--version")).unwrap_or_else(|| "unknown".to_string())
}

/// `git rev-parse --short HEAD`, plus `-dirty` when the work tree has changes.
fn git_revision() -> String {
    let Some(rev) = output(Command::new("git").args(["rev-parse", "--short", "HEAD"])) else {
        return "unknown".to_string();
    };
    // --no-optional-locks: status would otherwise refresh the index and take
    // its lock, racing a `git add`/`commit` running beside the build (and
    // touching the index this script watches).
    match output(Command::new("git").args(["--no-optional-locks", "status", "--porcelain"])) {
        Some(status) if !status.is_empty() => format!("{rev}-dirty"),
        // Clean, or status failed: the revision alone is the honest answer.
        _ => rev,
    }
}

/// The files whose change means the revision may have changed: `../.git/HEAD`,
/// `../.git/index`, and the ref HEAD points to (a commit moves only that).
fn git_watch_paths() -> Vec<PathBuf> {
    let git_dir = output(Command::new("git").args(["rev-parse", "--git-dir"]))
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new("..").join(".git"));
    let mut paths = vec![git_dir.join("HEAD"), git_dir.join("index")];
    if let Some(reference) = output(Command::new("git").args(["symbolic-ref", "-q", "HEAD"])) {
        let common = output(Command::new("git").args(["rev-parse", "--git-common-dir"]))
            .map(PathBuf::from)
            .unwrap_or_else(|| git_dir.clone());
        paths.push(common.join(reference));
        paths.push(common.join("packed-refs"));
    }
    paths
}

/// The trimmed stdout of a command that ran and succeeded, else `None`.
fn output(command: &mut Command) -> Option<String> {
    let out = command.output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    Some(text.trim().to_string())
}
