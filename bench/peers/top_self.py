"""Top functions by self time in a V8 .cpuprofile (node --cpu-prof): python3 top_self.py <file> [n]."""
import collections
import json
import sys

prof = json.load(open(sys.argv[1]))
n = int(sys.argv[2]) if len(sys.argv) > 2 else 25
nodes = {x["id"]: x for x in prof["nodes"]}
dt = collections.Counter()
for sid, d in zip(prof["samples"], prof["timeDeltas"]):
    dt[sid] += d
self_us = collections.Counter()
for sid, us in dt.items():
    cf = nodes[sid]["callFrame"]
    url = cf["url"].split("/work/main/")[-1]
    self_us[f'{cf["functionName"] or "(anon)"} {url}:{cf["lineNumber"] + 1}'] += us
total = sum(self_us.values())
for name, us in self_us.most_common(n):
    print(f"{us / 1000:9.1f} ms {us / total * 100:5.1f}%  {name}")
print(f"total {total / 1000:.0f} ms")
