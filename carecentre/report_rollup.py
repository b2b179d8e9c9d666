"""Keeping each past day's report figures (:mod:`carecentre.report_days`) up to date.

Tickets keep changing after the day they arrived: they are answered, resolved, reopened. So a
day's figures are computed again on every pass until the day has *settled* (``settle_days``
after it ended; changes after that are not counted in it, and the report says so), then kept as
they are. A day never computed is computed on the next pass, as far back as ``history_days``.
Each whole past month whose days are all kept is summed up too (:mod:`carecentre.report_store`),
again whenever one of its days is computed again. Passes run in the background
(:mod:`carecentre.supervision`); two servers doing the same day take turns (an advisory lock
per day on PostgreSQL; SQLite writes one at a time anyway).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from carecentre.db import Database
from carecentre.report_days import compute_day, day_bounds
from carecentre.report_store import day_rows, load_details, month_rows, record
from carecentre.supervision_models import ReportDay, ReportDayDone, ReportMonth, ReportMonthDone

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
    chosen = days[:limit]
    for day in chosen:
        async with db.read() as session:
            cells = await compute_day(session, day, zone, now)
        async with db.write() as session:
            await _lock(session, db, day)
            await session.execute(delete(ReportDay).where(col(ReportDay.day) == day))
            await session.execute(delete(ReportDayDone).where(col(ReportDayDone.day) == day))
            found = [record(row) for row in day_rows(day, cells)]
            if found:
                await session.execute(insert(ReportDay), found)
            await session.execute(insert(ReportDayDone).values(day=day, computed_at=now))
        done[day] = now
    await _sum_months(db, done, chosen, today=today, now=now)
    return len(chosen)


async def _lock(session: AsyncSession, db: Database, day: date) -> None:
    if db.is_postgres:
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:key, :day)"),
            {"key": _LOCK, "day": day.toordinal()},
        )


def _month_days(month: date) -> list[date]:
    days, day = [], month
    while day.month == month.month:
        days.append(day)
        day += timedelta(days=1)
    return days


async def _sum_months(
    db: Database, done: dict[date, datetime], changed: list[date], *, today: date, now: datetime
) -> None:
    """Sum up each whole past month with every day kept: again when a day of it changed."""
    async with db.read() as session:
        rows = await session.execute(select(col(ReportMonthDone.month)))
        summed = {month for (month,) in rows}
    touched = {day.replace(day=1) for day in changed}
    months = {day.replace(day=1) for day in done}
    for month in sorted(months):
        days = _month_days(month)
        if days[-1] >= today or not all(day in done for day in days):
            continue
        if month in summed and month not in touched:
            continue
        async with db.read() as session:
            found = month_rows(month, await load_details(session, days[0], days[-1]))
        async with db.write() as session:
            await _lock(session, db, month)
            await session.execute(delete(ReportMonth).where(col(ReportMonth.month) == month))
            await session.execute(
                delete(ReportMonthDone).where(col(ReportMonthDone.month) == month)
            )
            if found:
                await session.execute(insert(ReportMonth), [record(r, month=True) for r in found])
            await session.execute(insert(ReportMonthDone).values(month=month, computed_at=now))
