#!/usr/bin/env python3
"""Nexmark (and the seeds' views) on Apache Flink (PyFlink, local mini cluster).

Subcommands:

  prepare --csv DIR --out FDIR
      Copies the header-line CSVs (person.csv, auction.csv, bid.csv, or orders.csv /
      payments.csv of the seeds) into FDIR/<stream>/part-<i>.csv without the header
      (Flink's csv format has no skip-header option), dealt round-robin into
      --parts files (default 2) so that both source subtasks read and every part
      stays in event-time order. Writes FDIR/counts.json (rows per stream).

  run --query qN --data FDIR --backend rocksdb|hashmap --ckpt-dir DIR [--restore PATH]
      Runs one query as one Flink job (this process starts the JVM and its mini
      cluster), prints progress lines {"event": ...} and one final line
      {"event": "result", ...} with the figures. Meant to be spawned in its own
      process group so that it can be killed (kill -9) with its JVM.

  recover --query qN --data FDIR --backend B --ckpt-dir DIR [--kill-after N]
      Spawns `run`, kills its process group with SIGKILL after N completed
      checkpoints, spawns `run --restore <latest retained checkpoint>` and prints
      one JSON line: time from spawn to job RUNNING and to the first new completed
      checkpoint after the restart.

The SQL is the public Nexmark query text of nexmark-flink (q0..q9 without q6,
which Flink SQL does not support), adapted only in table and column names
(snake_case columns, `date_time` for dateTime/customTime). The sinks are
blackhole tables, as nexmark-flink's.
"""
import argparse
import csv
import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

T_SPAWN = time.time()

WATERMARK = "WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND"

SOURCES = {
    "person": """
CREATE TABLE person (
  id BIGINT, name VARCHAR, email_address VARCHAR, credit_card VARCHAR,
  city VARCHAR, state VARCHAR, date_time TIMESTAMP(3), extra VARCHAR,
  {wm}
) WITH ({src})""",
    "auction": """
CREATE TABLE auction (
  id BIGINT, item_name VARCHAR, description VARCHAR, initial_bid BIGINT, reserve BIGINT,
  date_time TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR,
  {wm}
) WITH ({src})""",
    "bid": """
CREATE TABLE bid (
  auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
  date_time TIMESTAMP(3), extra VARCHAR,
  {wm}
) WITH ({src})""",
    # The seeds' streams (`floe log generate`): eo_orders(order_id, category, amount,
    # event_time), eo_payments(payment_id, order_id, status, paid_at).
    "orders": """
CREATE TABLE orders (
  order_id BIGINT, category VARCHAR, amount DOUBLE, event_time TIMESTAMP(3),
  WATERMARK FOR event_time AS event_time - INTERVAL '4' SECOND
) WITH ({src})""",
    "payments": """
CREATE TABLE payments (
  payment_id BIGINT, order_id BIGINT, status VARCHAR, paid_at TIMESTAMP(3)
) WITH ({src})""",
}

