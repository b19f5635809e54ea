# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mq_global_optspecs
    string join \n h/help V/version
end

function __fish_mq_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mq_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mq_using_subcommand
    set -l cmd (__fish_mq_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mq -n "__fish_mq_needs_command" -s h -l help -d 'Print help'
complete -c mq -n "__fish_mq_needs_command" -s V -l version -d 'Print version'
complete -c mq -n "__fish_mq_needs_command" -f -a "broker" -d 'Run an MQTT 3.1/3.1.1/5.0 broker (default: mqtt://127.0.0.1:1883)'
complete -c mq -n "__fish_mq_needs_command" -f -a "pub" -d 'Publish messages (mosquitto_pub). -h is the host; help is --help'
complete -c mq -n "__fish_mq_needs_command" -f -a "sub" -d 'Subscribe and print messages (mosquitto_sub). -h is the host; help is --help'
complete -c mq -n "__fish_mq_needs_command" -f -a "passwd" -d 'Manage a password file: create, add, change, delete, upgrade, verify'
complete -c mq -n "__fish_mq_needs_command" -f -a "certs" -d 'Make and inspect TLS certificates: a CA, server and client certificates'
complete -c mq -n "__fish_mq_needs_command" -f -a "acl" -d 'Check what an ACL file allows a client'
complete -c mq -n "__fish_mq_needs_command" -f -a "bench" -d 'Load a broker and measure it: throughput, loss, latency percentiles, connect rate'
complete -c mq -n "__fish_mq_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mq -n "__fish_mq_using_subcommand broker" -s c -l config -d 'Configuration file: mq\'s TOML (see --print-config) or an existing mosquitto.conf. Flags given on the command line override it' -r -F
complete -c mq -n "__fish_mq_using_subcommand broker" -l convert -d 'Print FILE (a mosquitto.conf, or mq.toml) as mq.toml, then exit; what cannot be converted is a warning on stderr naming its line' -r -F
complete -c mq -n "__fish_mq_using_subcommand broker" -l log-format -d 'Log lines as text for people, or one JSON object per line for log shippers' -r -f -a "text\t''
json\t''"
complete -c mq -n "__fish_mq_using_subcommand broker" -s p -l port -d 'Port of the first plain MQTT listener; 0 picks a free one [default: 1883]' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -l bind -d 'Address of the first plain MQTT listener [default: 127.0.0.1]' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -l tls -d 'Add a TLS listener (mqtts) with DIR\'s ca.crt, server.crt and server.key, as made by `mq certs init`; without DIR, the folder `mq certs` uses by default' -r -F
complete -c mq -n "__fish_mq_using_subcommand broker" -l tls-port -d 'Port of the TLS listener; 0 picks a free one' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -l ws-port -d 'Add a WebSocket listener (ws://) on this port; 0 picks a free one' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -l wss-port -d 'Add a secure WebSocket listener (wss://) on this port, with the TLS files' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -l ws-path -d 'Serve WebSocket only at this path (MQTT.js uses /mqtt); by default any path is accepted, as Mosquitto does' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -l certfile -d 'Server certificate chain (PEM) instead of DIR/server.crt. Reloaded on SIGHUP' -r -F
complete -c mq -n "__fish_mq_using_subcommand broker" -l keyfile -d 'Server private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC) instead of DIR/server.key' -r -F
complete -c mq -n "__fish_mq_using_subcommand broker" -l cafile -d 'CA that client certificates must chain to, instead of DIR/ca.crt. With it, clients may present a certificate; with --require-certificate they must' -r -F
complete -c mq -n "__fish_mq_using_subcommand broker" -l tls-alpn -d 'ALPN protocol name the TLS listeners offer (repeatable), e.g. `mqtt`' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -l sys-interval -d 'Seconds between $SYS updates; 0 turns them off [default: 10]' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -l max-packet-size -d 'Largest packet accepted, in bytes; larger ones close the connection [default: 1048576]' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -l max-inflight-messages -d 'QoS 1 and 2 messages in flight to one client at a time [default: 20]' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -l max-queued-messages -d 'Messages queued per session beyond those in flight; more are dropped (QoS 0 first) and counted [default: 1000]' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -l max-queued-bytes -d 'Payload bytes queued per session; 0 for no byte limit [default: 0]' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -l max-memory -d 'Bytes of queued, in-flight and retained messages the broker may hold; beyond it new publishes are refused (MQTT 5: 0x97 Quota exceeded; MQTT 3: QoS 0 dropped, QoS 1/2 close the connection unacknowledged) [default: no limit]' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -l connect-timeout -d 'Seconds a new connection has to send CONNECT [default: 10]' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -l max-connections -d 'Most simultaneous connections; further ones are closed at once' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -l password-file -d 'Password file (`user:hash` lines from `mq passwd` or mosquitto_passwd): clients must give a user name and its password, unless --allow-anonymous. Reloaded on SIGHUP' -r -F
complete -c mq -n "__fish_mq_using_subcommand broker" -l acl-file -d 'ACL file in Mosquitto\'s syntax: who may publish, subscribe to and receive which topics (try rules with `mq acl check`). Reloaded on SIGHUP' -r -F
complete -c mq -n "__fish_mq_using_subcommand broker" -l allow-anonymous -d 'Let clients connect without a user name. Without this flag they may only when every listener is on loopback and there is no password file; `--allow-anonymous false` refuses them everywhere' -r -f -a "true\t''
false\t''"
complete -c mq -n "__fish_mq_using_subcommand broker" -l max-keepalive -d 'Longest keep alive allowed, in seconds: MQTT 5 clients asking for more (or none) are told this as Server Keep Alive; 3.x clients asking for more are refused [default: 65535]' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -l max-topic-alias -d 'Topic aliases an MQTT 5 client may set toward the broker; 0 turns them off [default: 10]' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -l refuse-subscribe -d 'Refuse subscriptions to this topic filter, or to filters it matches, with SUBACK 0x80 "unspecified error" (repeatable)' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -l data -d 'Folder for the store [default: $XDG_DATA_HOME/mq, else ~/.local/share/mq]' -r -F
complete -c mq -n "__fish_mq_using_subcommand broker" -l persistence -d 'sync: acknowledge only what is on disk; periodic: save every --autosave-interval (a crash loses up to one interval, as Mosquitto\'s autosave); off: memory only [default: sync]' -r -f -a "sync\t''
periodic\t''
off\t''"
complete -c mq -n "__fish_mq_using_subcommand broker" -l autosave-interval -d 'Seconds between saves with --persistence periodic [default: 60]' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -l metrics -d 'Serve the broker\'s figures (those of $SYS) for Prometheus at http://ADDR/metrics, e.g. 127.0.0.1:9100' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -l max-topic-levels -d 'Most levels in a topic name or filter: deeper PUBLISHes are refused (MQTT 5 0x90) and deeper subscriptions get SUBACK 0x8F (0x80 in 3.1.1) [default: 128]' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -l max-subscriptions -d 'Most subscriptions one client may hold; more get SUBACK 0x97 Quota exceeded (0x80 in 3.1.1) [default: 10000]' -r
complete -c mq -n "__fish_mq_using_subcommand broker" -l check-store -d 'Report what the store in DIR holds (format version, sessions, queued messages, retained messages), checking every record, then exit. Changes nothing' -r -F
complete -c mq -n "__fish_mq_using_subcommand broker" -l check -d 'Check the configuration (and the password, ACL and certificate files it names), print its warnings, and exit without starting: 0 if it is usable, 2 if not'
complete -c mq -n "__fish_mq_using_subcommand broker" -l print-config -d 'Print an annotated mq.toml with every setting and its default, then exit'
complete -c mq -n "__fish_mq_using_subcommand broker" -l require-certificate -d 'Refuse TLS clients that do not present a certificate signed by the CA'
complete -c mq -n "__fish_mq_using_subcommand broker" -l use-identity-as-username -d 'The client certificate\'s Common Name is the client\'s user name, and no password is asked (implies --require-certificate)'
complete -c mq -n "__fish_mq_using_subcommand broker" -l use-subject-as-username -d 'The client certificate\'s whole subject (`CN=client,O=mq`) is the user name (implies --require-certificate)'
complete -c mq -n "__fish_mq_using_subcommand broker" -s v -l verbose -d 'More log output: -v connections, -vv packets, -vvv everything (or set RUST_LOG)'
complete -c mq -n "__fish_mq_using_subcommand broker" -s h -l help -d 'Print help'
complete -c mq -n "__fish_mq_using_subcommand pub" -s t -l topic -d 'Topic to publish to (or give it in the -L URL)' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s m -l message -d 'The message payload' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s f -l file -d 'Send the contents of a file as the message' -r -F
complete -c mq -n "__fish_mq_using_subcommand pub" -s q -l qos -d 'QoS of the messages' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -l repeat -d 'Publish the message this many times' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -l repeat-delay -d 'Seconds to wait between repeats (fractions allowed)' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s h -l host -d 'Broker host [default: localhost]. (-h is the host, as in mosquitto; help is --help.)' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s p -l port -d 'Broker port [default: 1883, 8883 with TLS]' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s L -l url -d 'Broker URL: mqtt://, mqtts://, ws:// or wss://[user[:password]@]host[:port][/topic]' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s i -l id -d 'Client id [default: mq-pub-/mq-sub- and random letters]' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s I -l id-prefix -d 'Client id prefix; the process id is appended (as mosquitto)' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s k -l keepalive -d 'Keep Alive in seconds, 5-65535 [default: 60]' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s x -l session-expiry-interval -d 'Session Expiry Interval in seconds (MQTT 5); -1 or ∞ for never [default with -c: never]' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s V -l protocol-version -d 'MQTT version: 31, 311 or 5 (mqttv31, mqttv311, mqttv5) [default: 311]. 3.1 has no WebSocket' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s D -l property -d 'MQTT 5 property for a packet: -D COMMAND PROPERTY VALUE (user-property takes NAME VALUE). COMMAND is connect, publish, subscribe, unsubscribe or will' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s A -d 'Bind the outgoing connection to this local address (not available: see --help)' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -l connect-timeout -d 'Seconds to wait for the connection (TCP, TLS and CONNACK) [default: 10]' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -l profile -d 'Take defaults from this profile of the config file ($XDG_CONFIG_HOME/mq/config.toml or ~/.config/mq/config.toml); flags given here still win' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s u -l username -d 'User name' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s P -l pw -d 'Password (visible to other users in the process list: prefer the options below)' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -l pw-file -d 'Read the password from the first line of this file' -r -F
complete -c mq -n "__fish_mq_using_subcommand pub" -l pw-env -d 'Read the password from this environment variable' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -l will-topic -d 'Will topic: the broker publishes the Will there if the connection dies' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -l will-payload -d 'Will payload' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -l will-qos -d 'Will QoS' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -l cafile -d 'Trust the CA certificates in this PEM file (turns TLS on)' -r -F
complete -c mq -n "__fish_mq_using_subcommand pub" -l capath -d 'Trust the CA certificates (*.pem, *.crt) in this directory (turns TLS on)' -r -F
complete -c mq -n "__fish_mq_using_subcommand pub" -l cert -d 'Client certificate (PEM), with --key' -r -F
complete -c mq -n "__fish_mq_using_subcommand pub" -l key -d 'Client private key (PEM), with --cert' -r -F
complete -c mq -n "__fish_mq_using_subcommand pub" -l tls-version -d 'TLS version: tlsv1.2 or tlsv1.3 [default: both]' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -l tls-alpn -d 'ALPN protocol to offer; may be repeated' -r
complete -c mq -n "__fish_mq_using_subcommand pub" -s s -l stdin-file -d 'Read the message from stdin, all of it as one message'
complete -c mq -n "__fish_mq_using_subcommand pub" -s l -l stdin-line -d 'Read stdin and send one message per line, on one connection; reconnects after a drop'
complete -c mq -n "__fish_mq_using_subcommand pub" -s n -l null-message -d 'Send an empty (null) message'
complete -c mq -n "__fish_mq_using_subcommand pub" -l line-topics -d 'Like -l, but each line is `TOPIC PAYLOAD` (split at the first space)'
complete -c mq -n "__fish_mq_using_subcommand pub" -s r -l retain -d 'Retain the message'
complete -c mq -n "__fish_mq_using_subcommand pub" -s c -l disable-clean-session -d 'Persistent session: no clean session / clean start (needs -i)'
complete -c mq -n "__fish_mq_using_subcommand pub" -l nodelay -d 'Disable Nagle\'s algorithm (send small packets at once)'
complete -c mq -n "__fish_mq_using_subcommand pub" -l pw-prompt -d 'Ask for the password on the terminal, without echo'
complete -c mq -n "__fish_mq_using_subcommand pub" -l will-retain -d 'Retain the Will'
complete -c mq -n "__fish_mq_using_subcommand pub" -l insecure -d 'Do not check the server certificate\'s host name (the chain is still checked)'
complete -c mq -n "__fish_mq_using_subcommand pub" -l tls-use-os-certs -d 'Use TLS with the system\'s trusted CAs (also the default for mqtts:// and wss://)'
complete -c mq -n "__fish_mq_using_subcommand pub" -s d -l debug -d 'Print a trace of the MQTT packets on stderr'
complete -c mq -n "__fish_mq_using_subcommand pub" -l quiet -d 'Print no errors or notices (the exit code still tells)'
complete -c mq -n "__fish_mq_using_subcommand pub" -l help -d 'Print help (-h is the host, as in mosquitto)'
complete -c mq -n "__fish_mq_using_subcommand sub" -s t -l topic -d 'Topic filter to subscribe to; may be repeated' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s T -l filter-out -d 'Do not print messages whose topic matches this filter; may be repeated' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s q -l qos -d 'QoS of the subscriptions' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s F -d 'Print each message with this format (mosquitto_sub\'s %-codes, @-time codes, \\-escapes)' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s C -d 'Exit after this many messages' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s W -d 'Exit with code 7 if this many seconds pass first (before -C is reached)' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s U -l unsubscribe -d 'Unsubscribe from this filter after subscribing (for persistent sessions); may be repeated' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l rh -d 'MQTT 5 Retain Handling: 0 send retained on subscribe, 1 only for new subscriptions, 2 never' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l sub-id -d 'MQTT 5 Subscription Identifier for these subscriptions (1-268435455)' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s h -l host -d 'Broker host [default: localhost]. (-h is the host, as in mosquitto; help is --help.)' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s p -l port -d 'Broker port [default: 1883, 8883 with TLS]' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s L -l url -d 'Broker URL: mqtt://, mqtts://, ws:// or wss://[user[:password]@]host[:port][/topic]' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s i -l id -d 'Client id [default: mq-pub-/mq-sub- and random letters]' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s I -l id-prefix -d 'Client id prefix; the process id is appended (as mosquitto)' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s k -l keepalive -d 'Keep Alive in seconds, 5-65535 [default: 60]' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s x -l session-expiry-interval -d 'Session Expiry Interval in seconds (MQTT 5); -1 or ∞ for never [default with -c: never]' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s V -l protocol-version -d 'MQTT version: 31, 311 or 5 (mqttv31, mqttv311, mqttv5) [default: 311]. 3.1 has no WebSocket' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s D -l property -d 'MQTT 5 property for a packet: -D COMMAND PROPERTY VALUE (user-property takes NAME VALUE). COMMAND is connect, publish, subscribe, unsubscribe or will' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s A -d 'Bind the outgoing connection to this local address (not available: see --help)' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l connect-timeout -d 'Seconds to wait for the connection (TCP, TLS and CONNACK) [default: 10]' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l profile -d 'Take defaults from this profile of the config file ($XDG_CONFIG_HOME/mq/config.toml or ~/.config/mq/config.toml); flags given here still win' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s u -l username -d 'User name' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s P -l pw -d 'Password (visible to other users in the process list: prefer the options below)' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l pw-file -d 'Read the password from the first line of this file' -r -F
complete -c mq -n "__fish_mq_using_subcommand sub" -l pw-env -d 'Read the password from this environment variable' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l will-topic -d 'Will topic: the broker publishes the Will there if the connection dies' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l will-payload -d 'Will payload' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l will-qos -d 'Will QoS' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l cafile -d 'Trust the CA certificates in this PEM file (turns TLS on)' -r -F
complete -c mq -n "__fish_mq_using_subcommand sub" -l capath -d 'Trust the CA certificates (*.pem, *.crt) in this directory (turns TLS on)' -r -F
complete -c mq -n "__fish_mq_using_subcommand sub" -l cert -d 'Client certificate (PEM), with --key' -r -F
complete -c mq -n "__fish_mq_using_subcommand sub" -l key -d 'Client private key (PEM), with --cert' -r -F
complete -c mq -n "__fish_mq_using_subcommand sub" -l tls-version -d 'TLS version: tlsv1.2 or tlsv1.3 [default: both]' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -l tls-alpn -d 'ALPN protocol to offer; may be repeated' -r
complete -c mq -n "__fish_mq_using_subcommand sub" -s v -l verbose -d 'Print the topic before the payload'
complete -c mq -n "__fish_mq_using_subcommand sub" -s N -d 'Do not end each message with a newline'
complete -c mq -n "__fish_mq_using_subcommand sub" -s E -d 'Exit once the subscriptions are acknowledged'
complete -c mq -n "__fish_mq_using_subcommand sub" -s R -d 'Do not print retained (stale) messages'
complete -c mq -n "__fish_mq_using_subcommand sub" -l retained-only -d 'Print only retained messages; exit at the first message that is not retained'
complete -c mq -n "__fish_mq_using_subcommand sub" -l remove-retained -d 'Clear each retained message received (publish an empty retained message to its topic)'
complete -c mq -n "__fish_mq_using_subcommand sub" -l dry-run -d 'With --remove-retained: print what would be cleared, clear nothing'
complete -c mq -n "__fish_mq_using_subcommand sub" -l pretty -d 'Pretty-print JSON (-F %j/%J, --json)'
complete -c mq -n "__fish_mq_using_subcommand sub" -l json -d 'One JSON object per line: topic, qos, retain, properties, received, payload (text if UTF-8, else base64 with "encoding":"base64")'
complete -c mq -n "__fish_mq_using_subcommand sub" -l nl -d 'MQTT 5 No Local: do not receive my own publications'
complete -c mq -n "__fish_mq_using_subcommand sub" -l rap -d 'MQTT 5 Retain As Published: keep the retain flag of forwarded messages'
complete -c mq -n "__fish_mq_using_subcommand sub" -s c -l disable-clean-session -d 'Persistent session: no clean session / clean start (needs -i)'
complete -c mq -n "__fish_mq_using_subcommand sub" -l nodelay -d 'Disable Nagle\'s algorithm (send small packets at once)'
complete -c mq -n "__fish_mq_using_subcommand sub" -l pw-prompt -d 'Ask for the password on the terminal, without echo'
complete -c mq -n "__fish_mq_using_subcommand sub" -l will-retain -d 'Retain the Will'
complete -c mq -n "__fish_mq_using_subcommand sub" -l insecure -d 'Do not check the server certificate\'s host name (the chain is still checked)'
complete -c mq -n "__fish_mq_using_subcommand sub" -l tls-use-os-certs -d 'Use TLS with the system\'s trusted CAs (also the default for mqtts:// and wss://)'
complete -c mq -n "__fish_mq_using_subcommand sub" -s d -l debug -d 'Print a trace of the MQTT packets on stderr'
complete -c mq -n "__fish_mq_using_subcommand sub" -l quiet -d 'Print no errors or notices (the exit code still tells)'
complete -c mq -n "__fish_mq_using_subcommand sub" -l help -d 'Print help (-h is the host, as in mosquitto)'
complete -c mq -n "__fish_mq_using_subcommand passwd; and not __fish_seen_subcommand_from verify help" -s H -d 'Hash type for new passwords' -r -f -a "argon2id\t'argon2id (the default)'
sha512-pbkdf2\t'Mosquitto\'s `$7$`'
scram-sha-256\t'SCRAM-SHA-256 credentials: the user may also log in with MQTT 5 enhanced authentication (method SCRAM-SHA-256). mq only; Mosquitto cannot read them'"
complete -c mq -n "__fish_mq_using_subcommand passwd; and not __fish_seen_subcommand_from verify help" -s I -l iterations -d 'PBKDF2 iterations for `$7$` hashes' -r
complete -c mq -n "__fish_mq_using_subcommand passwd; and not __fish_seen_subcommand_from verify help" -s c -d 'Create a new file, replacing any existing one'
complete -c mq -n "__fish_mq_using_subcommand passwd; and not __fish_seen_subcommand_from verify help" -s b -d 'Batch mode: the password is the third argument'
complete -c mq -n "__fish_mq_using_subcommand passwd; and not __fish_seen_subcommand_from verify help" -s D -d 'Delete the user'
complete -c mq -n "__fish_mq_using_subcommand passwd; and not __fish_seen_subcommand_from verify help" -s U -d 'Hash every plain-text password of a `user:password` file in place'
complete -c mq -n "__fish_mq_using_subcommand passwd; and not __fish_seen_subcommand_from verify help" -l mosquitto -d 'Write Mosquitto\'s `$7$` hashes (same as `-H sha512-pbkdf2`)'
complete -c mq -n "__fish_mq_using_subcommand passwd; and not __fish_seen_subcommand_from verify help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mq -n "__fish_mq_using_subcommand passwd; and not __fish_seen_subcommand_from verify help" -a "verify" -d 'Check a user\'s password: exit 0 if right, 8 if wrong or the user is unknown'
complete -c mq -n "__fish_mq_using_subcommand passwd; and not __fish_seen_subcommand_from verify help" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mq -n "__fish_mq_using_subcommand passwd; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c mq -n "__fish_mq_using_subcommand passwd; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Check a user\'s password: exit 0 if right, 8 if wrong or the user is unknown'
complete -c mq -n "__fish_mq_using_subcommand passwd; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mq -n "__fish_mq_using_subcommand certs; and not __fish_seen_subcommand_from init server client show verify help" -s h -l help -d 'Print help'
complete -c mq -n "__fish_mq_using_subcommand certs; and not __fish_seen_subcommand_from init server client show verify help" -f -a "init" -d 'Make a CA, a server certificate (localhost, 127.0.0.1, ::1, this host, --san) and a client certificate (CN "client")'
complete -c mq -n "__fish_mq_using_subcommand certs; and not __fish_seen_subcommand_from init server client show verify help" -f -a "server" -d 'Make a new server certificate signed by the folder\'s CA'
complete -c mq -n "__fish_mq_using_subcommand certs; and not __fish_seen_subcommand_from init server client show verify help" -f -a "client" -d 'Make a client certificate with Common Name NAME, signed by the folder\'s CA (NAME.crt and NAME.key)'
complete -c mq -n "__fish_mq_using_subcommand certs; and not __fish_seen_subcommand_from init server client show verify help" -f -a "show" -d 'Print subject, SANs, validity, issuer and SHA-256 fingerprint of each certificate'
complete -c mq -n "__fish_mq_using_subcommand certs; and not __fish_seen_subcommand_from init server client show verify help" -f -a "verify" -d 'Check that a certificate chains to a CA and is valid now'
complete -c mq -n "__fish_mq_using_subcommand certs; and not __fish_seen_subcommand_from init server client show verify help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from init" -l dir -d 'Folder of the CA and certificates (default: the per-user data folder, see --help)' -r -F
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from init" -l days -d 'Days the new certificates are valid' -r
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from init" -l key-type -d 'Key algorithm of the new keys' -r -f -a "ecdsa-p256\t'ECDSA P-256: small, fast, understood everywhere (the default)'
ed25519\t'Ed25519: smallest and fastest; some older clients lack it'
rsa2048\t'RSA 2048: for old devices that know nothing else; slow to generate'"
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from init" -l san -d 'One more name or address for the server certificate (repeatable)' -r
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from init" -l ca-days -d 'Days the CA is valid' -r
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from init" -l force -d 'Replace files that exist'
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from init" -l encrypt-ca-key -d 'Encrypt the CA key with a passphrase (prompted, or from $MQ_CA_PASSPHRASE)'
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from server" -l dir -d 'Folder of the CA and certificates (default: the per-user data folder, see --help)' -r -F
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from server" -l days -d 'Days the new certificates are valid' -r
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from server" -l key-type -d 'Key algorithm of the new keys' -r -f -a "ecdsa-p256\t'ECDSA P-256: small, fast, understood everywhere (the default)'
ed25519\t'Ed25519: smallest and fastest; some older clients lack it'
rsa2048\t'RSA 2048: for old devices that know nothing else; slow to generate'"
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from server" -l san -d 'One more name or address for the certificate (repeatable)' -r
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from server" -l force -d 'Replace files that exist'
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from server" -l no-default-sans -d 'Only the --san names, without localhost, 127.0.0.1, ::1 and this host\'s name'
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from server" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from client" -l dir -d 'Folder of the CA and certificates (default: the per-user data folder, see --help)' -r -F
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from client" -l days -d 'Days the new certificates are valid' -r
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from client" -l key-type -d 'Key algorithm of the new keys' -r -f -a "ecdsa-p256\t'ECDSA P-256: small, fast, understood everywhere (the default)'
ed25519\t'Ed25519: smallest and fastest; some older clients lack it'
rsa2048\t'RSA 2048: for old devices that know nothing else; slow to generate'"
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from client" -l force -d 'Replace files that exist'
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from client" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from verify" -l ca -d 'The CA certificate(s) to check against (PEM)' -r -F
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from help" -f -a "init" -d 'Make a CA, a server certificate (localhost, 127.0.0.1, ::1, this host, --san) and a client certificate (CN "client")'
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from help" -f -a "server" -d 'Make a new server certificate signed by the folder\'s CA'
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from help" -f -a "client" -d 'Make a client certificate with Common Name NAME, signed by the folder\'s CA (NAME.crt and NAME.key)'
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print subject, SANs, validity, issuer and SHA-256 fingerprint of each certificate'
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Check that a certificate chains to a CA and is valid now'
complete -c mq -n "__fish_mq_using_subcommand certs; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mq -n "__fish_mq_using_subcommand acl; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help'
complete -c mq -n "__fish_mq_using_subcommand acl; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Would the broker let this client read or write this topic? Prints `allowed` or `denied` and the rule (FILE:LINE) that decided; exit 0 if allowed, 8 if denied'
complete -c mq -n "__fish_mq_using_subcommand acl; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mq -n "__fish_mq_using_subcommand acl; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mq -n "__fish_mq_using_subcommand acl; and __fish_seen_subcommand_from help" -f -a "check" -d 'Would the broker let this client read or write this topic? Prints `allowed` or `denied` and the rule (FILE:LINE) that decided; exit 0 if allowed, 8 if denied'
complete -c mq -n "__fish_mq_using_subcommand acl; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mq -n "__fish_mq_using_subcommand bench" -s h -l host -d 'Broker host' -r
complete -c mq -n "__fish_mq_using_subcommand bench" -s p -l port -d 'Broker port' -r
complete -c mq -n "__fish_mq_using_subcommand bench" -s L -l url -d 'Broker URL instead of -h and -p: mqtt://HOST[:PORT] (plain TCP only)' -r
complete -c mq -n "__fish_mq_using_subcommand bench" -s c -l clients -d 'Clients: publishers (pub, fanin, latency, retained), subscribers (sub, fanout), connections (conn). Default 1; fanin 8, fanout 16, conn 100' -r
complete -c mq -n "__fish_mq_using_subcommand bench" -s n -l count -d 'Messages per publisher (per subscriber for sub); 0: until the duration ends' -r
complete -c mq -n "__fish_mq_using_subcommand bench" -l duration -d 'Longest the load may run: 30, 30s, 500ms, 2m' -r
complete -c mq -n "__fish_mq_using_subcommand bench" -s q -l qos -d 'Quality of service of publications and subscriptions' -r
complete -c mq -n "__fish_mq_using_subcommand bench" -s s -l size -d 'Payload size in bytes; at least 28 where a subscriber counts the messages' -r
complete -c mq -n "__fish_mq_using_subcommand bench" -s t -l topic -d 'Topic pattern: %i client number (from 1), %c client id, %n message number. Default bench/%i (retained: bench/retained/%n)' -r
complete -c mq -n "__fish_mq_using_subcommand bench" -l filter -d 'Subscribers\' topic filter. Default: the topic\'s levels before the first %, then # (bench/%i gives bench/#). For conn, each connection subscribes only if given' -r
complete -c mq -n "__fish_mq_using_subcommand bench" -s r -l rate -d 'Messages per second over all publishers (default flat out; latency: 1000)' -r
complete -c mq -n "__fish_mq_using_subcommand bench" -s V -l protocol-version -d 'MQTT version: 311 or 5' -r
complete -c mq -n "__fish_mq_using_subcommand bench" -l inflight -d 'QoS 1/2 messages a publisher may have unacknowledged (capped by the broker\'s Receive Maximum)' -r
complete -c mq -n "__fish_mq_using_subcommand bench" -s i -l id-prefix -d 'Client identifier prefix (default mq-bench-PID-)' -r
complete -c mq -n "__fish_mq_using_subcommand bench" -s u -l username -d 'User name' -r
complete -c mq -n "__fish_mq_using_subcommand bench" -s P -l password -d 'Password (or the environment variable MQ_PASSWORD)' -r
complete -c mq -n "__fish_mq_using_subcommand bench" -s k -l keepalive -d 'Keep alive in seconds; 0 turns it off' -r
complete -c mq -n "__fish_mq_using_subcommand bench" -l connect-concurrency -d 'Connections being set up at once' -r
complete -c mq -n "__fish_mq_using_subcommand bench" -l connect-rate -d 'New connections per second at most (default: as fast as they complete)' -r
complete -c mq -n "__fish_mq_using_subcommand bench" -l connect-timeout -d 'Longest the connect phase may take' -r
complete -c mq -n "__fish_mq_using_subcommand bench" -l idle -d 'conn: how long the connections stay open once all are up' -r
complete -c mq -n "__fish_mq_using_subcommand bench" -l drain -d 'After publishing ends, the longest subscribers wait for the rest. They stop earlier once all arrived; at QoS 0 also after 2 s without a message' -r
complete -c mq -n "__fish_mq_using_subcommand bench" -l threads -d 'Worker threads of the load generator (default: one per CPU)' -r
complete -c mq -n "__fish_mq_using_subcommand bench" -l keep-retained -d 'retained: leave the stored messages on the broker instead of clearing them'
complete -c mq -n "__fish_mq_using_subcommand bench" -l json -d 'Print the report as one JSON object (times in seconds, latencies in microseconds)'
complete -c mq -n "__fish_mq_using_subcommand bench" -l help -d 'Print help'
complete -c mq -n "__fish_mq_using_subcommand help; and not __fish_seen_subcommand_from broker pub sub passwd certs acl bench help" -f -a "broker" -d 'Run an MQTT 3.1/3.1.1/5.0 broker (default: mqtt://127.0.0.1:1883)'
complete -c mq -n "__fish_mq_using_subcommand help; and not __fish_seen_subcommand_from broker pub sub passwd certs acl bench help" -f -a "pub" -d 'Publish messages (mosquitto_pub). -h is the host; help is --help'
complete -c mq -n "__fish_mq_using_subcommand help; and not __fish_seen_subcommand_from broker pub sub passwd certs acl bench help" -f -a "sub" -d 'Subscribe and print messages (mosquitto_sub). -h is the host; help is --help'
complete -c mq -n "__fish_mq_using_subcommand help; and not __fish_seen_subcommand_from broker pub sub passwd certs acl bench help" -f -a "passwd" -d 'Manage a password file: create, add, change, delete, upgrade, verify'
complete -c mq -n "__fish_mq_using_subcommand help; and not __fish_seen_subcommand_from broker pub sub passwd certs acl bench help" -f -a "certs" -d 'Make and inspect TLS certificates: a CA, server and client certificates'
complete -c mq -n "__fish_mq_using_subcommand help; and not __fish_seen_subcommand_from broker pub sub passwd certs acl bench help" -f -a "acl" -d 'Check what an ACL file allows a client'
complete -c mq -n "__fish_mq_using_subcommand help; and not __fish_seen_subcommand_from broker pub sub passwd certs acl bench help" -f -a "bench" -d 'Load a broker and measure it: throughput, loss, latency percentiles, connect rate'
complete -c mq -n "__fish_mq_using_subcommand help; and not __fish_seen_subcommand_from broker pub sub passwd certs acl bench help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mq -n "__fish_mq_using_subcommand help; and __fish_seen_subcommand_from passwd" -f -a "verify" -d 'Check a user\'s password: exit 0 if right, 8 if wrong or the user is unknown'
complete -c mq -n "__fish_mq_using_subcommand help; and __fish_seen_subcommand_from certs" -f -a "init" -d 'Make a CA, a server certificate (localhost, 127.0.0.1, ::1, this host, --san) and a client certificate (CN "client")'
complete -c mq -n "__fish_mq_using_subcommand help; and __fish_seen_subcommand_from certs" -f -a "server" -d 'Make a new server certificate signed by the folder\'s CA'
complete -c mq -n "__fish_mq_using_subcommand help; and __fish_seen_subcommand_from certs" -f -a "client" -d 'Make a client certificate with Common Name NAME, signed by the folder\'s CA (NAME.crt and NAME.key)'
complete -c mq -n "__fish_mq_using_subcommand help; and __fish_seen_subcommand_from certs" -f -a "show" -d 'Print subject, SANs, validity, issuer and SHA-256 fingerprint of each certificate'
complete -c mq -n "__fish_mq_using_subcommand help; and __fish_seen_subcommand_from certs" -f -a "verify" -d 'Check that a certificate chains to a CA and is valid now'
complete -c mq -n "__fish_mq_using_subcommand help; and __fish_seen_subcommand_from acl" -f -a "check" -d 'Would the broker let this client read or write this topic? Prints `allowed` or `denied` and the rule (FILE:LINE) that decided; exit 0 if allowed, 8 if denied'
