"""The fake Twilio REST API itself: what other tests rely on."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import aiohttp
import pytest
from twilio.rest import Client

from carecentre.twilio.http_client import AiohttpTwilioClient, basic_auth_header
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioApi, Reply


def post(url: str, data: bytes, auth: str | None) -> tuple[int, dict[str, object]]:
    """A plain blocking POST, the way a sync test (or another process) would call the fake."""
    request = urllib.request.Request(url, data=data, method="POST")
    if auth:
        request.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def test_messages_from_a_sync_client() -> None:
    with FakeTwilioApi() as api:
        url = f"{api.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        status, payload = post(
            url, b"To=%2B1555&From=%2B1666&Body=Hi", basic_auth_header(ACCOUNT_SID, AUTH_TOKEN)
        )
        assert status == 201
        assert str(payload["sid"]).startswith("SM")
        assert payload["status"] == "queued"
        assert payload["body"] == "Hi"
        assert api.messages[0].form == {"To": ["+1555"], "From": ["+1666"], "Body": ["Hi"]}


def test_auth_and_validation_errors() -> None:
    with FakeTwilioApi() as api:
        url = f"{api.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        assert post(url, b"To=1&From=2&Body=x", None)[0] == 401
        assert post(url, b"To=1&From=2&Body=x", basic_auth_header(ACCOUNT_SID, "bad"))[0] == 401
        status, payload = post(url, b"To=1&From=2", basic_auth_header(ACCOUNT_SID, AUTH_TOKEN))
        assert (status, payload["code"]) == (400, 21602)
        other = url.replace(ACCOUNT_SID, "AC" + "9" * 32)
        assert (
            post(other, b"To=1&From=2&Body=x", basic_auth_header(ACCOUNT_SID, AUTH_TOKEN))[0] == 404
        )
        assert [r.authorized for r in api.requests] == [False, False, True, True]


def test_scripted_replies_are_used_in_order_then_201() -> None:
    with FakeTwilioApi() as api:
        api.script(Reply.opted_out(), Reply.too_many_requests())
        url = f"{api.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        auth = basic_auth_header(ACCOUNT_SID, AUTH_TOKEN)
        statuses = [post(url, b"To=1&From=2&Body=x", auth) for _ in range(3)]
        assert [s for s, _ in statuses] == [400, 429, 201]
        assert statuses[0][1]["code"] == 21610


async def test_calls_through_the_twilio_client() -> None:
    with FakeTwilioApi() as api:
        http = AiohttpTwilioClient()
        client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http)
        client.api.base_url = api.base_url
        try:
            call = await client.calls.create_async(
                to="+15145550199",
                from_="+15145550100",
                url="https://city.example/webhooks/twilio/voice",
                status_callback_event=["initiated", "completed"],
            )
        finally:
            await http.aclose()
        assert call.sid.startswith("CA")
        [request] = api.calls
        assert request.form["StatusCallbackEvent"] == ["initiated", "completed"]


async def test_media_needs_basic_auth() -> None:
    with FakeTwilioApi() as api:
        url = api.add_media("photo.jpg", b"\xff\xd8jpeg", "image/jpeg")
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as anonymous:
                assert anonymous.status == 401
            headers = {"Authorization": basic_auth_header(ACCOUNT_SID, AUTH_TOKEN)}
            async with session.get(url, headers=headers) as response:
                assert response.status == 200
                assert response.content_type == "image/jpeg"
                assert await response.read() == b"\xff\xd8jpeg"
            async with session.get(f"{api.base_url}/media/missing", headers=headers) as missing:
                assert missing.status == 404


def test_close_releases_a_hanging_request() -> None:
    api = FakeTwilioApi().start()
    api.script(Reply.hang_until_released())
    url = f"{api.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    request = urllib.request.Request(url, data=b"To=1&From=2&Body=x", method="POST")
    request.add_header("Authorization", basic_auth_header(ACCOUNT_SID, AUTH_TOKEN))
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        urllib.request.urlopen(request, timeout=0.2)
    api.close()  # must not block on the hanging handler
    assert len(api.requests) == 1
