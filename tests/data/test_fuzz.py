"""Fuzzing the file readers: mutated and hostile files either load or raise a one-line DataError.

One fuzz suite per reader (IDX raw and gzip, amat, npy/npz, CSV, image folders). Every case runs in
a worker process whose address space is capped and under a per-case alarm (``tests/data/fuzzing.py``),
so a reader that allocates what a crafted header claims, loops, or raises anything but a DataError
fails the suite with the case's number (re-run one case with ``fuzzing.run_cases([(reader, i)])``).
The default suite runs a few dozen cases per reader; the slow suite a few hundred more
(``VAEKIT_FUZZ_CASES`` sets how many).
"""

from __future__ import annotations

import collections
import os

import pytest

from tests.data.fuzzing import READERS, run_cases

QUICK = 24
SLOW = int(os.environ.get("VAEKIT_FUZZ_CASES", 400))


def check(rows: list[dict], expected: int) -> collections.Counter:
    """Every case ended ``ok`` or with a one-line DataError; returns the outcome counts."""
    assert len(rows) == expected
    bad = [r for r in rows if r["outcome"] not in ("ok", "error")]
    assert not bad, "\n".join(f"{r['reader']} case {r['case']}: {r['outcome']} {r.get('detail', '')} "
                              f"{r.get('traceback', '')}" for r in bad[:5])
    return collections.Counter((r["reader"], r["outcome"]) for r in rows)


def test_every_reader_survives_a_few_dozen_mutated_files():
    cases = [(reader, i) for reader in READERS for i in range(QUICK)]
    counts = check(run_cases(cases), len(cases))
    assert all(counts[(reader, "error")] > 0 for reader in READERS)  # the mutations do reach the checks


@pytest.mark.slow
@pytest.mark.parametrize("reader", READERS)
def test_reader_survives_hundreds_of_mutated_files(reader):
    counts = check(run_cases([(reader, i) for i in range(QUICK, QUICK + SLOW)]), SLOW)
    print(f"{reader}: {SLOW} cases, {dict(counts)}")
