#!/usr/bin/env bash
# Instructions the broker executes per routed message, mq against Mosquitto, counted by
# callgrind. The latency scenario's figures swing by 15% and more between runs on a shared
# machine; an instruction count does not, so it shows what a change to the message path
# did to its length.
#
#   benches/instructions.sh            # target/release/mq, built unless NO_BUILD=1
#
# Each broker runs under `valgrind --tool=callgrind` (apt-get install valgrind) with the
# limits of benches/compare.sh, and `mq bench latency` sends it QoS 1 messages of 64 bytes
# at 200 a second (callgrind slows the broker about fifty times), one publisher and one
# subscriber: first 200 messages, then 1,000, the counters zeroed before and dumped after
# each run. (Instructions of the 1,000 - instructions of the 200) / 800 is one message,
# routed and acknowledged on both sides, without the connections' setup.
#
# Environment: MQ (target/release/mq), BENCH (the `mq` that sends, default $MQ),
# MOSQUITTO (/usr/sbin/mosquitto), OUT (target/instructions: callgrind's files).
set -euo pipefail

cd "$(dirname "$0")/.."
MQ=${MQ:-target/release/mq}
BENCH=${BENCH:-$MQ}
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
OUT=${OUT:-target/instructions}

for tool in valgrind callgrind_control; do
    command -v "$tool" >/dev/null || { echo "instructions.sh: $tool is needed (apt-get install valgrind)" >&2; exit 2; }
done
[ -x "$MOSQUITTO" ] || { echo "instructions.sh: no Mosquitto at $MOSQUITTO" >&2; exit 2; }
if [ "${NO_BUILD:-0}" != 1 ]; then
    cargo build --release --quiet
fi
[ -x "$MQ" ] || { echo "instructions.sh: no mq binary at $MQ" >&2; exit 2; }

# shellcheck source=benches/comparison.sh
. benches/comparison.sh

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
trap stop_broker EXIT

# count NAME PORT: instructions per message of the broker now listening on PORT.
count() {
    local name=$1 port=$2 messages dump total
    local -A instructions
    for messages in 200 1000; do
        callgrind_control --zero "$BROKER_PID" >/dev/null 2>&1
        timeout 120 "$BENCH" bench latency -h 127.0.0.1 -p "$port" -c 1 -n "$messages" \
            -q 1 -s 64 --rate 200 --duration 60s --json >"$OUT/$name-$messages.json" \
            2>"$OUT/$name-$messages.err"
        callgrind_control --dump="$name-$messages" "$BROKER_PID" >/dev/null 2>&1
        # callgrind writes the dump as the broker's threads next run: wait for it.
        for _ in $(seq 100); do
            dump=$(grep -l "^desc: Trigger: dump $name-$messages\$" "$OUT"/callgrind.out.* 2>/dev/null | head -n 1 || true)
            [ -n "$dump" ] && break
            sleep 0.1
        done
        [ -n "$dump" ] || { echo "instructions.sh: no callgrind dump from $name" >&2; exit 1; }
        total=$(sed -n 's/^summary: //p; s/^totals: //p' "$dump" | head -n 1)
        instructions[$messages]=$total
    done
    echo "$name: $(((instructions[1000] - instructions[200]) / 800)) instructions per message"
}

# wait_listening PORT: until the broker accepts connections (callgrind starts slowly).
wait_listening() {
    for _ in $(seq 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        kill -0 "$BROKER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "instructions.sh: the broker did not start listening on $1" >&2
    exit 1
}

rm -f "$OUT"/callgrind.out.*
callgrind=(valgrind --tool=callgrind "--callgrind-out-file=$OUT/callgrind.out.%p")

port=$(free_port)
# Run as the user starting it: callgrind_control must reach it, and it must write its files.
{ mosquitto_conf "$port"; echo "user $(id -un)"; } >"$OUT/mosquitto.conf"
"${callgrind[@]}" "$MOSQUITTO" -c "$OUT/mosquitto.conf" >"$OUT/mosquitto.log" 2>&1 &
BROKER_PID=$!
wait_listening "$port"
count mosquitto "$port"
stop_broker

port=$(free_port)
"${callgrind[@]}" "$MQ" broker -p "$port" --bind 127.0.0.1 "${MQ_COMPARISON_LIMITS[@]}" \
    --persistence off >"$OUT/mq.log" 2>&1 &
BROKER_PID=$!
wait_listening "$port"
count mq "$port"
