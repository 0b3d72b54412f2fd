"""Topic definition files: their model, loading and validation.

A topic is one YAML file (``<topic id>.yml``) holding *concepts* (multilingual term
lists), *rules* (which concepts must occur near each other) and *exclusions* (what
vetoes a rule in context). ``docs/classifier.md`` documents the format with an example.

Guarantee: :func:`load_definition` either returns a definition whose every rule and
exclusion refers to defined concepts and rules and whose every term compiles, or
raises :class:`~monitor.errors.TopicDefinitionError` with ``about`` = the file path and
a message naming the rule (or concept, or key) and the problem.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from monitor.classify.normalize import TOKEN_RE
from monitor.errors import TopicDefinitionError

Fields = Literal["title", "summary", "body"]

ID_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
MIN_AFFIX_LEN = 3
"""A prefix, suffix or infix term needs this many letters, else it matches half the language."""
MAX_GAP = 3
"""The widest gap ``~N`` a phrase may hold: up to N arbitrary tokens between two words."""
GAP_RE = re.compile(r"~\d*")
"""A gap word of a phrase (validated by :func:`term_problem`)."""


DEFAULT_FIELD_WEIGHTS: dict[Fields, float] = {"title": 1.0, "summary": 0.75, "body": 0.5}
"""Title over summary over body: a topic named in the title is what the item is about."""


class Concept(BaseModel):
    """A set of terms meaning one thing, by language (``any`` = language-neutral).

    Term syntax (after normalisation, see :mod:`monitor.classify.normalize`):
    ``word`` exact token; ``word*`` token starting with ``word``; ``*word`` token
    ending with it; ``*word*`` token containing it (German compounds); several words
    (``cessez-le-feu``, ``asset freeze*``) a phrase of consecutive tokens, each word
    exact or ``word*``; inside a phrase, ``~N`` (N = 1 to 3) stands for up to N
    arbitrary tokens (``"cessation ~2 des hostilites"`` matches *cessation complète
    des hostilités*).
    """

    model_config = ConfigDict(extra="forbid")

    description: str = ""
    terms: dict[str, list[str]] = Field(min_length=1)
    skip_dateline: bool = False
    """Ignore matches inside a dateline (``LONDON, Oct 18 (Reuters) -``): a city that
    only says where the story was filed is not an actor in it."""


class Rule(BaseModel):
    """Fires when every concept in ``all`` occurs within ``window`` tokens of an
    occurrence of the first one (the *anchor*); ``window: null`` means anywhere in
    the item. A single-concept rule fires on each occurrence of that concept."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(pattern=ID_PATTERN)
    all_of: list[str] = Field(alias="all", min_length=1, max_length=8)
    window: int | None = Field(default=20, ge=0, le=10_000)
    weight: float = Field(default=1.0, gt=0.0, le=1.0)


