#!/usr/bin/python3
"""scenario_test: a month of the demo kelurahan through a real hub; precision and recall of its alerts.

    scenario_test.py --hub BIN --ctl BIN --config-dir DIR --workdir DIR --seed N
                     [--month YYYY-MM] [--translate-only] [--keep]

1. gen_scenario.py writes the month's traffic (each agency in its own format)
   and planted.json (what the overlap rules must find, and near-misses they
   must not) into WORKDIR/scenario/.
2. A hub.yaml in WORKDIR: free loopback ports, the data in a temporary
   directory, the agencies of DIR/agencies/ by absolute path, the four rules
   with the unanswered-referral timer on event time (clock_lag_hours: 0).
3. benang-hub starts; every file is published in name order with
   `benangctl publish` (a refusal fails the test with the hub's message).
4. `benangctl overlaps --json` gives the alerts; each is matched to a planted
   finding by its events' (agency, source_id) pairs. Precision = alerts that
   match a planted finding / alerts; recall = planted findings alerted /
   planted. Both must be 1.000, per kind and overall.
5. `benangctl referrals --json` must show every referral thread in the state
   the generator left it (planted unanswered ones still requested, overdue),
   and `benangctl tail --json` the events each agency sent.

--translate-only runs step 1 and checks every file with `benangctl translate`
against the events the generator expects (no hub). Exit status 0 only when
everything matched. See tests/scenario/README.md.
"""
import argparse
import atexit
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RULES = """rules:
  - id: duplicate-immunisation-dose
    kind: duplicate_service
    type: immunisation
    match: [subject, vaccine, dose]
    within_days: 365
  - id: overlapping-training
    kind: overlapping_training
    type: training
    match: [subject, course_category]
    periods_overlap: true
  - id: overlapping-program
    kind: overlapping_program
    type: program
    match: [sector, target_group, area]
    periods_overlap: true
    across_agencies: true
  - id: unanswered-referral
    kind: unanswered_referral
    type: referral
    answer_within_hours: 72
    clock_lag_hours: 0
"""
KINDS = ["duplicate_service", "overlapping_training", "overlapping_program", "unanswered_referral"]

hub_proc = None


def say(msg=""):
    print(msg, flush=True)


def fail(msg):
    print("scenario_test: FAIL: " + msg, file=sys.stderr, flush=True)


def g(d, *names, default=None):
    """A field of a proto3 JSON object, lowerCamelCase or snake_case."""
    for n in names:
        if n in d:
            return d[n]
        parts = n.split("_")
        camel = parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])
        if camel in d:
            return d[camel]
    return default


def default_month():
    """2026-10, the month the scenario was written for, once it lies in the
    past (the hub never lets its event clock run ahead of the wall clock);
    on a machine whose clock is earlier, the last full month."""
    today = dt.datetime.now(dt.timezone.utc).date()
    if today >= dt.date(2026, 11, 8):
        return "2026-10"
    first = today.replace(day=1) - dt.timedelta(days=8)
    return first.strftime("%Y-%m")


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def run(cmd, timeout=120, check=False):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SystemExit(fail_exit("timed out after %ds: %s" % (timeout, " ".join(cmd))))
    if check and r.returncode != 0:
        raise SystemExit(fail_exit("%s exited %d\n%s%s" % (" ".join(cmd), r.returncode, r.stdout[-2000:],
                                                          r.stderr[-2000:])))
    return r


def fail_exit(msg):
    fail(msg)
    return 1


def stop_hub(timeout=15):
    global hub_proc
    p, hub_proc = hub_proc, None
    if p is None or p.poll() is not None:
        return p.returncode if p is not None else None
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        fail("the hub did not stop within %ds of SIGTERM; killing it" % timeout)
        p.kill()
        p.wait()
        return -9


def ndjson(text, what):
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except ValueError as e:
            raise SystemExit(fail_exit("%s: line %d is not JSON (%s): %s" % (what, i, e, line[:200])))
    return out


# ---------------------------------------------------------------------------
# translate-only: every file against the events the generator expects
# ---------------------------------------------------------------------------

