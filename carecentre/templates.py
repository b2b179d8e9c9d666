"""Messages to residents are Jinja2 templates, editable without code.

Each channel ships its templates in its package; a file of the same name in
``CARECENTRE_TEMPLATES_DIR`` (or a subfolder named after the channel) replaces the built-in one.
Text templates are not escaped; HTML ones are.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    select_autoescape,
)


def environment(package: str, override: Path | None, *, folder: str = "templates") -> Environment:
    loaders: list[FileSystemLoader | PackageLoader] = []
    if override is not None:
        channel = package.rsplit(".", 1)[-1]
        loaders += [FileSystemLoader(override / channel), FileSystemLoader(override)]
    loaders.append(PackageLoader(package, folder))
    return Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(["html", "xml"], default_for_string=False, default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(env: Environment, name: str, language: str, **values: object) -> str:
    """Render ``name`` in ``language`` (``ack.fr.txt``), falling back to English."""
    stem, _, suffix = name.partition(".")
    for candidate in (f"{stem}.{language}.{suffix}", f"{stem}.en.{suffix}"):
        try:
            template = env.get_template(candidate)
        except Exception:  # noqa: S112 - TemplateNotFound: try the next language
            continue
        return template.render(**values).strip()
    raise LookupError(f"no template {name!r} in {language!r} or English")
