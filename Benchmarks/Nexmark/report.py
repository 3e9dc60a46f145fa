#!/usr/bin/env python3
"""Summarises a results directory of run.sh (runs.jsonl, meta.json).

Prints a Markdown table and writes report.md, report.json and chart.svg (a
hand-written SVG bar chart of rows read/s per query and engine) into the directory.
Figures are medians over the repetitions.

    python3 report.py RESULTS_DIR
"""
import json
import os
import statistics
import sys

ENGINES = ["floe", "flink-rocksdb", "flink-hashmap"]
LABEL = {"floe": "Floe", "flink-rocksdb": "Flink RocksDB", "flink-hashmap": "Flink heap"}
COLOR = {"floe": "#1f77b4", "flink-rocksdb": "#d62728", "flink-hashmap": "#ff7f0e"}


def med(xs):
    xs = [x for x in xs if isinstance(x, (int, float))]
    return statistics.median(xs) if xs else None


def f_rate(x):
    if x is None:
        return "–"
    if x >= 1e6:
        return "%.2fM" % (x / 1e6)
    if x >= 1e3:
        return "%.1fk" % (x / 1e3)
    return "%.0f" % x


def f_num(x, fmt="%.0f"):
    return "–" if x is None else fmt % x


def summarise(rows):
    """query -> engine -> medians."""
    out = {}
    for r in rows:
        if r.get("kind", "run") != "run" or r.get("error"):
            continue
        q, e = r.get("query"), r.get("engine")
        d = out.setdefault(q, {}).setdefault(e, {"runs": []})
        d["runs"].append(r)
    for q, per in out.items():
        for e, d in per.items():
            runs = d["runs"]
            d["n"] = len(runs)
            d["events_per_sec"] = med(r.get("events_per_sec") for r in runs)
            d["events_per_sec_min"] = min((r["events_per_sec"] for r in runs if r.get("events_per_sec")), default=None)
            d["events_per_sec_max"] = max((r["events_per_sec"] for r in runs if r.get("events_per_sec")), default=None)
            d["run_seconds"] = med(r.get("run_seconds") for r in runs)
            d["events_read_per_sec"] = med(r.get("events_read_per_sec") for r in runs)
            d["events_read"] = runs[0].get("events_read")
            d["events"] = runs[0].get("events")
            if e == "floe":
                d["ckpt_p50_ms"] = med(r.get("latency_p50_ms") for r in runs)
                d["ckpt_p99_ms"] = med(r.get("latency_p99_ms") for r in runs)
                d["state_bytes"] = med(r.get("state_bytes") for r in runs)
            else:
                d["ckpt_p50_ms"] = med(r.get("checkpoint_p50_ms") for r in runs)
                d["ckpt_p99_ms"] = med(r.get("checkpoint_p99_ms") for r in runs)
                d["checkpoints"] = med(r.get("checkpoints_completed") for r in runs)
                d["state_bytes"] = med(r.get("state_bytes") for r in runs)
                d["jvm_start_seconds"] = med(r.get("jvm_start_seconds") for r in runs)
                d["plan_submit_seconds"] = med(r.get("plan_submit_seconds") for r in runs)
                d["spawn_to_running_seconds"] = med(r.get("spawn_to_running_seconds") for r in runs)
            del d["runs"]
    return out


def recoveries(rows):
    rec = {}
    for r in rows:
        if r.get("kind") == "recovery":
            rec.setdefault(r.get("query"), {})[r.get("engine")] = r
    return rec


def rows_rate(summary, q, e):
    """Rows of the query's streams read per second: Floe's events_per_sec is that already."""
    x = summary.get(q, {}).get(e, {})
    return x.get("events_per_sec") if e == "floe" else x.get("events_read_per_sec")


