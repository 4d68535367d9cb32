#!/usr/bin/env bash
# The deployed designs side by side, as issue-style ratios: 64-byte echo RR,
# 100 persistent connections, every model with its default --workers, server
# on CPU 1 and load generator on CPU 0, the models interleaved round by round
# (a slow minute of the machine hits every model, not one). Prints each
# model's requests/s per round and the ratios the README quotes, with the
# median over rounds; then the 1-connection p50 of mio and tokio.
#   scripts/deployed-designs.sh        # 3 rounds
#   scripts/deployed-designs.sh 5      # 5 rounds
# Every load is bounded; each server is stopped (SIGINT, by its pid) before
# the next starts. Run it on a quiet machine: nothing else compiling.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin sockbench
bin=target/release/sockbench
rounds=${1:-3}
models=(mio tokio reuseport tokio-multi reactor-pool io-uring thread-pool)
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; true' EXIT
out=$(mktemp -d)

# One bounded load against a fresh server; prints the figure asked for.
measure() { # model connections figure(rps|p50)
    coproc SERVE { exec "$bin" serve --model "$1" --cpus 1; }
    server=$SERVE_PID
    read -r ready <&"${SERVE[0]}"
    addr=$(sed -n 's/.*"addr":"\([^"]*\)".*/\1/p' <<<"$ready")
    "$bin" load --target "$addr" --connections "$2" --size 64 --warmup 1s \
        --duration 3s --cpus 0 --quiet --json "$out/load.json" >/dev/null
    kill -INT "$server"
    wait "$server" || true
    server=""
    case $3 in
        rps) grep -o '"throughput_rps": *[0-9.e+]*' "$out/load.json" | head -1 | cut -d: -f2 | tr -d ' ' ;;
        # The first p50 is latency_ns's (the corrected latency), in ns.
        p50) grep -o '"p50": *[0-9]*' "$out/load.json" | head -1 | cut -d: -f2 | awk '{ print $1 / 1000 }' ;;
    esac
}

for round in $(seq "$rounds"); do
    for m in "${models[@]}"; do
        echo "$round $m $(measure "$m" 100 rps)" >>"$out/rps"
    done
    for m in mio tokio; do
        echo "$round $m $(measure "$m" 1 p50)" >>"$out/p50"
    done
done

echo "== requests/s at 100 connections, per round"
cat "$out/rps"
echo "== 1-connection p50 (µs), per round"
cat "$out/p50"
ratio() { # file a b: per-round a/b, then the median
    awk -v a="$2" -v b="$3" '
        $2 == a { x[$1] = $3 } $2 == b { y[$1] = $3 }
        END {
            n = 0
            for (r in x) if (y[r] > 0) { v[++n] = x[r] / y[r]; s = s sprintf(" %.2f", v[n]) }
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
            med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
            printf "%-28s %.2f [%s ]\n", a " / " b, med, s
        }' "$1"
}
echo "== ratios: median [rounds]"
ratio "$out/rps" mio tokio
ratio "$out/rps" reuseport tokio-multi
ratio "$out/rps" reactor-pool mio
ratio "$out/rps" io-uring mio
ratio "$out/rps" thread-pool tokio-multi
ratio "$out/p50" mio tokio
rm -rf "$out"
