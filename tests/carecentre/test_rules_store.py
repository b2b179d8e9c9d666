"""Saving routing rules: a missing queue is refused on save; a rules file with mistakes changes
nothing and lists every mistake with its rule and field; export and import round-trip."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlmodel import col

from carecentre.models import Queue
from carecentre.rules import RuleErrors, parse_rule
from carecentre.rules_store import (
    all_rules,
    check_rules_file,
    delete_rule,
    export_rules,
    import_rules,
    read_rules_file,
    save_rule,
    to_toml,
)
from carecentre.seed import ensure_queues
from carecentre.services import Services

POTHOLES = {
    "name": "Potholes",
    "when": {"words": ["pothole"]},
    "then": {"queue": "roads", "priority": "high", "tags": ["pothole"]},
}
BINS = {"name": "Bins", "when": {"words": ["bin", "garbage"]}, "then": {"queue": "waste"}}


async def _queues(svc: Services) -> None:
    async with svc.db.write() as session:
        await ensure_queues(session)


async def _save(svc: Services, data: dict[str, Any], **kw: Any) -> int:
    def go(session: Session) -> int:
        row = save_rule(session, parse_rule(data), **kw)
        assert row.id is not None
        return row.id

    return await svc.db.run_write(go)


async def _names(svc: Services) -> list[str]:
    return await svc.db.run_write(lambda s: [r.name for r in all_rules(s)])


async def test_a_rule_naming_a_missing_queue_is_refused_on_save(svc: Services) -> None:
    await _queues(svc)
    with pytest.raises(RuleErrors) as raised:
        await _save(svc, {**POTHOLES, "then": {"queue": "road"}})
    (problem,) = raised.value.problems
    assert (problem.field, problem.message) == ("then.queue", "there is no queue 'road'")
    assert await _names(svc) == []


async def test_a_switched_off_queue_and_a_taken_name_are_refused(svc: Services) -> None:
    await _queues(svc)
    await _save(svc, POTHOLES)
    with pytest.raises(RuleErrors, match="name: another rule is already called 'potholes'"):
        await _save(svc, {**BINS, "name": "potholes"})
    async with svc.db.write() as session:
        await session.execute(update(Queue).where(col(Queue.slug) == "waste").values(active=False))
    with pytest.raises(RuleErrors, match="the queue 'waste' is switched off"):
        await _save(svc, BINS)
    assert await _names(svc) == ["Potholes"]


async def test_rules_keep_the_order_they_are_given(svc: Services) -> None:
    await _queues(svc)
    await _save(svc, POTHOLES)
    bins = await _save(svc, BINS, position=1)
    snow = {"name": "Snow", "when": {"words": ["snow"]}, "then": {"priority": "urgent"}}
    await _save(svc, snow, position=2)
    assert await _names(svc) == ["Bins", "Snow", "Potholes"]
    await _save(svc, {**BINS, "name": "Bins and carts"}, rule_id=bins, position=3)
    assert await _names(svc) == ["Snow", "Potholes", "Bins and carts"]
    await svc.db.run_write(lambda s: delete_rule(s, bins))
    positions = await svc.db.run_write(lambda s: [r.position for r in all_rules(s)])
    assert positions == [1, 2]


async def test_a_file_with_mistakes_changes_nothing_and_lists_them_all(svc: Services) -> None:
    await _queues(svc)
    await _save(svc, POTHOLES)
    await _save(svc, BINS)
    before = await svc.db.run_write(export_rules)
    document = {
        "rules": [
            {**BINS, "name": "Fine"},
            {"name": "Lost", "when": {}, "then": {"queue": "nowhere"}},
            {"name": "Odd", "when": {"channel": ["pigeon"]}, "then": {"priority": "asap"}},
            {**POTHOLES, "name": "fine"},
        ]
    }

    with pytest.raises(RuleErrors) as raised:
        await svc.db.run_write(lambda s: import_rules(s, document, region="CA", by=None))

    listed = [(p.index, p.name, p.field) for p in raised.value.problems]
    assert listed == [
        (1, "Lost", "then.queue"),
        (2, "Odd", "when.channel"),
        (2, "Odd", "then.priority"),
        (3, "fine", "name"),
    ]
    assert "rule 2 ('Lost'): then.queue: there is no queue 'nowhere'" in str(raised.value)
    assert await svc.db.run_write(export_rules) == before


async def test_export_and_import_round_trip_in_toml_and_json(svc: Services) -> None:
    await _queues(svc)
    await _save(svc, POTHOLES)
    await _save(svc, {**BINS, "enabled": False})
    exported = await svc.db.run_write(export_rules)
    toml_text = to_toml(exported)
    assert '[[rules]]\nname = "Potholes"' in toml_text

    for content, media in (
        (toml_text.encode(), "application/toml"),
        (json.dumps(exported).encode(), "application/json"),
    ):
        document = read_rules_file(content, media)
        count = await svc.db.run_write(
            lambda s, d=document: import_rules(s, d, region="CA", by=None)
        )
        assert count == 2
        assert await svc.db.run_write(export_rules) == exported


def test_a_file_that_is_not_toml_or_json_says_so() -> None:
    with pytest.raises(RuleErrors, match="file: is not valid TOML"):
        read_rules_file(b"[[rules]\nname = ", "application/toml")
    with pytest.raises(RuleErrors, match="file: is not valid JSON"):
        read_rules_file(b'{"rules": [', "application/json")
    with pytest.raises(RuleErrors, match="rules: give a list of rules"):
        check_rules_file(Session(), {"rules": 5}, region="CA")
