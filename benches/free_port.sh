# Sourced by the bench scripts. free_port: a port below the ephemeral range (so no client
# socket of an earlier run holds it) that no socket uses at all.
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