def svg_chart(summary, queries):
    w_bar, gap, left, top, height = 18, 22, 70, 30, 260
    engines = [e for e in ENGINES if any(e in summary.get(q, {}) for q in queries)]
    group = w_bar * max(len(engines), 1) + gap
    width = left + group * len(queries) + 160
    vals = [rows_rate(summary, q, e) for q in queries for e in engines if rows_rate(summary, q, e)]
    vmax = max(vals) if vals else 1.0
    s = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">'
         % (width, top + height + 50),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="18" font-size="13">Nexmark rows read/s (median), higher is better</text>' % left]
    for i in range(5):
        v = vmax * i / 4
        y = top + height - height * i / 4
        s.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (left, y, left + group * len(queries), y))
        s.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (left - 4, y + 4, f_rate(v)))
    for qi, q in enumerate(queries):
        x0 = left + qi * group + gap / 2
        for ei, e in enumerate(engines):
            v = rows_rate(summary, q, e)
            if not v:
                continue
            h = height * v / vmax
            s.append('<rect x="%.1f" y="%.1f" width="%d" height="%.1f" fill="%s"><title>%s %s: %s rows/s</title></rect>'
                     % (x0 + ei * w_bar, top + height - h, w_bar - 2, h, COLOR[e], q, LABEL[e], f_rate(v)))
        s.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
                 % (x0 + w_bar * len(engines) / 2, top + height + 16, q))
    for ei, e in enumerate(engines):
        y = top + 10 + ei * 18
        x = left + group * len(queries) + 15
        s.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/>' % (x, y, COLOR[e]))
        s.append('<text x="%d" y="%d">%s</text>' % (x + 16, y + 10, LABEL[e]))
    s.append("</svg>")
    return "\n".join(s)


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "."
    rows = [json.loads(l) for l in open(os.path.join(d, "runs.jsonl")) if l.strip()]
    meta = {}
    if os.path.exists(os.path.join(d, "meta.json")):
        meta = json.load(open(os.path.join(d, "meta.json")))
    summary = summarise(rows)
    rec = recoveries(rows)
    order = (meta.get("queries") or "").split() or sorted(summary)
    queries = [q for q in order if q in summary or q in rec]

    L = []
    L.append("# Nexmark: Floe and Apache Flink %s" % meta.get("flink_version", ""))
    L.append("")
    L.append("%s events (generator: %s, seed %s), %s repetition(s), %s cores, parallelism 2, "
             "checkpoints/barriers every 1 s; load average at start %s; %s."
             % (meta.get("events"), meta.get("generator"), meta.get("seed"), meta.get("repeat"), meta.get("cores"),
                meta.get("loadavg_start"), meta.get("date")))
    if not meta.get("floe_available", 1):
        L.append("")
        L.append("**Floe column skipped**: %s has no `nexmark run` command (yet)." % meta.get("floe"))
    L.append("")
    L.append("## Throughput (rows read per second over the job's own runtime, median)")
    L.append("")
    L.append("Both engines read only the streams the query names (q0, q1, q2, q5, q7: bids; q3, q8: persons and "
             "auctions; q4, q9: auctions and bids), so the rates are rows of those streams read per second of the "
             "job's own runtime, and the ratio compares like with like. The last column is Flink's rate over all "
             "events of the data set, as Nexmark's single-source setup counts them. Checkpoint columns: Flink's "
             "checkpoint end-to-end durations; Floe's barrier-to-commit latency p50/p99.")
    L.append("")
    L.append("| query | Floe | Flink RocksDB | Flink heap | Floe ÷ better Flink | ckpt p50/p99 ms Floe | RocksDB | heap | Flink all events/s RocksDB / heap |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for q in queries:
        s = summary.get(q, {})
        fl = s.get("floe", {}).get("events_per_sec")
        # Floe's figure is already rows read per second of the pipeline run.
        fr = s.get("flink-rocksdb", {}).get("events_read_per_sec")
        fh = s.get("flink-hashmap", {}).get("events_read_per_sec")
        best = max([x for x in (fr, fh) if x] or [0]) or None
        ratio = "%.2f×" % (fl / best) if fl and best else "–"

        def ck(e):
            x = s.get(e, {})
            if x.get("ckpt_p50_ms") is None:
                return "–"
            return "%s / %s" % (f_num(x.get("ckpt_p50_ms")), f_num(x.get("ckpt_p99_ms")))
        rd = "%s / %s (%s rows read)" % (f_rate(s.get("flink-rocksdb", {}).get("events_per_sec")),
                                         f_rate(s.get("flink-hashmap", {}).get("events_per_sec")),
                                         (s.get("flink-rocksdb") or s.get("flink-hashmap") or {}).get("events_read", "–"))
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |"
                 % (q, f_rate(fl), f_rate(fr), f_rate(fh), ratio, ck("floe"), ck("flink-rocksdb"), ck("flink-hashmap"), rd))
    L.append("")
    L.append("## Flink start-up, apart from the throughput (seconds, median)")
    L.append("")
    L.append("| query | backend | JVM + PyFlink start | planning + submission | spawn → job RUNNING | job runtime | checkpoints | state bytes (max over checkpoints) |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|")
    for q in queries:
        for e in ("flink-rocksdb", "flink-hashmap"):
            x = summary.get(q, {}).get(e)
            if not x:
                continue
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s |"
                     % (q, e[6:], f_num(x.get("jvm_start_seconds"), "%.1f"), f_num(x.get("plan_submit_seconds"), "%.1f"),
                        f_num(x.get("spawn_to_running_seconds"), "%.1f"), f_num(x.get("run_seconds"), "%.1f"),
                        f_num(x.get("checkpoints")), f_num(x.get("state_bytes"))))
    if rec:
        L.append("")
        L.append("## Recovery after kill -9 (seconds from the restart's spawn)")
        L.append("")
        L.append("Flink's times include the new JVM's start and the job's planning and submission (see above); "
                 "RUNNING → checkpoint is the restore plus the first new checkpoint. Floe: from opening the store "
                 "to the rerun's first new commit (its JSON), and the rerun's total wall time, process start included.")
        L.append("")
        L.append("| query | engine | killed at | → RUNNING | → first new checkpoint/commit | RUNNING → checkpoint | restart total | note |")
        L.append("|---|---|---:|---:|---:|---:|---:|---|")
        for q in queries:
            for e in ENGINES:
                r = rec.get(q, {}).get(e)
                if not r:
                    continue
                first = r.get("restart_to_first_checkpoint_seconds")
                if e == "floe":
                    raw = r.get("restart_to_first_commit_raw") or None
                    try:
                        first = float(raw) if raw is not None else None
                    except ValueError:
                        first = raw
                run_s = r.get("restart_to_running_seconds")
                gap = (first - run_s) if isinstance(first, (int, float)) and isinstance(run_s, (int, float)) else None
                L.append("| %s | %s | %s | %s | %s | %s | %s | %s |"
                         % (q, LABEL[e], f_num(r.get("killed_at_seconds"), "%.1f"),
                            f_num(run_s, "%.1f"),
                            first if isinstance(first, str) else f_num(first, "%.2f" if e == "floe" else "%.1f"), f_num(gap, "%.1f"),
                            f_num(r.get("restart_total_seconds"), "%.1f"),
                            r.get("error") or r.get("status") or ("restored chk-%s" % r.get("restore_checkpoint_id")
                                                                  if r.get("restore_checkpoint_id") else "")))
    md = "\n".join(L) + "\n"
    print(md)
    with open(os.path.join(d, "report.md"), "w") as f:
        f.write(md)
    with open(os.path.join(d, "report.json"), "w") as f:
        json.dump({"meta": meta, "summary": summary, "recovery": rec}, f, indent=1)
    with open(os.path.join(d, "chart.svg"), "w") as f:
        f.write(svg_chart(summary, [q for q in queries if q in summary]))


if __name__ == "__main__":
    main()
