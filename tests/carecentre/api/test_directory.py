"""``/api/v1``: contacts, queues with open counts, stats, and attachment downloads."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import update
from sqlmodel import col

from carecentre.contract import Channel, IdentityKind, InboundAttachment
from carecentre.models import OutboxItem
from carecentre.seed import DEMO_QUEUES
from carecentre.services import Services
from carecentre.states import Role
from tests.support.api import Api

PHOTO = b"\xff\xd8\xff\xe0 not really a jpeg <script>alert(1)</script>"


# -- attachments ------------------------------------------------------------------------------


def test_an_attachment_is_served_as_a_download(api: Api) -> None:
    reference = api.email(
        "Photo", attachments=(InboundAttachment("pothole.jpg", "image/jpeg", data=PHOTO),)
    )
    (listed,) = api.ticket(reference)["messages"][0]["attachments"]
    assert listed["filename"] == "pothole.jpg"
    assert listed["content_type"] == "image/jpeg"
    assert listed["size"] == len(PHOTO)
    assert listed["pending"] is False
    assert listed["url"] == f"https://carecentre.test/api/v1/attachments/{listed['id']}"

    response = api.get(f"/attachments/{listed['id']}")

    assert response.status_code == 200
    assert response.content == PHOTO
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == 'attachment; filename="pothole.jpg"'
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    assert "no-store" in response.headers["cache-control"]


def test_an_awkward_filename_cannot_break_the_header(
    sqlite_api: Api, subtests: pytest.Subtests
) -> None:
    api = sqlite_api
    for filename in (
        'a"b.html',
        "r\u00e9sum\u00e9.pdf",
        "../../etc/passwd",
        "x\r\nSet-Cookie: a=b",
    ):
        with subtests.test(filename=filename):
            reference = api.email(
                "File", attachments=(InboundAttachment(filename, "text/html", data=b"<h1>hi</h1>"),)
            )
            (listed,) = api.ticket(reference)["messages"][0]["attachments"]

            response = api.get(f"/attachments/{listed['id']}")

            assert response.status_code == 200
            disposition = response.headers["content-disposition"]
            assert disposition.startswith("attachment;")
            assert "\r" not in disposition
            assert "\n" not in disposition
            assert "set-cookie" not in response.headers
            assert response.headers["content-type"] == "application/octet-stream"


def test_a_pending_attachment_is_listed_but_not_served(api: Api) -> None:
    url = "https://api.twilio.com/media/ME123"
    reference = api.email(
        "MMS", attachments=(InboundAttachment("photo.jpg", "image/jpeg", url=url),)
    )
    (listed,) = api.ticket(reference)["messages"][0]["attachments"]
    assert listed["pending"] is True
    assert listed["url"] is None
    assert listed["size"] is None

    response = api.get(f"/attachments/{listed['id']}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_an_unknown_attachment_is_404(api: Api, subtests: pytest.Subtests) -> None:
    api.email("Photo", attachments=(InboundAttachment("a.jpg", "image/jpeg", data=PHOTO),))
    for ident in ("999", "0", "-1", "abc", "1.5", "99999999999999999999999"):
        with subtests.test(ident=ident):
            response = api.get(f"/attachments/{ident}")
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "not_found"


def test_an_attachment_whose_file_is_gone_is_404(sqlite_api: Api) -> None:
    api = sqlite_api
    reference = api.email(
        "Photo", attachments=(InboundAttachment("a.jpg", "image/jpeg", data=PHOTO),)
    )
    (listed,) = api.ticket(reference)["messages"][0]["attachments"]
    for path in api.services.store.root.rglob("*"):
        if path.is_file():
            path.unlink()

    response = api.get(f"/attachments/{listed['id']}")

    assert response.status_code == 404
    assert "missing" in response.json()["error"]["message"]


# -- contacts ---------------------------------------------------------------------------------


def test_a_contact_with_addresses_and_tickets_newest_first(api: Api) -> None:
    first = api.email("Pothole", sender="Marie@Resident.Example", name="Marie Tremblay")
    second = api.email("Snow", sender="Marie@RESIDENT.example")  # the same address
    contact_id = api.ticket(first)["contact"]["id"]
    api.add_identity(contact_id, IdentityKind.PHONE, "+16135550177")

    contact = api.get(f"/contacts/{contact_id}").json()

    assert contact["id"] == contact_id
    assert contact["name"] == "Marie Tremblay"
    assert contact["identities"] == [
        {"channel": "email", "address": "Marie@resident.example", "opted_out": False},
        {"channel": "phone", "address": "+16135550177", "opted_out": False},
    ]
    assert [t["reference"] for t in contact["tickets"]] == [second, first]
    assert contact["tickets"][0] == {
        "reference": second,
        "status": "new",
        "subject": "Snow",
        "channel": "email",
        "created_at": contact["tickets"][0]["created_at"],
    }
    datetime.fromisoformat(contact["tickets"][0]["created_at"])


def test_an_unknown_contact_is_404(api: Api, subtests: pytest.Subtests) -> None:
    api.sms("hello")
    for ident in ("999", "0", "-5", "abc", "99999999999999999999999"):
        with subtests.test(ident=ident):
            response = api.get(f"/contacts/{ident}")
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "not_found"


# -- queues -----------------------------------------------------------------------------------


def test_queues_with_open_counts(api: Api) -> None:
    api.sms("one", sender="+16135550001", queue="roads")
    api.sms("two", sender="+16135550002", queue="roads")
    done = api.sms("three", sender="+16135550003", queue="roads")
    api.sms("four", sender="+16135550004", queue="waste")
    api.patch(f"/tickets/{done}", {"status": "resolved"})

    items = api.get("/queues").json()["items"]

    assert sorted(q["slug"] for q in items) == sorted(slug for slug, _, _ in DEMO_QUEUES)
    assert [q["name"] for q in items] == sorted(q["name"] for q in items)
    counts = {q["slug"]: q["open_tickets"] for q in items}
    assert counts["roads"] == 2
    assert counts["waste"] == 1
    assert counts["parking"] == 0
    roads = next(q for q in items if q["slug"] == "roads")
    assert roads["active"] is True
    assert roads["description"]


# -- stats ------------------------------------------------------------------------------------


def test_stats_count_what_is_open(api: Api) -> None:
    api.sms("one", sender="+16135550001", queue="roads")
    answered = api.sms("two", sender="+16135550002", queue="roads")
    api.email("three", queue="waste")
    done = api.sms("four", sender="+16135550004", queue="waste")
    api.post(f"/tickets/{answered}/replies", {"body": "On it"})
    api.patch(f"/tickets/{done}", {"status": "resolved", "resolution": "fixed"})

    stats = api.get("/stats").json()

    assert stats["open_by_status"] == {"new": 2, "open": 1}
    assert stats["open_by_queue"] == {"roads": 2, "waste": 1}
    assert stats["open_by_channel"] == {"sms": 2, "email": 1}
    assert stats["created_today"] == 4
    assert stats["resolved_today"] == 1
    assert stats["outbox_pending"] == 1
    assert stats["outbox_failed"] == 0
    assert stats["unparsed_payloads"] == 0
    oldest = datetime.fromisoformat(stats["oldest_unanswered_at"])
    assert oldest.tzinfo is not None


def test_stats_of_an_empty_centre(api: Api) -> None:
    assert api.get("/stats").json() == {
        "open_by_status": {},
        "open_by_queue": {},
        "open_by_channel": {},
        "created_today": 0,
        "resolved_today": 0,
        "oldest_unanswered_at": None,
        "outbox_pending": 0,
        "outbox_failed": 0,
        "unparsed_payloads": 0,
    }


def test_stats_show_failed_sends_and_unparsed_payloads_to_supervisors(api: Api) -> None:
    reference = api.sms("hello")
    api.post(f"/tickets/{reference}/replies", {"body": "On it"})
    api.execute(update(OutboxItem).where(col(OutboxItem.id) > 0).values(state="failed"))

    async def unparsable(svc: Services) -> None:
        received = await svc.pipeline.receive(Channel.SMS, b"\x00garbage", content_type="x/y")
        assert received.error is not None

    api.run(unparsable)
    _, supervisor = api.agent("sue@city.example", role=Role.SUPERVISOR)
    _, agent = api.agent("sam@city.example")

    assert api.get("/stats", token=supervisor).json()["unparsed_payloads"] == 1
    assert api.get("/stats").json()["unparsed_payloads"] == 1  # the admin
    stats = api.get("/stats", token=agent).json()
    assert stats["unparsed_payloads"] == 0
    assert stats["outbox_failed"] == 1
    assert stats["outbox_pending"] == 0
