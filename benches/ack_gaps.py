"""Pairs every MQTT request in a loopback pcap with its acknowledgement and reports the slow or missing ones.

Usage: python3 benches/ack_gaps.py CAPTURE.pcap BROKER_PORT [THRESHOLD_SECONDS]
Capture with: tcpdump -i lo -w CAPTURE.pcap -s 300 "tcp port BROKER_PORT"
A request left unanswered counts as a refusal when the broker closed the connection,
and as the client's when the client closed first; only the rest are listed as stalls."""
import bisect, struct, sys
from collections import defaultdict

path, port = sys.argv[1], int(sys.argv[2])
thr = float(sys.argv[3]) if len(sys.argv) > 3 else 0.1
data = open(path, 'rb').read()
magic = struct.unpack('<I', data[:4])[0]
endian = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
nano = magic in (0xa1b23c4d, 0x4d3cb2a1)
linktype = struct.unpack(endian + 'I', data[20:24])[0]
off = 24
streams = defaultdict(list)  # (client_port, dir) -> [(t, bytes)]
seqs = {}
fins = {}
while off + 16 <= len(data):
    ts, tu, incl, _ = struct.unpack(endian + 'IIII', data[off:off+16]); off += 16
    pkt = data[off:off+incl]; off += incl
    t = ts + tu / (1e9 if nano else 1e6)
    if linktype == 1: ip = pkt[14:]
    elif linktype == 113: ip = pkt[16:]
    elif linktype == 276: ip = pkt[20:]
    else: ip = pkt[4:]
    if not ip or ip[0] >> 4 != 4: continue
    ihl = (ip[0] & 15) * 4
    tcp = ip[ihl:]
    sp, dp, seq = struct.unpack('>HHI', tcp[:8])
    doff = (tcp[12] >> 4) * 4
    payload = tcp[doff:]
    if dp == port: key = (sp, 'c2s')
    elif sp == port: key = (dp, 's2c')
    else: continue
    if tcp[13] & 5 and key not in fins: fins[key] = t
    if not payload: continue
    # drop retransmits
    if key in seqs and seq < seqs[key]: continue
    seqs[key] = seq + len(payload)
    streams[key].append((t, payload))

def packets(segs):
    """The MQTT packets of one direction, each with the time its last byte arrived."""
    buf = b''; starts = []; times = []
    out = []
    for t, p in segs:
        starts.append(len(buf)); times.append(t); buf += p
    i = 0
    def time_at(pos):
        return times[bisect.bisect_right(starts, pos) - 1]
    while i < len(buf):
        if i + 2 > len(buf): break
        b0 = buf[i]; j = i + 1; mult = 1; rl = 0
        while j < len(buf):
            c = buf[j]; rl += (c & 127) * mult; mult *= 128; j += 1
            if not c & 128: break
        end = j + rl
        if end > len(buf): break
        out.append((time_at(end - 1), b0, buf[j:end]))
        i = end
    return out

NAMES = {1:'CONNECT',2:'CONNACK',3:'PUBLISH',4:'PUBACK',5:'PUBREC',6:'PUBREL',7:'PUBCOMP',8:'SUBSCRIBE',9:'SUBACK',10:'UNSUBSCRIBE',11:'UNSUBACK',12:'PINGREQ',13:'PINGRESP',14:'DISCONNECT'}
worst = []
closed = []
gone = []
count = 0
for cp in sorted({k[0] for k in streams}):
    c2s = packets(streams.get((cp, 'c2s'), []))
    s2c = packets(streams.get((cp, 's2c'), []))
    pending = {}
    for t, b0, body in c2s:
        typ = b0 >> 4
        if typ == 1: pending[('CONNACK',)] = (t, 'CONNECT')
        elif typ == 3:
            qos = (b0 >> 1) & 3
            if qos:
                tl = struct.unpack('>H', body[:2])[0]
                pid = struct.unpack('>H', body[2+tl:4+tl])[0]
                pending[('PUBACK' if qos == 1 else 'PUBREC', pid)] = (t, 'PUBLISH q%d' % qos)
        elif typ in (6, 8, 10):
            pid = struct.unpack('>H', body[:2])[0]
            pending[({6:'PUBCOMP',8:'SUBACK',10:'UNSUBACK'}[typ], pid)] = (t, NAMES[typ])
        elif typ == 12: pending[('PINGRESP',)] = (t, 'PINGREQ')
    for t, b0, body in s2c:
        typ = b0 >> 4; name = NAMES.get(typ, '?')
        if typ in (2, 13): k = (name,)
        elif typ in (4, 5, 7, 9, 11): k = (name, struct.unpack('>H', body[:2])[0])
        else: continue
        if k in pending:
            t0, req = pending.pop(k); count += 1
            worst.append((t - t0, cp, req, name, t0))
    for k, (t0, req) in pending.items():
        sf = fins.get((cp, 's2c')); cf = fins.get((cp, 'c2s'))
        if sf is not None and sf >= t0 and (cf is None or sf <= cf):
            closed.append((sf - t0, cp, req)); continue
        if cf is not None and cf >= t0:
            gone.append((cf - t0, cp, req)); continue
        worst.append((float('inf'), cp, req, k[0], t0))
worst.sort(reverse=True)
print('unanswered, the broker closed the connection:', len(closed), 'max %.3f s after' % max([c[0] for c in closed] or [0]))
print('unanswered, the client closed first:', len(gone), 'min %.3f s after' % min([c[0] for c in gone] or [0]))
print('pairs', count, 'over %.0f ms:' % (thr*1000), sum(1 for w in worst if w[0] > thr))
for w in worst[:25]:
    if w[0] > thr: print('%.3f s  port %d  %s -> %s at %.3f' % w)
