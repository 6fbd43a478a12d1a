"""Pydantic models: the one, versioned contract between Luister's stages."""
from schemas.alert import Alert, AlertKind, AlertStatus
from schemas.dead_letter import DeadLetter, DeadLetterReason
from schemas.deletion import MentionDeletion
from schemas.mention import (
    MAX_RECORD_BYTES,
    MAX_TEXT_CHARS,
    SCHEMA_VERSION,
    Author,
    Channel,
    ClassifiedMention,
    Flags,
    MentionLabel,
    MessageType,
    Moderation,
    Persona,
    PersonaChange,
    RawMention,
    RepeatedNegativity,
    Sentiment,
    Source,
    Tone,
    customer_key,
    mention_id,
    stable_native_id,
)

ALL_MODELS = {"RawMention": RawMention, "ClassifiedMention": ClassifiedMention, "MentionDeletion": MentionDeletion,
              "Alert": Alert, "DeadLetter": DeadLetter}

__all__ = [
    "ALL_MODELS", "MAX_RECORD_BYTES", "MAX_TEXT_CHARS", "SCHEMA_VERSION", "Alert", "AlertKind", "AlertStatus",
    "Author", "Channel", "ClassifiedMention", "DeadLetter", "DeadLetterReason", "Flags", "MessageType", "Persona",
    "RawMention", "Sentiment", "Source", "Tone", "customer_key", "mention_id", "stable_native_id",
    "MentionDeletion", "MentionLabel", "Moderation", "PersonaChange", "RepeatedNegativity",
]
