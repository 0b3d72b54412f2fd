"""Where topic definitions come from, and the reloadable holder the service uses.

Load order: the package's own ``topics/*.yml``, then each extra directory in the
order given; a file whose topic id is already loaded replaces it (override), any
other adds a topic. ``disabled`` ids are dropped at the end.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from monitor.classify.definitions import TopicDefinition, definition_files, load_definition
from monitor.classify.engine import Classifier
from monitor.errors import TopicDefinitionError
from monitor.models import TopicMatch

PACKAGE_TOPICS = Path(__file__).with_name("topics")


def load_definitions(extra_dirs: Sequence[Path] = (), disabled: Sequence[str] = ()) -> list[TopicDefinition]:
    """Load, override and filter the definitions; raise on the first bad file.

    Raises :class:`TopicDefinitionError` for a bad file (``about`` = its path), an
    extra directory that is not a directory, two files with one id in one
    directory, or a ``disabled`` id that no file defines.
    """
    loaded: dict[str, TopicDefinition] = {}
    for directory in (PACKAGE_TOPICS, *map(Path, extra_dirs)):
        if not directory.is_dir():
            raise TopicDefinitionError(
                "topic directory does not exist or is not a directory", about=str(directory)
            )
        in_this_dir: dict[str, Path] = {}
        for path in definition_files(directory):
            definition = load_definition(path)
            if definition.id in in_this_dir:
                raise TopicDefinitionError(
                    f"topic {definition.id!r} is also defined in {in_this_dir[definition.id].name}",
                    about=str(path),
                )
            in_this_dir[definition.id] = path
            loaded[definition.id] = definition
    for topic_id in disabled:
        if topic_id not in loaded:
            raise TopicDefinitionError(
                f"cannot disable unknown topic {topic_id!r} (known: {', '.join(sorted(loaded))})",
                about="disabled",
            )
        del loaded[topic_id]
    return list(loaded.values())


def load_classifier(extra_dirs: Sequence[Path] = (), disabled: Sequence[str] = ()) -> Classifier:
    """Build a :class:`Classifier` from the package topics plus ``extra_dirs``.

    Raises :class:`TopicDefinitionError` naming the file, the rule and the problem.
    """
    return Classifier(load_definitions(extra_dirs, disabled))


class ReloadableClassifier:
    """Holds the current :class:`Classifier` and swaps it on :meth:`reload`.

    Readers call :meth:`classify` (or take :attr:`current`) without locking: the
    swap is a single attribute assignment, so a reader sees the old or the new set,
    never a mix. Reloads are serialised by a lock. Wire :meth:`reload` to SIGHUP.
    """

    def __init__(self, extra_dirs: Sequence[Path] = (), disabled: Sequence[str] = ()) -> None:
        """Load the initial set; raises :class:`TopicDefinitionError` if it is bad."""
        self._extra_dirs = tuple(Path(d) for d in extra_dirs)
        self._disabled = tuple(disabled)
        self._lock = threading.Lock()
        self._current = load_classifier(self._extra_dirs, self._disabled)

    @property
    def current(self) -> Classifier:
        """The classifier in force."""
        return self._current

    def classify(
        self, title: str, summary: str = "", body: str = "", language: str | None = None
    ) -> list[TopicMatch]:
        """Delegate to :meth:`Classifier.classify` of the current set."""
        return self._current.classify(title, summary, body, language)

    def reload(self) -> list[str]:
        """Reload every definition. Returns the problems: empty on success; on
        failure the previous set stays in force and the list says why."""
        with self._lock:
            try:
                fresh = load_classifier(self._extra_dirs, self._disabled)
            except TopicDefinitionError as exc:
                return [f"{exc}; keeping the previous {len(self._current.topics)} topics"]
            self._current = fresh
            return []
