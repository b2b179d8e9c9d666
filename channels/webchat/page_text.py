"""The chat page's words, in English and French (``page_text.toml``); the page script gets them
as JSON."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

LANGUAGES = ("en", "fr")


@cache
def texts() -> dict[str, dict[str, str]]:
    raw = resources.files("channels.webchat").joinpath("page_text.toml").read_text("utf-8")
    found = tomllib.loads(raw)
    return {language: {k: str(v) for k, v in found[language].items()} for language in LANGUAGES}
