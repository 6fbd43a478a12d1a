"""Tests for the keyword/lexicon baseline classifier (classifiers/baseline.py).

The example sentences here are written for the tests and are not in the lexicon files.
`HELD_OUT` is a small hand-written evaluation list (30 nl, 30 en, 12 per type) written before
the thresholds were measured; the thresholds sit a little below the measured values.
"""
from __future__ import annotations

import json
from importlib import resources

import pytest

from classifiers.base import Classification, Classifier
from classifiers.baseline import BaselineClassifier
from schemas import MessageType, Sentiment

C, Q, S, K, O = (MessageType.complaint, MessageType.question, MessageType.suggestion,
                 MessageType.compliment, MessageType.other)
NEG, NEU, POS = Sentiment.negative, Sentiment.neutral, Sentiment.positive


@pytest.fixture(scope="module")
def clf() -> BaselineClassifier:
    return BaselineClassifier()


def test_contract(clf: BaselineClassifier) -> None:
    assert isinstance(clf, Classifier)
    assert clf.name == "baseline-lexicon"
    assert clf.version == "1"
    assert clf.model_version == "baseline-lexicon-1"


def test_lexicons_are_data() -> None:
    for lang in ("nl", "en"):
        lex = json.loads(resources.files("classifiers").joinpath("lexicon", f"{lang}.json").read_text("utf-8"))
        assert lex["language"] == lang
        assert set(lex["types"]) == {"complaint", "question", "suggestion", "compliment"}
        assert all(isinstance(w, (int, float)) for cues in lex["types"].values() for w in cues.values())
        assert lex["negators"] and lex["intensifiers"] and lex["sentiment"]


# --- clear examples of each type ----------------------------------------------------------

CLEAR = [
    # (text, language hint, type, sentiment or None when not asserted)
    ("Mijn pakket is al vier dagen onderweg en niemand reageert 😡", "nl", C, NEG),
    ("Hoe kan ik mijn abonnement opzeggen?", "nl", Q, None),
    ("Het zou fijn zijn als jullie app ook een donkere modus had", "nl", S, None),
    ("Top geholpen door jullie medewerker, dank!", "nl", K, POS),
    ("Morgen gaat de winkel in Zwolle na de verbouwing weer open.", "nl", O, NEU),
    ("My parcel has been on its way for five days and nobody answers my emails 😡", "en", C, NEG),
    ("How do I cancel my subscription?", "en", Q, None),
    ("It would be great if your app had a dark mode", "en", S, None),
    ("Your colleague helped me brilliantly today, thanks a lot!", "en", K, POS),
    ("The store in Leeds reopens tomorrow after the renovation.", "en", O, NEU),
]


@pytest.mark.parametrize(("text", "lang", "mtype", "sentiment"), CLEAR)
def test_clear_examples(clf: BaselineClassifier, text: str, lang: str, mtype: MessageType, sentiment: Sentiment | None) -> None:
    r = clf.classify(text, lang)
    assert r.type == mtype, (text, r)
    if sentiment is not None:
        assert r.sentiment == sentiment, (text, r)


@pytest.mark.parametrize(("text", "lang", "mtype", "sentiment"), CLEAR)
def test_clear_examples_without_language_hint(clf: BaselineClassifier, text: str, lang: str, mtype: MessageType,
                                              sentiment: Sentiment | None) -> None:
    assert clf.classify(text, None).type == mtype


def test_code_switching_without_hint(clf: BaselineClassifier) -> None:
    r = clf.classify("Wederom geen bezorging vandaag, still waiting for my order 🙄", None)
    assert r.type == C and r.sentiment == NEG


def test_unknown_language_hint_uses_both_lexicons(clf: BaselineClassifier) -> None:
    assert clf.classify("Thank you so much, super geholpen!", "de").type == K
    assert clf.classify("Hoe kan ik inloggen?", "nl-NL").type == Q


# --- sentiment mechanics --------------------------------------------------------------------

