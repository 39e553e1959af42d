#!/usr/bin/env python3
"""Interleaved A/B of two `compare` builds' otlp-rust senders against one receiver.

    benches/scripts/sender-ab.py OLD_COMPARE NEW_COMPARE [--pairs N] [--store decode|count] \
        -- SENDER_ARGS...

Starts one receiver (`NEW_COMPARE --role receiver --store STORE`, two threads), then runs
`--role sender --impl otlp-rust SENDER_ARGS` from each build in turn, N pairs, and prints per
run the process's user + system CPU (`os.wait4`, microsecond resolution), the producer's wall
time per span and the time until everything was delivered (the sender's `result` line).
SENDER_ARGS are those of a sender (`--transport http --spans 1000000`, or `--rate 50000
--duration 5s`, plus `--front native --threads 1 --shape flat --values borrowed
--shutdown-timeout 60`, which are filled in when missing). Quiet machine, nothing compiling.
"""
import json
import os
import subprocess
import sys


def main():
    args = sys.argv[1:]
    if len(args) < 2 or "--" not in args:
        sys.exit(__doc__)
    split = args.index("--")
    head, sender = args[:split], args[split + 1 :]
    builds = {"old": head[0], "new": head[1]}
    pairs, store = 4, "decode"
    rest = head[2:]
    while rest:
        flag, value, rest = rest[0], rest[1], rest[2:]
        if flag == "--pairs":
            pairs = int(value)
        elif flag == "--store":
            store = value
        else:
            sys.exit(f"unknown option {flag}")
    for flag, value in [("--front", "native"), ("--threads", "1"), ("--shape", "flat"),
                        ("--values", "borrowed"), ("--shutdown-timeout", "60")]:
        if flag not in sender:
            sender += [flag, value]
    receiver = subprocess.Popen(
        [builds["new"], "--role", "receiver", "--receiver-threads", "2", "--store", store],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        words = dict(w.split("=", 1) for w in receiver.stdout.readline().split()[1:])
        endpoints = ["--grpc", words["grpc"], "--http", words["http"]]
        runs = {"old": [], "new": []}
        for _ in range(pairs):
            for name in ("old", "new"):
                child = subprocess.Popen(
                    [builds[name], "--role", "sender", "--impl", "otlp-rust", *endpoints, *sender],
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                out = child.stdout.read()
                _, status, usage = os.wait4(child.pid, 0)
                cpu = usage.ru_utime + usage.ru_stime
                line = next((l for l in out.splitlines() if l.startswith("result ")), None)
                if status != 0 or line is None:
                    sys.exit(f"{name}: the sender failed (status {status})")
                result = json.loads(line[len("result "):])
                produced = max(result["produced"], 1)
                producer_ns = (result["produced_ns"] - result["start_ns"]) / produced
                delivered_s = (result["shutdown_ns"] - result["start_ns"]) / 1e9
                runs[name].append(cpu)
                print(f"{name}: cpu {cpu:.3f} s, producer {producer_ns:.0f} ns/span, "
                      f"delivered in {delivered_s:.2f} s", flush=True)
        for name, cpus in runs.items():
            cpus.sort()
            print(f"{name}: cpu median {cpus[len(cpus) // 2]:.3f} s, "
                  f"{cpus[0]:.3f}-{cpus[-1]:.3f} over {len(cpus)} runs")
    finally:
        receiver.stdin.close()
        receiver.terminate()
        receiver.wait()


if __name__ == "__main__":
    main()
