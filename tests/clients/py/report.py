"""The one result line every client script prints (read by tests/relay_clients.rs): `fail`
prints the checks passed so far with the error and exits non-zero; `check` records a pass.
GUARD only turns a hang into a failure (the machine is shared), never a speed claim."""
import json
import sys
from datetime import timedelta

GUARD = timedelta(seconds=60)
results = {"checks": []}


def fail(msg):
    results["ok"] = False
    results["error"] = msg
    print(json.dumps(results))
    sys.exit(1)


def check(name, cond, detail="failed"):
    if not cond:
        fail(f"{name}: {detail}")
    results["checks"].append(name)
