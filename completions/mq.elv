
use builtin;
use str;

set edit:completion:arg-completer[mq] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'mq'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'mq'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand broker 'Run an MQTT 3.1/3.1.1/5.0 broker (default: mqtt://127.0.0.1:1883)'
            cand pub 'Publish messages (mosquitto_pub). -h is the host; help is --help'
            cand sub 'Subscribe and print messages (mosquitto_sub). -h is the host; help is --help'
            cand passwd 'Manage a password file: create, add, change, delete, upgrade, verify'
            cand certs 'Make and inspect TLS certificates: a CA, server and client certificates'
            cand acl 'Check what an ACL file allows a client'
            cand bench 'Load a broker and measure it: throughput, loss, latency percentiles, connect rate'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mq;broker'= {
            cand -c 'Configuration file: mq''s TOML (see --print-config) or an existing mosquitto.conf. Flags given on the command line override it'
            cand --config 'Configuration file: mq''s TOML (see --print-config) or an existing mosquitto.conf. Flags given on the command line override it'
            cand --convert 'Print FILE (a mosquitto.conf, or mq.toml) as mq.toml, then exit; what cannot be converted is a warning on stderr naming its line'
            cand --log-format 'Log lines as text for people, or one JSON object per line for log shippers'
            cand -p 'Port of the first plain MQTT listener; 0 picks a free one [default: 1883]'
            cand --port 'Port of the first plain MQTT listener; 0 picks a free one [default: 1883]'
            cand --bind 'Address of the first plain MQTT listener [default: 127.0.0.1]'
            cand --tls 'Add a TLS listener (mqtts) with DIR''s ca.crt, server.crt and server.key, as made by `mq certs init`; without DIR, the folder `mq certs` uses by default'
            cand --tls-port 'Port of the TLS listener; 0 picks a free one'
            cand --ws-port 'Add a WebSocket listener (ws://) on this port; 0 picks a free one'
            cand --wss-port 'Add a secure WebSocket listener (wss://) on this port, with the TLS files'
            cand --ws-path 'Serve WebSocket only at this path (MQTT.js uses /mqtt); by default any path is accepted, as Mosquitto does'
            cand --certfile 'Server certificate chain (PEM) instead of DIR/server.crt. Reloaded on SIGHUP'
            cand --keyfile 'Server private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC) instead of DIR/server.key'
            cand --cafile 'CA that client certificates must chain to, instead of DIR/ca.crt. With it, clients may present a certificate; with --require-certificate they must'
            cand --tls-alpn 'ALPN protocol name the TLS listeners offer (repeatable), e.g. `mqtt`'
            cand --sys-interval 'Seconds between $SYS updates; 0 turns them off [default: 10]'
            cand --max-packet-size 'Largest packet accepted, in bytes; larger ones close the connection [default: 1048576]'
            cand --max-inflight-messages 'QoS 1 and 2 messages in flight to one client at a time [default: 20]'
            cand --max-queued-messages 'Messages queued per session beyond those in flight; more are dropped (QoS 0 first) and counted [default: 1000]'
            cand --max-queued-bytes 'Payload bytes queued per session; 0 for no byte limit [default: 0]'
            cand --max-memory 'Bytes of queued, in-flight and retained messages the broker may hold; beyond it new publishes are refused (MQTT 5: 0x97 Quota exceeded; MQTT 3: QoS 0 dropped, QoS 1/2 close the connection unacknowledged) [default: no limit]'
            cand --connect-timeout 'Seconds a new connection has to send CONNECT [default: 10]'
            cand --max-connections 'Most simultaneous connections; further ones are closed at once'
            cand --password-file 'Password file (`user:hash` lines from `mq passwd` or mosquitto_passwd): clients must give a user name and its password, unless --allow-anonymous. Reloaded on SIGHUP'
            cand --acl-file 'ACL file in Mosquitto''s syntax: who may publish, subscribe to and receive which topics (try rules with `mq acl check`). Reloaded on SIGHUP'
            cand --allow-anonymous 'Let clients connect without a user name. Without this flag they may only when every listener is on loopback and there is no password file; `--allow-anonymous false` refuses them everywhere'
            cand --max-keepalive 'Longest keep alive allowed, in seconds: MQTT 5 clients asking for more (or none) are told this as Server Keep Alive; 3.x clients asking for more are refused [default: 65535]'
            cand --max-topic-alias 'Topic aliases an MQTT 5 client may set toward the broker; 0 turns them off [default: 10]'
            cand --refuse-subscribe 'Refuse subscriptions to this topic filter, or to filters it matches, with SUBACK 0x80 "unspecified error" (repeatable)'
            cand --data 'Folder for the store [default: $XDG_DATA_HOME/mq, else ~/.local/share/mq]'
            cand --persistence 'sync: acknowledge only what is on disk; periodic: save every --autosave-interval (a crash loses up to one interval, as Mosquitto''s autosave); off: memory only [default: sync]'
            cand --autosave-interval 'Seconds between saves with --persistence periodic [default: 60]'
            cand --metrics 'Serve the broker''s figures (those of $SYS) for Prometheus at http://ADDR/metrics, e.g. 127.0.0.1:9100'
            cand --max-topic-levels 'Most levels in a topic name or filter: deeper PUBLISHes are refused (MQTT 5 0x90) and deeper subscriptions get SUBACK 0x8F (0x80 in 3.1.1) [default: 128]'
            cand --max-subscriptions 'Most subscriptions one client may hold; more get SUBACK 0x97 Quota exceeded (0x80 in 3.1.1) [default: 10000]'
            cand --check-store 'Report what the store in DIR holds (format version, sessions, queued messages, retained messages), checking every record, then exit. Changes nothing'
            cand --check 'Check the configuration (and the password, ACL and certificate files it names), print its warnings, and exit without starting: 0 if it is usable, 2 if not'
            cand --print-config 'Print an annotated mq.toml with every setting and its default, then exit'
            cand --require-certificate 'Refuse TLS clients that do not present a certificate signed by the CA'
            cand --use-identity-as-username 'The client certificate''s Common Name is the client''s user name, and no password is asked (implies --require-certificate)'
            cand --use-subject-as-username 'The client certificate''s whole subject (`CN=client,O=mq`) is the user name (implies --require-certificate)'
            cand -v 'More log output: -v connections, -vv packets, -vvv everything (or set RUST_LOG)'
            cand --verbose 'More log output: -v connections, -vv packets, -vvv everything (or set RUST_LOG)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mq;pub'= {
            cand -t 'Topic to publish to (or give it in the -L URL)'
            cand --topic 'Topic to publish to (or give it in the -L URL)'
            cand -m 'The message payload'
            cand --message 'The message payload'
            cand -f 'Send the contents of a file as the message'
            cand --file 'Send the contents of a file as the message'
            cand -q 'QoS of the messages'
            cand --qos 'QoS of the messages'
            cand --repeat 'Publish the message this many times'
            cand --repeat-delay 'Seconds to wait between repeats (fractions allowed)'
            cand -h 'Broker host [default: localhost]. (-h is the host, as in mosquitto; help is --help.)'
            cand --host 'Broker host [default: localhost]. (-h is the host, as in mosquitto; help is --help.)'
            cand -p 'Broker port [default: 1883, 8883 with TLS]'
            cand --port 'Broker port [default: 1883, 8883 with TLS]'
            cand -L 'Broker URL: mqtt://, mqtts://, ws:// or wss://[user[:password]@]host[:port][/topic]'
            cand --url 'Broker URL: mqtt://, mqtts://, ws:// or wss://[user[:password]@]host[:port][/topic]'
            cand -i 'Client id [default: mq-pub-/mq-sub- and random letters]'
            cand --id 'Client id [default: mq-pub-/mq-sub- and random letters]'
            cand -I 'Client id prefix; the process id is appended (as mosquitto)'
            cand --id-prefix 'Client id prefix; the process id is appended (as mosquitto)'
            cand -k 'Keep Alive in seconds, 5-65535 [default: 60]'
            cand --keepalive 'Keep Alive in seconds, 5-65535 [default: 60]'
            cand -x 'Session Expiry Interval in seconds (MQTT 5); -1 or ∞ for never [default with -c: never]'
            cand --session-expiry-interval 'Session Expiry Interval in seconds (MQTT 5); -1 or ∞ for never [default with -c: never]'
            cand -V 'MQTT version: 31, 311 or 5 (mqttv31, mqttv311, mqttv5) [default: 311]. 3.1 has no WebSocket'
            cand --protocol-version 'MQTT version: 31, 311 or 5 (mqttv31, mqttv311, mqttv5) [default: 311]. 3.1 has no WebSocket'
            cand -D 'MQTT 5 property for a packet: -D COMMAND PROPERTY VALUE (user-property takes NAME VALUE). COMMAND is connect, publish, subscribe, unsubscribe or will'
            cand --property 'MQTT 5 property for a packet: -D COMMAND PROPERTY VALUE (user-property takes NAME VALUE). COMMAND is connect, publish, subscribe, unsubscribe or will'
            cand -A 'Bind the outgoing connection to this local address (not available: see --help)'
            cand --connect-timeout 'Seconds to wait for the connection (TCP, TLS and CONNACK) [default: 10]'
            cand --profile 'Take defaults from this profile of the config file ($XDG_CONFIG_HOME/mq/config.toml or ~/.config/mq/config.toml); flags given here still win'
            cand -u 'User name'
            cand --username 'User name'
            cand -P 'Password (visible to other users in the process list: prefer the options below)'
            cand --pw 'Password (visible to other users in the process list: prefer the options below)'
            cand --pw-file 'Read the password from the first line of this file'
            cand --pw-env 'Read the password from this environment variable'
            cand --will-topic 'Will topic: the broker publishes the Will there if the connection dies'
            cand --will-payload 'Will payload'
            cand --will-qos 'Will QoS'
            cand --cafile 'Trust the CA certificates in this PEM file (turns TLS on)'
            cand --capath 'Trust the CA certificates (*.pem, *.crt) in this directory (turns TLS on)'
            cand --cert 'Client certificate (PEM), with --key'
            cand --key 'Client private key (PEM), with --cert'
            cand --tls-version 'TLS version: tlsv1.2 or tlsv1.3 [default: both]'
            cand --tls-alpn 'ALPN protocol to offer; may be repeated'
            cand -s 'Read the message from stdin, all of it as one message'
            cand --stdin-file 'Read the message from stdin, all of it as one message'
            cand -l 'Read stdin and send one message per line, on one connection; reconnects after a drop'
            cand --stdin-line 'Read stdin and send one message per line, on one connection; reconnects after a drop'
            cand -n 'Send an empty (null) message'
            cand --null-message 'Send an empty (null) message'
            cand --line-topics 'Like -l, but each line is `TOPIC PAYLOAD` (split at the first space)'
            cand -r 'Retain the message'
            cand --retain 'Retain the message'
            cand -c 'Persistent session: no clean session / clean start (needs -i)'
            cand --disable-clean-session 'Persistent session: no clean session / clean start (needs -i)'
            cand --nodelay 'Disable Nagle''s algorithm (send small packets at once)'
            cand --pw-prompt 'Ask for the password on the terminal, without echo'
            cand --will-retain 'Retain the Will'
            cand --insecure 'Do not check the server certificate''s host name (the chain is still checked)'
            cand --tls-use-os-certs 'Use TLS with the system''s trusted CAs (also the default for mqtts:// and wss://)'
            cand -d 'Print a trace of the MQTT packets on stderr'
            cand --debug 'Print a trace of the MQTT packets on stderr'
            cand --quiet 'Print no errors or notices (the exit code still tells)'
            cand --help 'Print help (-h is the host, as in mosquitto)'
        }
        &'mq;sub'= {
            cand -t 'Topic filter to subscribe to; may be repeated'
            cand --topic 'Topic filter to subscribe to; may be repeated'
            cand -T 'Do not print messages whose topic matches this filter; may be repeated'
            cand --filter-out 'Do not print messages whose topic matches this filter; may be repeated'
            cand -q 'QoS of the subscriptions'
            cand --qos 'QoS of the subscriptions'
            cand -F 'Print each message with this format (mosquitto_sub''s %-codes, @-time codes, \-escapes)'
            cand -C 'Exit after this many messages'
            cand -W 'Exit with code 7 if this many seconds pass first (before -C is reached)'
            cand -U 'Unsubscribe from this filter after subscribing (for persistent sessions); may be repeated'
            cand --unsubscribe 'Unsubscribe from this filter after subscribing (for persistent sessions); may be repeated'
            cand --rh 'MQTT 5 Retain Handling: 0 send retained on subscribe, 1 only for new subscriptions, 2 never'
            cand --sub-id 'MQTT 5 Subscription Identifier for these subscriptions (1-268435455)'
            cand -h 'Broker host [default: localhost]. (-h is the host, as in mosquitto; help is --help.)'
            cand --host 'Broker host [default: localhost]. (-h is the host, as in mosquitto; help is --help.)'
            cand -p 'Broker port [default: 1883, 8883 with TLS]'
            cand --port 'Broker port [default: 1883, 8883 with TLS]'
            cand -L 'Broker URL: mqtt://, mqtts://, ws:// or wss://[user[:password]@]host[:port][/topic]'
            cand --url 'Broker URL: mqtt://, mqtts://, ws:// or wss://[user[:password]@]host[:port][/topic]'
            cand -i 'Client id [default: mq-pub-/mq-sub- and random letters]'
            cand --id 'Client id [default: mq-pub-/mq-sub- and random letters]'
            cand -I 'Client id prefix; the process id is appended (as mosquitto)'
            cand --id-prefix 'Client id prefix; the process id is appended (as mosquitto)'
            cand -k 'Keep Alive in seconds, 5-65535 [default: 60]'
            cand --keepalive 'Keep Alive in seconds, 5-65535 [default: 60]'
            cand -x 'Session Expiry Interval in seconds (MQTT 5); -1 or ∞ for never [default with -c: never]'
            cand --session-expiry-interval 'Session Expiry Interval in seconds (MQTT 5); -1 or ∞ for never [default with -c: never]'
            cand -V 'MQTT version: 31, 311 or 5 (mqttv31, mqttv311, mqttv5) [default: 311]. 3.1 has no WebSocket'
            cand --protocol-version 'MQTT version: 31, 311 or 5 (mqttv31, mqttv311, mqttv5) [default: 311]. 3.1 has no WebSocket'
            cand -D 'MQTT 5 property for a packet: -D COMMAND PROPERTY VALUE (user-property takes NAME VALUE). COMMAND is connect, publish, subscribe, unsubscribe or will'
            cand --property 'MQTT 5 property for a packet: -D COMMAND PROPERTY VALUE (user-property takes NAME VALUE). COMMAND is connect, publish, subscribe, unsubscribe or will'
            cand -A 'Bind the outgoing connection to this local address (not available: see --help)'
            cand --connect-timeout 'Seconds to wait for the connection (TCP, TLS and CONNACK) [default: 10]'
            cand --profile 'Take defaults from this profile of the config file ($XDG_CONFIG_HOME/mq/config.toml or ~/.config/mq/config.toml); flags given here still win'
            cand -u 'User name'
            cand --username 'User name'
            cand -P 'Password (visible to other users in the process list: prefer the options below)'
            cand --pw 'Password (visible to other users in the process list: prefer the options below)'
            cand --pw-file 'Read the password from the first line of this file'
            cand --pw-env 'Read the password from this environment variable'
            cand --will-topic 'Will topic: the broker publishes the Will there if the connection dies'
            cand --will-payload 'Will payload'
            cand --will-qos 'Will QoS'
            cand --cafile 'Trust the CA certificates in this PEM file (turns TLS on)'
            cand --capath 'Trust the CA certificates (*.pem, *.crt) in this directory (turns TLS on)'
            cand --cert 'Client certificate (PEM), with --key'
            cand --key 'Client private key (PEM), with --cert'
            cand --tls-version 'TLS version: tlsv1.2 or tlsv1.3 [default: both]'
            cand --tls-alpn 'ALPN protocol to offer; may be repeated'
            cand -v 'Print the topic before the payload'
            cand --verbose 'Print the topic before the payload'
            cand -N 'Do not end each message with a newline'
            cand -E 'Exit once the subscriptions are acknowledged'
            cand -R 'Do not print retained (stale) messages'
            cand --retained-only 'Print only retained messages; exit at the first message that is not retained'
            cand --remove-retained 'Clear each retained message received (publish an empty retained message to its topic)'
            cand --dry-run 'With --remove-retained: print what would be cleared, clear nothing'
            cand --pretty 'Pretty-print JSON (-F %j/%J, --json)'
            cand --json 'One JSON object per line: topic, qos, retain, properties, received, payload (text if UTF-8, else base64 with "encoding":"base64")'
            cand --nl 'MQTT 5 No Local: do not receive my own publications'
            cand --rap 'MQTT 5 Retain As Published: keep the retain flag of forwarded messages'
            cand -c 'Persistent session: no clean session / clean start (needs -i)'
            cand --disable-clean-session 'Persistent session: no clean session / clean start (needs -i)'
            cand --nodelay 'Disable Nagle''s algorithm (send small packets at once)'
            cand --pw-prompt 'Ask for the password on the terminal, without echo'
            cand --will-retain 'Retain the Will'
            cand --insecure 'Do not check the server certificate''s host name (the chain is still checked)'
            cand --tls-use-os-certs 'Use TLS with the system''s trusted CAs (also the default for mqtts:// and wss://)'
            cand -d 'Print a trace of the MQTT packets on stderr'
            cand --debug 'Print a trace of the MQTT packets on stderr'
            cand --quiet 'Print no errors or notices (the exit code still tells)'
            cand --help 'Print help (-h is the host, as in mosquitto)'
        }
        &'mq;passwd'= {
            cand -H 'Hash type for new passwords'
            cand -I 'PBKDF2 iterations for `$7$` hashes'
            cand --iterations 'PBKDF2 iterations for `$7$` hashes'
            cand -c 'Create a new file, replacing any existing one'
            cand -b 'Batch mode: the password is the third argument'
            cand -D 'Delete the user'
            cand -U 'Hash every plain-text password of a `user:password` file in place'
            cand --mosquitto 'Write Mosquitto''s `$7$` hashes (same as `-H sha512-pbkdf2`)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand verify 'Check a user''s password: exit 0 if right, 8 if wrong or the user is unknown'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mq;passwd;verify'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mq;passwd;help'= {
            cand verify 'Check a user''s password: exit 0 if right, 8 if wrong or the user is unknown'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mq;passwd;help;verify'= {
        }
        &'mq;passwd;help;help'= {
        }
        &'mq;certs'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand init 'Make a CA, a server certificate (localhost, 127.0.0.1, ::1, this host, --san) and a client certificate (CN "client")'
            cand server 'Make a new server certificate signed by the folder''s CA'
            cand client 'Make a client certificate with Common Name NAME, signed by the folder''s CA (NAME.crt and NAME.key)'
            cand show 'Print subject, SANs, validity, issuer and SHA-256 fingerprint of each certificate'
            cand verify 'Check that a certificate chains to a CA and is valid now'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mq;certs;init'= {
            cand --dir 'Folder of the CA and certificates (default: the per-user data folder, see --help)'
            cand --days 'Days the new certificates are valid'
            cand --key-type 'Key algorithm of the new keys'
            cand --san 'One more name or address for the server certificate (repeatable)'
            cand --ca-days 'Days the CA is valid'
            cand --force 'Replace files that exist'
            cand --encrypt-ca-key 'Encrypt the CA key with a passphrase (prompted, or from $MQ_CA_PASSPHRASE)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'mq;certs;server'= {
            cand --dir 'Folder of the CA and certificates (default: the per-user data folder, see --help)'
            cand --days 'Days the new certificates are valid'
            cand --key-type 'Key algorithm of the new keys'
            cand --san 'One more name or address for the certificate (repeatable)'
            cand --force 'Replace files that exist'
            cand --no-default-sans 'Only the --san names, without localhost, 127.0.0.1, ::1 and this host''s name'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'mq;certs;client'= {
            cand --dir 'Folder of the CA and certificates (default: the per-user data folder, see --help)'
            cand --days 'Days the new certificates are valid'
            cand --key-type 'Key algorithm of the new keys'
            cand --force 'Replace files that exist'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'mq;certs;show'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mq;certs;verify'= {
            cand --ca 'The CA certificate(s) to check against (PEM)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mq;certs;help'= {
            cand init 'Make a CA, a server certificate (localhost, 127.0.0.1, ::1, this host, --san) and a client certificate (CN "client")'
            cand server 'Make a new server certificate signed by the folder''s CA'
            cand client 'Make a client certificate with Common Name NAME, signed by the folder''s CA (NAME.crt and NAME.key)'
            cand show 'Print subject, SANs, validity, issuer and SHA-256 fingerprint of each certificate'
            cand verify 'Check that a certificate chains to a CA and is valid now'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mq;certs;help;init'= {
        }
        &'mq;certs;help;server'= {
        }
        &'mq;certs;help;client'= {
        }
        &'mq;certs;help;show'= {
        }
        &'mq;certs;help;verify'= {
        }
        &'mq;certs;help;help'= {
        }
        &'mq;acl'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand check 'Would the broker let this client read or write this topic? Prints `allowed` or `denied` and the rule (FILE:LINE) that decided; exit 0 if allowed, 8 if denied'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mq;acl;check'= {
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'mq;acl;help'= {
            cand check 'Would the broker let this client read or write this topic? Prints `allowed` or `denied` and the rule (FILE:LINE) that decided; exit 0 if allowed, 8 if denied'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mq;acl;help;check'= {
        }
        &'mq;acl;help;help'= {
        }
        &'mq;bench'= {
            cand -h 'Broker host'
            cand --host 'Broker host'
            cand -p 'Broker port'
            cand --port 'Broker port'
            cand -L 'Broker URL instead of -h and -p: mqtt://HOST[:PORT] (plain TCP only)'
            cand --url 'Broker URL instead of -h and -p: mqtt://HOST[:PORT] (plain TCP only)'
            cand -c 'Clients: publishers (pub, fanin, latency, retained), subscribers (sub, fanout), connections (conn). Default 1; fanin 8, fanout 16, conn 100'
            cand --clients 'Clients: publishers (pub, fanin, latency, retained), subscribers (sub, fanout), connections (conn). Default 1; fanin 8, fanout 16, conn 100'
            cand -n 'Messages per publisher (per subscriber for sub); 0: until the duration ends'
            cand --count 'Messages per publisher (per subscriber for sub); 0: until the duration ends'
            cand --duration 'Longest the load may run: 30, 30s, 500ms, 2m'
            cand -q 'Quality of service of publications and subscriptions'
            cand --qos 'Quality of service of publications and subscriptions'
            cand -s 'Payload size in bytes; at least 28 where a subscriber counts the messages'
            cand --size 'Payload size in bytes; at least 28 where a subscriber counts the messages'
            cand -t 'Topic pattern: %i client number (from 1), %c client id, %n message number. Default bench/%i (retained: bench/retained/%n)'
            cand --topic 'Topic pattern: %i client number (from 1), %c client id, %n message number. Default bench/%i (retained: bench/retained/%n)'
            cand --filter 'Subscribers'' topic filter. Default: the topic''s levels before the first %, then # (bench/%i gives bench/#). For conn, each connection subscribes only if given'
            cand -r 'Messages per second over all publishers (default flat out; latency: 1000)'
            cand --rate 'Messages per second over all publishers (default flat out; latency: 1000)'
            cand -V 'MQTT version: 311 or 5'
            cand --protocol-version 'MQTT version: 311 or 5'
            cand --inflight 'QoS 1/2 messages a publisher may have unacknowledged (capped by the broker''s Receive Maximum)'
            cand -i 'Client identifier prefix (default mq-bench-PID-)'
            cand --id-prefix 'Client identifier prefix (default mq-bench-PID-)'
            cand -u 'User name'
            cand --username 'User name'
            cand -P 'Password (or the environment variable MQ_PASSWORD)'
            cand --password 'Password (or the environment variable MQ_PASSWORD)'
            cand -k 'Keep alive in seconds; 0 turns it off'
            cand --keepalive 'Keep alive in seconds; 0 turns it off'
            cand --connect-concurrency 'Connections being set up at once'
            cand --connect-rate 'New connections per second at most (default: as fast as they complete)'
            cand --connect-timeout 'Longest the connect phase may take'
            cand --idle 'conn: how long the connections stay open once all are up'
            cand --drain 'After publishing ends, the longest subscribers wait for the rest. They stop earlier once all arrived; at QoS 0 also after 2 s without a message'
            cand --threads 'Worker threads of the load generator (default: one per CPU)'
            cand --keep-retained 'retained: leave the stored messages on the broker instead of clearing them'
            cand --json 'Print the report as one JSON object (times in seconds, latencies in microseconds)'
            cand --help 'Print help'
        }
        &'mq;help'= {
            cand broker 'Run an MQTT 3.1/3.1.1/5.0 broker (default: mqtt://127.0.0.1:1883)'
            cand pub 'Publish messages (mosquitto_pub). -h is the host; help is --help'
            cand sub 'Subscribe and print messages (mosquitto_sub). -h is the host; help is --help'
            cand passwd 'Manage a password file: create, add, change, delete, upgrade, verify'
            cand certs 'Make and inspect TLS certificates: a CA, server and client certificates'
            cand acl 'Check what an ACL file allows a client'
            cand bench 'Load a broker and measure it: throughput, loss, latency percentiles, connect rate'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mq;help;broker'= {
        }
        &'mq;help;pub'= {
        }
        &'mq;help;sub'= {
        }
        &'mq;help;passwd'= {
            cand verify 'Check a user''s password: exit 0 if right, 8 if wrong or the user is unknown'
        }
        &'mq;help;passwd;verify'= {
        }
        &'mq;help;certs'= {
            cand init 'Make a CA, a server certificate (localhost, 127.0.0.1, ::1, this host, --san) and a client certificate (CN "client")'
            cand server 'Make a new server certificate signed by the folder''s CA'
            cand client 'Make a client certificate with Common Name NAME, signed by the folder''s CA (NAME.crt and NAME.key)'
            cand show 'Print subject, SANs, validity, issuer and SHA-256 fingerprint of each certificate'
            cand verify 'Check that a certificate chains to a CA and is valid now'
        }
        &'mq;help;certs;init'= {
        }
        &'mq;help;certs;server'= {
        }
        &'mq;help;certs;client'= {
        }
        &'mq;help;certs;show'= {
        }
        &'mq;help;certs;verify'= {
        }
        &'mq;help;acl'= {
            cand check 'Would the broker let this client read or write this topic? Prints `allowed` or `denied` and the rule (FILE:LINE) that decided; exit 0 if allowed, 8 if denied'
        }
        &'mq;help;acl;check'= {
        }
        &'mq;help;bench'= {
        }
        &'mq;help;help'= {
        }
    ]
    $completions[$command]
}
