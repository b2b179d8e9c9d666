"""Keeping each past day's report figures (:mod:`carecentre.report_days`) up to date.

Tickets keep changing after the day they arrived: they are answered, resolved, reopened. So a
day's figures are computed again on every pass until the day has *settled* (``settle_days``
after it ended; changes after that are not counted in it, and the report says so), then kept as
they are. A day never computed is computed on the next pass, as far back as ``history_days``.
Passes run in the background (:mod:`carecentre.supervision`); two servers doing the same day
take turns (an advisory lock per day on PostgreSQL; SQLite writes one at a time anyway).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, text
from sqlmodel import col, select

from carecentre.db import Database
from carecentre.report_days import compute_day, day_bounds, rows_of
from carecentre.supervision_models import ReportDay, ReportDayDone

SETTLE_DAYS = 45
HISTORY_DAYS = 800
_LOCK = 0x0CA2EB07


def due_days(
    done: dict[date, datetime],
    *,
    today: date,
    zone: ZoneInfo,
    now: datetime,
    settle_days: int,
    history_days: int,
    stale_after: timedelta,
) -> list[date]:
    """The past days to compute now, most recent first."""
    days = []
    for back in range(1, history_days + 1):
        day = today - timedelta(days=back)
        computed = done.get(day)
        if computed is None:
            days.append(day)
            continue
        settled = computed >= day_bounds(day, zone)[1] + timedelta(days=settle_days)
        if not settled and computed <= now - stale_after:
            days.append(day)
    return days


async def roll_up(
    db: Database,
    zone: ZoneInfo,
    now: datetime,
    *,
    settle_days: int = SETTLE_DAYS,
    history_days: int = HISTORY_DAYS,
    stale_after: timedelta = timedelta(minutes=10),
    limit: int | None = None,
) -> int:
    """Compute and keep the past days that need it; returns how many were computed."""
    today = now.astimezone(zone).date()
    async with db.read() as session:
        rows = await session.execute(select(col(ReportDayDone.day), col(ReportDayDone.computed_at)))
        done = {day: computed for day, computed in rows}
    days = due_days(
        done,
        today=today,
        zone=zone,
        now=now,
        settle_days=settle_days,
        history_days=history_days,
        stale_after=stale_after,
    )
    for day in days[:limit]:
        async with db.read() as session:
            cells = await compute_day(session, day, zone, now)
        async with db.write() as session:
            if db.is_postgres:
                await session.execute(
                    text("SELECT pg_advisory_xact_lock(:key, :day)"),
                    {"key": _LOCK, "day": day.toordinal()},
                )
            await session.execute(delete(ReportDay).where(col(ReportDay.day) == day))
            await session.execute(delete(ReportDayDone).where(col(ReportDayDone.day) == day))
            found = list(rows_of(day, cells))
            if found:
                await session.execute(insert(ReportDay), found)
            await session.execute(insert(ReportDayDone).values(day=day, computed_at=now))
    return len(days[:limit])
