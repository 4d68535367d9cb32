#!/usr/bin/env bash
# The system tools the two-host lab needs: `ip` and `tc` (iproute2) to make
# network namespaces and veth links, `nft` (nftables) for packet loss, and
# OpenSSH (`ssh`, and `sshd` from openssh-server, which the `run
# --server-host` tests start in a namespace of their own; nothing is enabled
# as a service). Installs only what is missing; without root it says so and
# does nothing (the two-host tests then skip with a message). By hand, as root:
#   apt-get install -y iproute2 nftables openssh-client openssh-server util-linux
set -euo pipefail
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
missing=()
have ip || missing+=(iproute2)
have nft || missing+=(nftables)
have ssh || missing+=(openssh-client)
have sshd || missing+=(openssh-server)
have nsenter || missing+=(util-linux)
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: ip, nft, ssh, sshd and nsenter are present"
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: missing ${missing[*]}; install them as root (apt-get install -y ${missing[*]}); the two-host tests will skip"
    exit 0
fi
echo "install-deps: installing ${missing[*]}"
# A failed install is not a failed build: the tests that need these tools
# skip with a message, and everything else still runs. policy-rc.d keeps the
# package from starting an sshd on this machine's own network.
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made_policy=1
fi
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
    echo "install-deps: could not install ${missing[*]}; the two-host tests will skip"
fi
[ -n "$made_policy" ] && rm -f "$policy"
exit 0
