"""Throughput of the topic classifier on one core.

Run: ``.venv/bin/python bench/bench_classify.py``

Items are synthetic (deterministic seed): a title plus a ~500-character summary,
built from multilingual sentences (fr, en, de, es, ru, ar), about a third of them
on one of the topics. Printed: items/s with the 3 package topics and with 27 extra
synthetic topics (30 in all), and the ratio to a plain ``json.loads``/``json.dumps``
loop over the same items, each the median of several runs in this process.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.classify import Classifier, load_classifier

SEED = 20170707
N_ITEMS = 5_000
RUNS = 5

TOPICAL = [
    "Le cessez-le-feu dans le sud-ouest de la Syrie est entré en vigueur dimanche à midi.",
    "Les marchés européens ont ouvert en légère hausse mardi, portés par les valeurs bancaires.",
    "The European Union extended its economic sanctions against Russia for another six months.",
    "Police fired tear gas at protesters near the G20 summit venue in Hamburg on Friday.",
    "Die Bundesregierung will die Rente bis 2030 stabilisieren, sagte der Minister in Berlin.",
    "Die Waffenruhe in Syrien wurde nach Angaben von Aktivisten mehrfach gebrochen.",
    "El Gobierno aprobó este martes el proyecto de presupuestos para el próximo año.",
    "La Unión Europea aprobó un nuevo paquete de sanciones contra Irán por su programa nuclear.",
    "Режим прекращения огня в Сирии в целом соблюдается, сообщили в Минобороны России.",
    "أعلنت الشرطة الألمانية اعتقال عشرات المحتجين قرب مقر قمة مجموعة العشرين.",
]
NEUTRAL = [
    "Курс рубля на Московской бирже снизился на фоне падения цен на нефть.",
    "ارتفعت أسعار النفط في التعاملات الآسيوية المبكرة اليوم الثلاثاء.",
    "Heavy rain is expected across the north of the country over the weekend, forecasters said.",
    "The central bank left interest rates unchanged and signalled patience on further moves.",
    "Le Conseil constitutionnel a validé l'essentiel de la loi sur la sécurité intérieure.",
    "Der FC Bayern gewann das Spitzenspiel gegen Dortmund mit 3:1.",
    "Les Marchés européens ont ouvert en légère hausse mardi, portés par les valeurs bancaires.",
    "El Gobierno aprobó este martes el proyecto de presupuestos para el próximo año.",
    "Die Bundesregierung will die Rente bis 2030 stabilisieren, sagte der Minister in Berlin.",
]
TITLES = [
    "Syrie: la trêve globalement respectée",
    "Markets edge higher ahead of Fed decision",
    "EU-Sanktionen gegen Russland verlängert",
    "Cumbre del G20: miles de policías blindan Buenos Aires",
    "Перемирие в Сирии продлено",
    "هدنة جديدة في سوريا",
    "Wetter: Sturmwarnung für die Küste",
    "Résultats trimestriels solides pour le groupe",
]


def make_items(rng: random.Random, n: int, topical: float) -> list[str]:
    """JSON lines with a title and a summary of about 500 characters; each sentence
    is on a topic with probability *topical*."""
    items = []
    for i in range(n):
        summary = ""
        while len(summary) < 500:
            summary += rng.choice(TOPICAL if rng.random() < topical else NEUTRAL) + " "
        # vary tokens a little so that not every token is a cache hit
        summary += f"Ref {rng.randrange(10**6)}-{i}."
        title = rng.choice(TITLES if rng.random() < topical else NEUTRAL)
        items.append(json.dumps({"id": i, "title": title, "summary": summary}, ensure_ascii=False))
    return items


def synthetic_topics(directory: Path, count: int) -> None:
    """Write *count* topic definitions with distinct made-up and real-looking terms."""
    for n in range(count):
        tag = "".join("abcdefghij"[int(d)] for d in f"{n:02d}")
        terms = ", ".join(f"zq{tag}{w}*" for w in ("alpha", "beta", "gamma", "delta", "omega", "sigma"))
        directory.joinpath(f"synthetic_{n}.yml").write_text(
            f"id: synthetic_{n}\n"
            "concepts:\n"
            f"  thing: {{terms: {{en: [{terms}, \"zq{tag} crisis talks\"], fr: [zq{tag}trève*]}}}}\n"
            f"  place: {{terms: {{en: [zq{tag}land, \"zq{tag} city\"], ru: [зк{tag}стан*]}}}}\n"
            f"  noise: {{terms: {{en: [zq{tag}noise]}}}}\n"
            "rules:\n"
            "  - {id: thing_in_place, all: [thing, place], window: 20}\n"
            "exclusions:\n"
            "  - {id: noisy, concept: noise, when: window, window: 5}\n",
            encoding="utf-8",
        )


def run_json(lines: list[str]) -> float:
    start = time.perf_counter()
    for line in lines:
        obj = json.loads(line)
        obj["topics"] = []
        json.dumps(obj, ensure_ascii=False)
    return time.perf_counter() - start


def run_classify(lines: list[str], classifier: Classifier) -> float:
    start = time.perf_counter()
    for line in lines:
        obj = json.loads(line)
        matches = classifier.classify(obj["title"], obj["summary"])
        obj["topics"] = [m.model_dump() for m in matches]
        json.dumps(obj, ensure_ascii=False)
    return time.perf_counter() - start


def run_classify_only(items: list[tuple[str, str]], classifier: Classifier) -> float:
    start = time.perf_counter()
    for title, summary in items:
        classifier.classify(title, summary)
    return time.perf_counter() - start


def median_rate(fn: object, n: int) -> float:
    assert callable(fn)
    times = [fn() for _ in range(RUNS)]
    return n / statistics.median(times)


def measure(label: str, topical: float, three: Classifier, thirty: Classifier) -> None:
    rng = random.Random(SEED)
    lines = make_items(rng, N_ITEMS, topical)
    pairs = [(o["title"], o["summary"]) for o in map(json.loads, lines)]
    avg_chars = sum(len(t) + len(s) for t, s in pairs) / len(pairs)
    for c in (three, thirty):  # warm the token caches, as in a running service
        run_classify_only(pairs[:500], c)
    matched = sum(1 for t, s in pairs if three.classify(t, s))

    json_rate = median_rate(lambda: run_json(lines), N_ITEMS)
    rate3 = median_rate(lambda: run_classify_only(pairs, three), N_ITEMS)
    rate30 = median_rate(lambda: run_classify_only(pairs, thirty), N_ITEMS)
    full3 = median_rate(lambda: run_classify(lines, three), N_ITEMS)

    print(f"{label}: {N_ITEMS} items (title + summary, {avg_chars:.0f} chars on average), "
          f"{matched / N_ITEMS:.0%} match a topic; median of {RUNS} runs, one core")
    print(f"  json.loads + json.dumps only          {json_rate:>10,.0f} items/s")
    print(f"  classify, 3 topics                    {rate3:>10,.0f} items/s")
    print(f"  classify, 30 topics (27 synthetic)    {rate30:>10,.0f} items/s   "
          f"(time 30 topics / 3 topics = {rate3 / rate30:.2f})")
    print(f"  json.loads + classify + json.dumps    {full3:>10,.0f} items/s   "
          f"(time vs json-only loop = {json_rate / full3:.1f}x)")
    target = 20_000
    print(f"  target >= {target:,} items/s with 3 topics: {'met' if rate3 >= target else 'NOT met'}")


def main() -> None:
    three = load_classifier()
    with tempfile.TemporaryDirectory() as tmp:
        synthetic_topics(Path(tmp), 27)
        thirty = load_classifier([Path(tmp)])
    measure("wire mix (10% of sentences on a topic)", 0.10, three, thirty)
    measure("worst case (every sentence on a topic)", 1.0, three, thirty)


if __name__ == "__main__":
    main()
