"""One adapter per peer (Delta Lake via delta-rs, Iceberg via pyiceberg + SQLite catalog, DuckLake via
the duckdb-extension-ducklake package). Each reads through DuckDB so the query engine is the same one
Armillaria's gateway uses; what differs is how each format finds the files of a table version."""
import glob
import logging
import os

import duckdb

from peer_common import dir_bytes


def _fetch(con, sql):
    return con.execute(sql).fetchone()


def _fmt(sql, t, key_range):
    lo, hi = key_range if key_range else (0, 0)
    return sql.format(t=t, lo=lo, hi=hi)


class DeltaAdapter:
    name = "delta"

    def __init__(self, root):
        import deltalake
        self.dl = deltalake
        self.root = root
        os.makedirs(root, exist_ok=True)

    def _p(self, name):
        return os.path.join(self.root, name)

    def create(self, name, table, key):
        self.dl.write_deltalake(self._p(name), table, mode="error")

    def append(self, name, table):
        self.dl.write_deltalake(self._p(name), table, mode="append")

    def append_retrying(self, name, table):
        conflicts = 0
        while True:
            try:
                self.append(name, table)
                return conflicts
            except self.dl.exceptions.CommitFailedError:
                conflicts += 1

    def upsert(self, name, table, key):
        (self.dl.DeltaTable(self._p(name))
         .merge(source=table, predicate=f"t.{key} = s.{key}", source_alias="s", target_alias="t")
         .when_matched_update_all().when_not_matched_insert_all().execute())

    def current_version(self, name):
        return self.dl.DeltaTable(self._p(name)).version()

    def query(self, name, sql, key_range=None, version=None):
        # delta-rs hands DuckDB a pyarrow dataset of the version's files; DuckDB pushes the filter into it.
        dt = self.dl.DeltaTable(self._p(name), version=version)
        con = duckdb.connect()
        con.register("t", dt.to_pyarrow_dataset())
        try:
            return _fetch(con, _fmt(sql, "t", key_range))
        finally:
            con.close()

    def storage(self, name):
        return dir_bytes(self._p(name))

    def branch_and_merge(self, name, a, b):
        return {"branch_create_ms": "not supported", "branch_merge_ms": "not supported"}

    def close(self):
        pass