def test_negation_flips_positive_to_negative(clf: BaselineClassifier) -> None:
    assert clf.classify("goed", "nl").sentiment == POS
    assert clf.classify("niet goed", "nl").sentiment == NEG
    assert clf.classify("De service was echt niet goed", "nl").sentiment == NEG
    assert clf.classify("I am not happy with this", "en").sentiment == NEG
    assert clf.classify("This doesn't look great", "en").sentiment_score < 0


def test_negated_negative_is_not_negative(clf: BaselineClassifier) -> None:
    assert clf.classify("bad", "en").sentiment == NEG
    assert clf.classify("not bad", "en").sentiment != NEG
    assert clf.classify("niet slecht", "nl").sentiment != NEG
    assert clf.classify("geen probleem hoor", "nl").sentiment != NEG


def test_negation_stops_at_clause_break(clf: BaselineClassifier) -> None:
    assert clf.classify("Niet wat ik verwachtte, maar echt goed!", "nl").sentiment == POS


def test_negated_compliment_cue_counts_as_complaint(clf: BaselineClassifier) -> None:
    r = clf.classify("Ik ben helemaal niet tevreden over de afhandeling", "nl")
    assert r.type == C and r.sentiment == NEG


def test_intensifier_strengthens(clf: BaselineClassifier) -> None:
    assert clf.classify("very good", "en").sentiment_score > clf.classify("good", "en").sentiment_score
    assert clf.classify("heel slecht", "nl").sentiment_score < clf.classify("slecht", "nl").sentiment_score
    assert clf.classify("een beetje jammer", "nl").sentiment_score > clf.classify("jammer", "nl").sentiment_score


def test_repeated_letters_and_capitals(clf: BaselineClassifier) -> None:
    assert clf.classify("slechttt", "nl").sentiment == NEG
    assert clf.classify("Heeeel fijnnn", "nl").sentiment == POS
    assert clf.classify("WAARDELOOS", "nl").sentiment_score < clf.classify("waardeloos", "nl").sentiment_score


@pytest.mark.parametrize(("text", "sentiment"), [
    ("😡", NEG), ("🤬🤬", NEG), ("👎", NEG), (":(", NEG), (":-((", NEG),
    ("😍", POS), ("🙏", POS), ("👍🏽", POS), (":)", POS), ("<3", POS), ("❤️", POS),
])
def test_emoji_alone_carry_sentiment(clf: BaselineClassifier, text: str, sentiment: Sentiment) -> None:
    assert clf.classify(text, None).sentiment == sentiment
    assert clf.classify(text, "nl").sentiment == sentiment  # emoji are language-neutral


def test_emoji_are_not_negated(clf: BaselineClassifier) -> None:
    assert clf.classify("Not impressed 😡", "en").sentiment == NEG


def test_complaint_pulls_negative_and_compliment_positive(clf: BaselineClassifier) -> None:
    # no sentiment word at all, only type cues
    assert clf.classify("Ik wacht al twee weken op mijn retour", "nl").sentiment_score < 0
    assert clf.classify("Thank you", "en").sentiment_score > 0


def test_slang_and_typos(clf: BaselineClassifier) -> None:
    assert clf.classify("wat een kutbedrijf", "nl").sentiment == NEG
    assert clf.classify("bagger service weer", "nl").type == C
    assert clf.classify("thnx voor de hulp!!", "nl").type == K
    assert clf.classify("wtf is this", "en").sentiment == NEG


# --- scores, determinism, batch, odd inputs ------------------------------------------------

ODD = ["", " ", "https://example.com/a/b?c=d", "@bol @coolblue", "😡😡😡", "🙂", "?", "!!!", "...", "1234 5678",
       "a" * 5000, ("Waarom duurt het zo lang? " * 200)[:5000], "\u200d\ufe0f", "ÀÉÎÕÜ ñ ß", "\x00\x01", "<script>x</script>",
       "👍🏻👍🏿", "#fail #epicfail", "tip:dit", ":):(:D:P", "Ik ben niet niet niet blij"]


