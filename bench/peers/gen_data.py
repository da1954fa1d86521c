"""Seeded customers/orders data shared by every system, written once per size.

Writes, under <out>/<rows>/:
  customers.parquet + .arrow   N/10 customers (customer_id key)
  orders.parquet + .arrow      N orders (order_id key 0..N-1)
  appends.arrow                COMMITS x 100 fresh orders (ids >= N) for the small-commit workload
  conc.arrow                   WRITERS x CONC_COMMITS x 100 fresh orders for the concurrent writers
  updates-<r>.arrow            1% of order ids (random, seeded per round) with a new amount/status
The .arrow files (Arrow IPC, uncompressed) are what the Node side reads; Python reads the same files.
Sizes come from argv: rows commits writers conc_commits rounds.
"""
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq

STATUSES = np.array(["new", "paid", "shipped", "delivered", "returned"])
COUNTRIES = np.array(["NO", "SE", "DK", "DE", "FR", "US", "BR", "JP", "IN", "ZA"])


def orders(rng, start, n, customers):
    """n orders with ids start..start+n-1, every column drawn from `rng`."""
    return pa.table({
        "order_id": pa.array(np.arange(start, start + n, dtype=np.int64)),
        "customer_id": pa.array(rng.integers(0, customers, n, dtype=np.int64)),
        "amount": pa.array(np.round(rng.random(n) * 1000, 2)),
        "quantity": pa.array(rng.integers(1, 20, n, dtype=np.int32)),
        "status": pa.array(STATUSES[rng.integers(0, len(STATUSES), n)].tolist(), pa.string()),
        "order_day": pa.array(rng.integers(19000, 20500, n, dtype=np.int32)),
    })


def write_both(table, base):
    pq.write_table(table, base + ".parquet", compression="zstd")
    feather.write_feather(table, base + ".arrow", compression="uncompressed")


def main():
    out, rows, commits, writers, conc_commits, rounds = sys.argv[1], *map(int, sys.argv[2:7])
    d = os.path.join(out, str(rows))
    marker = os.path.join(d, f"done-{commits}-{writers}-{conc_commits}-{rounds}")
    if os.path.exists(marker):
        print(f"data: reusing {d}")
        return
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(20261123)
    n_customers = max(1, rows // 10)
    write_both(pa.table({
        "customer_id": pa.array(np.arange(n_customers, dtype=np.int64)),
        "name": pa.array([f"customer-{i}" for i in range(n_customers)], pa.string()),
        "country": pa.array(COUNTRIES[rng.integers(0, len(COUNTRIES), n_customers)].tolist(), pa.string()),
    }), os.path.join(d, "customers"))
    write_both(orders(rng, 0, rows, n_customers), os.path.join(d, "orders"))
    feather.write_feather(orders(rng, rows, commits * 100, n_customers), os.path.join(d, "appends.arrow"), compression="uncompressed")
    feather.write_feather(orders(rng, rows + commits * 100, writers * conc_commits * 100, n_customers),
                          os.path.join(d, "conc.arrow"), compression="uncompressed")
    n_upd = max(1, rows // 100)
    for r in range(rounds):
        ids = np.sort(rng.choice(rows, n_upd, replace=False)).astype(np.int64)
        t = orders(rng, 0, n_upd, n_customers).set_column(0, "order_id", pa.array(ids))
        feather.write_feather(t, os.path.join(d, f"updates-{r}.arrow"), compression="uncompressed")
    open(marker, "w").close()
    print(f"data: wrote {rows} orders, {n_customers} customers to {d}")


if __name__ == "__main__":
    main()
