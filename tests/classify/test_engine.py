"""The compiled matcher: topics, exclusions, inflection, evidence, scores, cost."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from monitor.classify import Classifier, load_classifier

SEED = Path("/work/shared/seed-dispatch.txt")


def topics(
    classifier: Classifier, title: str, summary: str = "", body: str = "", language: str | None = None
) -> list[str]:
    return [m.topic for m in classifier.classify(title, summary, body, language)]


@pytest.mark.skipif(not SEED.exists(), reason="shared seed dispatch not present")
@pytest.mark.parametrize("as_title", [False, True])
def test_seed_dispatch_gets_all_three_syria_first(classifier: Classifier, as_title: bool) -> None:
    text = SEED.read_text(encoding="utf-8")
    if as_title:
        title, _, body = text.partition("\n")
        matches = classifier.classify(title, "", body, "fr")
    else:
        matches = classifier.classify("", "", text, "fr")
    assert {m.topic for m in matches} == {"syria_ceasefire", "sanctions", "g20_security"}
    assert matches[0].topic == "syria_ceasefire"
    assert matches[0].score > matches[1].score


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Russland und Türkei vereinbaren Waffenstillstandsabkommen für Syrien", ["syria_ceasefire"]),
        ("Нарушения перемирия в Сирии", ["syria_ceasefire"]),
        ("Россия сообщила о перемирием в Алеппо", ["syria_ceasefire"]),
        ("عاجل: بدء سريان الهدنة في سوريا", ["syria_ceasefire"]),
        ("خرق للهدنة في إدلب", ["syria_ceasefire"]),
        ("Cessez le feu fragile à Alep", ["syria_ceasefire"]),
        ("Alto el fuego en el sur de Siria", ["syria_ceasefire"]),
        ("Gaza ceasefire talks resume in Cairo as Syria fighting rages", []),
        ("Syrian army shells rebel-held Idlib", []),
        ("Перемирие в Донбассе нарушено", []),
        ("G20 leaders agree trade truce", []),
    ],
)
def test_syria_ceasefire(classifier: Classifier, title: str, expected: list[str]) -> None:
    assert topics(classifier, title) == expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("EU extends sanctions on Russia for six months", ["sanctions"]),
        ("Neue Sanktionen der EU gegen Iran", ["sanctions"]),
        ("США ввели санкции против российских банков", ["sanctions"]),
        ("واشنطن تفرض عقوبات جديدة على إيران", ["sanctions"]),
        ("La UE aprueba un nuevo paquete de sanciones", ["sanctions"]),
        ("Le Trésor américain gèle les avoirs de trois oligarques russes", ["sanctions"]),
        ("UEFA sanctions Russian club over racist chants", []),
        ("Le roi sanctionne la loi sur l'euthanasie", []),
        ("Суд санкционировал арест бизнесмена", []),
        ("Regulator fines bank 10 million for compliance failures", []),
        ("Schüler wegen Fehlverhaltens sanktioniert", []),
    ],
)
def test_sanctions(classifier: Classifier, title: str, expected: list[str]) -> None:
    assert topics(classifier, title) == expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Police fire tear gas at G20 protesters in Hamburg", ["g20_security"]),
        ("G-20: la police disperse les manifestants", ["g20_security"]),
        ("Gruppe der 20: Wasserwerfer gegen Demonstranten", ["g20_security"]),
        ("Полиция задержала участников акции у саммита «большой двадцатки»", ["g20_security"]),
        ("الشرطة تعتقل محتجين قرب قمة مجموعة العشرين", ["g20_security"]),
        ("G20 ministers discuss food security", []),
        ("Police clash with protesters at G7 summit as G20 finance talks open", []),
        ("G20 agrees global minimum tax", []),
    ],
)
def test_g20_security(classifier: Classifier, title: str, expected: list[str]) -> None:
    assert topics(classifier, title) == expected


def test_evidence_spans_point_into_original_fields(classifier: Classifier) -> None:
    title = "URGENT — Trêve  en SYRIE"
    summary = "<p>DAMAS, 7 juillet (AFP) - Le cessez-le-feu est entré en vigueur à Alep.</p>"
    body = "Plus tard : ١٢ heures de calme. وقف إطلاق النار في سوريا"
    fields = {"title": title, "summary": summary, "body": body}
    (match,) = classifier.classify(title, summary, body)
    assert match.topic == "syria_ceasefire"
    assert {e.field for e in match.evidence} >= {"title", "summary"}
    for e in match.evidence:
        assert fields[e.field][e.start : e.end] == e.text
        assert e.rule == "truce_near_syria"
    assert "cessez-le-feu" in {e.text for e in match.evidence}


def test_score_orders_by_centrality(classifier: Classifier) -> None:
    filler = "Markets were calm on Tuesday and traders awaited data. " * 20
    in_title = classifier.classify("Syria ceasefire holds in Idlib")[0].score
    in_summary = classifier.classify("Markets", "The ceasefire in Syria held.")[0].score
    deep_body = classifier.classify("Markets", "", filler + "The ceasefire in Syria held.")[0].score
    assert 1.0 >= in_title > in_summary > deep_body > 0.0


def test_results_are_sorted_best_first(classifier: Classifier) -> None:
    matches = classifier.classify(
        "G20: police clash with protesters", "EU sanctions on Russia. The truce in Syria holds."
    )
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)


def test_language_argument_does_not_restrict_terms(classifier: Classifier) -> None:
    # mixed item: Arabic tagged, English term inside
    assert topics(classifier, "هدنة جديدة في سوريا", language="en") == ["syria_ceasefire"]
    assert topics(classifier, "Ceasefire in Syria", language="ar") == ["syria_ceasefire"]


def test_introspection(classifier: Classifier) -> None:
    assert classifier.topics == ["g20_security", "sanctions", "syria_ceasefire"]
    assert classifier.languages("sanctions") == ["ar", "de", "en", "es", "fr", "ru"]
    with pytest.raises(KeyError):
        classifier.languages("nope")


def _letters(n: int) -> str:
    return "".join("abcdefghijklmnopqrstuvwxyz"[int(d)] for d in str(n))


def _synthetic_topics(directory: Path, count: int) -> None:
    for n in range(count):
        tag = _letters(n)
        words = ", ".join(f"zq{tag}w{_letters(k)}*" for k in range(40))
        directory.joinpath(f"synthetic_{n}.yml").write_text(
            f"id: synthetic_{n}\nconcepts:\n  a: {{terms: {{en: [{words}]}}}}\n"
            f"  b: {{terms: {{en: [zq{tag}place, \"zq{tag} region\"]}}}}\n"
            f"rules:\n  - {{id: a_near_b, all: [a, b], window: 10}}\n",
            encoding="utf-8",
        )


def test_cost_does_not_grow_with_number_of_topics(tmp_path: Path) -> None:
    _synthetic_topics(tmp_path, 27)
    few, many = load_classifier(), load_classifier([tmp_path])
    assert len(many.topics) == 30
    items = [
        (f"Syria truce holds, day {i}", "EU sanctions on Russia; G20 police clash with protesters. " * 7)
        if i % 2
        else (f"Markets calm, day {i}", "Traders waited for data from the central bank on Tuesday. " * 8)
        for i in range(300)
    ]

    def run(c: Classifier) -> float:
        for t, s in items[:20]:
            c.classify(t, s)  # warm the token cache
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for t, s in items:
                c.classify(t, s)
            best = min(best, time.perf_counter() - start)
        return best

    assert run(many) < run(few) * 1.6


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        ("Syrie : la tr&ecirc;ve tient", ""),
        ("Syrie &amp; Alep : la tr&#234;ve", "Les &quot;rebelles&quot; respectent la tr&#xEA;ve en Syrie."),
        ("Markets", "Le  cessez-le-feu\n\n  est   entré en vigueur\tà Alep, en   Syrie."),
    ],
)
def test_html_entities_and_irregular_spacing_keep_exact_offsets(
    classifier: Classifier, title: str, summary: str
) -> None:
    fields = {"title": title, "summary": summary, "body": ""}
    (match,) = classifier.classify(title, summary)
    assert match.topic == "syria_ceasefire"
    for e in match.evidence:
        assert fields[e.field][e.start : e.end] == e.text


def test_entity_escaped_truce_word_is_read() -> None:
    assert topics(load_classifier(), "Tr&ecirc;ve &agrave; Alep") == ["syria_ceasefire"]
    (match,) = load_classifier().classify("Tr&ecirc;ve &agrave; Alep")
    assert {e.text for e in match.evidence} == {"Tr&ecirc;ve", "Alep"}
