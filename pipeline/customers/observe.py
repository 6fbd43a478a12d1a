"""Fold one mention into its customer's state and give the verdict on it. Pure."""
from __future__ import annotations

from pipeline.customers.config import TriageConfig
from pipeline.customers.persona import assess_persona, persona_change
from pipeline.customers.repeated import detect_repeated
from pipeline.customers.state import CustomerState, Transition, Verdict, add_item, item_of
from schemas import ClassifiedMention


def observe(state: CustomerState | None, mention: ClassifiedMention, cfg: TriageConfig
            ) -> tuple[CustomerState, Verdict, bool]:
    """(new state, verdict, is_new). A mention seen before gets its first verdict back, unchanged."""
    state = state or CustomerState(customer_id=mention.customer_id)
    seen = state.find(mention.id)
    if seen is not None and seen.verdict is not None:
        return state, seen.verdict, False
    item = item_of(mention, state.seq + 1, cfg.history)
    repeated = detect_repeated(item, state.recent, cfg.repeat)
    new = add_item(state, item, cfg.history)
    persona, confidence, reason = assess_persona(new, item, cfg.persona)
    change = persona_change(state.persona, persona, item, reason)
    verdict = Verdict(persona=persona, confidence=confidence, reason=reason, change=change, repeated=repeated)
    new.recent[-1] = item.model_copy(update={"verdict": verdict,
                                             "severity": max(item.severity, 2 if repeated else 0)})
    if change is not None:
        new.transitions = (new.transitions + [Transition(at=item.at, mention_id=item.id, from_persona=change.from_persona,
                                                         to_persona=change.to_persona, reason=change.reason)]
                           )[-cfg.history.transitions_max:]
    if persona != state.persona:
        new.persona_since = item.at
    new.persona, new.persona_confidence, new.persona_reason = persona, confidence, reason
    new.repeated_negativity += 1 if repeated else 0
    return new, verdict, True
