"""What a negative post is about, as a small set of word stems, to tell "the same story". Pure.

An unhappy customer retells one story in other words on each site ("pakket nooit
bezorgd" / "nog steeds geen pakket, bestelling 48213"), so the fingerprint keeps
content words only (stopwords, the brand, @handles and URLs out), cut to a 5-letter
stem so "bezorgd"/"bezorging" and "delivered"/"delivery" meet; numbers of 3+ digits
(order and case numbers) are kept whole because they pin a story down; generic
grievance words ("waardeloos", "terrible", "klantenservice") are left out.
Similarity is the overlap coefficient |A∩B| / min(|A|, |B|): a short retelling of a
long post still matches.
"""
from __future__ import annotations

from enrichers.text import tokens

STEM = 5
MAX_STEMS = 40
STOPWORDS = frozenset(["de", "het", "een", "en", "van", "in", "is", "dat", "die", "op", "te", "met", "voor", "niet", "zijn", "er", "maar", "om", "ook", "als", "dan", "bij", "of", "nog", "naar", "uit", "aan", "al", "ze", "je", "jij", "jou", "jouw", "jullie", "u", "uw", "ik", "mij", "me", "mijn", "mn", "wij", "we", "ons", "onze", "hij", "zij", "haar", "hem", "wat", "wie", "waar", "waarom", "hoe", "wel", "geen", "nu", "zo", "heb", "hebt", "heeft", "hebben", "had", "was", "waren", "wordt", "worden", "word", "werd", "kan", "kun", "kunt", "kon", "zal", "zou", "moet", "moeten", "gaat", "gaan", "ga", "doe", "doet", "deze", "dit", "dus", "toch", "echt", "even", "heel", "weer", "alweer", "meer", "veel", "nou", "hoor", "zeg", "wil", "wilt", "willen", "via", "tot", "over", "door", "na", "sinds", "tegen", "zonder", "nooit", "altijd", "iets", "niks", "niets", "alles", "iemand", "gewoon", "egt", "ff", "nie", "hier", "daar", "the", "a", "an", "and", "of", "to", "in", "is", "it", "that", "this", "for", "on", "with", "as", "at", "by", "from", "or", "be", "are", "was", "were", "been", "has", "have", "had", "do", "does", "did", "not", "no", "but", "so", "if", "then", "than", "too", "very", "just", "my", "me", "i", "you", "your", "we", "our", "us", "they", "them", "their", "he", "she", "his", "her", "its", "what", "who", "where", "why", "how", "when", "all", "any", "some", "can", "could", "would", "should", "will", "shall", "may", "might", "must", "get", "got", "im", "dont", "again", "still", "yet", "ever", "never", "always", "really", "about", "after", "before", "more", "most", "out", "up", "down", "here", "there", "beste", "hallo", "hoi", "hey", "hi", "dear", "geachte", "thanks", "thx", "dank", "bedankt", "please", "pls", "graag"])


# Stems of words that say how bad, not what happened: every complaint has them, so they
# would make any two complaints "the same story".
GENERIC_STEMS = frozenset(["waard", "schan", "belac", "slech", "klant", "servi", "bedri", "teleu", "boos", "klaar", "echt", "super", "fail", "terri", "awful", "worst", "usele", "ridic", "disap", "angry", "compa", "custo", "joke", "weer", "alwee", "nooit", "steed"])


def fingerprint(text: str, brand: str = "") -> list[str]:
    brand_words = set(tokens(brand))
    stems: list[str] = []
    for word in tokens(text):
        if word in STOPWORDS or word in brand_words:
            continue
        if word.isdigit():
            if len(word) >= 3:
                stems.append(word)
            continue
        if len(word) < 3:
            continue
        if word[:STEM] not in GENERIC_STEMS:
            stems.append(word[:STEM])
    return sorted(set(stems))[:MAX_STEMS]


def similarity(a: list[str] | set[str], b: list[str] | set[str]) -> float:
    if not a or not b:
        return 0.0
    sa, sb = set(a), set(b)
    return len(sa & sb) / min(len(sa), len(sb))
