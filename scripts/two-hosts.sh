#!/usr/bin/env bash
# The socket lab's Server and Client VMs on one machine: builds sockbench and
# runs the experiment matrix across two network namespaces joined by a veth
# link. Needs root, `ip` and (for --loss) `nft`: scripts/install-deps.sh.
#   scripts/two-hosts.sh                          # every experiment across the link
#   scripts/two-hosts.sh --loss 1% --delay 1ms    # a lossy, slow link
#   scripts/two-hosts.sh --experiments datagram-loss --profile quick --loss 5%
# Everything it creates is removed on exit, on failure and on Ctrl-C
# (sockbench does that; this script only runs things in order).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin sockbench
exec target/release/sockbench run --two-hosts "$@"
