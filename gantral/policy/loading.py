"""Loading policy and workflow-template files (YAML or JSON) with errors that point home.

Every error names the field *and* the line: the YAML is composed once into a node tree
(which keeps marks) and constructed from it, and a pydantic error location is walked
down that tree to the deepest node it reaches. Parts of a location that are not in the
file (union tags, a missing field's name) are skipped or, for a missing field, named
at its parent's line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from gantral.domain.ijson import find_violation
from gantral.errors import Conflict, InvalidInput, Reason
from gantral.policy.fact_fields import non_fact_fields
from gantral.policy.levels import FieldError, TimingError
from gantral.policy.models import Policy
from gantral.policy.templates import PinMismatch, StepGraphError, WorkflowTemplate

M = TypeVar("M", bound=BaseModel)
Document = Policy | WorkflowTemplate

__all__ = [
    "Document",
    "load_document",
    "load_file",
    "load_policy",
    "load_template",
    "parse",
    "refuse_non_facts",
]


class _Loader(yaml.SafeLoader):
    """YAML 1.1's float rule needs a dot, so JSON's exponent form (`1e-05`, `2E3`) read as
    a string: a JSON body's number must stay a number. JSON's own number grammar is added."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?[eE][-+]?[0-9]+$"),
    list("-0123456789"),
)


def parse(text: str | bytes, *, source: str = "<input>") -> tuple[Any, yaml.Node | None]:
    """Parse YAML (JSON is YAML) into plain data plus the node tree for line lookups."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InvalidInput(f"{source}: not UTF-8 text", reason=Reason.INVALID_DOCUMENT) from e
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        _refuse_duplicate_keys(node, source)
        data = _join_surrogate_pairs(loader.construct_document(node)) if node is not None else None
    except yaml.MarkedYAMLError as e:
        as_json = _json_only(text, source)
        if as_json is None:
            mark = e.problem_mark or e.context_mark
            line = mark.line + 1 if mark else None
            raise InvalidInput(
                f"{source}:{line}: {e.problem or 'invalid YAML'}",
                reason=Reason.INVALID_DOCUMENT,
                line=line,
            ) from None
        node, data = None, as_json[0]
    except yaml.YAMLError as e:
        raise InvalidInput(f"{source}: {e}", reason=Reason.INVALID_DOCUMENT) from None
    finally:
        loader.dispose()
    # A document is data that is stored, hashed (RFC 8785) and pinned into instances: the
    # same I-JSON rules as every API body (no huge integers, no YAML dates or sets).
    violation = find_violation(data)
    if violation is not None:
        raise InvalidInput(
            f"{source}: {violation.message}", reason=Reason(violation.reason), field=violation.path
        )
    return data, node


def _json_only(text: str, source: str) -> tuple[Any] | None:
    """JSON that PyYAML cannot read (a key longer than its 1,024-character limit on simple
    keys), read as JSON, without the node tree (errors then name the field, not the line);
    None when it is not JSON either."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                raise InvalidInput(f"{source}: {key}: duplicate key",
                                   reason=Reason.INVALID_DOCUMENT, field=key)  # fmt: skip
            seen[key] = value
        return seen

    try:
        return (json.loads(text, object_pairs_hook=unique),)
    except ValueError:
        return None


def _join_surrogate_pairs(data: Any) -> Any:
    """JSON writes a character beyond U+FFFF as an escaped UTF-16 pair ("\\ud83d\\ude00");
    PyYAML decodes each half alone. Join the pairs, as a JSON reader does (a lone half
    stays, and I-JSON refuses it)."""
    if isinstance(data, str):
        if not any("\ud800" <= c <= "\udfff" for c in data):
            return data
        return data.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    if isinstance(data, list):
        return [_join_surrogate_pairs(item) for item in data]
    if isinstance(data, dict):
        return {_join_surrogate_pairs(k): _join_surrogate_pairs(v) for k, v in data.items()}
    return data


