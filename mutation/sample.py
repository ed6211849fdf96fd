"""Choose which of a cosmic-ray session's mutants to run, and report the score.

``python mutation/sample.py CONFIG SESSION`` (after ``cosmic-ray init``) marks as skipped:

- every mutant inside a type annotation: under ``from __future__ import annotations`` an
  annotation is never evaluated, so ``str | None`` -> ``str - None`` is equivalent by construction;
- mutants outside the line ranges of ``[select] lines`` (when a module is only partly in scope,
  e.g. the credits ledger inside ``store/generations.py``);
- every mutant inside a ``logger.*(...)`` call (the wording of a log line, not behaviour);
- all but ``[select] per-site`` mutants of one source position (a comparison has 7 replacements,
  a binary operator 11): the most telling are kept, in the order of :data:`PREFERRED` (the negated
  or off-by-one comparison, the inverse arithmetic), then any other;
- then all but ``[select] sample`` of those left (``--sample N``, i.e. ``make mutation MUTATION_SAMPLE=N``,
  overrides it), picked by a hash of each mutant's place and operator: the same pick on every run of the same
  code (cosmic-ray's job ids are random per ``init``, so a seeded draw over them would not repeat). A module
  sampled this way says so in the report.

``python mutation/sample.py --report CONFIG SESSION`` prints killed/total of the mutants that ran and
each survivor (line, operator, the source line), for the closing note.

``python mutation/sample.py --recheck CONFIG SESSION`` runs the survivors again with the config's test command
(after tests were added for them; the module must be the one the session was made from), and records the outcome.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import tomllib
from collections import defaultdict
from pathlib import Path

from cosmic_ray.mutating import mutate_and_test
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

PREFERRED = (
    "AddNot", "ReplaceUnaryOperator_Delete_Not", "ReplaceAndWithOr", "ReplaceOrWithAnd",
    "ReplaceTrueWithFalse", "ReplaceFalseWithTrue", "ExceptionReplacer", "ZeroIterationForLoop",
    "ReplaceBreakWithContinue", "ReplaceContinueWithBreak", "RemoveDecorator", "NumberReplacer",
    "_Eq_NotEq", "_NotEq_Eq", "_Is_IsNot", "_IsNot_Is", "_Lt_LtE", "_LtE_Lt", "_Gt_GtE", "_GtE_Gt",
    "_Lt_GtE", "_LtE_Gt", "_Gt_LtE", "_GtE_Lt", "_Add_Sub", "_Sub_Add", "_Mul_Div", "_Div_Mul",
    "_FloorDiv_Mul", "_Mod_FloorDiv", "_USub_UAdd", "_In_NotIn", "_NotIn_In",
)


def _rank(operator: str) -> int:
    name = operator.rsplit("/", 1)[-1]
    for i, preferred in enumerate(PREFERRED):
        if name == preferred or (preferred.startswith("_") and name.endswith(preferred)):
            return i
    return len(PREFERRED)


def _unexecuted_spans(path: Path) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Source spans of every annotation (arguments, returns, annotated assignments) and every logger call."""
    spans = []
    for node in ast.walk(ast.parse(path.read_text())):
        notes: list[ast.expr | None] = []
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "logger"):
            notes.append(node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            notes.append(node.returns)
        elif isinstance(node, ast.arg):
            notes.append(node.annotation)
        elif isinstance(node, ast.AnnAssign):
            notes.append(node.annotation)
        for note in notes:
            if note is not None:
                spans.append(((note.lineno, note.col_offset), (note.end_lineno or note.lineno, note.end_col_offset or 0)))
    return spans


def _inside(pos: tuple[int, int], spans: list[tuple[tuple[int, int], tuple[int, int]]]) -> bool:
    return any(start <= tuple(pos) < end for start, end in spans)


def select(config: dict, db: WorkDB, sample: int | None = None) -> None:
    options = config.get("select", {})
    per_site = options.get("per-site")
    lines = {Path(k): [tuple(r) for r in v] for k, v in options.get("lines", {}).items()}
    annotations: dict[Path, list] = {}
    sites: dict[tuple, list] = defaultdict(list)
    skipped: list[tuple[str, str]] = []
    for item in db.pending_work_items:
        [m] = item.mutations
        path = Path(m.module_path)
        spans = annotations.setdefault(path, _unexecuted_spans(path))
        if _inside(m.start_pos, spans):
            skipped.append((item.job_id, "inside a type annotation (never evaluated) or a log call"))
        elif path in lines and not any(a <= m.start_pos[0] <= b for a, b in lines[path]):
            skipped.append((item.job_id, "outside the lines in scope"))
        else:
            sites[(str(path), tuple(m.start_pos), tuple(m.end_pos))].append(item)
    kept = []
    for items in sites.values():
        items.sort(key=lambda it: (_rank(it.mutations[0].operator_name), it.mutations[0].operator_name))
        kept.extend(items[:per_site or len(items)])
        skipped.extend((it.job_id, "sampled out (per-site)") for it in items[per_site or len(items):])
    sample = sample or options.get("sample")
    if sample and len(kept) > sample:
        kept.sort(key=_fingerprint)
        skipped.extend((it.job_id, "sampled out (budget)") for it in kept[sample:])
        kept = kept[:sample]
    for job_id, why in skipped:
        db.set_result(job_id, WorkResult(output=why, worker_outcome=WorkerOutcome.SKIPPED))
    print(f"{len(kept)} mutants to run, {len(skipped)} skipped")


def _fingerprint(item) -> str:
    m = item.mutations[0]
    key = f"{m.module_path}:{m.start_pos}:{m.end_pos}:{m.operator_name}:{m.occurrence}"
    return hashlib.sha256(key.encode()).hexdigest()


def report(config: dict, db: WorkDB) -> None:
    ran = killed = 0
    survivors = []
    sampled = False
    for item, result in db.completed_work_items:
        if result.worker_outcome == WorkerOutcome.SKIPPED:
            sampled |= (result.output or "").startswith("sampled")
            continue
        ran += 1
        if result.test_outcome == TestOutcome.SURVIVED:
            survivors.append(item.mutations[0])
        else:
            killed += 1
    pending = db.num_work_items - db.num_results
    module = config["cosmic-ray"]["module-path"]
    note = " (a sample: see [select] in the config)" if sampled else ""
    score = f"{100 * killed / ran:.1f} %" if ran else "-"
    print(f"{module}: {killed}/{ran} killed = {score}{note}; {pending} not run yet")
    for m in sorted(survivors, key=lambda m: (str(m.module_path), m.start_pos)):
        source = Path(m.module_path).read_text().splitlines()[m.start_pos[0] - 1].strip()
        print(f"  survived {m.module_path}:{m.start_pos[0]} {m.operator_name.rsplit('/', 1)[-1]}"
              f" #{m.occurrence}: {source}")


def recheck(config: dict, db: WorkDB) -> None:
    section = config["cosmic-ray"]
    for item, result in db.completed_work_items:
        if result.test_outcome != TestOutcome.SURVIVED:
            continue
        again = mutate_and_test(item.mutations, section["test-command"], section.get("timeout"))
        db.set_result(item.job_id, again)
        m = item.mutations[0]
        print(f"{m.module_path}:{m.start_pos[0]} {m.operator_name.rsplit('/', 1)[-1]}: {again.test_outcome}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("session")
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--recheck", action="store_true")
    parser.add_argument("--sample", type=int, help="run at most this many mutants (overrides [select] sample)")
    args = parser.parse_args()
    config = tomllib.loads(Path(args.config).read_text())
    with use_db(args.session, WorkDB.Mode.open) as db:
        if args.report:
            report(config, db)
        elif args.recheck:
            recheck(config, db)
        else:
            select(config, db, args.sample)


if __name__ == "__main__":
    main()
