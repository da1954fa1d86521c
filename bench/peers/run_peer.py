"""Runs every workload on one peer once and prints one JSON line: python run_peer.py <peer> <data> <work>.
A peer that cannot be loaded prints {"unavailable": "<reason>"} instead of failing the whole bench."""
import json
import os
import sys

from peer_adapters import ADAPTERS
from peer_common import run_workloads


def main():
    peer, data, work = sys.argv[1:4]
    cfg = {k: int(os.environ[f"PEERS_{k.upper()}"]) for k in ("rows", "commits", "writers", "conc_commits", "rounds")}
    try:
        ADAPTERS[peer](os.path.join(work, "probe")).close()
    except Exception as e:  # noqa: BLE001 - reported as the peer's cells, by design
        print(json.dumps({"unavailable": f"{type(e).__name__}: {e}"}))
        return
    print(json.dumps(run_workloads(ADAPTERS[peer], data, work, cfg)))


if __name__ == "__main__":
    main()
