#!/usr/bin/env python3
"""Cross-check of the Nexmark queries' final results: Floe against Apache Flink.

crosscheck.sh drives it; two subcommands:

  flink --data FDIR --out DIR --queries "q0 q3 ..." [--streaming]
      Runs each query's SQL from flink_nexmark.py (QUERIES) in Flink's BATCH
      mode over the bounded CSV files that `flink_nexmark.py prepare` wrote,
      into a filesystem CSV sink per query (DIR/<query>/), one JVM for all.
      Over bounded input the batch result of these queries equals the final
      result of the streaming job (all windows fire at the end of input, the
      retractions of q3, q4, q9 settle), without a changelog to apply.
      --streaming runs each SELECT as a streaming job instead (the benchmark's
      mode, watermarks lagging 4 s) and applies its changelog in Python: slower
      (every row crosses into Python), a check that batch equals streaming.

  compare --floe DIR --flink DIR --queries "..." --json FILE
      DIR/<query>.csv of `floe view dump` (header, rows) and DIR/types.txt of
      `floe view list` on the Floe side; the sink part files on the Flink side.
      Normalises both (columns by name, integers, decimals at the Floe column's
      scale, timestamps as YYYY-MM-DD HH:MM:SS.ffffff, empty = NULL), compares
      the rows as multisets and prints per query: rows in Floe, rows in Flink,
      rows only in Floe, only in Flink (the first few, exactly) and PASS,
      EXPLAINED (differs only as a documented difference, see EXPLAINED below:
      the raw difference is printed too) or DIFFERS. Exit status 1 when a
      query DIFFERS or is missing.
"""
import argparse
import collections
import csv
import datetime
import decimal
import glob
import json
import os
import re
import sys

SHOW = 5  # differing rows printed per side

# Variants run on the Flink side only, compared with the Floe view of the same
# query: name -> (query whose view they are checked against, sink DDL, INSERT).
VARIANTS = {
    # q4 of the benchmark averages BIGINT prices into a BIGINT (Flink's AVG of an
    # integer type is integer division). This one averages them as decimals, as
    # Floe's avg_final (decimal(6)) does, so the digits can be compared exactly.
    "q4_decimal": ("q4", "nexmark_q4_decimal (id BIGINT, final DECIMAL(38, 6))",
                   """INSERT INTO nexmark_q4_decimal
SELECT Q.category, AVG(CAST(Q.final AS DECIMAL(38, 6)))
FROM (
  SELECT MAX(B.price) AS final, A.category
  FROM auction A, bid B
  WHERE A.id = B.auction AND B.date_time BETWEEN A.date_time AND A.expires
  GROUP BY A.id, A.category
) Q
GROUP BY Q.category"""),
}

# Flink sink column -> Floe view column, where the names differ.
RENAME = {
    "q4": {"id": "category", "final": "avg_final"},
    "q8": {"stime": "starttime"},
}


# Streaming mode: the unique key of a query's result, by which Flink's changelog
# is applied (q9's rank sends +U rows without -U: one row per auction id).
UPSERT_KEYS = {"q9": ["id"]}


def floe_view(query):
    return query if query.startswith("eo_") else "nexmark_" + query


# ---------------------------------------------------------------- Flink side

def split_columns(ddl):
    """'name (a BIGINT, b DECIMAL(23, 3))' -> ('name', ['a', 'b'])."""
    name, cols = ddl.split("(", 1)
    cols = cols.rsplit(")", 1)[0]
    parts, depth, cur = [], 0, ""
    for ch in cols:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += (ch == "(") - (ch == ")")
        cur += ch
    parts.append(cur)
    return name.strip(), [p.split()[0] for p in parts if p.strip()]


def cmd_flink(a):
    from flink_nexmark import QUERIES, SOURCES, WATERMARK
    from pyflink.common import Configuration
    from pyflink.table import EnvironmentSettings, TableEnvironment

    conf = Configuration()
    conf.set_string("parallelism.default", str(a.parallelism))
    mode = EnvironmentSettings.new_instance()
    mode = mode.in_streaming_mode() if a.streaming else mode.in_batch_mode()
    settings = mode.with_configuration(conf).build()
    tenv = TableEnvironment.create(settings)
    tenv.get_config().set("parallelism.default", str(a.parallelism))
    created = set()
    status = {}
    for q in a.queries.split():
        streams, sink, insert = QUERIES[q] if q in QUERIES else (QUERIES[VARIANTS[q][0]][0],) + VARIANTS[q][1:]
        for s in streams:
            if s not in created:
                src = ("'connector' = 'filesystem', 'path' = 'file://%s', 'format' = 'csv'"
                       % os.path.abspath(os.path.join(a.data, s)))
                tenv.execute_sql(SOURCES[s].format(wm=WATERMARK, src=src))
                created.add(s)
        name, cols = split_columns(sink)
        out = os.path.abspath(os.path.join(a.out, q))
        tenv.execute_sql("CREATE TABLE %s WITH ('connector' = 'filesystem', 'path' = 'file://%s', "
                         "'format' = 'csv')" % (sink, out))
        try:
            if a.streaming:
                key = UPSERT_KEYS.get(q)
                kinds = collect_changelog(tenv, insert, out, key and [cols.index(c) for c in key])
                print(json.dumps({"query": q, "row_kinds": kinds}), flush=True)
            else:
                tenv.execute_sql(insert).wait()
            status[q] = "ok"
        except Exception as e:  # recorded; compare reports the query as missing
            status[q] = "failed: %s" % str(e)[:500]
        with open(os.path.join(a.out, q + ".columns"), "w") as f:
            f.write(",".join(cols) + "\n")
        print(json.dumps({"query": q, "flink": status[q]}), flush=True)
    with open(os.path.join(a.out, "status.json"), "w") as f:
        json.dump(status, f)


