"""Routing rules in the database: saved one by one, or a whole rules file at once.

A rule naming a queue that does not exist (or is switched off) is refused when it is saved, so
routing never meets one at run time. Importing a file replaces every rule in the caller's one
transaction, and only when every rule in it is right: otherwise nothing changes and every problem
is listed with its rule and field (:class:`~carecentre.rules.RuleErrors`).

The file is JSON (``{"rules": [...]}``) or TOML (``[[rules]]`` tables); each rule has the shape
described in :mod:`carecentre.rules`. :func:`export_rules` writes what :func:`import_rules` reads.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Table, delete, func
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlmodel import col, select

from carecentre.coltypes import utcnow
from carecentre.models import Queue
from carecentre.rule_matching import CompiledRule
from carecentre.rules import RuleErrors, RuleProblem, RuleSpec, parse_rule
from carecentre.supervision_models import RoutingRule

MAX_RULES = 500
MAX_FILE_BYTES = 1 << 20


_rule: Table = RoutingRule.__table__  # type: ignore[attr-defined]
_ENABLED = (
    sa.select(
        _rule.c.id,
        _rule.c.name,
        _rule.c.conditions,
        _rule.c.queue_id,
        _rule.c.priority,
        _rule.c.tags,
    )
    .where(_rule.c.enabled.is_(True))
    .order_by(_rule.c.position, _rule.c.id)
)


class _Compiled:
    """The rules last compiled, with the rows they were compiled from (one attribute, set
    at once: a reader in another thread sees the old pair or the new one, never a mix)."""

    last: tuple[list[tuple[Any, ...]], list[CompiledRule]] = ([], [])


def compiled_rules(conn: Connection) -> list[CompiledRule]:
    """The enabled rules in the order they are tried.

    Read in the caller's transaction every time, so a supervisor's edit (from any process)
    applies to the very next message; compiled again only when what was read differs from
    what was compiled last (the rules are few, their rows small).
    """
    rows = [tuple(row) for row in conn.execute(_ENABLED)]
    compiled_from, rules = _Compiled.last
    if rows == compiled_from:
        return rules
    rules = [
        CompiledRule.build(rule_id, name, when, queue_id, priority, tags)
        for rule_id, name, when, queue_id, priority, tags in rows
    ]
    _Compiled.last = rows, rules
    return rules


def all_rules(session: Session) -> list[RoutingRule]:
    return list(
        session.scalars(
            select(RoutingRule).order_by(col(RoutingRule.position), col(RoutingRule.id))
        )
    )


def _queue_id(
    session: Session, spec: RuleSpec, problems: list[RuleProblem], **where: Any
) -> int | None:
    if spec.queue is None:
        return None
    queue = session.scalar(select(Queue).where(Queue.slug == spec.queue))
    if queue is None:
        problems.append(RuleProblem("then.queue", f"there is no queue {spec.queue!r}", **where))
        return None
    if not queue.active:
        problems.append(
            RuleProblem("then.queue", f"the queue {spec.queue!r} is switched off", **where)
        )
        return None
    return queue.id


def _check_name(session: Session, spec: RuleSpec, rule_id: int | None) -> None:
    clash = session.scalar(
        select(RoutingRule.id).where(func.lower(RoutingRule.name) == spec.name.lower())
    )
    if clash is not None and clash != rule_id:
        raise RuleErrors([RuleProblem("name", f"another rule is already called {spec.name!r}")])


def _fill(row: RoutingRule, spec: RuleSpec, queue_id: int | None, by: int | None) -> None:
    row.name = spec.name
    row.enabled = spec.enabled
    row.conditions = spec.when
    row.queue_id = queue_id
    row.priority = spec.priority.value if spec.priority else None
    row.tags = list(spec.tags)
    row.updated_by = by
    row.updated_at = utcnow()


def _place(session: Session, row: RoutingRule, position: int | None) -> None:
    """Put ``row`` at 1-based ``position`` (None: last) and number every rule 1, 2, 3…"""
    others = [r for r in all_rules(session) if r.id != row.id]
    index = len(others) if position is None else max(0, min(position - 1, len(others)))
    others.insert(index, row)
    for number, rule in enumerate(others, start=1):
        if rule.position != number:
            rule.position = number
    session.flush()


def save_rule(
    session: Session,
    spec: RuleSpec,
    *,
    rule_id: int | None = None,
    position: int | None = None,
    by: int | None = None,
) -> RoutingRule:
    """Create (``rule_id`` None) or replace a rule; raises :class:`RuleErrors` or LookupError."""
    problems: list[RuleProblem] = []
    queue_id = _queue_id(session, spec, problems)
    if problems:
        raise RuleErrors(problems)
    _check_name(session, spec, rule_id)
    if rule_id is None:
        count = session.scalar(select(func.count()).select_from(RoutingRule)) or 0
        if count >= MAX_RULES:
            raise RuleErrors([RuleProblem("rule", f"at most {MAX_RULES} rules")])
        row = RoutingRule(position=0, name=spec.name)
        session.add(row)
    else:
        found = session.get(RoutingRule, rule_id)
        if found is None:
            raise LookupError(f"no rule {rule_id}")
        row = found
        if position is None:
            position = row.position
    _fill(row, spec, queue_id, by)
    session.flush()
    _place(session, row, position)
    return row


def delete_rule(session: Session, rule_id: int) -> None:
    row = session.get(RoutingRule, rule_id)
    if row is None:
        raise LookupError(f"no rule {rule_id}")
    session.delete(row)
    session.flush()
    for number, rule in enumerate(all_rules(session), start=1):
        rule.position = number


def read_rules_file(content: bytes, media_type: str) -> object:
    """The document in a rules file, JSON or TOML as its media type (or else its text) says."""
    if len(content) > MAX_FILE_BYTES:
        raise RuleErrors([RuleProblem("file", f"larger than {MAX_FILE_BYTES} bytes")])
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RuleErrors([RuleProblem("file", "is not UTF-8 text")]) from None
    if "toml" in media_type:
        return _parse(text, "TOML")
    if "json" in media_type:
        return _parse(text, "JSON")
    # No type (a pasted file): JSON opens with { or [ (but not TOML's [[ or [table]); try the
    # likelier first, and report its error if neither reads.
    start = text.lstrip()
    likely = "JSON" if start.startswith("{") or start[:2] in ("[{", '["', "[]") else "TOML"
    try:
        return _parse(text, likely)
    except RuleErrors:
        try:
            return _parse(text, "TOML" if likely == "JSON" else "JSON")
        except RuleErrors:
            pass
        raise


def _parse(text: str, kind: str) -> object:
    try:
        return tomllib.loads(text) if kind == "TOML" else json.loads(text)
    except ValueError as error:  # TOMLDecodeError is a ValueError too
        raise RuleErrors([RuleProblem("file", f"is not valid {kind} ({error})")]) from None


def check_rules_file(
    session: Session, document: object, *, region: str
) -> list[tuple[RuleSpec, int | None]]:
    """Every rule of ``document`` checked, with its queue's id; raises :class:`RuleErrors`
    listing every problem in the file (nothing is written either way)."""
    entries = document.get("rules") if isinstance(document, dict) else document
    if not isinstance(entries, list):
        raise RuleErrors([RuleProblem("rules", "give a list of rules under 'rules'")])
    if len(entries) > MAX_RULES:
        raise RuleErrors([RuleProblem("rules", f"at most {MAX_RULES} rules")])
    problems: list[RuleProblem] = []
    checked: list[tuple[RuleSpec, int | None]] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        try:
            spec = parse_rule(entry, region=region, index=index)
        except RuleErrors as errors:
            problems.extend(errors.problems)
            continue
        queue_id = _queue_id(session, spec, problems, index=index, name=spec.name)
        earlier = seen.setdefault(spec.name.lower(), index)
        if earlier != index:
            problems.append(
                RuleProblem("name", f"rule {earlier + 1} has the same name", index, spec.name)
            )
        checked.append((spec, queue_id))
    if problems:
        raise RuleErrors(problems)
    return checked


def import_rules(session: Session, document: object, *, region: str, by: int | None) -> int:
    """Replace every rule with the file's, in the caller's transaction; all or nothing."""
    checked = check_rules_file(session, document, region=region)
    session.execute(delete(RoutingRule))
    session.flush()
    for position, (spec, queue_id) in enumerate(checked, start=1):
        row = RoutingRule(position=position, name=spec.name)
        _fill(row, spec, queue_id, by)
        session.add(row)
    session.flush()
    return len(checked)


def rule_out(row: RoutingRule, slugs: dict[int, str]) -> dict[str, Any]:
    """A stored rule in the shape the API and the rules file use."""
    then: dict[str, Any] = {}
    if row.queue_id is not None:
        then["queue"] = slugs.get(row.queue_id, "")
    if row.priority:
        then["priority"] = row.priority
    if row.tags:
        then["tags"] = list(row.tags)
    return {"name": row.name, "enabled": row.enabled, "when": dict(row.conditions), "then": then}


def export_rules(session: Session) -> dict[str, Any]:
    slugs = {q.id or 0: q.slug for q in session.scalars(select(Queue))}
    return {"rules": [rule_out(row, slugs) for row in all_rules(session)]}


def to_toml(document: dict[str, Any]) -> str:
    """The rules file as TOML (strings, booleans and lists of strings are all a rule holds)."""
    lines = ["# CareCentre routing rules: tried in order; the first that matches decides.", ""]
    for rule in document["rules"]:
        lines.append("[[rules]]")
        lines.extend(_pairs({k: rule[k] for k in ("name", "enabled")}))
        for table in ("when", "then"):
            if rule[table]:
                lines.append(f"[rules.{table}]")
                lines.extend(_pairs(rule[table]))
        lines.append("")
    return "\n".join(lines)


def _pairs(table: dict[str, Any]) -> Iterable[str]:
    for key, value in table.items():
        yield f"{key} = {_toml_value(value)}"


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    # A JSON string is a valid TOML basic string, escapes included.
    return json.dumps(str(value), ensure_ascii=False)