class Exclusion(BaseModel):
    """Vetoes a firing of a rule when ``concept`` occurs in a given relation to the
    rule's anchor occurrence:

    - ``overlap``: the exclusion match covers the anchor (``food security`` vetoes
      ``security``);
    - ``window``: within ``window`` tokens of the anchor (``FIFA`` near ``sanctions``);
    - ``nearer``: nearer to the anchor than the rule's farthest required partner
      (``Gaza`` nearer to ``ceasefire`` than ``Syria`` is);
    - ``item``: anywhere in the item.
    ``rules`` limits the exclusion to some rules (default: all rules of the topic).
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    concept: str
    when: Literal["overlap", "window", "nearer", "item"]
    window: int = Field(default=10, ge=0, le=10_000)
    rules: list[str] | None = None


class TopicDefinition(BaseModel):
    """One topic: its concepts, rules, exclusions and scoring parameters."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    name: str = ""
    description: str = ""
    concepts: dict[str, Concept] = Field(min_length=1)
    rules: list[Rule] = Field(min_length=1)
    exclusions: list[Exclusion] = Field(default_factory=list)
    field_weights: dict[Fields, float] = Field(default_factory=lambda: dict(DEFAULT_FIELD_WEIGHTS))
    min_score: float = Field(default=0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _check_references(self) -> TopicDefinition:
        concept_ids = set(self.concepts)
        known = ", ".join(sorted(concept_ids))
        for name in self.concepts:
            if not _matches_id(name):
                raise ValueError(f"concept {name!r}: id must match {ID_PATTERN}")
        seen: set[str] = set()
        for index, rule in enumerate(self.rules):
            if rule.id in seen:
                raise ValueError(f"rules[{index}] {rule.id!r}: duplicate rule id")
            seen.add(rule.id)
            for concept_id in rule.all_of:
                if concept_id not in concept_ids:
                    raise ValueError(
                        f"rules[{index}] {rule.id!r}: unknown concept {concept_id!r} (known: {known})"
                    )
        for index, exc in enumerate(self.exclusions):
            if exc.concept not in concept_ids:
                raise ValueError(
                    f"exclusions[{index}] {exc.id!r}: unknown concept {exc.concept!r} (known: {known})"
                )
            for rule_id in exc.rules or []:
                if rule_id not in seen:
                    raise ValueError(
                        f"exclusions[{index}] {exc.id!r}: unknown rule {rule_id!r} "
                        f"(known: {', '.join(sorted(seen))})"
                    )
        for name, concept in self.concepts.items():
            for lang, terms in concept.terms.items():
                for term in terms:
                    problem = term_problem(term)
                    if problem:
                        raise ValueError(f"concept {name!r} terms[{lang}] {term!r}: {problem}")
        return self

    def languages(self) -> list[str]:
        """Languages that have terms in this definition (``any`` excluded), sorted."""
        langs = {lang for c in self.concepts.values() for lang, terms in c.terms.items() if terms}
        langs.discard("any")
        return sorted(langs)


def _matches_id(text: str) -> bool:
    return re.fullmatch(ID_PATTERN, text) is not None


def split_term(term: str) -> list[str]:
    """Split a term into its words, keeping ``*`` markers: ``G-20`` → ``["G", "20"]``.

    A ``*`` stays attached to the word it touches, so ``*waffenruhe*`` is one word and
    ``asset freeze*`` is two. A gap ``~N`` is kept as a word of its own:
    ``"وقف ~2 لاطلاق النار"`` → ``["وقف", "~2", "لاطلاق", "النار"]``.
    """
    words: list[str] = []
    for chunk in term.split():
        if GAP_RE.fullmatch(chunk):
            words.append(chunk)
            continue
        lead = chunk.startswith("*")
        trail = chunk.endswith("*") and len(chunk) > 1
        parts = TOKEN_RE.findall(chunk)
        if not parts:
            continue
        if lead:
            parts[0] = "*" + parts[0]
        if trail:
            parts[-1] = parts[-1] + "*"
        words.extend(parts)
    return words


def term_problem(term: str) -> str | None:
    """Return why *term* cannot be compiled, or ``None`` if it can."""
    words = split_term(term)
    if not words:
        return "has no letters or digits"
    gaps = [i for i, word in enumerate(words) if GAP_RE.fullmatch(word)]
    if len(words) - len(gaps) > 8:
        return "phrases are limited to 8 words"
    for i in gaps:
        word = words[i]
        if word[1:] not in {str(n) for n in range(1, MAX_GAP + 1)}:
            return f"gap {word!r} must be ~1 to ~{MAX_GAP}"
        if i == 0 or i == len(words) - 1 or i - 1 in gaps:
            return f"gap {word!r} must stand between two words of a phrase"
    for i, word in enumerate(words):
        if i in gaps:
            continue
        core = word.strip("*")
        wild = word != core
        if wild and len(core) < MIN_AFFIX_LEN:
            return f"wildcard word {word!r} needs at least {MIN_AFFIX_LEN} letters"
        if len(words) > 1 and word.startswith("*"):
            return f"phrase word {word!r}: only a trailing '*' is allowed inside a phrase"
        if len(words) > 1 and i == 0 and word.startswith("*"):
            return "a phrase cannot start with '*'"
    return None


def load_definition(path: Path) -> TopicDefinition:
    """Read and validate one definition file.

    The topic ``id`` must equal the file name without extension, so overriding a
    topic from a user directory is a matter of using the same file name.
    Raises :class:`TopicDefinitionError` (``about`` = *path*) on any problem.
    """
    about = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TopicDefinitionError(f"cannot read file: {exc.strerror or exc}", about=about) from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise TopicDefinitionError(f"not valid YAML: {exc}", about=about) from exc
    if not isinstance(raw, dict):
        raise TopicDefinitionError("top level must be a mapping with id, concepts and rules", about=about)
    try:
        definition = TopicDefinition.model_validate(raw)
    except ValidationError as exc:
        raise TopicDefinitionError(_render(exc, raw), about=about) from None
    if definition.id != path.stem:
        raise TopicDefinitionError(
            f"id {definition.id!r} does not match the file name {path.name!r} (expected id {path.stem!r})",
            about=about,
        )
    return definition


def _render(exc: ValidationError, raw: dict[object, object]) -> str:
    """Render pydantic errors as ``rules[1] 'my_rule'.window: problem`` lines."""
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = ""
        node: object = raw
        for part in loc:
            if isinstance(part, int):
                where += f"[{part}]"
                if isinstance(node, list) and 0 <= part < len(node):
                    node = node[part]
                    if isinstance(node, dict) and "id" in node:
                        where += f" {node['id']!r}"
                else:
                    node = None
            else:
                where += f".{part}" if where else str(part)
                node = node.get(part) if isinstance(node, dict) else None
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {msg}" if where else msg)
    return "; ".join(lines)


def definition_files(directory: Path) -> list[Path]:
    """The definition files of *directory* (``*.yml`` and ``*.yaml``), sorted by name."""
    return sorted(p for p in directory.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())