def collect_changelog(tenv, insert, out, upsert_key=None):
    """--streaming: runs the INSERT's SELECT as a streaming job, applies its changelog
    and writes the final rows as out/changelog.csv (the sink's layout). +I and +U
    add a row, -U and -D take one away; with an upsert key (column positions) a row
    replaces the one of its key and -D removes the key, since Flink may send +U
    without the -U before it when the result has a unique key. Returns the count of
    each row kind."""
    from pyflink.common import RowKind

    select = re.sub(r"^\s*INSERT INTO \S+\s*", "", insert)
    rows = collections.Counter()
    by_key = {}
    kinds = collections.Counter()
    with tenv.execute_sql(select).collect() as it:
        for r in it:
            row = tuple(text(v) for v in r)
            kind = r.get_row_kind()
            kinds[str(kind)] += 1
            add = kind in (RowKind.INSERT, RowKind.UPDATE_AFTER)
            if upsert_key is not None:
                key = tuple(row[i] for i in upsert_key)
                if add:
                    by_key[key] = row
                elif by_key.get(key) == row:
                    del by_key[key]
            else:
                rows[row] += 1 if add else -1
    if upsert_key is not None:
        rows = collections.Counter(by_key.values())
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "changelog.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        for row, n in rows.items():
            if n < 0:
                raise RuntimeError("changelog retracts a row it never inserted: %r" % (row,))
            w.writerows([row] * n)
    return dict(kinds)


