"""Round 4 of the vocabulary classes from TOPICS.md: journalistic paraphrase.

* syria_ceasefire: "the guns fell silent", periods of calm and lulls, pausing an
  offensive, arrangements on quiet, the Kerry-Lavrov deal, monitoring from Amman; the
  Astana process (guarantor states, zones) and "de-escalation zones" on their own.
* sanctions: designation language (Treasury, SDN list, state sponsors of terrorism),
  blocked accounts, CAATSA / Helms-Burton / Magnitsky, secondary sanctions, sanctions
  packages, SWIFT disconnection, evasion of Security Council caps, counter-sanctions
  (food embargo), entry bans and airspace closed to a country's airlines, export
  licences, dual-use goods, spare parts; a state's curbs on its own commodity exports
  (India's rice) are trade policy, not sanctions.
* g20_security: the G20 named indirectly ("summit of the twenty largest economies",
  «двадцатка»), G20 ministerials, more security vocabulary, venues of past summits
  (only with a summit word); other summits nearer veto, a host city alone never counts.

Synthetic sentences, several per language, and the hard negatives that must stay out.
"""

from __future__ import annotations

import pytest

from monitor.classify import Classifier


def topics(classifier: Classifier, title: str, summary: str = "") -> list[str]:
    return [m.topic for m in classifier.classify(title, summary)]


SYRIA_IN = [
    "The guns fell silent across southern Syria on Sunday morning",
    "Aleppo: the guns must fall silent, says UN envoy",
    "A period of calm has held in Idlib for a week",
    "A lull in Eastern Ghouta allowed aid convoys in",
    "Russia agrees to pause the offensive on Idlib",
    "The humanitarian pause in Aleppo holds for a second day",
    "A three-day pause in Deraa was announced by Moscow",
    "Washington, Moscow and Amman reach an arrangement on quiet in southwest Syria",
    "The Kerry-Lavrov agreement on Syria collapsed",
    "Rebels leave Homs under a truce agreement",
    "Russia, Iran and Turkey, the guarantors, meet in Astana",
    "Astana talks agree on four zones",
    "A monitoring centre in Amman will oversee the quiet in Deraa and Quneitra",
    "Les armes se sont tues dans le sud de la Syrie",
    "Une période d'accalmie s'installe à Idleb",
    "Moscou accepte de suspendre l'offensive sur Idleb",
    "Les garants du processus d'Astana se réunissent : Russie, Iran et Turquie",
    "Astana : accord sur les zones de désescalade",
    "Création de quatre zones de désescalade, annonce Moscou",
    "In Syrien schweigen die Waffen",
    "Ruhephase in Idlib hält an",
    "Russland will die Offensive in Idlib aussetzen",
    "Die Garantiemächte Russland, Iran und Türkei treffen sich in Astana",
    "Vier Deeskalationszonen sollen eingerichtet werden",
    "Piden callar las armas en Siria",
    "Un período de calma se mantiene en Idlib",
    "Rusia anuncia una pausa de tres días en Alepo",
    "Los países garantes se reúnen en Astaná",
    "Astaná: acuerdo sobre zonas de desescalada",
    "В Сирии оружие замолчало",
    "В Идлибе установилось затишье",
    "Россия приостановила наступление в Идлибе",
    "Страны-гаранты встретятся в Астане",
    "В Астане договорились о зонах деэскалации",
    "В Сирии объявлен режим тишины",
    "صمتت المدافع في جنوب سوريا",
    "فترة هدوء في إدلب",
    "هدنة إنسانية في حلب",
    "تعليق الهجوم على إدلب",
    "الدول الضامنة تجتمع في أستانا",
    "اتفاق في أستانا على مناطق خفض التصعيد",
]

SYRIA_OUT = [
    "Russia pauses the offensive in eastern Ukraine, Kyiv says",
    "Kremlin says the guns will not fall silent in Donbas",
    "Israel agrees a humanitarian pause in Gaza",
    "A period of calm returned to southern Lebanon",
    "Calm returns to Beirut after clashes",
    "Kazakhstan signs a memorandum with China in Astana",
    "Astana hosts a summit on economic zones",
    "Die Ukraine lehnt eine Feuerpause ab",
    "Украина: пауза в наступлении",
    "Syrian refugees in Turkey: Ankara offers guarantees",
    "Syrian opposition is a guarantor of nothing, says Assad",
    "De-escalation zones around the Zaporizhzhia nuclear plant in Ukraine",
]


@pytest.mark.parametrize("title", SYRIA_IN)
def test_syria_round4_paraphrases_are_in(classifier: Classifier, title: str) -> None:
    assert "syria_ceasefire" in topics(classifier, title)


@pytest.mark.parametrize("title", SYRIA_OUT)
def test_syria_round4_hard_negatives_stay_out(classifier: Classifier, title: str) -> None:
    assert "syria_ceasefire" not in topics(classifier, title)