@pytest.mark.parametrize("text", ODD)
def test_odd_inputs_do_not_crash_and_scores_are_in_range(clf: BaselineClassifier, text: str) -> None:
    for lang in (None, "nl", "en", "fr", ""):
        r = clf.classify(text, lang)
        assert isinstance(r, Classification)
        assert set(r.type_scores) == set(MessageType)
        assert all(0.0 <= v <= 1.0 for v in r.type_scores.values())
        assert -1.0 <= r.sentiment_score <= 1.0
        assert r.type in MessageType and r.sentiment in Sentiment


def test_weak_cue_alone_stays_other(clf: BaselineClassifier) -> None:
    # "misschien" (maybe) and "when" are weak cues: below the threshold on their own
    assert clf.classify("Misschien ga ik morgen weer naar de winkel.", "nl").type == O
    assert clf.classify("When the store opens tomorrow I will be there.", "en").type == O


def test_url_only_and_empty_are_other_neutral(clf: BaselineClassifier) -> None:
    for text in ("", "https://example.com/x", "@acme"):
        r = clf.classify(text)
        assert r.type == O and r.sentiment == NEU and r.sentiment_score == 0.0


def test_url_does_not_count(clf: BaselineClassifier) -> None:
    # the words in the URL are not cues
    assert clf.classify("https://example.com/klacht-slecht-waardeloos", "nl").type == O


def test_long_text(clf: BaselineClassifier) -> None:
    text = ("Ik wacht al drie weken op mijn pakket en niemand helpt me. " * 100)[:5000]
    r = clf.classify(text, "nl")
    assert r.type == C and r.sentiment == NEG


def test_chosen_type_has_the_highest_score(clf: BaselineClassifier) -> None:
    for text, lang, *_ in CLEAR + [(t, lang, m, s) for t, lang, m, s in HELD_OUT]:
        r = clf.classify(text, lang)
        assert r.type_scores[r.type] == max(r.type_scores.values())


def test_determinism(clf: BaselineClassifier) -> None:
    texts = [t for t, *_ in CLEAR + HELD_OUT]
    langs = [lang for _, lang, *_ in CLEAR + HELD_OUT]
    first = clf.classify_batch(texts, langs)
    assert clf.classify_batch(texts, langs) == first
    assert BaselineClassifier().classify_batch(texts, langs) == first  # a fresh instance (empty cache)


def test_batch_equals_single_calls(clf: BaselineClassifier) -> None:
    texts = [t for t, *_ in HELD_OUT] + ODD
    langs: list[str | None] = [lang for _, lang, *_ in HELD_OUT] + [None] * len(ODD)
    assert clf.classify_batch(texts, langs) == [clf.classify(t, lang) for t, lang in zip(texts, langs)]
    assert clf.classify_batch([], []) == []


def test_batch_length_mismatch_is_an_error(clf: BaselineClassifier) -> None:
    with pytest.raises(ValueError):
        clf.classify_batch(["a", "b"], [None])


# --- held-out accuracy ----------------------------------------------------------------------

