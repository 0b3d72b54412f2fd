"""The bundled demo feeds: the packaged manifest and the feeds it lists.

:func:`load_manifest` reads ``monitor/demo/feeds/manifest.yml`` through
``importlib.resources`` and validates every entry as a :class:`DemoFeed`. It
guarantees unique feed ids and known media types, and reports every problem at once
in one :class:`~monitor.errors.ConfigError` (``feeds[3].interval: ...``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import PurePosixPath
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from monitor.demo.document import FeedFormat
from monitor.errors import ConfigError

__all__ = ["DemoFeed", "load_manifest"]

_PACKAGE = "monitor.demo"
_FEEDS_DIR = "feeds"
_MANIFEST = "manifest.yml"

_MEDIA_TYPES: dict[str, FeedFormat] = {
    "application/rss+xml": "rss",
    "application/rdf+xml": "rdf",
    "application/atom+xml": "atom",
    "application/feed+json": "json",
}


class DemoFeed(BaseModel):
    """One bundled demo feed, as listed in ``monitor/demo/feeds/manifest.yml``.

    ``path`` is the URL path the replay server serves it at, ``/feeds/<id>.<ext>``
    where ``ext`` is the file's extension; it is derived when the manifest omits it.
    ``interval`` is the poll interval the embedded default uses for the feed, and its
    reveal period when the server is built with ``reveal_every=None``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    agency: str = Field(min_length=1)
    language: str = Field(pattern=r"^[a-z]{2}$", description="ISO 639-1 code of the items.")
    file: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*\.[A-Za-z0-9]+$")
    content_type: str = Field(description="Media type without parameters, e.g. application/rss+xml.")
    interval: float = Field(gt=0)
    path: str = Field(pattern=r"^/feeds/[A-Za-z0-9_.-]+$")

    @model_validator(mode="before")
    @classmethod
    def _derive_path(cls, data: Any) -> Any:
        if isinstance(data, dict) and "path" not in data and "id" in data and "file" in data:
            suffix = PurePosixPath(str(data["file"])).suffix
            return {**data, "path": f"/feeds/{data['id']}{suffix}"}
        return data

    @field_validator("content_type")
    @classmethod
    def _known_media_type(cls, value: str) -> str:
        if value not in _MEDIA_TYPES:
            known = ", ".join(sorted(_MEDIA_TYPES))
            raise ValueError(f"must be one of {known}, got {value!r}")
        return value

    @property
    def format(self) -> FeedFormat:
        """The document format, from ``content_type``."""
        return _MEDIA_TYPES[self.content_type]

    def read_bytes(self) -> bytes:
        """The packaged document, read through ``importlib.resources``."""
        return resources.files(_PACKAGE).joinpath(_FEEDS_DIR, self.file).read_bytes()


def load_manifest() -> list[DemoFeed]:
    """Read and validate the packaged manifest; raise :class:`ConfigError` listing every problem."""
    about = f"{_PACKAGE.replace('.', '/')}/{_FEEDS_DIR}/{_MANIFEST}"
    resource = resources.files(_PACKAGE).joinpath(_FEEDS_DIR, _MANIFEST)
    try:
        raw: Any = yaml.safe_load(resource.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError("cannot read the demo manifest", about=about) from exc
    entries = raw.get("feeds") if isinstance(raw, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError("expected a non-empty list under 'feeds'", about=about)
    feeds: list[DemoFeed] = []
    problems: list[str] = []
    for index, entry in enumerate(entries):
        try:
            feeds.append(DemoFeed.model_validate(entry))
        except ValidationError as exc:
            for err in exc.errors():
                where = "".join(f".{part}" for part in err["loc"])
                problems.append(f"feeds[{index}]{where}: {err['msg']}")
    seen: set[str] = set()
    for feed in feeds:
        if feed.id in seen:
            problems.append(f"feeds: duplicate id {feed.id!r}")
        seen.add(feed.id)
    if problems:
        raise ConfigError("; ".join(problems), about=about, problems=problems)
    return feeds