def check_translation(ctl, cfg, sdir, manifest):
    problems = []
    n_events = 0
    for f in manifest["files"]:
        r = run([ctl, "--config", cfg, "translate", "--agency", f["agency"], "--adapter", f["adapter"],
                 os.path.join(sdir, f["file"])], timeout=30)
        if r.returncode != 0:
            problems.append("%s: translate failed: %s" % (f["file"], (r.stdout + r.stderr).strip()[-400:]))
            continue
        got = ndjson(r.stdout, f["file"])
        want = f["events"]
        n_events += len(got)
        if len(got) != len(want):
            problems.append("%s: %d events, expected %d" % (f["file"], len(got), len(want)))
            continue
        for i, (e, w) in enumerate(zip(got, want)):
            where = "%s event %d" % (f["file"], i + 1)
            if e.get("type") != w["type"] or g(e, "source_id") != w["source_id"]:
                problems.append("%s: %s %s, expected %s %s" % (where, e.get("type"), g(e, "source_id"),
                                                               w["type"], w["source_id"]))
                continue
            subj = e.get("subject") or {}
            if "nik" in w:
                has_key = bool(g(subj, "subject_key"))
                if has_key != w["nik"]:
                    problems.append("%s: subject key %s, expected %s" % (where, has_key, w["nik"]))
                if not w["nik"] and not (g(subj, "birth_date") and subj.get("village") and subj.get("name")):
                    problems.append("%s: no NIK and not linkable (birth date, village, name): %s" % (where, subj))
            elif subj:
                problems.append("%s: unexpected subject" % where)
            if w["type"] == "immunisation":
                im = e.get("immunisation", {})
                vac = im.get("vaccine", {})
                st = im.get("status", "")
                if vac.get("system") != "http://hl7.org/fhir/sid/cvx" or vac.get("code") != w["vaccine"]:
                    problems.append("%s: vaccine %s, expected CVX %s" % (where, vac, w["vaccine"]))
                if int(g(im, "dose_number", default=0) or 0) != w["dose"]:
                    problems.append("%s: dose %s, expected %d" % (where, g(im, "dose_number"), w["dose"]))
                want_st = {"completed": "IMMUNISATION_STATUS_COMPLETED",
                           "not-done": "IMMUNISATION_STATUS_NOT_DONE"}[w["status"]]
                if st != want_st:
                    problems.append("%s: status %s, expected %s" % (where, st, want_st))
            elif w["type"] == "referral":
                rf = e.get("referral", {})
                if g(rf, "referral_id") != w["referral_id"] or rf.get("status") != w["status"]:
                    problems.append("%s: referral %s %s, expected %s %s" % (
                        where, g(rf, "referral_id"), rf.get("status"), w["referral_id"], w["status"]))
                for k in ("from_agency", "to_agency"):
                    if k in w and g(rf, k) != w[k]:
                        problems.append("%s: %s %s, expected %s" % (where, k, g(rf, k), w[k]))
            elif w["type"] == "training":
                tr = e.get("training", {})
                per = tr.get("period", {})
                st = g(tr, "participant_status", default="")
                if g(tr, "course_category") != w["category"] or per.get("start") != w["start"] \
                        or per.get("end") != w["end"] \
                        or st != "PARTICIPANT_STATUS_" + w["status"].upper():
                    problems.append("%s: training %s %s..%s %s, expected %s %s..%s %s" % (
                        where, g(tr, "course_category"), per.get("start"), per.get("end"), st,
                        w["category"], w["start"], w["end"], w["status"]))
            elif w["type"] == "program":
                pg = e.get("program", {})
                if pg.get("sector") != w["sector"] or g(pg, "target_group") != w["target_group"] \
                        or pg.get("areas") != w["areas"]:
                    problems.append("%s: program %s, expected %s" % (where, pg, w))
    return n_events, problems


# ---------------------------------------------------------------------------
# the run against a hub
# ---------------------------------------------------------------------------

def write_config(workdir, config_dir, data_dir):
    ingest, feed, query = free_ports(3)
    agencies_dir = os.path.join(os.path.abspath(config_dir), "agencies")
    files = sorted(f for f in os.listdir(agencies_dir) if f.endswith(".yaml"))
    if not files:
        raise SystemExit(fail_exit("no agency files in %s" % agencies_dir))
    lines = ["# written by tests/scenario/scenario_test.py", "hub:", "  id: benang-scenario",
             "  data_dir: %s" % data_dir, "  log_level: info",
             "  # loading a month of history: the ack only waits for the page cache",
             "  durability: buffered",
             "endpoints:",
             "  ingest: tcp://127.0.0.1:%d" % ingest,
             "  feed: tcp://127.0.0.1:%d" % feed,
             "  query: tcp://127.0.0.1:%d" % query,
             "agencies:"]
    lines += ["  - file: %s" % os.path.join(agencies_dir, f) for f in files]
    cfg = os.path.join(workdir, "hub.yaml")
    with open(cfg, "w") as fh:
        fh.write("\n".join(lines) + "\n" + RULES)
    return cfg


