"""The workloads, written once against a small adapter that each peer implements.

An adapter holds one system in one directory and knows how to: create/append/upsert a table from an
Arrow table, run a DuckDB SQL statement over a table (optionally at an older version) and report the
bytes the table takes on disk. Everything here is the same for every peer, so a difference in the
numbers is a difference of the systems, not of the driver. The Armillaria side (armillaria.bench.ts)
mirrors this file step by step.
"""
import os
import statistics
import threading
import time

import pyarrow.feather as feather

SCAN_SQL = "SELECT count(*) AS n, sum(amount) AS s, avg(quantity) AS q FROM {t}"
FILTER_SQL = "SELECT count(*) AS n, sum(amount) AS s FROM {t} WHERE order_id BETWEEN {lo} AND {hi}"
TT_SQL = "SELECT count(*) AS n, sum(amount) AS s FROM {t}"
ROWS_PER_COMMIT = 100


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except FileNotFoundError:
                pass
    return total


def p99(values):
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * 0.99))]


def timed(fn):
    t0 = time.perf_counter()
    v = fn()
    return time.perf_counter() - t0, v


def read_arrow(data, name):
    return feather.read_table(os.path.join(data, name), memory_map=False)


def run_workloads(make, data, work, cfg):
    """`make(dir)` returns a fresh adapter over `dir`. Returns {metric: number | str}."""
    out = {}
    rows = cfg["rows"]
    orders = read_arrow(data, "orders.arrow")
    appends = read_arrow(data, "appends.arrow")
    conc = read_arrow(data, "conc.arrow")

    # 1. Ingest: N rows as a new table.
    main = make(os.path.join(work, "main"))
    secs, _ = timed(lambda: main.create("orders", orders, key="order_id"))
    out["ingest_s"] = secs
    out["ingest_mb_s"] = orders.nbytes / 2**20 / secs
    out["ingest_storage_mb"] = main.storage("orders") / 2**20

    # 2. Full scan and a 1% key-range filter through DuckDB (one warm-up, median of 3).
    lo = int(rows * 0.37)
    hi = lo + max(1, rows // 100) - 1
    for metric, sql, rng in (("scan_s", SCAN_SQL, None), ("filter_s", FILTER_SQL, (lo, hi))):
        main.query("orders", sql, key_range=rng)
        out[metric] = statistics.median(timed(lambda: main.query("orders", sql, key_range=rng))[0] for _ in range(3))
    check = main.query("orders", FILTER_SQL, key_range=(lo, hi))
    assert int(check[0]) == hi - lo + 1, f"filter returned {check}"

    # 4. Updates: 1% random rows by key, `rounds` rounds.
    before = main.storage("orders")
    total = 0.0
    for r in range(cfg["rounds"]):
        upd = read_arrow(data, f"updates-{r}.arrow")
        total += timed(lambda: main.upsert("orders", upd, key="order_id"))[0]
    out["update_s"] = total
    out["update_written_mb"] = (main.storage("orders") - before) / 2**20
    out["update_storage_mb"] = main.storage("orders") / 2**20
    n = main.query("orders", "SELECT count(*) FROM {t}")
    assert int(n[0]) == rows, f"upserts changed the row count: {n}"

    # 7. Branch + merge (where the peer has them).
    out.update(main.branch_and_merge("orders", appends.slice(0, ROWS_PER_COMMIT), appends.slice(ROWS_PER_COMMIT, ROWS_PER_COMMIT)))
    main.close()

    # 3. Small commits: `commits` appends of 100 rows to a fresh table.
    small = make(os.path.join(work, "small"))
    lat = []
    t0 = time.perf_counter()
    for i in range(cfg["commits"]):
        batch = appends.slice(i * ROWS_PER_COMMIT, ROWS_PER_COMMIT)
        if i == 0:
            lat.append(timed(lambda: small.create("events", batch, key=None))[0])
        else:
            lat.append(timed(lambda: small.append("events", batch))[0])
    out["commits_per_s"] = cfg["commits"] / (time.perf_counter() - t0)
    out["commit_p50_ms"] = statistics.median(lat) * 1000
    out["commit_p99_ms"] = p99(lat) * 1000
    out["commits_storage_mb"] = small.storage("events") / 2**20
    small.close()

    # 5. Time travel: version 1 of a table after 100 versions.
    tt = make(os.path.join(work, "tt"))
    first = orders.slice(0, min(rows, 100_000))
    tt.create("hist", first, key=None)
    v1 = tt.current_version("hist")
    for i in range(99):
        tt.append("hist", appends.slice(i * ROWS_PER_COMMIT % max(1, appends.num_rows - ROWS_PER_COMMIT), ROWS_PER_COMMIT))
    res = tt.query("hist", TT_SQL, version=v1)
    assert int(res[0]) == first.num_rows, f"version 1 has {res[0]} rows"
    out["timetravel_s"] = statistics.median(timed(lambda: tt.query("hist", TT_SQL, version=v1))[0] for _ in range(3))
    tt.close()

    # 6. Concurrent writers: 4 threads to 4 tables, then 4 threads to one table.
    for shape in ("conc4", "conc1"):
        cw = make(os.path.join(work, shape))
        writers, k = cfg["writers"], cfg["conc_commits"]
        names = [f"w{w}" if shape == "conc4" else "shared" for w in range(writers)]
        for name in sorted(set(names)):
            cw.create(name, conc.slice(0, ROWS_PER_COMMIT), key=None)
        conflicts = [0] * writers
        errors = []

        def writer(w):
            try:
                for i in range(k):
                    batch = conc.slice((w * k + i) * ROWS_PER_COMMIT, ROWS_PER_COMMIT)
                    conflicts[w] += cw.append_retrying(names[w], batch)
            except Exception as e:  # a writer that gives up is a result, not a crash of the bench
                errors.append(repr(e))

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        secs = time.perf_counter() - t0
        out[f"{shape}_commits_per_s"] = writers * k / secs
        out[f"{shape}_conflicts"] = sum(conflicts) + (cw.internal_retries() if hasattr(cw, "internal_retries") else 0)
        if errors:
            out[f"{shape}_errors"] = errors[:3]
        cw.close()
    return out
