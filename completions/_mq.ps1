
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'mq' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'mq'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'mq' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('broker', 'broker', [CompletionResultType]::ParameterValue, 'Run an MQTT 3.1/3.1.1/5.0 broker (default: mqtt://127.0.0.1:1883)')
            [CompletionResult]::new('pub', 'pub', [CompletionResultType]::ParameterValue, 'Publish messages (mosquitto_pub). -h is the host; help is --help')
            [CompletionResult]::new('sub', 'sub', [CompletionResultType]::ParameterValue, 'Subscribe and print messages (mosquitto_sub). -h is the host; help is --help')
            [CompletionResult]::new('passwd', 'passwd', [CompletionResultType]::ParameterValue, 'Manage a password file: create, add, change, delete, upgrade, verify')
            [CompletionResult]::new('certs', 'certs', [CompletionResultType]::ParameterValue, 'Make and inspect TLS certificates: a CA, server and client certificates')
            [CompletionResult]::new('acl', 'acl', [CompletionResultType]::ParameterValue, 'Check what an ACL file allows a client')
            [CompletionResult]::new('bench', 'bench', [CompletionResultType]::ParameterValue, 'Load a broker and measure it: throughput, loss, latency percentiles, connect rate')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mq;broker' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Configuration file: mq''s TOML (see --print-config) or an existing mosquitto.conf. Flags given on the command line override it')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Configuration file: mq''s TOML (see --print-config) or an existing mosquitto.conf. Flags given on the command line override it')
            [CompletionResult]::new('--convert', '--convert', [CompletionResultType]::ParameterName, 'Print FILE (a mosquitto.conf, or mq.toml) as mq.toml, then exit; what cannot be converted is a warning on stderr naming its line')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log lines as text for people, or one JSON object per line for log shippers')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Port of the first plain MQTT listener; 0 picks a free one [default: 1883]')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port of the first plain MQTT listener; 0 picks a free one [default: 1883]')
            [CompletionResult]::new('--bind', '--bind', [CompletionResultType]::ParameterName, 'Address of the first plain MQTT listener [default: 127.0.0.1]')
            [CompletionResult]::new('--tls', '--tls', [CompletionResultType]::ParameterName, 'Add a TLS listener (mqtts) with DIR''s ca.crt, server.crt and server.key, as made by `mq certs init`; without DIR, the folder `mq certs` uses by default')
            [CompletionResult]::new('--tls-port', '--tls-port', [CompletionResultType]::ParameterName, 'Port of the TLS listener; 0 picks a free one')
            [CompletionResult]::new('--ws-port', '--ws-port', [CompletionResultType]::ParameterName, 'Add a WebSocket listener (ws://) on this port; 0 picks a free one')
            [CompletionResult]::new('--wss-port', '--wss-port', [CompletionResultType]::ParameterName, 'Add a secure WebSocket listener (wss://) on this port, with the TLS files')
            [CompletionResult]::new('--ws-path', '--ws-path', [CompletionResultType]::ParameterName, 'Serve WebSocket only at this path (MQTT.js uses /mqtt); by default any path is accepted, as Mosquitto does')
            [CompletionResult]::new('--certfile', '--certfile', [CompletionResultType]::ParameterName, 'Server certificate chain (PEM) instead of DIR/server.crt. Reloaded on SIGHUP')
            [CompletionResult]::new('--keyfile', '--keyfile', [CompletionResultType]::ParameterName, 'Server private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC) instead of DIR/server.key')
            [CompletionResult]::new('--cafile', '--cafile', [CompletionResultType]::ParameterName, 'CA that client certificates must chain to, instead of DIR/ca.crt. With it, clients may present a certificate; with --require-certificate they must')
            [CompletionResult]::new('--tls-alpn', '--tls-alpn', [CompletionResultType]::ParameterName, 'ALPN protocol name the TLS listeners offer (repeatable), e.g. `mqtt`')
            [CompletionResult]::new('--sys-interval', '--sys-interval', [CompletionResultType]::ParameterName, 'Seconds between $SYS updates; 0 turns them off [default: 10]')
            [CompletionResult]::new('--max-packet-size', '--max-packet-size', [CompletionResultType]::ParameterName, 'Largest packet accepted, in bytes; larger ones close the connection [default: 1048576]')
            [CompletionResult]::new('--max-inflight-messages', '--max-inflight-messages', [CompletionResultType]::ParameterName, 'QoS 1 and 2 messages in flight to one client at a time [default: 20]')
            [CompletionResult]::new('--max-queued-messages', '--max-queued-messages', [CompletionResultType]::ParameterName, 'Messages queued per session beyond those in flight; more are dropped (QoS 0 first) and counted [default: 1000]')
            [CompletionResult]::new('--max-queued-bytes', '--max-queued-bytes', [CompletionResultType]::ParameterName, 'Payload bytes queued per session; 0 for no byte limit [default: 0]')
            [CompletionResult]::new('--max-memory', '--max-memory', [CompletionResultType]::ParameterName, 'Bytes of queued, in-flight and retained messages the broker may hold; beyond it new publishes are refused (MQTT 5: 0x97 Quota exceeded; MQTT 3: QoS 0 dropped, QoS 1/2 close the connection unacknowledged) [default: no limit]')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Seconds a new connection has to send CONNECT [default: 10]')
            [CompletionResult]::new('--max-connections', '--max-connections', [CompletionResultType]::ParameterName, 'Most simultaneous connections; further ones are closed at once')
            [CompletionResult]::new('--password-file', '--password-file', [CompletionResultType]::ParameterName, 'Password file (`user:hash` lines from `mq passwd` or mosquitto_passwd): clients must give a user name and its password, unless --allow-anonymous. Reloaded on SIGHUP')
            [CompletionResult]::new('--acl-file', '--acl-file', [CompletionResultType]::ParameterName, 'ACL file in Mosquitto''s syntax: who may publish, subscribe to and receive which topics (try rules with `mq acl check`). Reloaded on SIGHUP')
            [CompletionResult]::new('--allow-anonymous', '--allow-anonymous', [CompletionResultType]::ParameterName, 'Let clients connect without a user name. Without this flag they may only when every listener is on loopback and there is no password file; `--allow-anonymous false` refuses them everywhere')
            [CompletionResult]::new('--max-keepalive', '--max-keepalive', [CompletionResultType]::ParameterName, 'Longest keep alive allowed, in seconds: MQTT 5 clients asking for more (or none) are told this as Server Keep Alive; 3.x clients asking for more are refused [default: 65535]')
            [CompletionResult]::new('--max-topic-alias', '--max-topic-alias', [CompletionResultType]::ParameterName, 'Topic aliases an MQTT 5 client may set toward the broker; 0 turns them off [default: 10]')
            [CompletionResult]::new('--refuse-subscribe', '--refuse-subscribe', [CompletionResultType]::ParameterName, 'Refuse subscriptions to this topic filter, or to filters it matches, with SUBACK 0x80 "unspecified error" (repeatable)')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'Folder for the store [default: $XDG_DATA_HOME/mq, else ~/.local/share/mq]')
            [CompletionResult]::new('--persistence', '--persistence', [CompletionResultType]::ParameterName, 'sync: acknowledge only what is on disk; periodic: save every --autosave-interval (a crash loses up to one interval, as Mosquitto''s autosave); off: memory only [default: sync]')
            [CompletionResult]::new('--autosave-interval', '--autosave-interval', [CompletionResultType]::ParameterName, 'Seconds between saves with --persistence periodic [default: 60]')
            [CompletionResult]::new('--metrics', '--metrics', [CompletionResultType]::ParameterName, 'Serve the broker''s figures (those of $SYS) for Prometheus at http://ADDR/metrics, e.g. 127.0.0.1:9100')
            [CompletionResult]::new('--max-topic-levels', '--max-topic-levels', [CompletionResultType]::ParameterName, 'Most levels in a topic name or filter: deeper PUBLISHes are refused (MQTT 5 0x90) and deeper subscriptions get SUBACK 0x8F (0x80 in 3.1.1) [default: 128]')
            [CompletionResult]::new('--max-subscriptions', '--max-subscriptions', [CompletionResultType]::ParameterName, 'Most subscriptions one client may hold; more get SUBACK 0x97 Quota exceeded (0x80 in 3.1.1) [default: 10000]')
            [CompletionResult]::new('--check-store', '--check-store', [CompletionResultType]::ParameterName, 'Report what the store in DIR holds (format version, sessions, queued messages, retained messages), checking every record, then exit. Changes nothing')
            [CompletionResult]::new('--check', '--check', [CompletionResultType]::ParameterName, 'Check the configuration (and the password, ACL and certificate files it names), print its warnings, and exit without starting: 0 if it is usable, 2 if not')
            [CompletionResult]::new('--print-config', '--print-config', [CompletionResultType]::ParameterName, 'Print an annotated mq.toml with every setting and its default, then exit')
            [CompletionResult]::new('--require-certificate', '--require-certificate', [CompletionResultType]::ParameterName, 'Refuse TLS clients that do not present a certificate signed by the CA')
            [CompletionResult]::new('--use-identity-as-username', '--use-identity-as-username', [CompletionResultType]::ParameterName, 'The client certificate''s Common Name is the client''s user name, and no password is asked (implies --require-certificate)')
            [CompletionResult]::new('--use-subject-as-username', '--use-subject-as-username', [CompletionResultType]::ParameterName, 'The client certificate''s whole subject (`CN=client,O=mq`) is the user name (implies --require-certificate)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More log output: -v connections, -vv packets, -vvv everything (or set RUST_LOG)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More log output: -v connections, -vv packets, -vvv everything (or set RUST_LOG)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mq;pub' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Topic to publish to (or give it in the -L URL)')
            [CompletionResult]::new('--topic', '--topic', [CompletionResultType]::ParameterName, 'Topic to publish to (or give it in the -L URL)')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'The message payload')
            [CompletionResult]::new('--message', '--message', [CompletionResultType]::ParameterName, 'The message payload')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Send the contents of a file as the message')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Send the contents of a file as the message')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'QoS of the messages')
            [CompletionResult]::new('--qos', '--qos', [CompletionResultType]::ParameterName, 'QoS of the messages')
            [CompletionResult]::new('--repeat', '--repeat', [CompletionResultType]::ParameterName, 'Publish the message this many times')
            [CompletionResult]::new('--repeat-delay', '--repeat-delay', [CompletionResultType]::ParameterName, 'Seconds to wait between repeats (fractions allowed)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Broker host [default: localhost]. (-h is the host, as in mosquitto; help is --help.)')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Broker host [default: localhost]. (-h is the host, as in mosquitto; help is --help.)')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Broker port [default: 1883, 8883 with TLS]')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Broker port [default: 1883, 8883 with TLS]')
            [CompletionResult]::new('-L', '-L ', [CompletionResultType]::ParameterName, 'Broker URL: mqtt://, mqtts://, ws:// or wss://[user[:password]@]host[:port][/topic]')
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Broker URL: mqtt://, mqtts://, ws:// or wss://[user[:password]@]host[:port][/topic]')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Client id [default: mq-pub-/mq-sub- and random letters]')
            [CompletionResult]::new('--id', '--id', [CompletionResultType]::ParameterName, 'Client id [default: mq-pub-/mq-sub- and random letters]')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'Client id prefix; the process id is appended (as mosquitto)')
            [CompletionResult]::new('--id-prefix', '--id-prefix', [CompletionResultType]::ParameterName, 'Client id prefix; the process id is appended (as mosquitto)')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Keep Alive in seconds, 5-65535 [default: 60]')
            [CompletionResult]::new('--keepalive', '--keepalive', [CompletionResultType]::ParameterName, 'Keep Alive in seconds, 5-65535 [default: 60]')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'Session Expiry Interval in seconds (MQTT 5); -1 or ∞ for never [default with -c: never]')
            [CompletionResult]::new('--session-expiry-interval', '--session-expiry-interval', [CompletionResultType]::ParameterName, 'Session Expiry Interval in seconds (MQTT 5); -1 or ∞ for never [default with -c: never]')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'MQTT version: 31, 311 or 5 (mqttv31, mqttv311, mqttv5) [default: 311]. 3.1 has no WebSocket')
            [CompletionResult]::new('--protocol-version', '--protocol-version', [CompletionResultType]::ParameterName, 'MQTT version: 31, 311 or 5 (mqttv31, mqttv311, mqttv5) [default: 311]. 3.1 has no WebSocket')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'MQTT 5 property for a packet: -D COMMAND PROPERTY VALUE (user-property takes NAME VALUE). COMMAND is connect, publish, subscribe, unsubscribe or will')
            [CompletionResult]::new('--property', '--property', [CompletionResultType]::ParameterName, 'MQTT 5 property for a packet: -D COMMAND PROPERTY VALUE (user-property takes NAME VALUE). COMMAND is connect, publish, subscribe, unsubscribe or will')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'Bind the outgoing connection to this local address (not available: see --help)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the connection (TCP, TLS and CONNACK) [default: 10]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Take defaults from this profile of the config file ($XDG_CONFIG_HOME/mq/config.toml or ~/.config/mq/config.toml); flags given here still win')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name')
            [CompletionResult]::new('--username', '--username', [CompletionResultType]::ParameterName, 'User name')
            [CompletionResult]::new('-P', '-P ', [CompletionResultType]::ParameterName, 'Password (visible to other users in the process list: prefer the options below)')
            [CompletionResult]::new('--pw', '--pw', [CompletionResultType]::ParameterName, 'Password (visible to other users in the process list: prefer the options below)')
            [CompletionResult]::new('--pw-file', '--pw-file', [CompletionResultType]::ParameterName, 'Read the password from the first line of this file')
            [CompletionResult]::new('--pw-env', '--pw-env', [CompletionResultType]::ParameterName, 'Read the password from this environment variable')
            [CompletionResult]::new('--will-topic', '--will-topic', [CompletionResultType]::ParameterName, 'Will topic: the broker publishes the Will there if the connection dies')
            [CompletionResult]::new('--will-payload', '--will-payload', [CompletionResultType]::ParameterName, 'Will payload')
            [CompletionResult]::new('--will-qos', '--will-qos', [CompletionResultType]::ParameterName, 'Will QoS')
            [CompletionResult]::new('--cafile', '--cafile', [CompletionResultType]::ParameterName, 'Trust the CA certificates in this PEM file (turns TLS on)')
            [CompletionResult]::new('--capath', '--capath', [CompletionResultType]::ParameterName, 'Trust the CA certificates (*.pem, *.crt) in this directory (turns TLS on)')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Client certificate (PEM), with --key')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Client private key (PEM), with --cert')
            [CompletionResult]::new('--tls-version', '--tls-version', [CompletionResultType]::ParameterName, 'TLS version: tlsv1.2 or tlsv1.3 [default: both]')
            [CompletionResult]::new('--tls-alpn', '--tls-alpn', [CompletionResultType]::ParameterName, 'ALPN protocol to offer; may be repeated')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Read the message from stdin, all of it as one message')
            [CompletionResult]::new('--stdin-file', '--stdin-file', [CompletionResultType]::ParameterName, 'Read the message from stdin, all of it as one message')
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'Read stdin and send one message per line, on one connection; reconnects after a drop')
            [CompletionResult]::new('--stdin-line', '--stdin-line', [CompletionResultType]::ParameterName, 'Read stdin and send one message per line, on one connection; reconnects after a drop')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Send an empty (null) message')
            [CompletionResult]::new('--null-message', '--null-message', [CompletionResultType]::ParameterName, 'Send an empty (null) message')
            [CompletionResult]::new('--line-topics', '--line-topics', [CompletionResultType]::ParameterName, 'Like -l, but each line is `TOPIC PAYLOAD` (split at the first space)')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Retain the message')
            [CompletionResult]::new('--retain', '--retain', [CompletionResultType]::ParameterName, 'Retain the message')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Persistent session: no clean session / clean start (needs -i)')
            [CompletionResult]::new('--disable-clean-session', '--disable-clean-session', [CompletionResultType]::ParameterName, 'Persistent session: no clean session / clean start (needs -i)')
            [CompletionResult]::new('--nodelay', '--nodelay', [CompletionResultType]::ParameterName, 'Disable Nagle''s algorithm (send small packets at once)')
            [CompletionResult]::new('--pw-prompt', '--pw-prompt', [CompletionResultType]::ParameterName, 'Ask for the password on the terminal, without echo')
            [CompletionResult]::new('--will-retain', '--will-retain', [CompletionResultType]::ParameterName, 'Retain the Will')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the server certificate''s host name (the chain is still checked)')
            [CompletionResult]::new('--tls-use-os-certs', '--tls-use-os-certs', [CompletionResultType]::ParameterName, 'Use TLS with the system''s trusted CAs (also the default for mqtts:// and wss://)')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Print a trace of the MQTT packets on stderr')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print a trace of the MQTT packets on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no errors or notices (the exit code still tells)')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (-h is the host, as in mosquitto)')
            break
        }
        'mq;sub' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Topic filter to subscribe to; may be repeated')
            [CompletionResult]::new('--topic', '--topic', [CompletionResultType]::ParameterName, 'Topic filter to subscribe to; may be repeated')
            [CompletionResult]::new('-T', '-T ', [CompletionResultType]::ParameterName, 'Do not print messages whose topic matches this filter; may be repeated')
            [CompletionResult]::new('--filter-out', '--filter-out', [CompletionResultType]::ParameterName, 'Do not print messages whose topic matches this filter; may be repeated')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'QoS of the subscriptions')
            [CompletionResult]::new('--qos', '--qos', [CompletionResultType]::ParameterName, 'QoS of the subscriptions')
            [CompletionResult]::new('-F', '-F ', [CompletionResultType]::ParameterName, 'Print each message with this format (mosquitto_sub''s %-codes, @-time codes, \-escapes)')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Exit after this many messages')
            [CompletionResult]::new('-W', '-W ', [CompletionResultType]::ParameterName, 'Exit with code 7 if this many seconds pass first (before -C is reached)')
            [CompletionResult]::new('-U', '-U ', [CompletionResultType]::ParameterName, 'Unsubscribe from this filter after subscribing (for persistent sessions); may be repeated')
            [CompletionResult]::new('--unsubscribe', '--unsubscribe', [CompletionResultType]::ParameterName, 'Unsubscribe from this filter after subscribing (for persistent sessions); may be repeated')
            [CompletionResult]::new('--rh', '--rh', [CompletionResultType]::ParameterName, 'MQTT 5 Retain Handling: 0 send retained on subscribe, 1 only for new subscriptions, 2 never')
            [CompletionResult]::new('--sub-id', '--sub-id', [CompletionResultType]::ParameterName, 'MQTT 5 Subscription Identifier for these subscriptions (1-268435455)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Broker host [default: localhost]. (-h is the host, as in mosquitto; help is --help.)')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Broker host [default: localhost]. (-h is the host, as in mosquitto; help is --help.)')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Broker port [default: 1883, 8883 with TLS]')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Broker port [default: 1883, 8883 with TLS]')
            [CompletionResult]::new('-L', '-L ', [CompletionResultType]::ParameterName, 'Broker URL: mqtt://, mqtts://, ws:// or wss://[user[:password]@]host[:port][/topic]')
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Broker URL: mqtt://, mqtts://, ws:// or wss://[user[:password]@]host[:port][/topic]')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Client id [default: mq-pub-/mq-sub- and random letters]')
            [CompletionResult]::new('--id', '--id', [CompletionResultType]::ParameterName, 'Client id [default: mq-pub-/mq-sub- and random letters]')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'Client id prefix; the process id is appended (as mosquitto)')
            [CompletionResult]::new('--id-prefix', '--id-prefix', [CompletionResultType]::ParameterName, 'Client id prefix; the process id is appended (as mosquitto)')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Keep Alive in seconds, 5-65535 [default: 60]')
            [CompletionResult]::new('--keepalive', '--keepalive', [CompletionResultType]::ParameterName, 'Keep Alive in seconds, 5-65535 [default: 60]')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'Session Expiry Interval in seconds (MQTT 5); -1 or ∞ for never [default with -c: never]')
            [CompletionResult]::new('--session-expiry-interval', '--session-expiry-interval', [CompletionResultType]::ParameterName, 'Session Expiry Interval in seconds (MQTT 5); -1 or ∞ for never [default with -c: never]')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'MQTT version: 31, 311 or 5 (mqttv31, mqttv311, mqttv5) [default: 311]. 3.1 has no WebSocket')
            [CompletionResult]::new('--protocol-version', '--protocol-version', [CompletionResultType]::ParameterName, 'MQTT version: 31, 311 or 5 (mqttv31, mqttv311, mqttv5) [default: 311]. 3.1 has no WebSocket')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'MQTT 5 property for a packet: -D COMMAND PROPERTY VALUE (user-property takes NAME VALUE). COMMAND is connect, publish, subscribe, unsubscribe or will')
            [CompletionResult]::new('--property', '--property', [CompletionResultType]::ParameterName, 'MQTT 5 property for a packet: -D COMMAND PROPERTY VALUE (user-property takes NAME VALUE). COMMAND is connect, publish, subscribe, unsubscribe or will')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'Bind the outgoing connection to this local address (not available: see --help)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the connection (TCP, TLS and CONNACK) [default: 10]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Take defaults from this profile of the config file ($XDG_CONFIG_HOME/mq/config.toml or ~/.config/mq/config.toml); flags given here still win')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name')
            [CompletionResult]::new('--username', '--username', [CompletionResultType]::ParameterName, 'User name')
            [CompletionResult]::new('-P', '-P ', [CompletionResultType]::ParameterName, 'Password (visible to other users in the process list: prefer the options below)')
            [CompletionResult]::new('--pw', '--pw', [CompletionResultType]::ParameterName, 'Password (visible to other users in the process list: prefer the options below)')
            [CompletionResult]::new('--pw-file', '--pw-file', [CompletionResultType]::ParameterName, 'Read the password from the first line of this file')
            [CompletionResult]::new('--pw-env', '--pw-env', [CompletionResultType]::ParameterName, 'Read the password from this environment variable')
            [CompletionResult]::new('--will-topic', '--will-topic', [CompletionResultType]::ParameterName, 'Will topic: the broker publishes the Will there if the connection dies')
            [CompletionResult]::new('--will-payload', '--will-payload', [CompletionResultType]::ParameterName, 'Will payload')
            [CompletionResult]::new('--will-qos', '--will-qos', [CompletionResultType]::ParameterName, 'Will QoS')
            [CompletionResult]::new('--cafile', '--cafile', [CompletionResultType]::ParameterName, 'Trust the CA certificates in this PEM file (turns TLS on)')
            [CompletionResult]::new('--capath', '--capath', [CompletionResultType]::ParameterName, 'Trust the CA certificates (*.pem, *.crt) in this directory (turns TLS on)')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'Client certificate (PEM), with --key')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Client private key (PEM), with --cert')
            [CompletionResult]::new('--tls-version', '--tls-version', [CompletionResultType]::ParameterName, 'TLS version: tlsv1.2 or tlsv1.3 [default: both]')
            [CompletionResult]::new('--tls-alpn', '--tls-alpn', [CompletionResultType]::ParameterName, 'ALPN protocol to offer; may be repeated')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print the topic before the payload')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print the topic before the payload')
            [CompletionResult]::new('-N', '-N ', [CompletionResultType]::ParameterName, 'Do not end each message with a newline')
            [CompletionResult]::new('-E', '-E ', [CompletionResultType]::ParameterName, 'Exit once the subscriptions are acknowledged')
            [CompletionResult]::new('-R', '-R ', [CompletionResultType]::ParameterName, 'Do not print retained (stale) messages')
            [CompletionResult]::new('--retained-only', '--retained-only', [CompletionResultType]::ParameterName, 'Print only retained messages; exit at the first message that is not retained')
            [CompletionResult]::new('--remove-retained', '--remove-retained', [CompletionResultType]::ParameterName, 'Clear each retained message received (publish an empty retained message to its topic)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'With --remove-retained: print what would be cleared, clear nothing')
            [CompletionResult]::new('--pretty', '--pretty', [CompletionResultType]::ParameterName, 'Pretty-print JSON (-F %j/%J, --json)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'One JSON object per line: topic, qos, retain, properties, received, payload (text if UTF-8, else base64 with "encoding":"base64")')
            [CompletionResult]::new('--nl', '--nl', [CompletionResultType]::ParameterName, 'MQTT 5 No Local: do not receive my own publications')
            [CompletionResult]::new('--rap', '--rap', [CompletionResultType]::ParameterName, 'MQTT 5 Retain As Published: keep the retain flag of forwarded messages')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Persistent session: no clean session / clean start (needs -i)')
            [CompletionResult]::new('--disable-clean-session', '--disable-clean-session', [CompletionResultType]::ParameterName, 'Persistent session: no clean session / clean start (needs -i)')
            [CompletionResult]::new('--nodelay', '--nodelay', [CompletionResultType]::ParameterName, 'Disable Nagle''s algorithm (send small packets at once)')
            [CompletionResult]::new('--pw-prompt', '--pw-prompt', [CompletionResultType]::ParameterName, 'Ask for the password on the terminal, without echo')
            [CompletionResult]::new('--will-retain', '--will-retain', [CompletionResultType]::ParameterName, 'Retain the Will')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Do not check the server certificate''s host name (the chain is still checked)')
            [CompletionResult]::new('--tls-use-os-certs', '--tls-use-os-certs', [CompletionResultType]::ParameterName, 'Use TLS with the system''s trusted CAs (also the default for mqtts:// and wss://)')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Print a trace of the MQTT packets on stderr')
            [CompletionResult]::new('--debug', '--debug', [CompletionResultType]::ParameterName, 'Print a trace of the MQTT packets on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no errors or notices (the exit code still tells)')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (-h is the host, as in mosquitto)')
            break
        }
        'mq;passwd' {
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Hash type for new passwords')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'PBKDF2 iterations for `$7$` hashes')
            [CompletionResult]::new('--iterations', '--iterations', [CompletionResultType]::ParameterName, 'PBKDF2 iterations for `$7$` hashes')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Create a new file, replacing any existing one')
            [CompletionResult]::new('-b', '-b', [CompletionResultType]::ParameterName, 'Batch mode: the password is the third argument')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'Delete the user')
            [CompletionResult]::new('-U', '-U ', [CompletionResultType]::ParameterName, 'Hash every plain-text password of a `user:password` file in place')
            [CompletionResult]::new('--mosquitto', '--mosquitto', [CompletionResultType]::ParameterName, 'Write Mosquitto''s `$7$` hashes (same as `-H sha512-pbkdf2`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check a user''s password: exit 0 if right, 8 if wrong or the user is unknown')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mq;passwd;verify' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mq;passwd;help' {
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check a user''s password: exit 0 if right, 8 if wrong or the user is unknown')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mq;passwd;help;verify' {
            break
        }
        'mq;passwd;help;help' {
            break
        }
        'mq;certs' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Make a CA, a server certificate (localhost, 127.0.0.1, ::1, this host, --san) and a client certificate (CN "client")')
            [CompletionResult]::new('server', 'server', [CompletionResultType]::ParameterValue, 'Make a new server certificate signed by the folder''s CA')
            [CompletionResult]::new('client', 'client', [CompletionResultType]::ParameterValue, 'Make a client certificate with Common Name NAME, signed by the folder''s CA (NAME.crt and NAME.key)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print subject, SANs, validity, issuer and SHA-256 fingerprint of each certificate')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check that a certificate chains to a CA and is valid now')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mq;certs;init' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Folder of the CA and certificates (default: the per-user data folder, see --help)')
            [CompletionResult]::new('--days', '--days', [CompletionResultType]::ParameterName, 'Days the new certificates are valid')
            [CompletionResult]::new('--key-type', '--key-type', [CompletionResultType]::ParameterName, 'Key algorithm of the new keys')
            [CompletionResult]::new('--san', '--san', [CompletionResultType]::ParameterName, 'One more name or address for the server certificate (repeatable)')
            [CompletionResult]::new('--ca-days', '--ca-days', [CompletionResultType]::ParameterName, 'Days the CA is valid')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace files that exist')
            [CompletionResult]::new('--encrypt-ca-key', '--encrypt-ca-key', [CompletionResultType]::ParameterName, 'Encrypt the CA key with a passphrase (prompted, or from $MQ_CA_PASSPHRASE)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'mq;certs;server' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Folder of the CA and certificates (default: the per-user data folder, see --help)')
            [CompletionResult]::new('--days', '--days', [CompletionResultType]::ParameterName, 'Days the new certificates are valid')
            [CompletionResult]::new('--key-type', '--key-type', [CompletionResultType]::ParameterName, 'Key algorithm of the new keys')
            [CompletionResult]::new('--san', '--san', [CompletionResultType]::ParameterName, 'One more name or address for the certificate (repeatable)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace files that exist')
            [CompletionResult]::new('--no-default-sans', '--no-default-sans', [CompletionResultType]::ParameterName, 'Only the --san names, without localhost, 127.0.0.1, ::1 and this host''s name')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'mq;certs;client' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Folder of the CA and certificates (default: the per-user data folder, see --help)')
            [CompletionResult]::new('--days', '--days', [CompletionResultType]::ParameterName, 'Days the new certificates are valid')
            [CompletionResult]::new('--key-type', '--key-type', [CompletionResultType]::ParameterName, 'Key algorithm of the new keys')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace files that exist')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'mq;certs;show' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mq;certs;verify' {
            [CompletionResult]::new('--ca', '--ca', [CompletionResultType]::ParameterName, 'The CA certificate(s) to check against (PEM)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mq;certs;help' {
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Make a CA, a server certificate (localhost, 127.0.0.1, ::1, this host, --san) and a client certificate (CN "client")')
            [CompletionResult]::new('server', 'server', [CompletionResultType]::ParameterValue, 'Make a new server certificate signed by the folder''s CA')
            [CompletionResult]::new('client', 'client', [CompletionResultType]::ParameterValue, 'Make a client certificate with Common Name NAME, signed by the folder''s CA (NAME.crt and NAME.key)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print subject, SANs, validity, issuer and SHA-256 fingerprint of each certificate')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check that a certificate chains to a CA and is valid now')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mq;certs;help;init' {
            break
        }
        'mq;certs;help;server' {
            break
        }
        'mq;certs;help;client' {
            break
        }
        'mq;certs;help;show' {
            break
        }
        'mq;certs;help;verify' {
            break
        }
        'mq;certs;help;help' {
            break
        }
        'mq;acl' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Would the broker let this client read or write this topic? Prints `allowed` or `denied` and the rule (FILE:LINE) that decided; exit 0 if allowed, 8 if denied')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mq;acl;check' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'mq;acl;help' {
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Would the broker let this client read or write this topic? Prints `allowed` or `denied` and the rule (FILE:LINE) that decided; exit 0 if allowed, 8 if denied')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mq;acl;help;check' {
            break
        }
        'mq;acl;help;help' {
            break
        }
        'mq;bench' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Broker host')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Broker host')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Broker port')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Broker port')
            [CompletionResult]::new('-L', '-L ', [CompletionResultType]::ParameterName, 'Broker URL instead of -h and -p: mqtt://HOST[:PORT] (plain TCP only)')
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'Broker URL instead of -h and -p: mqtt://HOST[:PORT] (plain TCP only)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Clients: publishers (pub, fanin, latency, retained), subscribers (sub, fanout), connections (conn). Default 1; fanin 8, fanout 16, conn 100')
            [CompletionResult]::new('--clients', '--clients', [CompletionResultType]::ParameterName, 'Clients: publishers (pub, fanin, latency, retained), subscribers (sub, fanout), connections (conn). Default 1; fanin 8, fanout 16, conn 100')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Messages per publisher (per subscriber for sub); 0: until the duration ends')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Messages per publisher (per subscriber for sub); 0: until the duration ends')
            [CompletionResult]::new('--duration', '--duration', [CompletionResultType]::ParameterName, 'Longest the load may run: 30, 30s, 500ms, 2m')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Quality of service of publications and subscriptions')
            [CompletionResult]::new('--qos', '--qos', [CompletionResultType]::ParameterName, 'Quality of service of publications and subscriptions')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Payload size in bytes; at least 28 where a subscriber counts the messages')
            [CompletionResult]::new('--size', '--size', [CompletionResultType]::ParameterName, 'Payload size in bytes; at least 28 where a subscriber counts the messages')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Topic pattern: %i client number (from 1), %c client id, %n message number. Default bench/%i (retained: bench/retained/%n)')
            [CompletionResult]::new('--topic', '--topic', [CompletionResultType]::ParameterName, 'Topic pattern: %i client number (from 1), %c client id, %n message number. Default bench/%i (retained: bench/retained/%n)')
            [CompletionResult]::new('--filter', '--filter', [CompletionResultType]::ParameterName, 'Subscribers'' topic filter. Default: the topic''s levels before the first %, then # (bench/%i gives bench/#). For conn, each connection subscribes only if given')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Messages per second over all publishers (default flat out; latency: 1000)')
            [CompletionResult]::new('--rate', '--rate', [CompletionResultType]::ParameterName, 'Messages per second over all publishers (default flat out; latency: 1000)')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'MQTT version: 311 or 5')
            [CompletionResult]::new('--protocol-version', '--protocol-version', [CompletionResultType]::ParameterName, 'MQTT version: 311 or 5')
            [CompletionResult]::new('--inflight', '--inflight', [CompletionResultType]::ParameterName, 'QoS 1/2 messages a publisher may have unacknowledged (capped by the broker''s Receive Maximum)')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Client identifier prefix (default mq-bench-PID-)')
            [CompletionResult]::new('--id-prefix', '--id-prefix', [CompletionResultType]::ParameterName, 'Client identifier prefix (default mq-bench-PID-)')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name')
            [CompletionResult]::new('--username', '--username', [CompletionResultType]::ParameterName, 'User name')
            [CompletionResult]::new('-P', '-P ', [CompletionResultType]::ParameterName, 'Password (or the environment variable MQ_PASSWORD)')
            [CompletionResult]::new('--password', '--password', [CompletionResultType]::ParameterName, 'Password (or the environment variable MQ_PASSWORD)')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Keep alive in seconds; 0 turns it off')
            [CompletionResult]::new('--keepalive', '--keepalive', [CompletionResultType]::ParameterName, 'Keep alive in seconds; 0 turns it off')
            [CompletionResult]::new('--connect-concurrency', '--connect-concurrency', [CompletionResultType]::ParameterName, 'Connections being set up at once')
            [CompletionResult]::new('--connect-rate', '--connect-rate', [CompletionResultType]::ParameterName, 'New connections per second at most (default: as fast as they complete)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Longest the connect phase may take')
            [CompletionResult]::new('--idle', '--idle', [CompletionResultType]::ParameterName, 'conn: how long the connections stay open once all are up')
            [CompletionResult]::new('--drain', '--drain', [CompletionResultType]::ParameterName, 'After publishing ends, the longest subscribers wait for the rest. They stop earlier once all arrived; at QoS 0 also after 2 s without a message')
            [CompletionResult]::new('--threads', '--threads', [CompletionResultType]::ParameterName, 'Worker threads of the load generator (default: one per CPU)')
            [CompletionResult]::new('--keep-retained', '--keep-retained', [CompletionResultType]::ParameterName, 'retained: leave the stored messages on the broker instead of clearing them')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the report as one JSON object (times in seconds, latencies in microseconds)')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mq;help' {
            [CompletionResult]::new('broker', 'broker', [CompletionResultType]::ParameterValue, 'Run an MQTT 3.1/3.1.1/5.0 broker (default: mqtt://127.0.0.1:1883)')
            [CompletionResult]::new('pub', 'pub', [CompletionResultType]::ParameterValue, 'Publish messages (mosquitto_pub). -h is the host; help is --help')
            [CompletionResult]::new('sub', 'sub', [CompletionResultType]::ParameterValue, 'Subscribe and print messages (mosquitto_sub). -h is the host; help is --help')
            [CompletionResult]::new('passwd', 'passwd', [CompletionResultType]::ParameterValue, 'Manage a password file: create, add, change, delete, upgrade, verify')
            [CompletionResult]::new('certs', 'certs', [CompletionResultType]::ParameterValue, 'Make and inspect TLS certificates: a CA, server and client certificates')
            [CompletionResult]::new('acl', 'acl', [CompletionResultType]::ParameterValue, 'Check what an ACL file allows a client')
            [CompletionResult]::new('bench', 'bench', [CompletionResultType]::ParameterValue, 'Load a broker and measure it: throughput, loss, latency percentiles, connect rate')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mq;help;broker' {
            break
        }
        'mq;help;pub' {
            break
        }
        'mq;help;sub' {
            break
        }
        'mq;help;passwd' {
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check a user''s password: exit 0 if right, 8 if wrong or the user is unknown')
            break
        }
        'mq;help;passwd;verify' {
            break
        }
        'mq;help;certs' {
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Make a CA, a server certificate (localhost, 127.0.0.1, ::1, this host, --san) and a client certificate (CN "client")')
            [CompletionResult]::new('server', 'server', [CompletionResultType]::ParameterValue, 'Make a new server certificate signed by the folder''s CA')
            [CompletionResult]::new('client', 'client', [CompletionResultType]::ParameterValue, 'Make a client certificate with Common Name NAME, signed by the folder''s CA (NAME.crt and NAME.key)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print subject, SANs, validity, issuer and SHA-256 fingerprint of each certificate')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check that a certificate chains to a CA and is valid now')
            break
        }
        'mq;help;certs;init' {
            break
        }
        'mq;help;certs;server' {
            break
        }
        'mq;help;certs;client' {
            break
        }
        'mq;help;certs;show' {
            break
        }
        'mq;help;certs;verify' {
            break
        }
        'mq;help;acl' {
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Would the broker let this client read or write this topic? Prints `allowed` or `denied` and the rule (FILE:LINE) that decided; exit 0 if allowed, 8 if denied')
            break
        }
        'mq;help;acl;check' {
            break
        }
        'mq;help;bench' {
            break
        }
        'mq;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
