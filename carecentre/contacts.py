"""Finding or creating the contact behind an address.

Plain functions on a synchronous session: they run on the SQLite writer thread, or through
``AsyncSession.run_sync`` (see carecentre.db).
"""

from __future__ import annotations

from sqlalchemy.orm import Session
from sqlmodel import col, select

from carecentre.coltypes import utcnow
from carecentre.contract import IdentityKind
from carecentre.models import Contact, ContactIdentity


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
