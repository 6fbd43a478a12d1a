"""Finish a mention with what its customer's history says: labels, repeated negativity,
persona, severity, whether and by when to respond, and a suggested reply. Pure."""
from __future__ import annotations

from enrichers.reply import ReplyBook, suggest_reply
from enrichers.respond import decide
from enrichers.severity import with_repeated_negativity
from pipeline.customers.config import TriageConfig
from pipeline.customers.state import Verdict
from schemas import ClassifiedMention, MentionLabel, Sentiment


def finalize(mention: ClassifiedMention, verdict: Verdict, cfg: TriageConfig, book: ReplyBook) -> ClassifiedMention:
    repeated = verdict.repeated is not None
    labels = [MentionLabel(mention.type.value)] + ([MentionLabel.repeated_negativity] if repeated else [])
    severity = with_repeated_negativity(mention.severity, mention.severity_reasons, repeated)
    negative = mention.sentiment == Sentiment.negative
    abusive = mention.flags.abusive
    decision = decide(created_at=mention.created_at, channel=mention.channel.value, type=mention.type.value,
                      severity=severity.level, negative=negative, followers=mention.author.followers or 0,
                      repeated_negativity=repeated, abusive=abusive, cfg=cfg.respond_config())
    reply = None
    if decision.should_respond or abusive:
        reply = suggest_reply(book, text=mention.text, type=mention.type.value, language=mention.language,
                              formality=mention.tone.formality, emoji=mention.tone.emoji,
                              display_name=mention.author.display_name, handle=mention.author.handle,
                              brand=mention.brand, persona=verdict.persona.value, repeated_negativity=repeated,
                              severity=severity.level, abusive=abusive)
    return mention.model_copy(update={
        "labels": labels,
        "repeated_negativity": verdict.repeated,
        "persona": verdict.persona,
        "persona_confidence": verdict.confidence,
        "persona_reason": verdict.reason,
        "persona_change": verdict.change,
        "severity": severity.level,
        "severity_reasons": severity.reasons,
        "should_respond": decision.should_respond,
        "respond_by": decision.respond_by,
        "respond_rule": decision.rule,
        "suggested_reply": reply,
    })
