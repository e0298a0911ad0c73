"""Event names are spelled once, as `AuditEventType`: a string literal elsewhere would not
follow a rename, and go-to-definition could not find its readers."""

import ast
from pathlib import Path

from gantral.domain.audit_event import AuditEventType

GANTRAL = Path(__file__).resolve().parents[2] / "gantral"
NAMES = {member.value for member in AuditEventType}
# The same words meaning something else: Temporal's execution status, an
# execution-closed event's status field.
OTHER_MEANINGS = {
    ("audit/closure_detector.py", "TIMED_OUT"),
    ("channels/inbox.py", "TIMED_OUT"),
    ("core.py", "TIMED_OUT"),
    ("domain/audit_payloads.py", "TIMED_OUT"),
    # A request's outcome when its TIMED_OUT event is projected.
    ("audit/read_model.py", "TIMED_OUT"),
}


def _spelled_names(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in NAMES
    ]


def test_event_names_are_spelled_only_by_the_enum() -> None:
    spelled = [
        f"{path.relative_to(GANTRAL)}:{line}: {name}"
        for path in sorted(GANTRAL.rglob("*.py"))
        if path != GANTRAL / "domain" / "audit_event.py" and GANTRAL / "sdk" not in path.parents
        for line, name in _spelled_names(path)
        if (str(path.relative_to(GANTRAL)), name) not in OTHER_MEANINGS
    ]
    assert not spelled, "use `AuditEventType`:\n" + "\n".join(spelled)
