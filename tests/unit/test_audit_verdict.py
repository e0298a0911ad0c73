"""One verdict per verification, and a broken instance summarized in one line."""

from __future__ import annotations

from gantral.audit.verdict import EXIT_CODES, Verdict, summarize, verdict_of
from gantral.audit.verify import Problem


def _forged(instance_id: str, events: int) -> list[Problem]:
    """What a forged instance looks like: every later event broken, several ways."""
    problems = []
    for seq in range(3, events + 1):
        problems.append(Problem("hash_mismatch", "stored hash does not match", instance_id, seq))
        problems.append(Problem("broken_link", "prev_hash is not the hash", instance_id, seq))
        problems.append(Problem("not_included", "not in the log", instance_id, seq))
    return problems


def test_partial_checks_are_never_valid() -> None:
    problem = Problem("root_mismatch", "log root differs")
    assert verdict_of([], []) is Verdict.VALID
    assert verdict_of([], ["checkpoint signatures (--skip-signatures)"]) is Verdict.INCONCLUSIVE
    assert verdict_of([problem], ["anything"]) is Verdict.INVALID
    assert (EXIT_CODES[Verdict.VALID], EXIT_CODES[Verdict.INVALID]) == (0, 1)
    assert EXIT_CODES[Verdict.INCONCLUSIVE] not in (0, 1, 2)


def test_a_broken_instance_is_one_line_and_verbose_lists_all() -> None:
    problems = [*_forged("inst-a", 125), Problem("root_mismatch", "log root differs")]
    assert len(problems) == 370
    lines = summarize(problems)
    assert lines == [
        "FAIL instance inst-a seq 3: stored hash does not match [hash_mismatch] (and 368 more"
        " problem(s) here: hash_mismatch 123, broken_link 123, not_included 123)",
        "FAIL log: log root differs [root_mismatch]",
        "(--verbose lists every problem)",
    ]
    assert summarize(problems, verbose=True) == [f"FAIL {p}" for p in problems]
    single = [Problem("hash_mismatch", "stored hash does not match", "b", 5)]
    assert summarize(single) == [
        "FAIL instance b seq 5: stored hash does not match [hash_mismatch]"
    ]
