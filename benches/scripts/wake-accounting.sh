#!/usr/bin/env bash
# How the kernel charges a thread that wakes from sleep: a C loop of 5,000
# rounds of BUSY_US microseconds of work and a 1 ms clock_nanosleep, its own
# thread CPU clock (what `compare` reads for the producer; the process's
# utime + stime agree) against perf's task-clock (time on a CPU only).
#
#   benches/scripts/wake-accounting.sh [BUSY_US ...]     (default: 0 30)
#
# Needs cc and perf. On the 2-core VM of 2026-12-04: BUSY_US 0 gave 93 ms by
# the thread clock and 30 ms of task-clock; 30 gave 215 against 176 ms.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/sleeper.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}
int main(int argc, char **argv) {
    int busy_us = argc > 1 ? atoi(argv[1]) : 0;
    volatile unsigned long spin = 0;
    for (int round = 0; round < 5000; round++) {
        double start = now(CLOCK_MONOTONIC);
        while (now(CLOCK_MONOTONIC) - start < busy_us * 1e-6) spin++;
        struct timespec pause = {0, 1000000};
        clock_nanosleep(CLOCK_MONOTONIC, 0, &pause, 0);
    }
    printf("busy %d us per round: thread clock %.1f ms, work %.1f ms\n", busy_us,
           now(CLOCK_THREAD_CPUTIME_ID) * 1e3, 5000 * busy_us * 1e-3);
    return 0;
}
C
cc -O2 -o "$work/sleeper" "$work/sleeper.c"
for busy in "${@:-0 30}"; do
  for b in $busy; do
    perf stat -e task-clock -o "$work/stat" "$work/sleeper" "$b"
    awk '/task-clock/ { print "  perf task-clock " $1 " ms" }' "$work/stat"
  done
done
