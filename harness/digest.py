"""A short fingerprint of each method's results, to tell "the same results" from "the same within noise".

    python -m harness.digest RESULTS_DIR

prints, per trace set and method, the number of searches and the SHA-256 of their trial records: the records of
every (target, seed) search in sorted order, each record without its measured times (`MEASURED`), as canonical
JSON. Two result folders made with the same code and configuration give the same digest on any machine where
the method is reproducible (docs/protocol.md, "Reproducible on any CPU"); `harness.report` writes it too.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import defaultdict

from harness.results import FinishedJob, ResultsError, read_jobs

MEASURED = frozenset({"ask_ms"})
"""Record fields that are measured times, different at every run, and so left out of the digest."""


def method_digests(jobs: list[FinishedJob]) -> dict[tuple[str, str], tuple[int, str]]:
    """(trace set, method) -> (number of searches, SHA-256 hex digest of their records without `MEASURED`)."""
    searches = defaultdict(list)
    for job in jobs:
        records = [{k: v for k, v in r.items() if k not in MEASURED} for r in job.records]
        searches[(job.job["trace_set"], job.job["method"])].append((job.job["target"], job.job["seed"], records))
    digests = {}
    for key, runs in sorted(searches.items()):
        text = json.dumps(sorted(runs, key=lambda run: (run[0], run[1])), sort_keys=True, separators=(",", ":"))
        digests[key] = (len(runs), hashlib.sha256(text.encode()).hexdigest())
    return digests


def markdown(digests: dict[tuple[str, str], tuple[int, str]]) -> str:
    """The "Reproducibility digest" section of a report's summary.md."""
    lines = ["", "## Reproducibility digest", "",
             ("SHA-256 of each method's trial records without measured times (`python -m harness.digest`): the same "
              "digest means the same results; docs/protocol.md says which methods give it on any CPU."), "",
             "| trace set | method | searches | SHA-256 |", "| --- | --- | --- | --- |"]
    lines += [f"| {trace_set} | {method} | {runs} | `{digest}` |"
              for (trace_set, method), (runs, digest) in digests.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m harness.digest RESULTS_DIR", file=sys.stderr)
        return 2
    try:
        jobs = read_jobs(argv[0])
        if not jobs:
            raise ResultsError(f"no finished jobs under {argv[0]}")
    except ResultsError as e:
        print(f"digest: {e}", file=sys.stderr)
        return 1
    print("Digest of the trial records (SHA-256, measured times left out), per trace set and method:")
    for (trace_set, method), (runs, digest) in method_digests(jobs).items():
        print(f"  {trace_set:12s} {method:22s} {runs:4d} searches  {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
