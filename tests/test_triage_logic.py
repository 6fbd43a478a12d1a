"""Customer state, repeated negativity, personas and the final judgement: pure, no services."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from core.paths import PROJECT_ROOT
from enrichers.reply import ReplyBook
from enrichers.stage import enrich
from pipeline.customers.config import TriageConfig, load_triage_config
from pipeline.customers.judge import finalize
from pipeline.customers.observe import observe
from pipeline.customers.persona import RESOLVED
from pipeline.customers.profile_doc import profile_document
from pipeline.customers.registry import Link, Registry, account_key, load_file, parse_record
from pipeline.customers.state import CustomerState, windows
from pipeline.customers.story import fingerprint, similarity
from schemas import (
    Author,
    Channel,
    ClassifiedMention,
    MentionLabel,
    MessageType,
    Persona,
    Sentiment,
    Source,
)

T0 = datetime(2026, 10, 5, 9, 0, tzinfo=timezone.utc)
CFG = TriageConfig()
BOOK = ReplyBook.load(PROJECT_ROOT / "data" / "replies", "PakjePost")
_n = 0


def mention(text: str, type: MessageType, sentiment: Sentiment, *, at: datetime, source: Source = Source.twitter,
            handle: str = "klant", url: str | None = None, channel: Channel = Channel.third_party,
            customer_id: str | None = None, followers: int = 40) -> ClassifiedMention:
    global _n
    _n += 1
    m = ClassifiedMention(
        id=f"{source.value}:{_n}", source=source, channel=channel, url=url, author=Author(handle=handle,
        display_name="Sanne Visser", followers=followers), text=text, created_at=at, brand="PakjePost",
        type=type, type_scores={type: 0.9}, sentiment=sentiment,
        sentiment_score={"negative": -0.8, "neutral": 0.0, "positive": 0.8}[sentiment.value],
        customer_id=customer_id or f"{source.value}:{handle}", model_version="test", processed_at=at)
    return enrich(m)


def run(ms: list[ClassifiedMention], state: CustomerState | None = None, cfg: TriageConfig = CFG):
    out = []
    for m in ms:
        state, verdict, _ = observe(state, m, cfg)
        out.append(finalize(m, verdict, cfg, BOOK))
    return state, out


C, Q, P = MessageType.complaint, MessageType.question, MessageType.compliment
NEG, NEU, POS = Sentiment.negative, Sentiment.neutral, Sentiment.positive


def test_story_fingerprint_matches_retellings_not_other_stories():
    a = fingerprint("@PakjePost mijn pakket is nooit bezorgd, bestelling 48213!!", "PakjePost")
    b = fingerprint("Nog steeds geen pakket van PakjePost ontvangen. Bestelling 48213. Schandalig", "PakjePost")
    c = fingerprint("De app van PakjePost crasht bij het inloggen", "PakjePost")
    assert "pakjepost" not in a and similarity(a, b) >= 0.5 and similarity(a, c) < 0.3


def test_same_story_on_three_sites_is_repeated_negativity_from_the_second_with_evidence():
    story = ["Pakket 48213 nooit bezorgd, wat een waardeloze service @PakjePost 😡",
             "PakjePost heeft mijn pakket 48213 nog steeds niet bezorgd. Waardeloos.",
             "1 ster. Pakket 48213 nooit bezorgd en niemand reageert."]
    sources = [Source.twitter, Source.facebook, Source.review_site]
    ms = [mention(t, C, NEG, at=T0 + timedelta(hours=3 * i), source=s, customer_id="cust-1",
                  url="https://reviews.example/r/1" if s == Source.review_site else None)
          for i, (t, s) in enumerate(zip(story, sources))]
    state, out = run(ms)
    assert out[0].repeated_negativity is None and out[0].labels == [MentionLabel.complaint]
    second, third = out[1], out[2]
    assert second.labels == [MentionLabel.complaint, MentionLabel.repeated_negativity]
    assert second.repeated_negativity.earlier_ids == [ms[0].id]
    assert second.repeated_negativity.sources == ["facebook", "twitter"]
    assert third.repeated_negativity.earlier_ids == [ms[0].id, ms[1].id]
    assert "review_site:reviews.example" in third.repeated_negativity.sites
    assert third.severity >= 2 and "repeated negativity" in third.severity_reasons
    # a third-party site answers repeated negativity, and says why
    assert third.should_respond and third.respond_rule in ("third_party_severity", "third_party_repeated_negativity")
    assert "gemeld" in third.suggested_reply
    assert state.repeated_negativity == 2


def test_same_site_needs_three_tellings_and_other_stories_or_windows_do_not_count():
    ms = [mention("Mijn pakket 777 is kwijt, schandalig", C, NEG, at=T0 + timedelta(hours=i)) for i in range(3)]
    _, out = run(ms)
    assert [o.repeated_negativity is not None for o in out] == [False, False, True]
    assert out[2].repeated_negativity.rule.startswith("same story 3 times")
    other = [mention("Pakket 777 kwijt", C, NEG, at=T0), mention("De app crasht steeds bij inloggen", C, NEG,
                                                                   at=T0 + timedelta(hours=1), source=Source.facebook)]
    assert run(other)[1][1].repeated_negativity is None
    late = [mention("Pakket 777 kwijt", C, NEG, at=T0),
            mention("Pakket 777 kwijt", C, NEG, at=T0 + timedelta(days=10), source=Source.facebook)]
    assert run(late)[1][1].repeated_negativity is None  # outside the 168 h window


def test_loyal_fan_becomes_brand_ambassador():
    texts = ["Top service van PakjePost, dank jullie wel! 😍", "Wat een snelle bezorging weer 👍",
             "Love it, keep it up PakjePost!", "Beste bezorger ooit, super vriendelijk"]
    _, out = run([mention(t, P, POS, at=T0 + timedelta(days=3 * i), handle="fan") for i, t in enumerate(texts)])
    assert out[0].persona == Persona.quiet_lurker  # a first post
    assert out[-1].persona == Persona.brand_ambassador
    assert out[-1].persona_confidence >= 0.6 and "positive" in out[-1].persona_reason


def test_negative_over_a_long_span_is_a_chronic_critic():
    texts = ["Alweer te laat", "Waardeloze app", "Slechtste klantenservice", "Weer een kapot pakket",
             "Nog altijd niks opgelost", "Blijf weg bij PakjePost"]
    _, out = run([mention(t, C, NEG, at=T0 + timedelta(days=6 * i), handle="critic") for i, t in enumerate(texts)])
    assert out[-1].persona == Persona.chronic_critic
    assert "negative over" in out[-1].persona_reason
    assert out[0].persona != Persona.chronic_critic  # one bad post is no pattern


def test_neutral_customer_with_an_angry_burst_is_temporarily_angry_then_resolved_by_a_compliment():
    history = [mention("Wanneer bezorgen jullie op zondag?", Q, NEU, at=T0),
               mention("Kan ik mijn adres wijzigen?", Q, NEU, at=T0 + timedelta(days=5))]
    burst = [mention(t, C, NEG, at=T0 + timedelta(days=10, hours=h)) for h, t in
             enumerate(["Pakket kwijt!!", "Nog steeds niks, belachelijk", "Ik ben er klaar mee"])]
    thanks = mention("Opgelost, dank jullie wel voor de snelle hulp!", P, POS, at=T0 + timedelta(days=11))
    state, out = run(history + burst + [thanks])
    assert out[2].persona != Persona.temporarily_angry  # one negative post is not a burst
    assert out[3].persona == Persona.temporarily_angry and "after 2 earlier posts" in out[3].persona_reason
    assert out[4].persona == Persona.temporarily_angry
    assert out[5].persona != Persona.temporarily_angry
    assert out[5].persona_change.from_persona == Persona.temporarily_angry
    assert out[5].persona_change.reason == RESOLVED
    assert state.transitions[-1].reason == RESOLVED


def test_rare_post_after_long_silence_is_a_quiet_lurker():
    ms = [mention("Vraagje over mijn abonnement", Q, NEU, at=T0),
          mention("Hoe wijzig ik mijn adres?", Q, NEU, at=T0 + timedelta(days=80))]
    _, out = run(ms)
    assert [o.persona for o in out] == [Persona.quiet_lurker, Persona.quiet_lurker]
    assert "silence" in out[1].persona_reason


def test_replay_gives_the_same_verdict_and_does_not_count_twice():
    ms = [mention("Pakket 5 kwijt", C, NEG, at=T0 + timedelta(hours=i), source=s)
          for i, s in enumerate([Source.twitter, Source.facebook])]
    state, first = run(ms)
    again_state, again = run(ms, state)
    assert [o.model_dump(exclude={"processed_at"}) for o in again] == [o.model_dump(exclude={"processed_at"})
                                                                      for o in first]
    assert again_state.totals["n"] == 2 and state.totals == again_state.totals


def test_state_counts_windows_timeline_and_survives_json():
    ms = [mention("Waar is mijn pakket?", Q, NEU, at=T0 + timedelta(days=d), source=s)
          for d, s in [(0, Source.twitter), (1, Source.whatsapp), (20, Source.email)]]
    state, _ = run(ms)
    assert state.totals["n"] == 3 and state.totals["source:whatsapp"] == 1
    assert state.first_seen == ms[0].created_at and state.last_seen == ms[-1].created_at
    w = windows(state, CFG.history)
    assert w["1d"]["n"] == 1 and w["30d"]["n"] == 3
    restored = CustomerState.load(json.loads(json.dumps(state.model_dump(mode="json"))))
    assert restored == state
    doc = profile_document(restored, CFG.history, name="Sanne")
    assert doc["mentions"] == 3 and [t["source"] for t in doc["timeline"]] == ["twitter", "whatsapp", "email"]
    assert doc["sources"] == ["email", "twitter", "whatsapp"]


def test_abusive_post_on_own_channel_is_moderated_with_a_reason():
    m = mention("Stelletje klootzakken, waar is mijn pakket", C, NEG, at=T0, channel=Channel.own)
    _, [out] = run([m])
    assert out.flags.abusive and out.profanity_terms == ["klootzakken"]
    assert out.moderation.action == "delete" and "insult" in out.moderation.reason
    assert not out.should_respond and out.respond_rule == "abusive_moderate"
    assert "verwijderd" in out.suggested_reply


def test_registry_links_accounts_and_parses_records_and_files(tmp_path):
    assert account_key("Twitter:@SanneDV ") == "twitter:sannedv"
    with pytest.raises(ValueError):
        account_key("sannedv")
    r = Registry()
    r.extend(load_file(PROJECT_ROOT / "data" / "registry" / "example.yaml"))
    assert r.resolve("twitter:sannedv") == r.resolve("whatsapp:+31612345678") == "cust-000123"
    assert r.resolve("twitter:someone_else") == "twitter:someone_else"  # unknown: a stable id of its own
    key, value = Link("facebook:x", "c9", "X").to_record()
    r.apply(*parse_record(key, value))
    assert r.resolve("facebook:x") == "c9"
    r.apply(*parse_record(key, None))  # tombstone: unlinked
    assert r.resolve("facebook:x") == "facebook:x"
    (tmp_path / "reg.json").write_text('{"customers": [{"customer_id": "c1", "accounts": ["email:a@b.nl"]}]}')
    assert load_file(tmp_path / "reg.json")[0].customer_id == "c1"


def test_thresholds_load_from_a_file(tmp_path):
    path = tmp_path / "triage.yaml"
    path.write_text("persona:\n  ambassador_min_positive: 5\nrespond:\n  business_hours: '08:00-22:00'\n")
    cfg = load_triage_config(path)
    assert cfg.persona.ambassador_min_positive == 5 and cfg.persona.critic_min_negative == 4
    assert cfg.respond_config().business_hours.closes is not None
    path.write_text("persona:\n  no_such_threshold: 1\n")
    with pytest.raises(ValueError):
        load_triage_config(path)


def test_merge_moves_an_accounts_history_into_its_customer():
    from pipeline.customers.merge import merge_states

    before, _ = run([mention("Bestelling 90210 nooit geleverd", C, NEG, at=T0 + timedelta(hours=h),
                             handle="laat") for h in (0, 1)])
    after, _ = run([mention("Waar blijft bestelling 90210?", Q, NEU, at=T0 + timedelta(hours=5),
                            source=Source.facebook, customer_id="cust-late")])
    merged = merge_states(after, before, "cust-late", CFG.history)
    assert merged.customer_id == "cust-late" and merged.totals["n"] == 3
    assert [i.at for i in merged.recent] == sorted(i.at for i in merged.recent)
    assert [i.seq for i in merged.recent] == [1, 2, 3] and merged.seq >= 3
    assert set(merged.accounts) == {"twitter:laat", "facebook:klant"}
    assert merged.first_seen == T0 and merged.last_seen == T0 + timedelta(hours=5)
    # the next mention sees the moved history: the same story on a second site
    m = mention("Bestelling 90210 is echt nooit geleverd", C, NEG, at=T0 + timedelta(hours=6),
                source=Source.facebook, customer_id="cust-late")
    _, verdict, _ = observe(merged, m, CFG)
    assert verdict.repeated is not None and len(verdict.repeated.earlier_ids) == 2
    assert merge_states(None, before, "cust-late", CFG.history).totals == before.totals


def test_a_deleted_mention_leaves_the_history_and_its_counts():
    from pipeline.customers.state import remove_item

    ms = [mention("pakket kwijt", C, NEG, at=T0), mention("nog steeds kwijt", C, NEG, at=T0 + timedelta(hours=2)),
          mention("dank je", P, POS, at=T0 + timedelta(days=1))]
    state, _ = run(ms)
    gone = remove_item(state, ms[1].id)
    assert [i.id for i in gone.recent] == [ms[0].id, ms[2].id]
    assert gone.totals["n"] == 2 and gone.totals["type:complaint"] == 1 and gone.totals["type:compliment"] == 1
    assert gone.daily[T0.date().isoformat()]["n"] == 1
    assert state.totals["n"] == 3 and len(state.recent) == 3  # the input is not changed
    assert remove_item(state, "twitter:unknown") is None
