"""Finding or creating the contact behind an address."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from carecentre.coltypes import utcnow
from carecentre.contract import IdentityKind
from carecentre.models import Contact, ContactIdentity


async def find_identity(
    session: AsyncSession, kind: IdentityKind, address: str
) -> ContactIdentity | None:
    return await session.scalar(
        select(ContactIdentity).where(
            ContactIdentity.kind == kind, ContactIdentity.address == address
        )
    )


async def resolve_contact(
    session: AsyncSession, *, kind: IdentityKind, address: str, name: str | None
) -> tuple[Contact, ContactIdentity]:
    """The contact owning ``address`` (already normalized), created with its identity if new.

    Two transactions creating the same identity at once: the unique constraint on
    (kind, address) makes one of them fail at flush; the caller retries, and finds this one.
    """
    identity = await find_identity(session, kind, address)
    if identity is not None:
        contact = await session.get_one(Contact, identity.contact_id)
        if name and not contact.name:
            contact.name = name[:200]
            contact.updated_at = utcnow()
        return contact, identity
    contact = Contact(name=name[:200] if name else None)
    session.add(contact)
    await session.flush()
    assert contact.id is not None
    identity = ContactIdentity(contact_id=contact.id, kind=kind, address=address)
    session.add(identity)
    await session.flush()
    return contact, identity


async def identities_of(session: AsyncSession, contact_id: int) -> list[ContactIdentity]:
    rows = await session.scalars(
        select(ContactIdentity)
        .where(ContactIdentity.contact_id == contact_id)
        .order_by(col(ContactIdentity.id))
    )
    return list(rows)
