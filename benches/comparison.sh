# Sourced by compare.sh and instructions.sh: what both brokers of a side-by-side comparison
# run with, and how their processes are found a port and stopped.

# Mosquitto's configuration for the comparison, on PORT: its defaults but for the limits
# the performance targets name (max_inflight_messages 0 is unlimited).
mosquitto_conf() {
    printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 0\nmax_queued_messages 100000\n' "$1"
}

# mq broker's equivalent limits (65,535 is the largest window a Packet Identifier allows);
# $SYS every 10 s is both brokers' default.
MQ_COMPARISON_LIMITS=(--max-inflight-messages 65535 --max-queued-messages 100000)

# free_port: a port below the ephemeral range (so no client socket of an earlier run
# holds it) that no socket uses at all.
free_port() {
    local port low
    low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
    while :; do
        port=$((10000 + RANDOM % (low - 10000)))
        if [ -z "$(ss -Htan "( sport = :$port )" 2>/dev/null)" ]; then
            echo "$port"
            return
        fi
    done
}

# stop_broker: SIGTERM to the broker in BROKER_PID, SIGKILL if it is still there 5 s later.
BROKER_PID=
stop_broker() {
    [ -n "$BROKER_PID" ] || return 0
    kill -TERM "$BROKER_PID" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$BROKER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
    BROKER_PID=
}