HELD_OUT: list[tuple[str, str, MessageType, Sentiment]] = [
    # nl complaint
    ("Bestelling van vorige week is er nog steeds niet, en de chat geeft alleen automatische antwoorden. Echt slecht geregeld.", "nl", C, NEG),
    ("Voor de derde keer een verkeerde maat geleverd. Ik ben er klaar mee.", "nl", C, NEG),
    ("Monteur zou tussen 8 en 12 komen, het is nu half 3 en niemand is geweest 😤", "nl", C, NEG),
    ("Internet valt elke avond weg sinds de update, heel irritant als je thuiswerkt", "nl", C, NEG),
    ("Twee keer afgeschreven voor één bestelling en de klantenservice hangt gewoon op. Belachelijk.", "nl", C, NEG),
    ("Trein weer uitgevallen, derde keer deze week. Ik kom te laat op mijn werk door jullie.", "nl", C, NEG),
    # nl question
    ("Kan ik mijn bestelling nog wijzigen als hij al verzonden is?", "nl", Q, NEU),
    ("Weet iemand of de winkel in Zwolle op tweede paasdag open is?", "nl", Q, NEU),
    ("Vanaf wanneer kan ik de nieuwe bundel activeren in de app", "nl", Q, NEU),
    ("Hallo, is het mogelijk om een factuur op bedrijfsnaam te krijgen?", "nl", Q, NEU),
    ("Wat zijn de openingstijden van jullie servicepunt in Gent?", "nl", Q, NEU),
    ("Moet ik de oude modem terugsturen of mag ik hem houden?", "nl", Q, NEU),
    # nl suggestion
    ("Het zou echt helpen als jullie ook op zondag bezorgen", "nl", S, NEU),
    ("Tip voor de webshop: zet de verzendkosten meteen bij het product, niet pas bij het afrekenen.", "nl", S, NEU),
    ("Misschien een idee om de kassabon ook digitaal te mailen? Scheelt een hoop papier.", "nl", S, NEU),
    ("Voeg alsjeblieft een optie toe om meldingen per categorie uit te zetten.", "nl", S, NEU),
    ("Ik zou graag zien dat jullie ook vegetarische maaltijden in het menu opnemen.", "nl", S, NEU),
    ("Zouden jullie kunnen overwegen om de winkel op zondag eerder te openen?", "nl", S, NEU),
    # nl compliment
    ("Wat een snelle service, gisteren besteld en vandaag al in huis. Chapeau!", "nl", K, POS),
    ("Complimenten aan de chauffeur van lijn 12, zo vriendelijk en geduldig met die oudere mevrouw.", "nl", K, POS),
    ("Eindelijk een helpdesk die echt luistert. Probleem binnen tien minuten opgelost, dankjewel Sanne!", "nl", K, POS),
    ("Jullie nieuwe app werkt echt super fijn 👍", "nl", K, POS),
    ("Heel blij met mijn nieuwe fiets, en de uitleg in de winkel was top.", "nl", K, POS),
    ("Dank voor het snelle antwoord, alles is weer in orde 🙏", "nl", K, POS),
    # nl other
    ("Morgen opent er een nieuwe vestiging van jullie in Amersfoort, las ik in de krant.", "nl", O, NEU),
    ("Net de folder van deze week binnen gekregen.", "nl", O, NEU),
    ("Ik sta hier bij de kassa in de rij, gezellig druk vandaag", "nl", O, NEU),
    ("Volgende week begint de zomeractie weer, ben benieuwd.", "nl", O, NEU),
    ("Mijn buurman werkt ook bij jullie op het hoofdkantoor.", "nl", O, NEU),
    ("Aandeelkoers van het bedrijf vandaag licht gestegen na de kwartaalcijfers.", "nl", O, NEU),
    # en complaint
    ("Ordered a laptop two weeks ago and it's still showing 'processing'. This is getting ridiculous.", "en", C, NEG),
    ("Your app logged me out again and now my password reset email never comes. Sort it out.", "en", C, NEG),
    ("Been on the phone for 45 minutes just to be told to call back tomorrow. Terrible.", "en", C, NEG),
    ("The shoes fell apart after one wear. Not what I expect for €120.", "en", C, NEG),
    ("Charged me a late fee even though I paid on time. Fix this now @acme", "en", C, NEG),
    ("Flight delayed 6 hours, no food vouchers, staff nowhere to be seen 😠", "en", C, NEG),
    # en question
    ("Do you ship to Belgium, and if so how long does delivery take?", "en", Q, NEU),
    ("Hi, what time does the Rotterdam store close on Saturdays?", "en", Q, NEU),
    ("Is there a student discount on the annual plan?", "en", Q, NEU),
    ("Anyone know if the spring sale includes the outlet items?", "en", Q, NEU),
    ("How can I change the email address linked to my account", "en", Q, NEU),
    ("Will my loyalty points expire when I switch to the new card?", "en", Q, NEU),
    # en suggestion
    ("Would love an option to pause my subscription over the summer instead of cancelling.", "en", S, NEU),
    ("Please bring back the old checkout, it was much quicker.", "en", S, NEU),
    ("You should offer a recycling program for old phones, I'd use it.", "en", S, NEU),
    ("Suggestion: let us pick the delivery slot when ordering.", "en", S, NEU),
    ("Why not add a filter for vegan products on the website?", "en", S, NEU),
    ("It would help a lot if receipts were emailed automatically.", "en", S, NEU),
    # en compliment
    ("Huge thanks to Mark at the Leeds branch, sorted my issue in five minutes!", "en", K, POS),
    ("Best customer support I've dealt with in years. Keep it up!", "en", K, POS),
    ("The new update is brilliant, the app feels so much faster 😍", "en", K, POS),
    ("Delivery arrived a day early and perfectly packed. Really impressed.", "en", K, POS),
    ("Just want to say your staff were lovely to my kids today ❤️", "en", K, POS),
    ("Smooth refund process, no questions asked. Appreciate it!", "en", K, POS),
    # en other
    ("Saw your ad on the tram this morning.", "en", O, NEU),
    ("Acme announces new CEO starting in January, press release out today.", "en", O, NEU),
    ("Standing in line at the store, it's packed today.", "en", O, NEU),
    ("My sister just started working at your Utrecht office.", "en", O, NEU),
    ("The summer collection launches next Thursday according to the newsletter.", "en", O, NEU),
    ("Watching the match at home tonight with a pizza from you guys.", "en", O, NEU),
]

