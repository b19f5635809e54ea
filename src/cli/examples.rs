//! The common invocations each command's `--help` ends with (and so its man page's EXAMPLES
//! section). Every line here is a command that works as written, given the files it names.

pub const MQ: &str = "\
Examples:
  mq broker                                     run a broker on mqtt://127.0.0.1:1883
  mq pub -t vdm/123/engineOff -q 2 -m '{\"rpm\":0}'  publish one message at QoS 2
  mq sub -t 'vdm/+/engineOff' -v                print every vehicle's engineOff messages
  mq passwd -c users.pw alice                   create a password file with one user
  mq certs init                                 make a CA, server and client certificates
  mq broker --tls --password-file users.pw      add mqtts:// on 8883; clients must log in

'mq COMMAND --help' shows each command's options and examples.";

pub const BROKER: &str = "\
Examples:
  mq broker                                  127.0.0.1:1883; anonymous clients (local only)
  mq broker -p 0                             any free port; the first line says which
  mq broker --bind 0.0.0.0 --password-file users.pw --acl-file acl.conf
  mq certs init && mq broker --tls           also mqtts:// on 8883 with mq certs' files
  mq broker --ws-port 8080                   also ws:// on 8080, for browsers
  mq broker --persistence off                keep nothing on disk
  mq broker --check-store ~/.local/share/mq  what the store holds, then exit
  kill -HUP $(pidof mq)                      reload certificates, password and ACL files";

pub const PUB: &str = "\
Examples:
  mq pub -t vdm/123/engineOff -q 2 -m '{\"rpm\":0}'  one message at QoS 2
  mq pub -t sensors/kitchen -m 21.5 -r          retained: new subscribers get it at once
  mq pub -t sensors/kitchen -r -n               clear that retained message
  mq pub -t firmware/v2 -f firmware.bin -q 1    a file as the payload
  tail -f app.log | mq pub -t logs/app -l       one message per line, one connection
  mq pub -L mqtts://broker.example/t --cafile ca.crt -u alice --pw-prompt -m hi";

pub const SUB: &str = "\
Examples:
  mq sub -t 'vdm/+/engineOff' -v          topic and payload of every vehicle's engineOff
  mq sub -t 'sensors/#' --json            one JSON object per line, safe for binary payloads
  mq sub -t 'sensors/#' -C 10 -W 30       exit after 10 messages, or with 7 after 30 seconds
  mq sub -t 'sensors/#' --retained-only --remove-retained   clear the retained messages
  mq sub -t alerts -q 1 -c -i ops         persistent session: get what was missed on return
  mq sub -L mqtts://broker.example/alerts --cafile ca.crt -u ops --pw-prompt";

pub const PASSWD: &str = "\
Examples:
  mq passwd -c users.pw alice          create the file with one user (asks the password)
  mq passwd users.pw bob               add bob or change his password
  mq passwd -b users.pw carol s3cret   batch mode: the password on the command line
  mq passwd --mosquitto users.pw dave  a $7$ hash that Mosquitto can read too
  mq passwd -D users.pw bob            delete bob
  mq passwd -U plain.txt               hash a plain-text user:password file in place
  mq passwd verify users.pw alice      exit 0 if the password is right, 8 if not";

pub const CERTS: &str = "\
Examples:
  mq certs init                          CA, server and client certificates (see --dir)
  mq certs init --dir certs --san broker.example
  mq certs client alice                  alice.crt and alice.key, Common Name alice
  mq certs show ~/.local/share/mq/certs/server.crt
  mq certs verify --ca ca.crt server.crt";

pub const ACL: &str = "\
Examples:
  mq acl check acl.conf alice client1 sensors/kitchen write
  mq acl check acl.conf - client1 'sensors/#' read    may an anonymous client subscribe?";

pub const BENCH: &str = "\
Examples:
  mq bench pub -c 4 -n 100000                 4 publishers, flat out
  mq bench fanin -c 8 -q 1 -n 10000           8 publishers -> 1 subscriber: loss, order
  mq bench fanout -c 16 -q 1                  1 publisher -> 16 subscribers
  mq bench latency --rate 1000 -q 1           p50/p90/p99/p99.9/max at 1000 msg/s
  mq bench conn -c 1000 --idle 30s            a connection storm, then 30 s idle";