class _RetryCounter(logging.Handler):
    """pyiceberg retries a commit that lost a race itself and only logs it: count those log lines."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def emit(self, record):
        if "concurrent update" in record.getMessage():
            self.count += 1


class IcebergAdapter:
    name = "iceberg"

    def __init__(self, root):
        from pyiceberg.catalog.sql import SqlCatalog
        from pyiceberg.exceptions import CommitFailedException
        self.CommitFailed = CommitFailedException
        os.makedirs(os.path.join(root, "wh"), exist_ok=True)
        self.root = root
        self.cat = SqlCatalog("bench", uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}/wh")
        self.cat.create_namespace("bench")
        self.tables = {}
        self.retries = _RetryCounter()
        logging.getLogger().addHandler(self.retries)

    def create(self, name, table, key):
        t = self.cat.create_table(f"bench.{name}", schema=table.schema)
        t.append(table)
        self.tables[name] = t

    def append(self, name, table):
        self.tables[name].append(table)

    def append_retrying(self, name, table):
        # A table object is not shared across threads: each commit loads the current metadata.
        # Conflicts pyiceberg retried internally are in self.retries.count (see conflicts()).
        conflicts = 0
        while True:
            try:
                self.cat.load_table(f"bench.{name}").append(table)
                return conflicts
            except self.CommitFailed:
                conflicts += 1

    def internal_retries(self):
        return self.retries.count

    def upsert(self, name, table, key):
        self.tables[name].upsert(table, join_cols=[key])

    def current_version(self, name):
        return self.tables[name].current_snapshot().snapshot_id

    def query(self, name, sql, key_range=None, version=None):
        # pyiceberg plans the scan (manifest stats prune files for the key range); DuckDB reads the files,
        # which is what DuckDB's own iceberg extension does.
        from pyiceberg.expressions import AlwaysTrue, And, GreaterThanOrEqual, LessThanOrEqual
        row_filter = And(GreaterThanOrEqual("order_id", key_range[0]), LessThanOrEqual("order_id", key_range[1])) if key_range else AlwaysTrue()
        t = self.cat.load_table(f"bench.{name}")
        tasks = list(t.scan(row_filter=row_filter, snapshot_id=version).plan_files())
        assert all(not task.delete_files for task in tasks), "delete files are not read by this bench"
        files = [task.file.file_path.removeprefix("file://") for task in tasks]
        con = duckdb.connect()
        try:
            if not files:
                return (0, None)
            con.execute("CREATE VIEW t AS SELECT * FROM read_parquet([" + ",".join(f"'{f}'" for f in files) + "])")
            return _fetch(con, _fmt(sql, "t", key_range))
        finally:
            con.close()

    def storage(self, name):
        return dir_bytes(self.root)

    def branch_and_merge(self, name, a, b):
        import time
        t = self.tables[name]
        t0 = time.perf_counter()
        t.manage_snapshots().create_branch(t.current_snapshot().snapshot_id, "experiment").commit()
        create_ms = (time.perf_counter() - t0) * 1000
        t.append(a, branch="experiment")
        t.append(b)
        return {"branch_create_ms": create_ms, "branch_merge_ms": "not supported (no merge of diverged branches; Spark has fast_forward only)"}

    def close(self):
        logging.getLogger().removeHandler(self.retries)
        self.cat.engine.dispose()


def ducklake_extension_path():
    import duckdb_extension_ducklake
    found = glob.glob(os.path.join(os.path.dirname(duckdb_extension_ducklake.__file__), "extensions", "*", "*.duckdb_extension"))
    if not found:
        raise RuntimeError("duckdb-extension-ducklake ships no extension file")
    return found[0]


class DuckLakeAdapter:
    name = "ducklake"

    def __init__(self, root):
        os.makedirs(root, exist_ok=True)
        self.root = root
        self.con = duckdb.connect()
        # The PyPI package ships the extension binary; LOAD by path needs no download.
        self.con.execute(f"LOAD '{ducklake_extension_path()}'")
        self.con.execute(f"ATTACH 'ducklake:{root}/catalog.ducklake' AS lake (DATA_PATH '{root}/data')")

    def create(self, name, table, key):
        self.con.register("src", table)
        self.con.execute(f"CREATE TABLE lake.{name} AS SELECT * FROM src")
        self.con.unregister("src")

    def append(self, name, table, con=None):
        c = con or self.con
        c.register("src", table)
        c.execute(f"INSERT INTO lake.{name} SELECT * FROM src")
        c.unregister("src")

    def append_retrying(self, name, table):
        conflicts = 0
        cur = self.con.cursor()
        try:
            while True:
                try:
                    self.append(name, table, cur)
                    return conflicts
                except duckdb.TransactionException:
                    conflicts += 1
        finally:
            cur.close()

    def upsert(self, name, table, key):
        self.con.register("src", table)
        cols = [c for c in table.column_names if c != key]
        sets = ", ".join(f"{c} = s.{c}" for c in cols)
        self.con.execute(f"UPDATE lake.{name} SET {sets} FROM src s WHERE lake.{name}.{key} = s.{key}")
        self.con.unregister("src")

    def current_version(self, name):
        return self.con.execute("SELECT max(snapshot_id) FROM lake.snapshots()").fetchone()[0]

    def query(self, name, sql, key_range=None, version=None):
        t = f"lake.{name}" + (f" AT (VERSION => {version})" if version is not None else "")
        return _fetch(self.con, _fmt(sql, t, key_range))

    def storage(self, name):
        return dir_bytes(self.root)

    def branch_and_merge(self, name, a, b):
        return {"branch_create_ms": "not supported", "branch_merge_ms": "not supported"}

    def close(self):
        self.con.close()


ADAPTERS = {"delta": DeltaAdapter, "iceberg": IcebergAdapter, "ducklake": DuckLakeAdapter}