# name -> (streams read, sink DDL, INSERT statement)
QUERIES = {
    "q0": (["bid"], "nexmark_q0 (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP(3), extra VARCHAR)",
           "INSERT INTO nexmark_q0 SELECT auction, bidder, price, date_time, extra FROM bid"),
    "q1": (["bid"], "nexmark_q1 (auction BIGINT, bidder BIGINT, price DECIMAL(23, 3), date_time TIMESTAMP(3), extra VARCHAR)",
           "INSERT INTO nexmark_q1 SELECT auction, bidder, 0.908 * price AS price, date_time, extra FROM bid"),
    "q2": (["bid"], "nexmark_q2 (auction BIGINT, price BIGINT)",
           "INSERT INTO nexmark_q2 SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0"),
    "q3": (["auction", "person"], "nexmark_q3 (name VARCHAR, city VARCHAR, state VARCHAR, id BIGINT)",
           """INSERT INTO nexmark_q3
SELECT P.name, P.city, P.state, A.id
FROM auction AS A INNER JOIN person AS P ON A.seller = P.id
WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')"""),
    "q4": (["auction", "bid"], "nexmark_q4 (id BIGINT, final BIGINT)",
           """INSERT INTO nexmark_q4
SELECT Q.category, AVG(Q.final)
FROM (
  SELECT MAX(B.price) AS final, A.category
  FROM auction A, bid B
  WHERE A.id = B.auction AND B.date_time BETWEEN A.date_time AND A.expires
  GROUP BY A.id, A.category
) Q
GROUP BY Q.category"""),
    "q5": (["bid"], "nexmark_q5 (auction BIGINT, num BIGINT)",
           """INSERT INTO nexmark_q5
SELECT AuctionBids.auction, AuctionBids.num
FROM (
  SELECT auction, COUNT(*) AS num, window_start AS starttime, window_end AS endtime
  FROM TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
  GROUP BY auction, window_start, window_end
) AS AuctionBids
JOIN (
  SELECT MAX(CountBids.num) AS maxn, CountBids.starttime, CountBids.endtime
  FROM (
    SELECT COUNT(*) AS num, window_start AS starttime, window_end AS endtime
    FROM TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
    GROUP BY auction, window_start, window_end
  ) AS CountBids
  GROUP BY CountBids.starttime, CountBids.endtime
) AS MaxBids
ON AuctionBids.starttime = MaxBids.starttime AND AuctionBids.endtime = MaxBids.endtime
   AND AuctionBids.num >= MaxBids.maxn"""),
    "q7": (["bid"], "nexmark_q7 (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP(3), extra VARCHAR)",
           """INSERT INTO nexmark_q7
SELECT B.auction, B.bidder, B.price, B.date_time, B.extra
FROM bid B
JOIN (
  SELECT MAX(price) AS maxprice, window_end AS date_time
  FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '10' SECOND))
  GROUP BY window_start, window_end
) B1
ON B.price = B1.maxprice
WHERE B.date_time BETWEEN B1.date_time - INTERVAL '10' SECOND AND B1.date_time"""),
    "q8": (["person", "auction"], "nexmark_q8 (id BIGINT, name VARCHAR, stime TIMESTAMP(3))",
           """INSERT INTO nexmark_q8
SELECT P.id, P.name, P.starttime
FROM (
  SELECT id, name, window_start AS starttime, window_end AS endtime
  FROM TABLE(TUMBLE(TABLE person, DESCRIPTOR(date_time), INTERVAL '10' SECOND))
  GROUP BY id, name, window_start, window_end
) P
JOIN (
  SELECT seller, window_start AS starttime, window_end AS endtime
  FROM TABLE(TUMBLE(TABLE auction, DESCRIPTOR(date_time), INTERVAL '10' SECOND))
  GROUP BY seller, window_start, window_end
) A
ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime"""),
    "q9": (["auction", "bid"],
           """nexmark_q9 (id BIGINT, item_name VARCHAR, description VARCHAR, initial_bid BIGINT, reserve BIGINT,
  date_time TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR,
  auction BIGINT, bidder BIGINT, price BIGINT, bid_date_time TIMESTAMP(3), bid_extra VARCHAR)""",
           """INSERT INTO nexmark_q9
SELECT id, item_name, description, initial_bid, reserve, date_time, expires, seller, category, extra,
       auction, bidder, price, bid_date_time, bid_extra
FROM (
  SELECT A.*, B.auction, B.bidder, B.price, B.date_time AS bid_date_time, B.extra AS bid_extra,
         ROW_NUMBER() OVER (PARTITION BY A.id ORDER BY B.price DESC, B.date_time ASC) AS rownum
  FROM auction A, bid B
  WHERE A.id = B.auction AND B.date_time BETWEEN A.date_time AND A.expires
)
WHERE rownum <= 1"""),
    # The seeds' three views (Sources/FloeDataflow/Views/EoViews.swift).
    "eo_order_revenue": (["orders"], "eo_order_revenue (category VARCHAR, order_count BIGINT, total_revenue DOUBLE, avg_amount DOUBLE)",
                         """INSERT INTO eo_order_revenue
SELECT category, COUNT(*) AS order_count, SUM(amount) AS total_revenue, AVG(amount) AS avg_amount
FROM orders GROUP BY category"""),
    "eo_payment_match": (["orders", "payments"], "eo_payment_match (order_id BIGINT, category VARCHAR, amount DOUBLE, payment_status VARCHAR)",
                         """INSERT INTO eo_payment_match
SELECT o.order_id, o.category, o.amount, p.status AS payment_status
FROM orders o JOIN payments p ON o.order_id = p.order_id WHERE p.status = 'confirmed'"""),
    "eo_order_windows": (["orders"], "eo_order_windows (category VARCHAR, window_start TIMESTAMP(3), window_end TIMESTAMP(3), order_count BIGINT, window_revenue DOUBLE)",
                         """INSERT INTO eo_order_windows
SELECT category, window_start, window_end, COUNT(*) AS order_count, SUM(amount) AS window_revenue
FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(event_time), INTERVAL '5' MINUTE))
GROUP BY category, window_start, window_end"""),
}

