"""The JSON bodies the fake Twilio API answers with, shaped like Twilio's own."""

from __future__ import annotations

import uuid
from email.utils import formatdate
from typing import Any


def error_body(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def resource(account_sid: str, kind: str, form: dict[str, list[str]]) -> dict[str, Any]:
    """A JSON resource shaped like Twilio's answer to a create."""
    now = formatdate(usegmt=False).replace("-0000", "+0000")
    first = {name: values[0] for name, values in form.items()}
    prefix = "SM" if kind == "Messages" else "CA"
    sid = prefix + uuid.uuid4().hex
    uri = f"/2010-04-01/Accounts/{account_sid}/{kind}/{sid}.json"
    common = {
        "sid": sid,
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "date_created": now,
        "date_updated": now,
        "direction": "outbound-api",
        "from": first.get("From"),
        "to": first.get("To"),
        "status": "queued",
        "price": None,
        "price_unit": "USD",
        "uri": uri,
    }
    if kind == "Messages":
        return common | {
            "body": first.get("Body", ""),
            "date_sent": None,
            "error_code": None,
            "error_message": None,
            "messaging_service_sid": first.get("MessagingServiceSid"),
            "num_media": str(len(form.get("MediaUrl", []))),
            "num_segments": "1",
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
        }
    return common | {"parent_call_sid": None, "start_time": None, "end_time": None}


def invalid_create(kind: str, form: dict[str, list[str]]) -> tuple[int, str] | None:
    """Twilio's validation of a create, as far as our tests need it."""
    if kind == "Messages":
        if "To" not in form:
            return 21604, "A 'To' phone number is required."
        if "From" not in form and "MessagingServiceSid" not in form:
            return 21603, "A 'From' phone number is required."
        if not form.get("Body", [""])[0] and "MediaUrl" not in form:
            return 21602, "Message body is required."
        return None
    if "To" not in form:
        return 21201, "No 'To' number is specified"
    if "From" not in form:
        return 21213, "No 'From' number is specified"
    if "Url" not in form and "Twiml" not in form and "ApplicationSid" not in form:
        return 21205, "Url parameter is required."
    return None
