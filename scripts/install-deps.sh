#!/usr/bin/env bash
# The system tools the two-host lab needs: `ip` and `tc` (iproute2) to make
# network namespaces and veth links, `nft` (nftables) for packet loss.
# Installs only what is missing; without root it says so and does nothing
# (the two-host tests then skip with a message).
set -euo pipefail
missing=()
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || missing+=(iproute2)
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || [ -x /sbin/nft ] || missing+=(nftables)
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: ip and nft are present"
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: missing ${missing[*]}; install them as root (apt-get install ${missing[*]}); the two-host tests will skip"
    exit 0
fi
echo "install-deps: installing ${missing[*]}"
# A failed install is not a failed build: the tests that need these tools
# skip with a message, and everything else still runs.
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
    echo "install-deps: could not install ${missing[*]}; the two-host tests will skip"
fi
