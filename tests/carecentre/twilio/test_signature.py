"""X-Twilio-Signature, checked with twilio's published test vectors (token 12345)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode

import pytest
from multidict import MultiDict
from starlette.datastructures import FormData
from twilio.request_validator import RequestValidator

from carecentre.twilio.form import decode_form
from carecentre.twilio.signature import (
    build_url,
    sign,
    sign_json,
    verify_form_bytes_signature,
    verify_json_signature,
    verify_signature,
)

TOKEN = "12345"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}
QUERY = "foo=1&bar=2"
REPEATED = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
BODY = b'{"property": "value", "boolean": true}'
BODY_SHA256 = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"


@pytest.mark.parametrize(
    ("public_url", "signature"),
    [
        pytest.param("https://mycompany.com", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", id="basic"),
        # Twilio signed with the default port; validation adds it.
        pytest.param("https://mycompany.com", "kvajT1Ptam85bY51eRf/AJRuM3w=", id="https-443"),
        pytest.param("http://mycompany.com", "0ZXoZLH/DfblKGATFgpif+LLRf4=", id="http-80"),
        # We are configured with a port Twilio left out of the signature: validation strips it.
        pytest.param("https://mycompany.com:1234", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", id="strip"),
        pytest.param("http://mycompany.com:1234", "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=", id="http-1234"),
    ],
)
def test_upstream_vectors(public_url: str, signature: str) -> None:
    assert verify_signature(
        auth_token=TOKEN,
        public_url=public_url,
        path="/myapp.php",
        query=QUERY,
        form=PARAMS,
        signature=signature,
    )


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(REPEATED, id="pairs"),
        pytest.param(FormData([*REPEATED]), id="starlette-formdata"),
        pytest.param(MultiDict(REPEATED), id="multidict"),
        pytest.param(decode_form(b"Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234"), id="raw"),
    ],
)
def test_repeated_keys_are_all_signed(form: object) -> None:
    assert verify_signature(
        auth_token=TOKEN,
        public_url="https://mycompany.com",
        path="/myapp.php",
        query=QUERY,
        form=form,  # type: ignore[arg-type]
        signature="IK+Dwps556ElfBT0I3Rgjkr1wJU=",
    )


def test_a_plain_dict_loses_repeated_values() -> None:
    # Why the webhook must pass the multi-valued form: dict() keeps only the last Digits.
    assert not verify_signature(
        auth_token=TOKEN,
        public_url="https://mycompany.com",
        path="/myapp.php",
        query=QUERY,
        form=dict(REPEATED),
        signature="IK+Dwps556ElfBT0I3Rgjkr1wJU=",
    )


def test_json_body_vector() -> None:
    assert verify_json_signature(
        auth_token=TOKEN,
        public_url="https://mycompany.com",
        path="/myapp.php",
        query=f"{QUERY}&bodySHA256={BODY_SHA256}",
        body=BODY,
        signature="a9nBmqA0ju/hNViExpshrM61xv4=",
    )


def test_json_body_must_match_its_hash() -> None:
    assert not verify_json_signature(
        auth_token=TOKEN,
        public_url="https://mycompany.com",
        path="/myapp.php",
        query=f"{QUERY}&bodySHA256={BODY_SHA256}",
        body=b'{"property": "other", "boolean": true}',
        signature="a9nBmqA0ju/hNViExpshrM61xv4=",
    )


def test_json_without_body_hash_is_refused() -> None:
    assert not verify_json_signature(
        auth_token=TOKEN,
        public_url="https://mycompany.com",
        path="/myapp.php",
        query=QUERY,
        body=BODY,
        signature="a9nBmqA0ju/hNViExpshrM61xv4=",
    )


def test_sign_json_round_trip() -> None:
    url, signature = sign_json(auth_token=TOKEN, url="https://mycompany.com/myapp.php", body=BODY)
    assert url == f"https://mycompany.com/myapp.php?bodySHA256={BODY_SHA256}"
    assert verify_json_signature(
        auth_token=TOKEN,
        public_url="https://mycompany.com",
        path="/myapp.php",
        query=f"bodySHA256={BODY_SHA256}",
        body=BODY,
        signature=signature,
    )


def test_sign_matches_upstream_vector() -> None:
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert sign(auth_token=TOKEN, url=url, form=PARAMS) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert sign(auth_token=TOKEN, url=url, form=REPEATED) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"public_url": "https://evil.example"}, id="other-host"),
        pytest.param({"path": "/other.php"}, id="other-path"),
        pytest.param({"query": "foo=1&bar=3"}, id="other-query"),
        pytest.param({"form": {**PARAMS, "Digits": "9999"}}, id="tampered-field"),
        pytest.param({"form": {**PARAMS, "Extra": "x"}}, id="added-field"),
        pytest.param({"auth_token": "54321"}, id="other-token"),
        pytest.param({"signature": None}, id="missing"),
        pytest.param({"signature": ""}, id="empty"),
    ],
)
def test_anything_changed_fails(change: dict[str, object]) -> None:
    arguments: dict[str, object] = {
        "auth_token": TOKEN,
        "public_url": "https://mycompany.com",
        "path": "/myapp.php",
        "query": QUERY,
        "form": PARAMS,
        "signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
    }
    arguments.update(change)
    assert not verify_signature(**arguments)  # type: ignore[arg-type]


def test_uploaded_files_never_verify() -> None:
    form = FormData([("From", "+15145550100"), ("File", object())])  # type: ignore[list-item]
    assert not verify_signature(
        auth_token=TOKEN,
        public_url="https://mycompany.com",
        path="/x",
        query="",
        form=form,
        signature="anything",
    )


def test_round_trip_through_a_prefixed_public_url() -> None:
    form = [("MessageSid", "SM" + "a" * 32), ("Body", "Bonjour, ça va?")]
    public_url = "https://city.example/carecentre/"
    url = build_url(public_url, "/webhooks/twilio/sms", "")
    assert url == "https://city.example/carecentre/webhooks/twilio/sms"
    signature = sign(auth_token=TOKEN, url=url, form=form)
    assert verify_signature(
        auth_token=TOKEN,
        public_url=public_url,
        path="/webhooks/twilio/sms",
        query="",
        form=form,
        signature=signature,
    )


def test_build_url_refuses_a_relative_public_url() -> None:
    with pytest.raises(ValueError, match="absolute http"):
        build_url("city.example", "/x")


@pytest.mark.parametrize(
    ("public_url", "body", "signature"),
    [
        pytest.param(
            "https://mycompany.com",
            urlencode(PARAMS).encode(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
            id="basic",
        ),
        pytest.param(
            "https://mycompany.com",
            urlencode(PARAMS).encode(),
            "kvajT1Ptam85bY51eRf/AJRuM3w=",
            id="https-443",
        ),
        pytest.param(
            "http://mycompany.com:1234",
            urlencode(PARAMS).encode(),
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
            id="http-1234",
        ),
        pytest.param(
            "https://mycompany.com",
            urlencode(REPEATED).encode(),
            "IK+Dwps556ElfBT0I3Rgjkr1wJU=",
            id="repeated",
        ),
    ],
)
def test_upstream_vectors_over_the_raw_bytes(public_url: str, body: bytes, signature: str) -> None:
    # The check used for bodies that are not UTF-8 agrees with Twilio's on ones that are.
    assert verify_form_bytes_signature(
        auth_token=TOKEN,
        public_url=public_url,
        path="/myapp.php",
        query=QUERY,
        body=body,
        signature=signature,
    )


def test_a_body_that_is_not_utf8_is_signed_over_its_bytes() -> None:
    body = b"Body=caf%E9&From=%2B14158675309"
    data = b"https://mycompany.com/myapp.php" + b"Bodycaf\xe9" + b"From+14158675309"
    signature = base64.b64encode(hmac.new(TOKEN.encode(), data, hashlib.sha1).digest()).decode()
    arguments = {"auth_token": TOKEN, "public_url": "https://mycompany.com", "path": "/myapp.php"}
    assert verify_form_bytes_signature(**arguments, query="", body=body, signature=signature)
    assert not verify_form_bytes_signature(
        **arguments, query="", body=body.replace(b"E9", b"E8"), signature=signature
    )
    assert not verify_form_bytes_signature(**arguments, query="", body=body, signature=None)


@pytest.mark.parametrize(
    "public_url",
    [
        "https://mycompany.com",
        "https://mycompany.com:443",
        "http://mycompany.com",
        "http://mycompany.com:80",
        "http://127.0.0.1:8000",
        "https://city.example/carecentre",
    ],
)
@pytest.mark.parametrize(
    "signed_url",
    [
        "https://mycompany.com/hook?x=1",
        "https://mycompany.com:443/hook?x=1",
        "http://mycompany.com:80/hook?x=1",
        "http://127.0.0.1:8000/hook?x=1",
        "https://city.example/carecentre/hook?x=1",
    ],
)
def test_the_same_verdict_as_twilios_request_validator(public_url: str, signed_url: str) -> None:
    """The signature is computed directly; whatever twilio's RequestValidator accepts or
    refuses, so does verify_signature."""
    form = [
        ("Body", "Réparez le lampadaire 🙏"),
        ("Digits", "5678"),
        ("Digits", "1234"),
        ("Digits", "1234"),
        ("Empty", ""),
        ("From", "+16135550123"),
    ]
    fields = decode_form(urlencode(form).encode())
    signature = sign(auth_token=TOKEN, url=signed_url, form=form)
    url = build_url(public_url, "/hook", "x=1")
    expected = RequestValidator(TOKEN).validate(url, MultiDict(form), signature)
    for given in (fields, form, MultiDict(form)):
        assert verify_signature(
            auth_token=TOKEN,
            public_url=public_url,
            path="/hook",
            query="x=1",
            form=given,
            signature=signature,
        ) is bool(expected)
