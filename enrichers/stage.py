"""The enrich stage: everything that needs only the mention itself. Pure, CPU-bound
(language detection), so the pipeline runs `enrich_batch` off the event loop.

Language, profanity/abuse with moderation advice, tone, the flags and a first
severity. What needs the customer's history (repeated negativity, persona, the final
severity, response deadline, suggested reply) follows in the profile stage.
"""
from __future__ import annotations

from collections.abc import Sequence

from enrichers.language import LanguageGuess, detect_language, detect_languages
from enrichers.profanity import check_profanity, moderation
from enrichers.severity import CLAIM, DATA_LEAK, LEGAL, SAFETY, SeverityConfig, assess_severity, text_signals
from enrichers.tone import detect_tone
from schemas import Channel, ClassifiedMention, Flags, MentionLabel, MessageType, Moderation, Sentiment, Tone

DEFAULT = SeverityConfig()


def enrich(mention: ClassifiedMention, cfg: SeverityConfig = DEFAULT,
           language: LanguageGuess | None = None) -> ClassifiedMention:
    """`language`: the post's language when already known (enrich_batch detects a batch's at once)."""
    language = language or detect_language(mention.text, mention.lang_hint)
    profanity = check_profanity(mention.text)
    tone = detect_tone(mention.text, language.code)
    author = mention.author
    signals = text_signals(mention.text, source=mention.source.value, handle=author.handle,
                           display_name=author.display_name, followers=author.followers, cfg=cfg)
    severity = assess_severity(signals, negative=mention.sentiment == Sentiment.negative,
                               complaint=mention.type == MessageType.complaint,
                               question=mention.type == MessageType.question, profane=profanity.profane, cfg=cfg)
    advice = moderation(profanity, own_channel=mention.channel == Channel.own)
    return mention.model_copy(update={
        "language": language.code,
        "language_confidence": language.confidence,
        "tone": Tone(formality=tone.formality, emoji=tone.emoji, markers=tone.markers),
        "flags": Flags(profanity=profanity.profane, abusive=profanity.abusive, legal_threat=LEGAL in signals.terms,
                       safety=SAFETY in signals.terms, claim=CLAIM in signals.terms,
                       data_leak=DATA_LEAK in signals.terms, press=signals.press, influencer=signals.influencer),
        "severity": severity.level,
        "severity_reasons": severity.reasons,
        "profanity_terms": profanity.terms,
        "moderation": Moderation(action=advice[0], reason=advice[1]) if advice else None,
        "labels": [MentionLabel(mention.type.value)],
    })


def enrich_batch(mentions: Sequence[ClassifiedMention], cfg: SeverityConfig = DEFAULT) -> list[ClassifiedMention]:
    # the batch's languages in one call; with the transformer the classifier has already asked, so
    # this is only a lookup
    languages = detect_languages([m.text for m in mentions], [m.lang_hint for m in mentions])
    return [enrich(m, cfg, language) for m, language in zip(mentions, languages, strict=True)]