SANCTIONS_IN = [
    "The company was designated by the Treasury for supporting Iran's missile programme",
    "The bank was added to the Specially Designated Nationals list",
    "Huawei added to the Entity List",
    "Venezuelan officials blacklisted by Washington",
    "Cuba returned to the state sponsors of terrorism list",
    "The US blocked accounts of Russian oligarchs",
    "Turkey faces CAATSA penalties over S-400 purchase",
    "Helms-Burton lawsuits target firms in Cuba",
    "Seven Russian banks face removal from SWIFT",
    "North Korea used ship-to-ship transfers in breach of Security Council resolutions",
    "Pyongyang exceeded caps on oil imports imposed by the Security Council",
    "Iran accused of circumventing the restrictions on its oil exports, the US said",
    "Moscow extends its food embargo on EU products",
    "Belarusian officials banned from entering the Schengen area by the EU",
    "The EU adopted a package of restrictive measures against Iran",
    "Les responsables biélorusses sont interdits de séjour dans l'espace Schengen, décide l'UE",
    "Les pays baltes ont fermé leur espace aérien aux compagnies biélorusses",
    "L'UE adopte son 14e paquet de sanctions contre la Russie",
    "Exclusion de SWIFT pour sept banques russes",
    "Pyongyang a contourné les restrictions imposées par le Conseil de sécurité",
    "Die EU verhängt eine Einreisesperre gegen belarussische Beamte",
    "Die Bundesregierung hat Ausfuhrgenehmigungen für Dual-Use-Güter nach Russland verweigert",
    "SWIFT-Ausschluss für russische Banken beschlossen",
    "Russland verlängert das Lebensmittelembargo gegen die EU",
    "Die Niederlande beschränken den Verkauf von Lithografiemaschinen an China in Abstimmung mit Washington",
    "Rusia prorroga el veto ruso a los alimentos europeos",
    "La UE aprueba un nuevo paquete de sanciones contra Rusia",
    "Desconexión de SWIFT para los bancos rusos",
    "Estados Unidos incluye a la empresa en la lista negra",
    "Россия продлила продовольственное эмбарго против ЕС",
    "Запрет ЕС на поставку запчастей ударил по российским авиакомпаниям",
    "Отключение от SWIFT российских банков",
    "ЕС утвердил новый пакет ограничительных мер против России",
    "حزمة عقوبات جديدة ضد روسيا",
    "فصل البنوك الروسية عن نظام سويفت",
    "واشنطن تدرج الشركة على القائمة السوداء",
]

SANCTIONS_OUT = [
    "Tennis player handed an entry ban by the tournament organisers",
    "Court orders blocked accounts in fraud case",
    "The court blocked the accounts of the fraud suspects",
    "Regulator blacklists unlicensed brokers",
    "Financial watchdog adds unlicensed brokers to its blacklist",
    "India restricts rice exports",
    "India imposes export restrictions on rice to tame domestic prices",
    "Indien verhängt Ausfuhrbeschränkungen für Reis",
    "Le Sénat sanctionne la loi de finances",
    "Iran closed its airspace during Israeli strikes",
    "Le tribunal a prononcé une interdiction de séjour à Paris contre le prévenu",
    "Das Gericht verhängte gegen den Spieler eine Einreisesperre für das Stadion",
    "The UEFA ban on the club was upheld",
]


@pytest.mark.parametrize("title", SANCTIONS_IN)
def test_sanctions_round4_paraphrases_are_in(classifier: Classifier, title: str) -> None:
    assert "sanctions" in topics(classifier, title)


@pytest.mark.parametrize("title", SANCTIONS_OUT)
def test_sanctions_round4_hard_negatives_stay_out(classifier: Classifier, title: str) -> None:
    assert "sanctions" not in topics(classifier, title)


G20_IN = [
    "Summit of the twenty largest economies: city centre sealed off",
    "Snipers on rooftops as the G20 leaders arrive",
    "Warships and air defences guard the G20 summit venue",
    "Boats banned from the bay during the G20 summit",
    "Road closures and motorcades: G20 summit disrupts the city",
    "Metro closed and public holiday decreed for the G20 summit",
    "Riots and looting near the G20 summit",
    "Armed forces take over security for the G20 summit",
    "Messehallen sealed off ahead of the summit of leaders of the twenty largest economies",
    "Le sommet des vingt premières économies mondiales : centre-ville bouclé",
    "Zone rouge autour du sommet du G20",
    "Tireurs d'élite sur les toits pour le sommet du G20",
    "Gipfel der zwanzig größten Industrie- und Schwellenländer: Innenstadt abgeriegelt",
    "G20-Außenministertreffen: Sperrzone und Halteverbote in Bonn",
    "Krawalle beim G20-Gipfel in Hamburg",
    "Passierscheine für Anwohner rund um die Messehallen beim G20-Gipfel",
    "Cumbre de los veinte: anillo de seguridad en Buenos Aires",
    "Francotiradores y buzos custodian la cumbre del G20",
    "Saqueos y barricadas cerca de la cumbre del G20",
    "Costa Salguero blindado para la cumbre del G20",
    "Саммит «двадцатки»: в городе перекроют улицы",
    "На время саммита «Большой двадцатки» введут ограничения движения",
    "Вокруг места проведения саммита G20 развернуты армейские подразделения",
    "Беспорядки у места саммита двадцатки",
    "قمة مجموعة العشرين: إغلاق الطرق المؤدية إلى مكان القمة",
    "القوات الخاصة تنتشر حول قمة العشرين",
]

G20_OUT = [
    "BRICS summit in Johannesburg: Sandton sealed off",
    "G7 summit: roads closed and snipers on rooftops",
    "NATO summit: warships guard the bay",
    "Sommet de l'Otan : rues fermées et tireurs d'élite",
    "BRICS-Gipfel: Innenstadt abgeriegelt",
    "Саммит БРИКС: в Казани перекроют улицы",
    "G20 finance ministers agree on debt relief",
    "Los ministros del G20 acuerdan medidas fiscales",
    "Johannesburg: police seal off the city centre after protests",
    "Osaka: road closures for the marathon",
    "Rio de Janeiro: special forces storm favela",
]


@pytest.mark.parametrize("title", G20_IN)
def test_g20_round4_paraphrases_are_in(classifier: Classifier, title: str) -> None:
    assert "g20_security" in topics(classifier, title)


@pytest.mark.parametrize("title", G20_OUT)
def test_g20_round4_hard_negatives_stay_out(classifier: Classifier, title: str) -> None:
    assert "g20_security" not in topics(classifier, title)
