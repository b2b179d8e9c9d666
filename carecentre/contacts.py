"""Finding or creating the contact behind an address.

Plain functions on a synchronous session: they run on the SQLite writer thread, or through
``AsyncSession.run_sync`` (see carecentre.db).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, bindparam, or_, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlmodel import col, select

from carecentre.coltypes import utcnow
from carecentre.contract import IdentityKind
from carecentre.db import inserted_id
from carecentre.models import Contact, ContactIdentity

_contact: Table = Contact.__table__  # type: ignore[attr-defined]
_identity: Table = ContactIdentity.__table__  # type: ignore[attr-defined]

# Built once: a statement used again finds its compiled form in the cache straight away.
_FIND = (
    select(_identity.c.contact_id, _contact.c.name, _identity.c.opted_out_at)
    .join_from(_identity, _contact, _contact.c.id == _identity.c.contact_id)
    .where(_identity.c.kind == bindparam("kind"), _identity.c.address == bindparam("address"))
)
# The identity's row only: the contact's stays free for agents editing it meanwhile.
_FIND_LOCKED = _FIND.with_for_update(of=_identity)
_NAME = (
    update(_contact)
    .where(
        _contact.c.id == bindparam("contact_id"),
        or_(_contact.c.name.is_(None), _contact.c.name == ""),
    )
    .values(name=bindparam("name"), updated_at=bindparam("now"))
)
_INSERT_CONTACT = _contact.insert()
_INSERT_IDENTITY = _identity.insert()


def find_identity(
    session: Session, kind: IdentityKind, address: str, *, lock: bool = False
) -> ContactIdentity | None:
    query = select(ContactIdentity).where(
        ContactIdentity.kind == kind, ContactIdentity.address == address
    )
    return session.scalar(query.with_for_update() if lock else query)


def resolve_contact(
    session: Session, *, kind: IdentityKind, address: str, name: str | None, lock: bool = False
) -> tuple[int, ContactIdentity]:
    """The id of the contact owning ``address`` (already normalized), created if new.

    Two transactions creating the same identity at once: the unique constraint on
    (kind, address) makes one of them fail at flush; the caller retries, and finds this one.
    With ``lock`` (PostgreSQL), the identity's row stays locked until commit, so messages from
    one address are threaded one after another.
    """
    identity = find_identity(session, kind, address, lock=lock)
    if identity is not None:
        if name:
            contact = session.get_one(Contact, identity.contact_id)
            if not contact.name:
                contact.name = name[:200]
                contact.updated_at = utcnow()
        return identity.contact_id, identity
    contact = Contact(name=name[:200] if name else None)
    session.add(contact)
    session.flush()
    assert contact.id is not None
    identity = ContactIdentity(contact_id=contact.id, kind=kind, address=address)
    session.add(identity)
    session.flush()
    return contact.id, identity


def identities_of(session: Session, contact_id: int) -> list[ContactIdentity]:
    rows = session.scalars(
        select(ContactIdentity)
        .where(ContactIdentity.contact_id == contact_id)
        .order_by(col(ContactIdentity.id))
    )
    return list(rows)


@dataclass(frozen=True, slots=True)
class Resolved:
    """The contact behind an address, and what the pipeline needs of it and of the identity."""

    contact_id: int
    name: str | None
    kind: IdentityKind
    address: str
    opted_out_at: datetime | None = None
    created: bool = False


def resolve_contact_id(
    conn: Connection,
    *,
    kind: IdentityKind,
    address: str,
    name: str | None,
    now: datetime,
    lock: bool = False,
) -> Resolved:
    """:func:`resolve_contact` for the inbound pipeline, by plain statements on the writer's
    connection (no ORM objects), with the same rules: a known contact without a name takes
    the one given; a new address makes a new contact; a race on a new identity fails the
    unique constraint, and the caller's retry finds the winner.
    """
    name = name[:200] if name else None
    found = conn.execute(
        _FIND_LOCKED if lock else _FIND, {"kind": kind, "address": address}
    ).first()
    if found is not None:
        contact_id, known, opted_out_at = found
        if name and not known:
            conn.execute(_NAME, {"contact_id": contact_id, "name": name, "now": now})
            known = name
        return Resolved(contact_id, known, kind, address, opted_out_at)
    contact_id = inserted_id(
        conn.execute(_INSERT_CONTACT, {"name": name, "created_at": now, "updated_at": now})
    )
    conn.execute(
        _INSERT_IDENTITY,
        {"contact_id": contact_id, "kind": kind, "address": address, "created_at": now},
    )
    return Resolved(contact_id, name, kind, address, created=True)