# Measured on HELD_OUT with baseline-lexicon-1, first run, before any tuning: type macro-recall 0.950
# (nl 1.000, en 0.900), type macro-F1 0.951, sentiment accuracy 0.933. Optimistic: the same person
# wrote the lexicon and these sentences. The thresholds sit a bit below the measured values.
MIN_TYPE_MACRO_RECALL = 0.90
MIN_TYPE_MACRO_F1 = 0.90
MIN_SENTIMENT_ACCURACY = 0.88


def _macro(gold: list, pred: list, labels: list) -> tuple[float, float]:
    """Macro recall (mean per-class accuracy) and macro-F1."""
    recalls, f1s = [], []
    for lab in labels:
        tp = sum(1 for g, p in zip(gold, pred) if g == lab and p == lab)
        fn = sum(1 for g, p in zip(gold, pred) if g == lab and p != lab)
        fp = sum(1 for g, p in zip(gold, pred) if g != lab and p == lab)
        rec = tp / (tp + fn) if tp + fn else 0.0
        prec = tp / (tp + fp) if tp + fp else 0.0
        recalls.append(rec)
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return sum(recalls) / len(labels), sum(f1s) / len(labels)


def test_held_out_is_balanced() -> None:
    assert len(HELD_OUT) == 60
    for lang in ("nl", "en"):
        for t in (C, Q, S, K, O):
            assert sum(1 for _, lg, m, _ in HELD_OUT if lg == lang and m == t) == 6


def test_held_out_accuracy(clf: BaselineClassifier) -> None:
    results = clf.classify_batch([t for t, *_ in HELD_OUT], [lang for _, lang, *_ in HELD_OUT])
    gold_t = [m for *_, m, _ in HELD_OUT]
    pred_t = [r.type for r in results]
    macro_recall, macro_f1 = _macro(gold_t, pred_t, list(MessageType))
    sent_acc = sum(r.sentiment == s for r, (*_, s) in zip(results, HELD_OUT)) / len(HELD_OUT)
    misses = [(t, m.value, r.type.value) for (t, _, m, _), r in zip(HELD_OUT, results) if r.type != m]
    print(f"held-out: type macro-recall={macro_recall:.3f} macro-F1={macro_f1:.3f} sentiment-acc={sent_acc:.3f}")
    assert macro_recall >= MIN_TYPE_MACRO_RECALL, misses
    assert macro_f1 >= MIN_TYPE_MACRO_F1, misses
    assert sent_acc >= MIN_SENTIMENT_ACCURACY
