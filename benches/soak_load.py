#!/usr/bin/env python3
"""Mixed MQTT load for benches/soak.sh, bounded by --seconds.

Threads, each with its own paho-mqtt clients:
- churn: connects and leaves again and again, with a Will; MQTT 3.1.1 and 5, clean and
  persistent sessions (a few client ids reused, so sessions resume); every third leaves
  by dropping its socket, so its Will is published;
- publishers: QoS 0, 1 and 2 on soak/data/<n>/<qos> at a steady rate;
- retained: rewrites the retained message of one of 1,000 topics, and clears some;
- subscribers: soak/data/#, soak/retained/+ and the Will topics, reading everything.
Prints counts every minute and at the end.
"""

import argparse
import random
import threading
import time

import paho.mqtt.client as mqtt

counts = {"connects": 0, "abrupt": 0, "published": 0, "received": 0, "retained": 0}
lock = threading.Lock()


def count(key, n=1):
    with lock:
        counts[key] += n


def client(client_id, protocol=mqtt.MQTTv311, clean=True):
    kwargs = {"clean_session": clean} if protocol != mqtt.MQTTv5 else {}
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol, **kwargs)
    return c


def connect(c, port, protocol=mqtt.MQTTv311, clean=True):
    if protocol == mqtt.MQTTv5:
        props = mqtt.Properties(mqtt.PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0 if clean else 60
        c.connect("127.0.0.1", port, keepalive=30, clean_start=clean, properties=props)
    else:
        c.connect("127.0.0.1", port, keepalive=30)


def churn(port, deadline, worker):
    rng = random.Random(worker)
    n = 0
    while time.time() < deadline:
        n += 1
        protocol = mqtt.MQTTv5 if n % 2 else mqtt.MQTTv311
        clean = n % 5 != 0
        client_id = f"churn-{worker}-{n % 7 if not clean else n}"
        c = client(client_id, protocol, clean)
        c.will_set(f"soak/will/{worker}", payload=f"gone {n}", qos=rng.choice([0, 1]), retain=n % 10 == 0)
        try:
            connect(c, port, protocol, clean)
            c.loop_start()
            c.subscribe(f"soak/data/{rng.randrange(8)}/#", qos=rng.choice([0, 1, 2]))
            c.publish(f"soak/data/{rng.randrange(8)}/{n % 3}", b"churn", qos=n % 3)
            time.sleep(rng.uniform(0.02, 0.2))
            count("connects")
            if n % 3 == 0:
                # Leave without DISCONNECT: the broker publishes the Will.
                c.loop_stop()
                c.socket().close()
                count("abrupt")
            else:
                c.disconnect()
                c.loop_stop()
        except OSError:
            time.sleep(0.1)


def publisher(port, deadline, worker, rate):
    c = client(f"publisher-{worker}", mqtt.MQTTv5 if worker % 2 else mqtt.MQTTv311)
    connect(c, port, mqtt.MQTTv5 if worker % 2 else mqtt.MQTTv311)
    c.loop_start()
    payload = bytes(random.Random(worker).randbytes(200))
    n = 0
    while time.time() < deadline:
        qos = n % 3
        info = c.publish(f"soak/data/{n % 8}/{qos}", payload, qos=qos)
        if qos:
            info.wait_for_publish(timeout=5)
        n += 1
        count("published")
        time.sleep(1 / rate)
    c.disconnect()
    c.loop_stop()


def retained(port, deadline, rate):
    c = client("retained-writer")
    connect(c, port)
    c.loop_start()
    rng = random.Random(7)
    while time.time() < deadline:
        topic = f"soak/retained/{rng.randrange(1000)}"
        # One in ten clears the topic's retained message.
        payload = b"" if rng.random() < 0.1 else rng.randbytes(rng.randrange(1, 2000))
        c.publish(topic, payload, qos=rng.choice([0, 1]), retain=True)
        count("retained")
        time.sleep(1 / rate)
    c.disconnect()
    c.loop_stop()


def subscriber(port, deadline, worker, filters):
    c = client(f"subscriber-{worker}", mqtt.MQTTv5)
    c.on_message = lambda *_: count("received")
    connect(c, port, mqtt.MQTTv5)
    c.loop_start()
    for f in filters:
        c.subscribe(f, qos=2)
    while time.time() < deadline:
        time.sleep(0.5)
    c.disconnect()
    c.loop_stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seconds", type=int, default=1800)
    args = parser.parse_args()
    deadline = time.time() + args.seconds
    threads = [threading.Thread(target=churn, args=(args.port, deadline, w)) for w in range(4)]
    threads += [threading.Thread(target=publisher, args=(args.port, deadline, w, 100)) for w in range(2)]
    threads.append(threading.Thread(target=retained, args=(args.port, deadline, 50)))
    threads.append(threading.Thread(target=subscriber, args=(args.port, deadline, 0, ["soak/data/#"])))
    threads.append(
        threading.Thread(target=subscriber, args=(args.port, deadline, 1, ["soak/retained/+", "soak/will/#"]))
    )
    for t in threads:
        t.daemon = True
        t.start()
    while time.time() < deadline:
        time.sleep(min(60, max(0, deadline - time.time())))
        with lock:
            print(f"{time.strftime('%H:%M:%S')} {counts}", flush=True)
    for t in threads:
        t.join(timeout=10)
    with lock:
        print(f"done: {counts}", flush=True)


if __name__ == "__main__":
    main()
