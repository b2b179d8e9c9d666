"""Decode the raw ``application/x-www-form-urlencoded`` bodies Twilio posts.

Twilio posts every webhook as a form. We parse the raw bytes ourselves (not through a framework's
form parser) so the parse is pure, repeatable from the stored raw payload, and strict about
encoding: a body that is not UTF-8 becomes a :class:`ParseError`, never silently "fixed" text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from urllib.parse import parse_qsl

from carecentre.contract import ParseError

# Twilio sends ~40 fields for an MMS with 10 media and Add-ons; this only stops abuse.
MAX_FIELDS = 500


class FormFields:
    """An ordered multi-valued view of form fields (repeated names keep every value).

    It has ``keys()`` and ``getlist()``, so it can be handed to
    :func:`carecentre.twilio.signature.verify_signature` as is.
    """

    __slots__ = ("_index", "_pairs")

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._pairs = tuple(pairs)
        self._index: dict[str, list[str]] | None = None

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        return self._pairs

    def _values(self) -> dict[str, list[str]]:
        """Every name's values, in order; built on first use (a parse asks for ~20 names)."""
        if self._index is None:
            index: dict[str, list[str]] = {}
            for name, value in self._pairs:
                index.setdefault(name, []).append(value)
            self._index = index
        return self._index

    def keys(self) -> list[str]:
        """Field names in first-seen order, each once."""
        return list(self._values())

    def getlist(self, name: str) -> list[str]:
        return list(self._values().get(name, ()))

    def get(self, name: str) -> str | None:
        """The field's value, or ``None`` when it is absent.

        A field sent twice with different values is ambiguous, so it is refused rather than
        guessed; the same value repeated is harmless.
        """
        values = self._values().get(name)
        if not values:
            return None
        if len(values) > 1 and len(set(values)) > 1:
            raise ParseError(f"form field {name!r} appears more than once with different values")
        return values[0]

    def require(self, name: str) -> str:
        """The field's value; a :class:`ParseError` naming the field when it is absent or blank."""
        value = self.get(name)
        if value is None or not value.strip():
            raise ParseError(f"required form field {name!r} is missing or empty")
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._values()

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._values())

    def __repr__(self) -> str:
        return f"FormFields({list(self._pairs)!r})"


def decode_form(raw: bytes) -> FormFields:
    """Parse a raw form body, keeping blank values and repeated names.

    Raises :class:`ParseError` when the body (or a percent-encoded value in it) is not UTF-8, or
    when it has more than :data:`MAX_FIELDS` fields.
    """
    try:
        text = raw.decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"form body is not valid UTF-8 ({exc.reason}); Twilio always sends UTF-8,"
            " so this body was altered on the way or did not come from Twilio"
        ) from exc
    except ValueError as exc:
        raise ParseError(f"form body has more than {MAX_FIELDS} fields") from exc
    return FormFields(pairs)