def text(v):
    if v is None:
        return ""
    if isinstance(v, datetime.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S.%f")
    return str(v)


# ---------------------------------------------------------------- compare

def read_types(path):
    """`floe view list` lines 'view: col:type,...' -> {view: {col: type}}."""
    views = {}
    if not os.path.exists(path):
        return views
    for line in open(path):
        if ":" not in line:
            continue
        view, cols = line.split(":", 1)
        views[view.strip()] = dict(c.strip().split(":", 1) for c in cols.strip().split(",") if c)
    return views


def norm(value, typ):
    """One value in a canonical text form, by the Floe column's type."""
    if value == "" and typ != "string":
        return None
    if typ in ("int64", "int32"):
        return str(int(value))
    m = re.fullmatch(r"decimal\((\d+)\)", typ)
    if m:
        return str(decimal.Decimal(value).quantize(decimal.Decimal(1).scaleb(-int(m.group(1)))))
    if typ == "timestamp":
        v = value.replace("T", " ")
        fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in v else "%Y-%m-%d %H:%M:%S"
        return datetime.datetime.strptime(v, fmt).strftime("%Y-%m-%d %H:%M:%S.%f")
    if typ in ("double", "float64", "float"):
        return "%.6f" % float(value)
    return value


def floe_rows(path, types, columns):
    with open(path, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        idx = [header.index(c) for c in columns]
        return [tuple(norm(row[i], types[c]) for i, c in zip(idx, columns)) for row in r], header


def flink_rows(qdir, flink_cols, columns, types):
    pos = [flink_cols.index(c) for c in columns]
    rows = []
    for p in sorted(glob.glob(os.path.join(qdir, "**", "*"), recursive=True)):
        base = os.path.basename(p)
        if os.path.isdir(p) or base.startswith((".", "_")):
            continue
        with open(p, newline="") as f:
            for row in csv.reader(f):
                rows.append(tuple(norm(row[i], types[c]) for i, c in zip(pos, columns)))
    return rows


def diff(a, b):
    ca, cb = collections.Counter(a), collections.Counter(b)
    return sorted((ca - cb).elements(), key=str), sorted((cb - ca).elements(), key=str)


def show(rows):
    return [",".join("NULL" if v is None else v for v in r) for r in rows[:SHOW]]


# A documented or explained difference: (why, function that maps the Floe rows
# (tuples in the compared columns' order) to what Flink's SQL yields).
def trunc_avg(rows, columns):
    i = columns.index("avg_final")
    return [r[:i] + (str(decimal.Decimal(r[i]).to_integral_value(decimal.ROUND_DOWN)) + ".000000",) + r[i + 1:]
            for r in rows]


EXPLAINED = {
    "q4": ("Flink's AVG over the BIGINT max prices is a BIGINT (Java long division, truncated); "
           "Floe's avg_final is decimal(6). Compared after truncating Floe's to an integer; the "
           "variant q4_decimal (Flink AVG over DECIMAL(38, 6)) checks the digits.", trunc_avg),
}
NOTES = {
    "q0": "Floe's nexmark_q0 also has channel and url (all bid columns); nexmark-flink's q0 selects "
          "auction, bidder, price, date_time, extra: compared on those five.",
    "q8": "Flink's sink names the window start stime, Floe's view starttime.",
}


def compare_one(q, a, types_by_view):
    base = VARIANTS[q][0] if q in VARIANTS else q
    view = floe_view(base)
    res = {"query": q, "floe_view": view}
    fpath = os.path.join(a.floe, base + ".csv")
    qdir = os.path.join(a.flink, q)
    colsf = os.path.join(a.flink, q + ".columns")
    status = json.load(open(os.path.join(a.flink, "status.json"))).get(q) \
        if os.path.exists(os.path.join(a.flink, "status.json")) else None
    if not os.path.exists(fpath) or view not in types_by_view:
        res.update(status="MISSING", why="no Floe dump %s" % fpath)
        return res
    if status != "ok" or not os.path.exists(colsf):
        res.update(status="MISSING", why="Flink: %s" % status)
        return res
    types = types_by_view[view]
    flink_cols = open(colsf).read().strip().split(",")
    ren = RENAME.get(base, {})
    flink_named = [ren.get(c, c) for c in flink_cols]
    columns = sorted(c for c in flink_named if c in types)
    fl, header = floe_rows(fpath, types, columns)
    fk = flink_rows(qdir, flink_named, columns, types)
    only_floe, only_flink = diff(fl, fk)
    res.update(columns=columns, floe_rows=len(fl), flink_rows=len(fk),
               columns_only_floe=sorted(set(header) - set(columns)),
               columns_only_flink=sorted(set(flink_named) - set(types)),
               only_floe=len(only_floe), only_flink=len(only_flink),
               only_floe_first=show(only_floe), only_flink_first=show(only_flink))
    if base in NOTES:
        res["note"] = NOTES[base]
    if not only_floe and not only_flink:
        res["status"] = "PASS"
    elif q in EXPLAINED:
        why, fix = EXPLAINED[q]
        ao, ak = diff(fix(fl, columns), fk)
        res.update(why=why, after_explanation_only_floe=len(ao), after_explanation_only_flink=len(ak),
                   after_explanation_only_floe_first=show(ao), after_explanation_only_flink_first=show(ak))
        res["status"] = "EXPLAINED" if not ao and not ak else "DIFFERS"
    else:
        res["status"] = "DIFFERS"
    return res


def cmd_compare(a):
    types_by_view = read_types(os.path.join(a.floe, "types.txt"))
    results = [compare_one(q, a, types_by_view) for q in a.queries.split()]
    for r in results:
        print("%-11s %-9s Floe %s rows, Flink %s rows, only in Floe %s, only in Flink %s"
              % (r["query"], r["status"], r.get("floe_rows", "-"), r.get("flink_rows", "-"),
                 r.get("only_floe", "-"), r.get("only_flink", "-")))
        for k in ("note", "why"):
            if r.get(k):
                print("    %s: %s" % (k, r[k]))
        if r.get("columns_only_floe"):
            print("    columns only in Floe (not compared): %s" % ", ".join(r["columns_only_floe"]))
        if r.get("only_floe") or r.get("only_flink"):
            print("    columns: %s" % ",".join(r["columns"]))
            for side in ("floe", "flink"):
                for row in r.get("only_%s_first" % side, []):
                    print("    only in %-5s %s" % (side.capitalize() + ":", row))
        if "after_explanation_only_floe" in r:
            print("    after the explanation: only in Floe %d, only in Flink %d"
                  % (r["after_explanation_only_floe"], r["after_explanation_only_flink"]))
            for side in ("floe", "flink"):
                for row in r.get("after_explanation_only_%s_first" % side, []):
                    print("    only in %-5s %s" % (side.capitalize() + ":", row))
    with open(a.json, "w") as f:
        json.dump(results, f, indent=1)
    bad = [r["query"] for r in results if r["status"] not in ("PASS", "EXPLAINED")]
    print("cross-check: %d queries, %s" % (len(results), "all equal or explained" if not bad else
                                           "DIFFERENT: " + " ".join(bad)))
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("flink")
    p.add_argument("--data", required=True, help="the directory `flink_nexmark.py prepare` wrote")
    p.add_argument("--out", required=True)
    p.add_argument("--queries", required=True)
    p.add_argument("--parallelism", type=int, default=2)
    p.add_argument("--streaming", action="store_true",
                   help="streaming mode, the SELECT's changelog collected and applied, instead of batch")
    p = sub.add_parser("compare")
    p.add_argument("--floe", required=True)
    p.add_argument("--flink", required=True)
    p.add_argument("--queries", required=True)
    p.add_argument("--json", required=True)
    a = ap.parse_args()
    if a.cmd == "flink":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        cmd_flink(a)
        return 0
    return cmd_compare(a)


if __name__ == "__main__":
    sys.exit(main())