def validate(model: type[M], data: Any, node: yaml.Node | None, *, source: str = "<input>") -> M:
    """`model.model_validate(data)`, with errors translated to InvalidInput(field=, line=)."""
    _refuse_nul(data, node, source)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        errors = [
            _describe(err, node, data) for err in e.errors(include_url=False, include_input=False)
        ]
        contradiction = _contradiction(e)
        if contradiction is not None:
            first = errors[0]
            where = f"{source}:{first['line']}" if first["line"] else source
            raise Conflict(
                f"{where}: {first['field'] or '(document)'}: {first['message']}",
                reason=contradiction,
                field=first["field"],
                line=first["line"],
            ) from None
        # Top of the file first, the way an author reads it.
        errors.sort(key=lambda x: x["line"] if x["line"] is not None else 1 << 30)
        first = errors[0]
        where = f"{source}:{first['line']}" if first["line"] else source
        raise InvalidInput(
            f"{where}: {first['field'] or '(document)'}: {first['message']}",
            reason=Reason.INVALID_DOCUMENT,
            field=first["field"],
            line=first["line"],
            errors=errors,
        ) from None


# Two valid fields (or steps) that contradict each other: no schema can state the rule,
# so the document is well formed but cannot be taken as it is: 409 with its own reason.
_CONTRADICTIONS: dict[type[Exception], Reason] = {
    StepGraphError: Reason.INCONSISTENT_STEPS,
    TimingError: Reason.INCONSISTENT_TIMING,
    PinMismatch: Reason.POLICY_HASH_MISMATCH,
}


def _contradiction(error: ValidationError) -> Reason | None:
    """The reason when the document's only problem is a contradiction (the
    cross-field checks run once every field is valid, so such a problem is alone)."""
    problems = error.errors(include_url=False, include_input=False)
    cause = problems[0].get("ctx", {}).get("error") if len(problems) == 1 else None
    for kind, reason in _CONTRADICTIONS.items():
        if isinstance(cause, kind):
            return reason
    return None


def refuse_non_facts(doc: Document, node: yaml.Node | None = None, *, source: str) -> None:
    """InvalidInput naming each materiality-rule field that is not a fact (`facts`).

    For publication only (API, watcher, CLI, registry): pinned policies are decoded
    without it, so instances started before the check keep working (and fail closed).
    """
    problems = non_fact_fields(doc)
    if not problems:
        return
    errors = []
    for loc, message in problems:
        field, line = locate(node, loc) if node is not None else (_render(list(loc)), None)
        errors.append({"field": field, "line": line, "message": message})
    first = errors[0]
    where = f"{source}:{first['line']}" if first["line"] else source
    raise InvalidInput(
        f"{where}: {first['field']}: {first['message']}",
        reason=Reason.FIELD_NOT_A_FACT,
        field=first["field"],
        line=first["line"],
        errors=errors,
    )


def load_policy(text: str | bytes, *, source: str = "<policy>") -> Policy:
    data, node = parse(text, source=source)
    policy = validate(Policy, data if data is not None else {}, node, source=source)
    refuse_non_facts(policy, node, source=source)
    return policy


def load_template(text: str | bytes, *, source: str = "<workflow>") -> WorkflowTemplate:
    data, node = parse(text, source=source)
    template = validate(WorkflowTemplate, data, node, source=source)
    refuse_non_facts(template, node, source=source)
    return template


def load_document(text: str | bytes, *, source: str = "<input>") -> Document:
    """A policy or a workflow template, told apart by `kind` (or by having `steps`)."""
    data, node = parse(text, source=source)
    doc: Document
    if isinstance(data, dict) and (data.get("kind") == "gantral/workflow" or "steps" in data):
        doc = validate(WorkflowTemplate, data, node, source=source)
    else:
        doc = validate(Policy, data if data is not None else {}, node, source=source)
    refuse_non_facts(doc, node, source=source)
    return doc


def load_file(path: Path) -> Document:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InvalidInput(f"{path}: {e.strerror}", reason=Reason.UNREADABLE_FILE) from None
    return load_document(raw, source=str(path))


