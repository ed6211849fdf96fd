"""Skip all but a seeded random sample of the pending mutants: ``sample.py SESSION N [SEED]``.

A full cosmic-ray run of a module costs hours on two shared cores (each mutant starts pytest and an embedded
chain); a uniform sample gives the killed share with a known margin in a fraction of the time. Skipped mutants
are recorded as SKIPPED ("not sampled"), so cr-report counts only the sampled ones as run.
"""

from __future__ import annotations

import random
import sys

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import WorkerOutcome, WorkResult


def main(session: str, size: int, seed: int = 19) -> None:
    with use_db(session, WorkDB.Mode.open) as db:
        pending = sorted(item.job_id for item in db.pending_work_items)
        keep = set(random.Random(seed).sample(pending, min(size, len(pending))))
        for job_id in pending:
            if job_id not in keep:
                db.set_result(job_id, WorkResult(output="not sampled", worker_outcome=WorkerOutcome.SKIPPED))
        print(f"{len(keep)} of {len(pending)} pending mutants sampled (seed {seed})")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), *(int(a) for a in sys.argv[3:4]))