NEXMARK_STREAMS = ("person", "auction", "bid")
EO_STREAMS = ("orders", "payments")


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    k = (len(v) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


# ---------------------------------------------------------------- prepare

def cmd_prepare(a):
    os.makedirs(a.out, exist_ok=True)
    counts = {}
    for stream in NEXMARK_STREAMS + EO_STREAMS:
        src = os.path.join(a.csv, stream + ".csv")
        if not os.path.exists(src):
            continue
        d = os.path.join(a.out, stream)
        os.makedirs(d, exist_ok=True)
        for old in glob.glob(os.path.join(d, "*.csv")):
            os.remove(old)
        outs = [open(os.path.join(d, "part-%d.csv" % i), "w", newline="") for i in range(a.parts)]
        ws = [csv.writer(f, lineterminator="\n") for f in outs]
        n = 0
        with open(src, newline="") as f:
            r = csv.reader(f)
            next(r, None)  # header
            for row in r:
                ws[n % a.parts].writerow(row)
                n += 1
        for f in outs:
            f.close()
        counts[stream] = n
    with open(os.path.join(a.out, "counts.json"), "w") as f:
        json.dump(counts, f)
    emit({"event": "prepared", "counts": counts, "out": a.out})


# ---------------------------------------------------------------- run

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rest(port, path, timeout=2.0):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
        return json.loads(r.read().decode())


class Poller(threading.Thread):
    """Polls the mini cluster's REST API: job state and timestamps, checkpoints."""

    def __init__(self, port, interval=0.1):
        super().__init__(daemon=True)
        self.port = port
        self.interval = interval
        self.job_id = None
        self.timestamps = {}
        self.state = None
        self.t_running_seen = None
        self.checkpoints = {}  # id -> entry of the history
        self.failures = {}  # id -> failure message
        self.counts = {}
        self.restored = None
        self.reported_completed = 0
        self.stop = False
        self.lock = threading.Lock()

    def run(self):
        while not self.stop:
            try:
                self.poll()
            except Exception:
                pass
            time.sleep(self.interval)

    def poll(self):
        if self.job_id is None:
            jobs = rest(self.port, "/jobs/overview").get("jobs", [])
            if not jobs:
                return
            self.job_id = jobs[0]["jid"]
            emit({"event": "job", "job_id": self.job_id, "t": time.time()})
        j = rest(self.port, "/jobs/%s" % self.job_id)
        with self.lock:
            self.state = j.get("state")
            self.timestamps.update({k: v for k, v in (j.get("timestamps") or {}).items() if v})
            if self.state == "RUNNING" and self.t_running_seen is None:
                self.t_running_seen = time.time()
                emit({"event": "running", "t": self.t_running_seen,
                      "t_running_jm": self.timestamps.get("RUNNING", 0) / 1000.0})
        c = rest(self.port, "/jobs/%s/checkpoints" % self.job_id)
        with self.lock:
            self.counts = c.get("counts", {})
            latest = c.get("latest") or {}
            if latest.get("restored"):
                self.restored = latest["restored"]
            for h in c.get("history", []) or []:
                if h.get("status") == "COMPLETED":
                    self.checkpoints[h["id"]] = h
                elif h.get("status") == "FAILED":
                    self.failures[h["id"]] = h.get("failure_message")
            done = self.counts.get("completed", 0)
        if done > self.reported_completed:
            self.reported_completed = done
            comp = latest.get("completed") or {}
            emit({"event": "checkpoint", "completed": done, "id": comp.get("id"),
                  "external_path": comp.get("external_path"), "t": time.time()})


def cmd_run(a):
    t_spawn = a.spawn_ts or T_SPAWN
    from pyflink.common import Configuration
    from pyflink.table import EnvironmentSettings, TableEnvironment

    port = free_port()
    conf = Configuration()
    opts = {
        "parallelism.default": str(a.parallelism),
        "rest.port": str(port),
        "rest.bind-port": str(port),
        "rest.address": "127.0.0.1",
        "web.checkpoints.history": "100000",
        "execution.checkpointing.interval": "%d ms" % a.checkpoint_interval_ms,
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "execution.checkpointing.dir": "file://" + os.path.abspath(a.ckpt_dir),
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "execution.checkpointing.num-retained": "3",
        "state.backend.type": a.backend,
        "execution.checkpointing.incremental": "true" if a.backend == "rocksdb" else "false",
        "restart-strategy.type": "none",
        "pipeline.name": "nexmark-%s-%s" % (a.query, a.backend),
    }
    if a.restore:
        opts["execution.state-recovery.path"] = "file://" + os.path.abspath(a.restore)
    for k, v in opts.items():
        conf.set_string(k, v)
    settings = EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(conf).build()
    tenv = TableEnvironment.create(settings)
    for k, v in opts.items():
        tenv.get_config().set(k, v)
    t_env_ready = time.time()

    streams, sink, insert = QUERIES[a.query]
    family = EO_STREAMS if a.query.startswith("eo_") else NEXMARK_STREAMS
    # --read-all: the job also reads (parses) the streams the query does not use,
    # into blackhole sinks, as the reference's single source parses every event.
    drained = [s for s in family if s not in streams and s in json.load(open(os.path.join(a.data, "counts.json")))] \
        if a.read_all and family is NEXMARK_STREAMS else []
    for s in list(streams) + drained:
        src = ("'connector' = 'filesystem', 'path' = 'file://%s', 'format' = 'csv'"
               % os.path.abspath(os.path.join(a.data, s)))
        tenv.execute_sql(SOURCES[s].format(wm=WATERMARK, src=src))
    tenv.execute_sql("CREATE TABLE %s WITH ('connector' = 'blackhole')" % sink)
    stmts = tenv.create_statement_set()
    stmts.add_insert_sql(insert)
    for s in drained:
        tenv.execute_sql("CREATE TABLE drain_%s (n BIGINT) WITH ('connector' = 'blackhole')" % s)
        stmts.add_insert_sql("INSERT INTO drain_%s SELECT CHAR_LENGTH(extra) FROM %s WHERE date_time IS NULL" % (s, s))

    poller = Poller(port)
    poller.start()
    result = stmts.execute()
    t_submitted = time.time()
    emit({"event": "submitted", "t": t_submitted})
    net_runtime_ms = None
    try:
        jer = result.get_job_client().get_job_execution_result().result()
        net_runtime_ms = jer.get_net_runtime()
    except Exception as e:  # fall back to wait()
        emit({"event": "note", "msg": "no JobExecutionResult: %s" % e})
        result.wait()
    t_end = time.time()
    poller.stop = True
    poller.join(timeout=1)
    try:
        poller.poll()
    except Exception:
        pass

    with poller.lock:
        ts = dict(poller.timestamps)
        cps = sorted(poller.checkpoints.values(), key=lambda h: h["id"])
        counts = dict(poller.counts)
        failures = dict(poller.failures)
    t_running = ts.get("RUNNING", 0) / 1000.0 or poller.t_running_seen
    t_finished = ts.get("FINISHED", 0) / 1000.0 or None
    end = t_finished or t_end
    with open(os.path.join(a.data, "counts.json")) as f:
        rows = json.load(f)
    total = sum(rows.get(s, 0) for s in (EO_STREAMS if a.query.startswith("eo_") else NEXMARK_STREAMS))
    read = sum(rows.get(s, 0) for s in list(streams) + drained)
    run_s = (end - t_running) if t_running else None
    if run_s is None and net_runtime_ms is not None:
        # A short job (q3 reads only persons and auctions) can finish between two polls
        # of the REST API: its net runtime (submission to end) is then the best figure.
        run_s = net_runtime_ms / 1000.0
    durs = [h.get("end_to_end_duration") for h in cps if h.get("end_to_end_duration") is not None]
    sizes = [h.get("checkpointed_size", h.get("state_size")) for h in cps]
    full = [h.get("state_size") for h in cps]
    emit({
        "event": "result",
        "engine": "flink-" + a.backend,
        "query": a.query,
        "backend": a.backend,
        "parallelism": a.parallelism,
        "checkpoint_interval_ms": a.checkpoint_interval_ms,
        "events": total,
        "events_read": read,
        "run_seconds": run_s,
        "net_runtime_seconds": net_runtime_ms / 1000.0 if net_runtime_ms is not None else None,
        "events_per_sec": total / run_s if run_s else None,
        "events_read_per_sec": read / run_s if run_s else None,
        "jvm_start_seconds": t_env_ready - t_spawn,
        "plan_submit_seconds": t_submitted - t_env_ready,
        "spawn_to_running_seconds": (t_running - t_spawn) if t_running else None,
        "wall_seconds": t_end - t_spawn,
        "checkpoints_completed": counts.get("completed"),
        "checkpoints_failed": counts.get("failed"),
        "checkpoint_failures": sorted(set(str(m)[:200] for m in failures.values())),
        "checkpoint_p50_ms": pct(durs, 50),
        "checkpoint_p99_ms": pct(durs, 99),
        "checkpoint_max_ms": max(durs) if durs else None,
        "checkpoint_last_size_bytes": sizes[-1] if sizes else None,
        "state_bytes": max((x for x in full if x is not None), default=None),
        "restored_from": a.restore,
        "read_all": bool(a.read_all),
        "job_timestamps": ts,
    })


# ---------------------------------------------------------------- recover

def latest_checkpoint(ckpt_dir):
    best = None
    for m in glob.glob(os.path.join(ckpt_dir, "*", "chk-*", "_metadata")):
        d = os.path.dirname(m)
        n = int(re.sub(r".*chk-", "", d))
        if best is None or n > best[0]:
            best = (n, d)
    return best


def spawn_run(a, restore=None):
    cmd = [sys.executable, os.path.abspath(__file__), "run", "--query", a.query, "--data", a.data,
           "--backend", a.backend, "--ckpt-dir", a.ckpt_dir, "--parallelism", str(a.parallelism),
           "--checkpoint-interval-ms", str(a.checkpoint_interval_ms), "--spawn-ts", repr(time.time())]
    if restore:
        cmd += ["--restore", restore]
    if a.read_all:
        cmd += ["--read-all"]
    log = open(a.log, "a") if a.log else subprocess.DEVNULL
    t = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
    return p, t


def cmd_recover(a):
    out = {"engine": "flink-" + a.backend, "query": a.query, "kind": "recovery", "kill_after_checkpoints": a.kill_after}
    p, t0 = spawn_run(a)
    killed = False
    for line in p.stdout:
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("event") == "checkpoint" and ev.get("completed", 0) >= a.kill_after:
            os.killpg(p.pid, signal.SIGKILL)
            out["killed_at_seconds"] = time.time() - t0
            out["killed_after_checkpoint_id"] = ev.get("id")
            killed = True
            break
        if ev.get("event") == "result":
            break
    p.wait()
    if not killed:
        out["error"] = "the job finished before %d checkpoints completed; use more events" % a.kill_after
        emit(out)
        return
    best = latest_checkpoint(a.ckpt_dir)
    if best is None:
        out["error"] = "no retained checkpoint found in %s" % a.ckpt_dir
        emit(out)
        return
    out["restore_path"] = best[1]
    out["restore_checkpoint_id"] = best[0]
    p, t1 = spawn_run(a, restore=best[1])
    first_cp = None
    running = None
    res = None
    for line in p.stdout:
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("event") == "running" and running is None:
            running = ev.get("t_running_jm") or ev["t"]
        if ev.get("event") == "checkpoint" and first_cp is None:
            first_cp = ev["t"]
        if ev.get("event") == "result":
            res = ev
    p.wait()
    out["restart_to_running_seconds"] = (running - t1) if running else None
    out["restart_to_first_checkpoint_seconds"] = (first_cp - t1) if first_cp else None
    out["restart_total_seconds"] = (res["wall_seconds"] if res else None)
    if res is None:
        out["error"] = "the restarted run printed no result (exit %s); see the log" % p.returncode
    emit(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--csv", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--parts", type=int, default=2)
    for name in ("run", "recover"):
        r = sub.add_parser(name)
        r.add_argument("--query", required=True, choices=sorted(QUERIES))
        r.add_argument("--data", required=True, help="the directory `prepare` wrote")
        r.add_argument("--backend", choices=["rocksdb", "hashmap"], default="rocksdb")
        r.add_argument("--ckpt-dir", required=True)
        r.add_argument("--parallelism", type=int, default=2)
        r.add_argument("--checkpoint-interval-ms", type=int, default=1000)
        r.add_argument("--read-all", action="store_true",
                       help="also parse the Nexmark streams the query does not read (into blackhole sinks)")
        if name == "run":
            r.add_argument("--restore", help="a retained checkpoint (chk-N directory) to start from")
            r.add_argument("--spawn-ts", type=float, help="when the parent spawned this process (epoch s)")
        else:
            r.add_argument("--kill-after", type=int, default=3, help="completed checkpoints before kill -9")
            r.add_argument("--log", help="append the runs' stderr here")
    a = ap.parse_args()
    {"prepare": cmd_prepare, "run": cmd_run, "recover": cmd_recover}[a.cmd](a)


if __name__ == "__main__":
    main()
