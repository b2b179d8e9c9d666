"""Check Twilio's ``X-Twilio-Signature`` on a webhook.

Twilio signs the URL it called (scheme, host, path and raw query string) followed by every form
field, sorted, repeated names included: HMAC-SHA1 with the auth token, base64. Webhooks are
checked with twilio's own RequestValidator (only a body that is not UTF-8, which the validator
cannot take, is checked over its bytes here). Behind a proxy the URL the application sees is not
the one Twilio called, and the Host header is attacker-controlled, so the URL is always rebuilt
from the configured public base URL (``CARECENTRE_PUBLIC_URL``) plus the request path and raw
query string.

JSON webhooks are signed differently: the body's SHA-256 travels in the ``bodySHA256`` query
parameter and only the URL is signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl, urlparse, urlsplit

from twilio.request_validator import RequestValidator, add_port, remove_port

from carecentre.twilio.form import MAX_FIELDS, FormFields

SIGNATURE_HEADER = "X-Twilio-Signature"


@runtime_checkable
class MultiValueForm(Protocol):
    """A multi-valued form such as Starlette's ``FormData`` or :class:`FormFields`."""

    def keys(self) -> Iterable[Any]: ...

    def getlist(self, key: Any) -> Sequence[Any]: ...


FormInput = MultiValueForm | Mapping[str, str] | Iterable[tuple[str, str]]


class _Params:
    """What RequestValidator iterates over: field names, and every value of a name.

    RequestValidator asks for ``getall`` (multidict), then ``getlist`` (Django), then falls back
    to ``params[name]``, which would drop repeated values; giving it ``getlist`` keeps them all.
    """

    __slots__ = ("_values",)

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in pairs:
            self._values.setdefault(name, []).append(value)

    def getlist(self, name: str) -> list[str]:
        return self._values.get(name, [])

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _form_pairs(form: FormInput) -> list[tuple[str, str]] | None:
    """Flatten any supported form to (name, value) pairs; ``None`` if a value is not text."""
    if isinstance(form, FormFields):
        return list(form.pairs)  # decoded from text: every name and value is a str
    if isinstance(form, MultiValueForm):
        pairs = [(key, value) for key in dict.fromkeys(form.keys()) for value in form.getlist(key)]
    elif isinstance(form, Mapping) and hasattr(form, "getall"):
        # multidict.MultiDict (aiohttp's) names it getall.
        pairs = [(key, value) for key in dict.fromkeys(form.keys()) for value in form.getall(key)]
    elif isinstance(form, Mapping):
        pairs = list(form.items())
    else:
        pairs = list(form)
    # An uploaded file cannot be part of a Twilio signature: Twilio never posts multipart.
    if not all(isinstance(name, str) and isinstance(value, str) for name, value in pairs):
        return None
    return pairs


def build_url(public_url: str, path: str, query: str = "") -> str:
    """The URL Twilio called: the public base URL (with any path prefix), path, raw query."""
    base = urlsplit(public_url)
    if base.scheme not in ("http", "https") or not base.netloc:
        raise ValueError(f"public URL must be an absolute http(s) URL, got {public_url!r}")
    url = f"{base.scheme}://{base.netloc}{base.path.rstrip('/')}/{path.lstrip('/')}"
    return f"{url}?{query}" if query else url


def verify_signature(
    *,
    auth_token: str,
    public_url: str,
    path: str,
    query: str,
    form: FormInput,
    signature: str | None,
) -> bool:
    """True when ``signature`` is Twilio's signature of this form-encoded webhook.

    ``query`` is the raw query string exactly as received (``request.url.query``), without the
    ``?``. ``form`` may be Starlette's ``FormData``, a :class:`~carecentre.twilio.form.FormFields`,
    a plain mapping or (name, value) pairs; pass a multi-valued form so repeated names are signed.
    A missing or empty signature is never valid.
    """
    if not signature:
        return False
    pairs = _form_pairs(form)
    if pairs is None:
        return False
    url = build_url(public_url, path, query)
    # validate() also tries the URL with and without the default port, as Twilio's own
    # signing is inconsistent about it.
    return bool(_validator(auth_token).validate(url, _Params(pairs), signature))


@lru_cache(maxsize=8)
def _validator(auth_token: str) -> RequestValidator:
    return RequestValidator(auth_token)


def verify_form_bytes_signature(
    *,
    auth_token: str,
    public_url: str,
    path: str,
    query: str,
    body: bytes,
    signature: str | None,
) -> bool:
    """:func:`verify_signature` for a form body that is not UTF-8, computed over its bytes.

    Twilio always sends UTF-8, so such a body is malformed; but when it is signed, it still came
    from Twilio and is kept (as failed) rather than refused unread. Twilio's algorithm is
    applied to the percent-decoded bytes: for text that is UTF-8 the result is the same, since
    UTF-8 bytes sort in code point order.
    """
    if not signature:
        return False
    try:
        # Latin-1 maps every byte to one character and back, so nothing is altered.
        pairs = parse_qsl(
            body.decode("latin-1"),
            keep_blank_values=True,
            encoding="latin-1",
            max_num_fields=MAX_FIELDS,
        )
    except ValueError:
        return False
    values: dict[bytes, set[bytes]] = {}
    for name, value in pairs:
        values.setdefault(name.encode("latin-1"), set()).add(value.encode("latin-1"))
    signed = b"".join(name + value for name in sorted(values) for value in sorted(values[name]))
    parsed = urlparse(build_url(public_url, path, query))
    key = auth_token.encode("utf-8")
    expected = signature.strip().encode("ascii", "replace")
    # Like RequestValidator.validate: the URL with and without the default port.
    for url in (remove_port(parsed), add_port(parsed)):
        digest = hmac.new(key, url.encode("utf-8") + signed, hashlib.sha1).digest()
        if hmac.compare_digest(base64.b64encode(digest), expected):
            return True
    return False


def verify_json_signature(
    *,
    auth_token: str,
    public_url: str,
    path: str,
    query: str,
    body: bytes,
    signature: str | None,
) -> bool:
    """True when ``signature`` is Twilio's signature of this JSON webhook.

    The raw query string must carry ``bodySHA256``; the body's SHA-256 must match it.
    """
    if not signature or "bodySHA256=" not in query:
        # Without bodySHA256 RequestValidator would treat the body as form fields.
        return False
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    url = build_url(public_url, path, query)
    return bool(RequestValidator(auth_token).validate(url, text, signature))


def sign(*, auth_token: str, url: str, form: FormInput = ()) -> str:
    """Twilio's signature of a form webhook to ``url`` (for tests and fakes)."""
    pairs = _form_pairs(form)
    if pairs is None:
        raise TypeError("every form value must be a string")
    return str(RequestValidator(auth_token).compute_signature(url, _Params(pairs)))


def sign_json(*, auth_token: str, url: str, body: bytes) -> tuple[str, str]:
    """The URL with ``bodySHA256`` added, and Twilio's signature of it (for tests and fakes)."""
    validator = RequestValidator(auth_token)
    digest = validator.compute_hash(body.decode("utf-8"))
    separator = "&" if urlsplit(url).query else "?"
    signed_url = f"{url}{separator}bodySHA256={digest}"
    return signed_url, str(validator.compute_signature(signed_url, {}))
