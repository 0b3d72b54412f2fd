"""Definition files: validation errors name the file, the rule and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.classify import load_classifier, load_definitions
from monitor.classify.definitions import load_definition, split_term, term_problem
from monitor.errors import TopicDefinitionError

GOOD = """
id: {id}
concepts:
  thing: {{terms: {{en: [widget*, "blue gadget"]}}}}
  place: {{terms: {{en: [narnia]}}}}
rules:
  - {{id: thing_in_place, all: [thing, place], window: 5}}
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_package_topics_load() -> None:
    ids = [d.id for d in load_definitions()]
    assert sorted(ids) == ["g20_security", "sanctions", "syria_ceasefire"]
    for definition in load_definitions():
        assert {"fr", "en", "de", "es", "ru", "ar"} <= set(definition.languages())


def test_extra_dir_adds_and_overrides(tmp_path: Path) -> None:
    write(tmp_path, "widgets.yml", GOOD.format(id="widgets"))
    write(tmp_path, "sanctions.yml", GOOD.format(id="sanctions").replace("narnia", "mordor"))
    classifier = load_classifier([tmp_path])
    assert set(classifier.topics) == {"g20_security", "sanctions", "syria_ceasefire", "widgets"}
    assert [m.topic for m in classifier.classify("Widgets seen in Narnia")] == ["widgets"]
    # the override replaced the package's sanctions definition
    matches = classifier.classify("EU sanctions on Russia; widgets in Mordor")
    assert [m.topic for m in matches] == ["sanctions"]


def test_disabled(tmp_path: Path) -> None:
    assert load_classifier(disabled=["sanctions"]).topics == ["g20_security", "syria_ceasefire"]
    with pytest.raises(TopicDefinitionError, match="unknown topic 'nope'"):
        load_classifier(disabled=["nope"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.format(id="x").replace("[thing, place]", "[thing, plaice]"),
         r"rules\[0\] 'thing_in_place': unknown concept 'plaice'"),
        (GOOD.format(id="x").replace("window: 5", "window: -1"), r"rules\[0\] 'thing_in_place'.window"),
        (GOOD.format(id="x").replace("widget*", "w*"), r"concept 'thing' terms\[en\] 'w\*': wildcard"),
        (GOOD.format(id="x") + "exclusions:\n  - {id: e, concept: place, when: nearer, rules: [zzz]}\n",
         r"exclusions\[0\] 'e': unknown rule 'zzz'"),
        (GOOD.format(id="x") + "surprise: 1\n", r"surprise"),
        ("id: x\nconcepts: [\n", r"not valid YAML"),
        ("- just a list\n", r"top level must be a mapping"),
        (GOOD.format(id="other"), r"does not match the file name"),
    ],
)
def test_errors_name_file_rule_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, "x.yml", text)
    with pytest.raises(TopicDefinitionError, match=expected) as info:
        load_definition(path)
    assert info.value.about == str(path)
    assert str(path) in str(info.value)


def test_bad_extra_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TopicDefinitionError, match="not a directory"):
        load_classifier([tmp_path / "missing"])
    write(tmp_path, "a.yml", GOOD.format(id="dup"))
    write(tmp_path, "dup.yaml", GOOD.format(id="dup"))
    with pytest.raises(TopicDefinitionError):
        load_classifier([tmp_path])


def test_term_syntax() -> None:
    assert split_term("G-20") == ["G", "20"]
    assert split_term("*waffenruhe*") == ["*waffenruhe*"]
    assert split_term("asset freeze*") == ["asset", "freeze*"]
    assert term_problem("---") == "has no letters or digits"
    assert term_problem("*ab*") is not None
    assert term_problem("cessez-le-feu") is None
