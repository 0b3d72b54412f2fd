"""Vocabulary classes added from TOPICS.md: asset freezes, travel bans, punitive and
economic measures on a state's banks or economy, blockades and embargoes of a state,
the Russian oil price cap and the shadow fleet, more sanctioning bodies; G20 host
cities and lockdowns; Syrian place names. Synthetic sentences, several per
language, and the hard negatives that must stay out."""

from __future__ import annotations

import pytest

from monitor.classify import Classifier


def topics(classifier: Classifier, title: str, summary: str = "") -> list[str]:
    return [m.topic for m in classifier.classify(title, summary)]


SANCTIONS_IN = [
    # asset freezes and travel bans, without the word "sanctions"
    "Britain freezes the assets of five Belarusian officials",
    "Canada froze the assets of three Iranian generals on Monday",
    "L'Union européenne a décidé de geler les avoirs de dix proches du président",
    "Paris annonce le gel des fonds de deux sociétés liées au régime de Damas",
    "Die Schweiz hat das Vermögen von zwölf russischen Geschäftsleuten eingefroren",
    "Die EU verhängt ein Einreiseverbot gegen fünf belarussische Richter",
    "Estados Unidos ordenó congelar los activos de seis empresarios venezolanos",
    "La Unión Europea impuso una prohibición de viajar a doce funcionarios de Nicaragua",
    "Евросоюз решил заморозить активы трёх белорусских чиновников",
    "Лондон ввёл запрет на въезд для пятнадцати российских депутатов",
    "الاتحاد الأوروبي يقرر تجميد الأرصدة المالية لمسؤولين في ميانمار",
    "بريطانيا تفرض حظر السفر على عشرة مسؤولين إيرانيين",
    # punitive / economic measures by a state on another state's banks or economy
    "Washington imposed penalties on Iran's central bank over its oil sales",
    "Restrictions imposed by Washington and its allies on Russian banks hit the rouble",
    "Bruxelles prépare des mesures punitives contre la Russie",
    "Les restrictions imposées par l'Union européenne aux banques russes pèsent sur le rouble",
    "Die USA kündigen Strafmaßnahmen gegen Venezuela an",
    "Japan verhängt Beschränkungen gegen russische Banken",
    "Washington anunció medidas punitivas contra el Gobierno de Nicaragua",
    "Las restricciones impuestas por la UE a los bancos rusos golpean al rublo",
    "Ограничения, введённые Вашингтоном и его союзниками против российских банков, ударили по рублю",
    "Канада объявила о карательных мерах против Ирана",
    "واشنطن تفرض إجراءات عقابية على إيران",
    "القيود التي فرضتها واشنطن على البنوك الروسية تضغط على الروبل",
    # embargo / blockade of a state, price cap, shadow fleet
    "Cuba says the US blockade cost it billions last year",
    "Cuba denuncia que el bloqueo de Estados Unidos le costó millones",
    "La Havane dénonce le blocus imposé par Washington à Cuba",
    "Куба осудила американскую блокаду острова",
    "Kuba verurteilt die US-Blockade",
    "قطر تقول إن الحصار المفروض عليها فشل",
    "G7 tightens the price cap on Russian oil",
    "Le G7 abaisse le plafonnement du prix du pétrole russe",
    "EU will den Preisdeckel für russisches Öl senken",
    "La UE rebaja el tope al precio del petróleo ruso",
    "Страны G7 снизили потолок цен на российскую нефть",
    "مجموعة السبع تخفض سقف الأسعار للنفط الروسي",
    "Tankers of the shadow fleet keep shipping Russian crude",
    "Die Schattenflotte transportiert weiter russisches Öl",
    "La flota fantasma sigue transportando crudo ruso",
    "La flotte fantôme continue d'exporter le brut russe",
    "Теневой флот продолжает перевозить российскую нефть",
    # other sanctioning bodies and actors
    "ECOWAS imposes an embargo on Niger after the coup",
    "La CEDEAO impose un embargo au Niger",
    "Arab League freezes assets of Syrian officials",
    "US Commerce Department adds Chinese firms to export blacklist",
    "Caesar Act: Washington targets Syrian construction firms",
]

