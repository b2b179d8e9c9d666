"""Twilio's webhook signatures now live in :mod:`carecentre.twilio.signature`, shared with the
voice channel; this name stays for the scripts and tests that import ``sign`` from it."""

from carecentre.twilio.signature import (
    SIGNATURE_HEADER,
    build_url,
    sign,
    sign_json,
    verify_form_bytes_signature,
    verify_json_signature,
    verify_signature,
)

__all__ = [
    "SIGNATURE_HEADER",
    "build_url",
    "sign",
    "sign_json",
    "verify_form_bytes_signature",
    "verify_json_signature",
    "verify_signature",
]