def start_hub(hub, ctl, cfg, log_path, timeout=30):
    global hub_proc
    log = open(log_path, "w")
    hub_proc = subprocess.Popen([hub, "--config", cfg], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hub_proc.poll() is not None:
            return "the hub exited with status %d before answering" % hub_proc.returncode
        r = run([ctl, "--config", cfg, "--timeout", "500", "status"], timeout=10)
        if r.returncode == 0:
            return None
        time.sleep(0.1)
    return "the hub did not answer `benangctl status` within %ds" % timeout


def hub_log_tail(path, n=40):
    try:
        with open(path) as fh:
            return "".join(fh.readlines()[-n:])
    except OSError:
        return ""


def publish_all(ctl, cfg, sdir, manifest, log_path):
    """Publish in file order; consecutive files of one agency and adapter go
    in one benangctl call. Returns the number of acked events."""
    files = manifest["files"]
    groups, cur = [], []
    for f in files:
        if cur and (cur[-1]["agency"], cur[-1]["adapter"]) == (f["agency"], f["adapter"]) and len(cur) < 40:
            cur.append(f)
        else:
            if cur:
                groups.append(cur)
            cur = [f]
    if cur:
        groups.append(cur)
    acked = 0
    for grp in groups:
        a = grp[0]
        cmd = [ctl, "--config", cfg, "--timeout", "30000", "publish", "--agency", a["agency"],
               "--adapter", a["adapter"]] + [os.path.join(sdir, f["file"]) for f in grp]
        r = run(cmd, timeout=120)
        lines = [ln for ln in r.stdout.splitlines() if ln.startswith("seq=")]
        if r.returncode != 0:
            # which file: benangctl stops at the first refusal, after the acked ones
            done, n = 0, len(lines)
            for f in grp:
                if n >= len(f["events"]):
                    n -= len(f["events"])
                    done += 1
                else:
                    break
            bad = grp[done]["file"] if done < len(grp) else grp[-1]["file"]
            raise SystemExit(fail_exit(
                "the hub refused %s (agency %s, adapter %s):\n%s%s\nhub log:\n%s"
                % (bad, a["agency"], a["adapter"], r.stdout[-1500:], r.stderr[-2000:], hub_log_tail(log_path))))
        want = sum(len(f["events"]) for f in grp)
        dups = [ln for ln in lines if "duplicate" in ln]
        if len(lines) != want or dups:
            raise SystemExit(fail_exit("publishing %s..%s: %d events acked (%d duplicates), expected %d new\n%s"
                                       % (grp[0]["file"], grp[-1]["file"], len(lines), len(dups), want,
                                          r.stdout[-1500:])))
        acked += len(lines)
    return acked, len(groups)


def fetch_alerts(ctl, cfg):
    r = run([ctl, "--config", cfg, "overlaps", "--json", "--limit", "10000"], timeout=60)
    if r.returncode != 0:
        raise SystemExit(fail_exit("benangctl overlaps failed (%d): %s%s" % (r.returncode, r.stdout[-500:],
                                                                           r.stderr[-1000:])))
    return ndjson(r.stdout, "overlaps")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hub", help="benang-hub binary")
    ap.add_argument("--ctl", required=True, help="benangctl binary")
    ap.add_argument("--config-dir", required=True, help="the config/ directory (agencies/*.yaml)")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument("--month", default=None, help="YYYY-MM (default 2026-10 once that is past)")
    ap.add_argument("--translate-only", action="store_true",
                    help="no hub: check every generated file with benangctl translate")
    ap.add_argument("--keep", action="store_true", help="keep the hub's data directory")
    a = ap.parse_args()
    if not a.translate_only and not a.hub:
        ap.error("--hub is required unless --translate-only")
    t0 = time.monotonic()
    month = a.month or default_month()
    workdir = os.path.abspath(a.workdir)
    os.makedirs(workdir, exist_ok=True)
    sdir = os.path.join(workdir, "scenario")

    # 1. generate
    r = run([sys.executable, os.path.join(HERE, "gen_scenario.py"), "--seed", str(a.seed), "--out", sdir,
             "--month", month], timeout=120)
    sys.stdout.write(r.stdout)
    if r.returncode != 0:
        return fail_exit("gen_scenario.py failed:\n" + r.stderr)
    with open(os.path.join(sdir, "manifest.json")) as fh:
        manifest = json.load(fh)
    with open(os.path.join(sdir, "planted.json")) as fh:
        planted = json.load(fh)
    say("generated in %.1fs" % (time.monotonic() - t0))

    data_dir = tempfile.mkdtemp(prefix="benang-scenario-")
    atexit.register(lambda: shutil.rmtree(data_dir, ignore_errors=True) if not a.keep else None)
    cfg = write_config(workdir, a.config_dir, os.path.join(data_dir, "data"))

    r = run([a.ctl, "check-config", cfg], timeout=30)
    if r.returncode != 0:
        return fail_exit("check-config %s: %s%s" % (cfg, r.stdout, r.stderr))

    if a.translate_only:
        n, problems = check_translation(a.ctl, cfg, sdir, manifest)
        for p in problems[:50]:
            fail(p)
        say("translate: %d files, %d events, %d problems" % (len(manifest["files"]), n, len(problems)))
        return 1 if problems or n != manifest["events"] else 0

    # 2-3. hub up, publish
    log_path = os.path.join(workdir, "hub.log")
    atexit.register(stop_hub)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda s, f: (stop_hub(), os._exit(128 + s)))
    for attempt in range(3):
        err = start_hub(a.hub, a.ctl, cfg, log_path)
        if not err or hub_proc is None or hub_proc.poll() is None:
            break
        # it exited: most likely a port taken between free_ports() and the bind
        stop_hub()
        shutil.rmtree(os.path.join(data_dir, "data"), ignore_errors=True)
        cfg = write_config(workdir, a.config_dir, os.path.join(data_dir, "data"))
    if err:
        stop_hub()
        return fail_exit(err + "\nhub log:\n" + hub_log_tail(log_path))
    t1 = time.monotonic()
    acked, calls = publish_all(a.ctl, cfg, sdir, manifest, log_path)
    t2 = time.monotonic()
    say("published %d files (%d events) in %d benangctl calls, %.1fs (%.0f events/s)"
        % (len(manifest["files"]), acked, calls, t2 - t1, acked / max(t2 - t1, 1e-6)))

    # 4. alerts: the overlap alerts are committed with their events; the
    # referral timer runs after each batch: wait until the count settles.
    alerts, last, stable_since = [], -1, time.monotonic()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        alerts = fetch_alerts(a.ctl, cfg)
        if len(alerts) != last:
            last, stable_since = len(alerts), time.monotonic()
        elif time.monotonic() - stable_since >= 1.5:
            break
        time.sleep(0.3)

    r = run([a.ctl, "--config", cfg, "tail", "--json"], timeout=120)
    if r.returncode != 0:
        return fail_exit("benangctl tail failed: " + r.stderr[-1000:])
    log = ndjson(r.stdout, "tail")
    by_seq = {int(e["seq"]): e for e in log}
    r = run([a.ctl, "--config", cfg, "referrals", "--json", "--limit", "10000"], timeout=60)
    if r.returncode != 0:
        return fail_exit("benangctl referrals failed: " + r.stderr[-1000:])
    states = ndjson(r.stdout, "referrals")

    failures = 0

    # the log holds what was sent
    counts = {}
    for e in log:
        if e.get("type") != "alert":
            k = "%s/%s" % (e.get("agency"), e.get("type"))
            counts[k] = counts.get(k, 0) + 1
    want_counts = manifest["events_per_agency_type"]
    for k in sorted(set(counts) | set(want_counts)):
        if counts.get(k, 0) != want_counts.get(k, 0):
            fail("the log holds %d %s events, %d were published" % (counts.get(k, 0), k, want_counts.get(k, 0)))
            failures += 1
    n_alert_events = sum(1 for e in log if e.get("type") == "alert")
    if n_alert_events != len(alerts):
        fail("benangctl overlaps lists %d alerts, the log holds %d alert events" % (len(alerts), n_alert_events))
        failures += 1

    # match alerts to planted findings
    def members_of(alert_ev):
        al = alert_ev.get("alert", {})
        seqs = [int(s) for s in al.get("seqs", [])]
        mem = []
        for s in seqs:
            e = by_seq.get(s)
            if e is not None:
                mem.append((e.get("agency"), g(e, "source_id")))
        if len(mem) != len(seqs):
            ags, sids = al.get("agencies", []), g(al, "source_ids", default=[])
            if len(sids) == len(seqs) and len(ags) == len(sids):
                mem = list(zip(ags, sids))
        return frozenset(mem)

    planted_by_key = {}
    for p in planted["planted"]:
        planted_by_key[(p["kind"], frozenset(tuple(m) for m in p["members"]))] = p
    near_by_key = {(n["kind"], frozenset(tuple(m) for m in n["members"])): n for n in planted["near_misses"]}
    found, fps = {}, []
    for al_ev in alerts:
        al = al_ev.get("alert", {})
        kind = al.get("kind", "?")
        key = (kind, members_of(al_ev))
        p = planted_by_key.get(key)
        if p is None and kind == "unanswered_referral" and g(al, "referral_id"):
            # the thread, whichever of its events the alert names
            for pk, pv in planted_by_key.items():
                if pk[0] == kind and any(s == g(al, "referral_id") for _, s in pv["members"]):
                    p = pv
                    break
        if p is None:
            fps.append((al_ev, "no planted finding has these events"))
        elif p["id"] in found:
            fps.append((al_ev, "a second alert for planted %s" % p["id"]))
        else:
            found[p["id"]] = al_ev
    misses = [p for p in planted["planted"] if p["id"] not in found]

    say("")
    say("%-22s %8s %7s %5s %5s %5s %10s %7s" % ("kind", "planted", "alerts", "TP", "FP", "FN", "precision", "recall"))
    tot = {"planted": 0, "alerts": 0, "tp": 0, "fp": 0, "fn": 0}
    kinds = KINDS + sorted({al.get("alert", {}).get("kind", "?") for al in alerts} - set(KINDS))
    for k in kinds:
        n_pl = sum(1 for p in planted["planted"] if p["kind"] == k)
        n_al = sum(1 for al in alerts if al.get("alert", {}).get("kind") == k)
        tp = sum(1 for pid, al in found.items() if al.get("alert", {}).get("kind") == k)
        fp = sum(1 for al, _ in fps if al.get("alert", {}).get("kind") == k)
        fn = sum(1 for p in misses if p["kind"] == k)
        prec = tp / n_al if n_al else 1.0
        rec = tp / n_pl if n_pl else 1.0
        say("%-22s %8d %7d %5d %5d %5d %10.3f %7.3f" % (k, n_pl, n_al, tp, fp, fn, prec, rec))
        for x, v in (("planted", n_pl), ("alerts", n_al), ("tp", tp), ("fp", fp), ("fn", fn)):
            tot[x] += v
    precision = tot["tp"] / tot["alerts"] if tot["alerts"] else (1.0 if not tot["planted"] else 0.0)
    recall = tot["tp"] / tot["planted"] if tot["planted"] else 1.0
    say("%-22s %8d %7d %5d %5d %5d %10.3f %7.3f" % ("all", tot["planted"], tot["alerts"], tot["tp"], tot["fp"],
                                                   tot["fn"], precision, recall))
    alerted_near = {}
    for al, _ in fps:
        nm = near_by_key.get((al.get("alert", {}).get("kind"), members_of(al)))
        if nm:
            k = "%s: %s" % (nm["kind"], nm["near"])
            alerted_near[k] = alerted_near.get(k, 0) + 1
    say("")
    say("%-62s %7s %8s" % ("near-miss (must not alert)", "planted", "alerted"))
    for k, v in sorted(planted["near_misses_per_kind"].items()):
        say("%-62s %7d %8d" % (k, v, alerted_near.get(k, 0)))
    say("")
    say("precision=%.3f recall=%.3f" % (precision, recall))

    seq_of = {(e.get("agency"), g(e, "source_id")): int(e["seq"]) for e in log if e.get("type") != "alert"}
    for al_ev, why in fps:
        al = al_ev.get("alert", {})
        mem = sorted(members_of(al_ev))
        nm = near_by_key.get((al.get("kind"), frozenset(mem)))
        say("FALSE POSITIVE seq %s %s (%s): %s; events %s%s\n    %s" % (
            al_ev.get("seq"), al.get("kind"), al.get("rule"), why,
            ", ".join("%s %s" % m for m in mem),
            "; this is near-miss %s (%s): %s" % (nm["id"], nm["near"], nm["note"]) if nm else "",
            al.get("message", "")))
    for p in misses:
        parts = []
        keys = set()
        for ag, sid in p["members"]:
            s = seq_of.get((ag, sid))
            ev = by_seq.get(s) if s else None
            sk = g((ev or {}).get("subject") or {}, "subject_key", default="")
            keys.add(sk)
            parts.append("%s %s (seq %s, subject %s)" % (ag, sid, s, sk[:12] or "-"))
        say("MISSED %s %s: %s\n    events: %s" % (p["id"], p["kind"], p["note"], "; ".join(parts)))
        if p["kind"] in ("duplicate_service", "overlapping_training") and len(keys) > 1:
            say("    the events were linked to different people:")
            for ag, sid in p["members"]:
                s = seq_of.get((ag, sid))
                if s:
                    rx = run([a.ctl, "--config", cfg, "explain", str(s)], timeout=30)
                    say("    explain %d: %s" % (s, (rx.stdout + rx.stderr).strip().replace("\n", "\n        ")))

    # how the events sent without a NIK were linked (for the reader)
    no_nik = {(f["agency"], e["source_id"]) for f in manifest["files"] for e in f["events"]
              if e.get("nik") is False}
    methods = {}
    for e in log:
        if (e.get("agency"), g(e, "source_id")) in no_nik:
            link = (e.get("subject") or {}).get("link") or {}
            m = str(link.get("method", "none")).replace("LINK_METHOD_", "").lower()
            methods[m] = methods.get(m, 0) + 1
    say("linkage of the %d events sent without a NIK: %s" % (
        sum(methods.values()), ", ".join("%s %d" % kv for kv in sorted(methods.items()))))

    # 5. the referral threads
    ref_fail = 0
    want_refs = planted["referrals"]
    got = {g(s, "referral_id"): s for s in states}
    for rid, w in sorted(want_refs.items()):
        s = got.get(rid)
        if s is None:
            fail("referral %s (%s) is not listed by benangctl referrals" % (rid, w["role"]))
            ref_fail += 1
            continue
        st, od = s.get("status"), bool(s.get("overdue", False))
        if st != w["status"] or od != w["overdue"] or g(s, "from_agency") != w["from"] \
                or g(s, "to_agency") != w["to"]:
            fail("referral %s (%s): %s %s->%s overdue=%s, expected %s %s->%s overdue=%s" % (
                rid, w["role"], st, g(s, "from_agency"), g(s, "to_agency"), od,
                w["status"], w["from"], w["to"], w["overdue"]))
            ref_fail += 1
    extra = sorted(set(got) - set(want_refs))
    for rid in extra:
        fail("benangctl referrals lists an unknown thread %s" % rid)
        ref_fail += 1
    say("referrals: %d threads listed, %d expected, %d mismatches (planted unanswered: %d requested and overdue)"
        % (len(got), len(want_refs), ref_fail,
           sum(1 for rid, w in want_refs.items() if w["role"] == "planted" and rid in got
               and got[rid].get("status") == "REFERRAL_STATUS_REQUESTED" and got[rid].get("overdue"))))
    failures += ref_fail

    # the hub must still be running, then stop cleanly
    if hub_proc is not None and hub_proc.poll() is not None:
        fail("the hub died during the run (status %d)" % hub_proc.returncode)
        failures += 1
    rc = stop_hub()
    if rc not in (0, None):
        fail("the hub exited with status %s after SIGTERM" % rc)
        failures += 1
    if a.keep:
        say("hub data kept in %s (config %s)" % (data_dir, cfg))
    say("total %.1fs" % (time.monotonic() - t0))
    ok = precision == 1.0 and recall == 1.0 and failures == 0
    if not ok:
        say("hub log (last lines, %s):\n%s" % (log_path, hub_log_tail(log_path, 15)))
        say("scenario_test: FAIL")
        return 1
    say("scenario_test: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
