#!/usr/bin/env python3
"""Turns kubernetes-validate's `local-strict` schemas into standalone ones kubeconform can read offline.

Each kind's schema there refers to `/api/_definitions.json#/$defs/...`, which, against its `$id`
(https://kubernetes.io/api/...), is a URL: kubeconform would try to download it. Here every kind schema
gets the definitions it reaches (transitively) copied into its own `$defs`, its refs rewritten to
`#/$defs/...`, and its `$id` dropped, so each file validates alone with no network.

usage: standalone-schemas.py SRC_DIR DEST_DIR
"""
import json
import os
import sys

PREFIX = '/api/_definitions.json#/$defs/'


def rewrite(node, found):
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == '$ref' and isinstance(value, str):
                if value.startswith(PREFIX):
                    value = '#/$defs/' + value[len(PREFIX):]
                if value.startswith('#/$defs/'):
                    found.add(value[len('#/$defs/'):])
            out[key] = rewrite(value, found)
        return out
    if isinstance(node, list):
        return [rewrite(item, found) for item in node]
    return node


def main(src, dest):
    with open(os.path.join(src, '_definitions.json')) as f:
        definitions = json.load(f)['$defs']
    os.makedirs(dest, exist_ok=True)
    count = 0
    for name in sorted(os.listdir(src)):
        if not name.endswith('.json') or name.startswith('_') or name == 'all.json':
            continue
        with open(os.path.join(src, name)) as f:
            schema = json.load(f)
        wanted = set()
        schema = rewrite(schema, wanted)
        schema.pop('$id', None)
        defs, todo = {}, list(wanted)
        while todo:
            key = todo.pop()
            if key in defs:
                continue
            more = set()
            defs[key] = rewrite(definitions[key], more)
            todo.extend(more - defs.keys())
        if defs:
            schema['$defs'] = defs
        tmp = os.path.join(dest, name + '.tmp')
        with open(tmp, 'w') as f:
            json.dump(schema, f, separators=(',', ':'))
        os.replace(tmp, os.path.join(dest, name))
        count += 1
    print(f'{count} standalone schemas in {dest}', file=sys.stderr)


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