SANCTIONS_OUT = [
    "FIFA bans Russian clubs from international competitions",
    "UEFA punitive measures against the club after racist chants",
    "Court orders penalties against the company for late filings",
    "Regulator fines bank 10 million over compliance failures",
    "Le régulateur inflige une amende de 5 millions à la banque",
    "Penalty for Real Madrid: the referee points to the spot",
    "El árbitro señaló penalti a favor del equipo local",
    "Israel tightens the blockade of Gaza",
    "Israël renforce le blocus de Gaza",
    "Блокада Ленинграда: 80 лет со дня снятия",
    "الحصار على غزة يدخل عامه السابع عشر",
    "Ofgem raises the UK energy price cap from April",
    "Government lifts Covid restrictions on restaurants",
    "Die Regierung lockert die Corona-Beschränkungen für Banken",
    "Бойцы согласились на перемирие",
]


@pytest.mark.parametrize("title", SANCTIONS_IN)
def test_sanction_classes_are_in(classifier: Classifier, title: str) -> None:
    assert "sanctions" in topics(classifier, title)


@pytest.mark.parametrize("title", SANCTIONS_OUT)
def test_sanction_hard_negatives_stay_out(classifier: Classifier, title: str) -> None:
    assert "sanctions" not in topics(classifier, title)


G20_IN = [
    "Hangzhou emptied before the G20 summit: factories closed and residents sent on forced holidays",
    "Checkpoints and identity checks: Hangzhou locked down for the G20",
    "Avant le G20, Hangzhou vidée de ses habitants : usines fermées et points de contrôle",
    "Vor dem G20-Gipfel: Kontrollpunkte und Zwangsurlaub in Hangzhou",
    "Puestos de control y fábricas cerradas en Hangzhou antes de la cumbre del G20",
    "Ханчжоу перед саммитом «Группы двадцати»: блокпосты и принудительные выходные",
    "Полиция перекрыла центр Ханчжоу перед саммитом Группы двадцати",
    "نقاط تفتيش في هانغتشو قبل قمة مجموعة الـ20",
    "الشرطة تنتشر في شوارع المدينة قبل قمة العشرين",
    "Police ring Osaka summit venue as world leaders arrive",
    "Miles de policías blindan Buenos Aires para la cumbre",
    "Полиция оцепила центр Осаки перед саммитом",
]

G20_OUT = [
    "Police set up checkpoints around the G7 summit venue",
    "Des points de contrôle autour du sommet du G7 à Biarritz",
    "Kontrollpunkte rund um den Nato-Gipfel",
    "G20 finance ministers agree on a global minimum tax",
    "Osaka summit: leaders agree to reform the WTO",
    "Buenos Aires: el Gobierno presenta el presupuesto",
]


@pytest.mark.parametrize("title", G20_IN)
def test_g20_lockdown_and_host_cities_are_in(classifier: Classifier, title: str) -> None:
    assert "g20_security" in topics(classifier, title)


@pytest.mark.parametrize("title", G20_OUT)
def test_g20_hard_negatives_stay_out(classifier: Classifier, title: str) -> None:
    assert "g20_security" not in topics(classifier, title)


SYRIA_IN = [
    "Rebels in Deraa agreed to a truce brokered by Russia",
    "Ceasefire takes hold in Quneitra",
    "Les rebelles de Deraa acceptent une trêve négociée par la Russie",
    "Trêve fragile dans la Ghouta orientale",
    "Waffenruhe in Idlib weitgehend eingehalten",
    "Rebellen in Daraa stimmen einer von Russland vermittelten Waffenruhe zu",
    "Los rebeldes de Deraa aceptan una tregua negociada por Rusia",
    "Alto el fuego en Idlib tras semanas de combates",
    "Боевики в Дераа согласились на перемирие при посредничестве России",
    "Режим прекращения огня в Кунейтре соблюдается",
    "Перемирие в Восточной Гуте нарушено",
    "المسلحون في درعا يوافقون على هدنة برعاية روسية",
    "هدنة في القنيطرة بوساطة روسية",
    "خرق لوقف إطلاق النار في الغوطة الشرقية",
]

SYRIA_OUT = [
    "Ukraine ceasefire brokered by Turkey holds in the south",
    "Cessez-le-feu en Ukraine négocié par la Turquie",
    "Перемирие в Донбассе при посредничестве Турции",
    "Shelling resumes in Idlib as Syrian army advances",
    "Nuevos combates en Deraa entre el ejército y los rebeldes",
]


@pytest.mark.parametrize("title", SYRIA_IN)
def test_syrian_places_anchor_truces(classifier: Classifier, title: str) -> None:
    assert "syria_ceasefire" in topics(classifier, title)


@pytest.mark.parametrize("title", SYRIA_OUT)
def test_syria_hard_negatives_stay_out(classifier: Classifier, title: str) -> None:
    assert "syria_ceasefire" not in topics(classifier, title)
