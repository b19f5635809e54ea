#!/usr/bin/env bash
# Reconnect storm under authentication (issue: "a reconnect storm of 1,000 clients with
# valid passwords does not stall other clients"). One broker with an argon2id password
# file; a QoS 1 latency probe at 1,000 msg/s runs alone, then again while 1,000 clients
# with valid passwords connect, disconnect and reconnect (STORMS rounds). Prints the
# probe's p50/p99 for both runs. Loopback only; every run is bounded in count and time.
#
#   benches/auth_storm.sh [path/to/mq]     (default target/release/mq)
set -euo pipefail
mq="${1:-target/release/mq}"
storms="${STORMS:-3}"
dir="$(mktemp -d)"
trap 'kill "${broker_pid:-0}" 2>/dev/null || true; rm -rf "$dir"' EXIT

"$mq" passwd -c -b "$dir/users.pw" probe probe-secret
"$mq" passwd -b "$dir/users.pw" storm storm-secret
# shellcheck source=benches/start_broker.sh
. "$(dirname "${BASH_SOURCE[0]}")/start_broker.sh"
start_broker "$mq" "$dir" "$dir/broker.err" --persistence off --password-file "$dir/users.pw"

probe() {
    "$mq" bench latency -p "$port" -q 1 --rate 1000 -n 10000 --duration 30s \
        -u probe -P probe-secret --json 2>/dev/null
}
figures() {
    python3 -c 'import json,sys; r=json.load(sys.stdin); l=r["latency_us"]; print("p50 %.2f ms  p99 %.2f ms  max %.2f ms  lost %d of %d" % (l["p50"]/1e3, l["p99"]/1e3, l["max"]/1e3, r["receive"]["lost"], r["publish"]["sent"]))'
}

echo "alone:       $(probe | figures)"
probe >"$dir/probe.json" &
probe_pid=$!
sleep 1
for round in $(seq "$storms"); do
    "$mq" bench conn -p "$port" -c 1000 -u storm -P storm-secret --idle 1s \
        --connect-timeout 20s --json >"$dir/storm-$round.json" 2>/dev/null
done
wait "$probe_pid"
echo "with storms: $(figures <"$dir/probe.json")"
for round in $(seq "$storms"); do
    python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["connect"]; print("storm %s: %d of %d connected (%d failed) at %.0f connections/s, CONNACK p99 %.1f ms" % (sys.argv[2], c["connected"], c["attempted"], c["failed"], c["rate_per_s"], c["latency_us"]["p99"]/1e3))' "$dir/storm-$round.json" "$round"
done