def _describe(err: Any, root: yaml.Node | None, data: Any) -> dict[str, Any]:
    loc, message = tuple(err["loc"]), str(err["msg"]).removeprefix("Value error, ")
    cause = err.get("ctx", {}).get("error")
    if isinstance(cause, FieldError):
        # A whole-policy check that knows the field it is about (levels.resolve_level).
        loc, message = (*loc, *cause.loc), cause.message
    field, line = locate(root, loc) if root is not None else (locate_in_data(data, loc), None)
    return {"field": field, "line": line, "message": message}


def locate(root: yaml.Node | None, loc: tuple[str | int, ...]) -> tuple[str, int | None]:
    """Follow a pydantic error location down the node tree: (dotted field, 1-based line)."""
    node, line = root, (root.start_mark.line + 1 if root is not None else None)
    parts: list[str | int] = []
    for i, part in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            hit = next(
                (
                    (k, v)
                    for k, v in node.value
                    if isinstance(k, yaml.ScalarNode) and k.value == part
                ),
                None,
            )
            if hit is not None:
                parts.append(part)
                line, node = hit[0].start_mark.line + 1, hit[1]
            elif i == len(loc) - 1 and isinstance(part, str) and not part.startswith("["):
                parts.append(part)  # a missing field: named, at its parent's line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            item = node.value[part] if 0 <= part < len(node.value) else None
            if item is not None:
                parts.append(part)
                node, line = item, item.start_mark.line + 1
        # Anything else (a union tag such as "rule", a field name repeated after its
        # tag) is not in the file: skip it.
    return _render(parts), line


def locate_in_data(data: Any, loc: tuple[str | int, ...]) -> str:
    """As `locate`, for data that came without a file (an API body): the field only."""
    parts: list[str | int] = []
    for i, part in enumerate(loc):
        present = (isinstance(data, dict) and part in data) or (
            isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        )
        if present:
            parts.append(part)
            data = data[part]
        elif isinstance(data, dict) and i == len(loc) - 1 and not str(part).startswith("["):
            parts.append(part)
    return _render(parts)


def _refuse_nul(data: Any, node: yaml.Node | None, source: str) -> None:
    # Documents are stored as PostgreSQL jsonb, which cannot hold U+0000: refused here,
    # named, instead of failing the write (the published schemas say it: `NO_NUL`).
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack:
        item, loc = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and "\x00" in key:
                    _nul_at(loc, node, data, source, "a key holds")
                stack.append((child, (*loc, key)))
        elif isinstance(item, list):
            stack.extend((child, (*loc, i)) for i, child in enumerate(item))
        elif isinstance(item, str) and "\x00" in item:
            _nul_at(loc, node, data, source, "holds")


def _nul_at(
    loc: tuple[str | int, ...], node: yaml.Node | None, data: Any, source: str, what: str
) -> None:
    field, line = locate(node, loc) if node is not None else (locate_in_data(data, loc), None)
    where = f"{source}:{line}" if line else source
    raise InvalidInput(
        f"{where}: {field or '(document)'}: {what} U+0000 (NUL), which a document cannot store",
        reason=Reason.INVALID_DOCUMENT,
        field=field,
        line=line,
    )


def _render(parts: list[str | int]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def _refuse_duplicate_keys(node: yaml.Node | None, source: str) -> None:
    # PyYAML keeps the last duplicate silently; in a policy that hides an approver.
    stack = [(node, "")]
    while stack:
        current, path = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: set[str] = set()
            for k, v in current.value:
                key = str(k.value)
                field = f"{path}.{key}" if path else key
                if key in seen:
                    line = k.start_mark.line + 1
                    raise InvalidInput(
                        f"{source}:{line}: {field}: duplicate key",
                        reason=Reason.INVALID_DOCUMENT,
                        field=field,
                        line=line,
                    )
                seen.add(key)
                stack.append((v, field))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(current.value))
