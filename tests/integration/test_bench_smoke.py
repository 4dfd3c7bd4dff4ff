#!/usr/bin/python3
"""benang-bench end to end on a small load: every phase runs against a real
benang-hub it starts itself, the accounting adds up, and the JSON report
holds a figure for every phase (docs/benchmarks.md says what each means).

This checks that the benchmark measures what it says, not how fast anything
is: speed is for docs/benchmarks.md, never for a test.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

EVENTS = 3000
LAT_RATE = 500
LAT_SECONDS = 1


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(bench, hub, durability, workdir, extra=()):
    run_dir = tempfile.mkdtemp(prefix="bench-" + durability + "-", dir=workdir)
    cmd = [bench, "--hub", hub, "--data-dir", run_dir, "--events", str(EVENTS),
           "--durability", durability, "--latency-rate", str(LAT_RATE),
           "--latency-seconds", str(LAT_SECONDS)] + list(extra)
    if durability == "buffered":  # a key the hub must accept where the bench writes it
        cmd += ["--hub-option", "sync_interval_ms=50"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    try:
        os.rmdir(run_dir)  # the bench empties a directory it was given
    except OSError:
        pass
    if p.returncode != 0:
        fail("%s exited %d:\n%s" % (" ".join(cmd), p.returncode, p.stderr))
    try:
        r = json.loads(p.stdout)
    except ValueError as e:
        fail("the report is not one JSON object (%s):\n%s" % (e, p.stdout))
    return r


def check(r, durability, batch=1):
    def want(cond, what):
        if not cond:
            fail("%s, batch %d: %s; report:\n%s" % (durability, batch, what,
                                                    json.dumps(r, indent=1)))

    want(r["durability"] == durability, "durability reported as %r" % r["durability"])
    want(r["batch"] == batch, "batch reported as %r" % r["batch"])
    want(r["adapter"] == ("canonical-batch" if batch > 1 else "canonical"),
         "adapter reported as %r" % r["adapter"])
    want(r["hub_exit"] == 0, "the hub did not stop cleanly")
    want(r["acked_events"] == EVENTS, "acked %r of %d" % (r["acked_events"], EVENTS))
    for k in ("acked_events_per_s", "latency_p50_ms", "latency_p99_ms", "latency_max_ms",
              "replay_events_per_s", "replay_decoded_events_per_s", "raw_lmdb_puts_per_s",
              "ratio_to_raw_lmdb", "floor_acked_events_per_s", "ratio_to_floor",
              "floor_ratio_to_raw_lmdb"):
        want(isinstance(r[k], (int, float)) and r[k] > 0, "%s is %r" % (k, r[k]))
    want(r["latency_p50_ms"] <= r["latency_p99_ms"] <= r["latency_max_ms"],
         "latency percentiles out of order")
    want(r["latency_lost"] == 0, "%r latency events never reached the feed" % r["latency_lost"])
    sent = LAT_RATE * LAT_SECONDS
    want(r["latency_events"] == sent, "latency events %r, sent %d" % (r["latency_events"], sent))
    # Every event is a new person: no alerts, so the head is what was sent
    # plus the latency phase's warm-up events (at least one).
    head = r["head_seq"]
    want(EVENTS + sent < head <= EVENTS + sent + 50, "head %r after %d events" % (head, EVENTS + sent))
    want(r["replay_events"] == head, "replayed %r of %r" % (r["replay_events"], head))
    # The group commits account for the events: each commit holds at least one.
    want(1 <= r["commits"] <= EVENTS, "commits %r" % r["commits"])
    want(abs(r["mean_group_commit"] * r["commits"] - EVENTS) < r["commits"],
         "mean group commit %r x %r commits is not %d" % (r["mean_group_commit"], r["commits"],
                                                         EVENTS))
    want(r["raw_lmdb_batch"] == int(r["mean_group_commit"] + 0.5),
         "raw LMDB batch %r, mean group commit %r" % (r["raw_lmdb_batch"], r["mean_group_commit"]))
    want(1 <= r["floor_mean_group_commit"] <= EVENTS,
         "floor group commit %r" % r["floor_mean_group_commit"])
    # CPU per event: the hub's and the bench's own, each more than nothing
    # and no more than their cores could give in the phase's time (plus a
    # clock tick or two of each thread, for the rounding of /proc's ticks).
    for k in ("hub_cpu_us_per_event", "bench_cpu_us_per_event"):
        v = r[k]
        want(isinstance(v, (int, float)) and v > 0, "%s is %r" % (k, v))
        if isinstance(v, (int, float)):
            used = v * EVENTS / 1e6
            want(used <= r["throughput_seconds"] * r["cpus"] + 0.2,
                 "%s: %.3f CPU seconds in a %.3f s phase on %d cores"
                 % (k, used, r["throughput_seconds"], r["cpus"]))
    # Per thread: the writer and the ingest thread worked, and the threads
    # add up to no more than the process's figure, and to most of it (a
    # thread that ended within the phase, such as the filter builder just
    # after start, is in the whole only). Two clocks: each thread's schedstat
    # in nanoseconds, the process's stat in clock ticks (10 ms, read at both
    # ends of a phase of a few thousand events: up to 2 ticks / EVENTS off).
    th = r["hub_cpu_us_per_event_by_thread"]
    want(isinstance(th, dict) and th.get("bn-writer", 0) > 0 and th.get("benang-hub", 0) > 0,
         "per-thread CPU %r" % th)
    if isinstance(th, dict) and isinstance(r["hub_cpu_us_per_event"], (int, float)):
        total = r["hub_cpu_us_per_event"]
        tick = 1e6 / os.sysconf("SC_CLK_TCK")  # us
        want(0.5 * total <= sum(th.values()) <= 1.1 * total + 2 * tick / EVENTS,
             "threads add up to %.2f, the hub %r" % (sum(th.values()), total))
    ratio = r["acked_events_per_s"] / r["floor_acked_events_per_s"]
    want(abs(ratio - r["ratio_to_floor"]) < 0.01, "ratio_to_floor %r, computed %.3f"
         % (r["ratio_to_floor"], ratio))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--hub", required=True)
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    for durability in ("sync", "buffered"):
        check(run(a.bench, a.hub, durability, a.workdir), durability)
        print("ok: %s" % durability)
    # Seven events per request (EVENTS is no multiple of 7: each publisher's
    # last request is shorter), the floor splitting the batches too.
    assert EVENTS % 7
    check(run(a.bench, a.hub, "sync", a.workdir, ["--batch", "7"]), "sync", 7)
    print("ok: sync, batches of 7")
    # A usage error is exit 2 with a message naming the option.
    for args, word in ((["--events", "lots"], "events"), (["--hub-option", "nonsense"], "hub-option"),
                       (["--batch", "0"], "batch"), (["--batch", "1001"], "batch"),
                       (["--batch", "4", "--adapter", "canonical-json"], "batch"),
                       (["--ingest", "tcp://127.0.0.1:1", "--feed", "tcp://127.0.0.1:2", "--query",
                         "tcp://127.0.0.1:3", "--hub-option", "a=b"], "hub-option")):
        p = subprocess.run([a.bench] + args, capture_output=True, text=True, timeout=30)
        if p.returncode != 2 or word not in p.stderr:
            fail("%s: exit %d, stderr %r" % (" ".join(args), p.returncode, p.stderr))
    print("ok: usage errors")


if __name__ == "__main__":
    main()
