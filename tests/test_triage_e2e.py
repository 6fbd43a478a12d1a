"""Customer state end to end on the real broker and node: repeated negativity across sites,
personas, linked identities, state that survives a restart (from the changelog), and two
workers in one group giving the same results as one."""
from __future__ import annotations

import os
import re
import threading
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaAdminClient

from connectors.publisher import MentionPublisher
from core.kafka_admin import create_topics, ensure_topics
from core.settings import Settings
from harness.isolation import drop_index_family
from harness.net import free_port
from harness.wait import wait_for
from harness.worker import WorkerProcess
from pipeline.customers.persona import RESOLVED
from pipeline.customers.registry import Link
from pipeline.customers.registry_topic import publish, request_moves
from schemas import Author, Channel, RawMention, Source
from tests.support import where_mentions_stopped

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 10, 5, 9, 0, tzinfo=timezone.utc)
TRIAGE_FIELDS = ("customer_id", "persona", "persona_confidence", "persona_reason", "persona_change", "labels",
                 "repeated_negativity", "severity", "severity_reasons", "flags", "tone", "language",
                 "should_respond", "respond_by", "respond_rule", "suggested_reply", "moderation", "profanity_terms")
LINKS = [("cust-sanne", "twitter:sanne_klaagt"), ("cust-sanne", "facebook:sanne.klaagt"),
         ("cust-sanne", "review_site:sanne_k"), ("cust-linda", "twitter:linda_t"),
         ("cust-linda", "whatsapp:+31611111111")]
_seq = iter(range(1, 10_000))


def _m(script: str, source: Source, handle: str, text: str, at: datetime, channel: Channel = Channel.third_party,
       url: str | None = None, followers: int = 80) -> tuple[str, RawMention]:
    n = next(_seq)
    return script, RawMention(id=f"{source.value}:tr{n}", source=source, channel=channel, url=url,
                              author=Author(handle=handle, display_name=handle.split("_")[0].title(),
                                            followers=followers),
                              text=text, created_at=at, brand="PakjePost")


def _phase_one() -> list[tuple[str, RawMention]]:
    tw, fb, rv, wa = Source.twitter, Source.facebook, Source.review_site, Source.whatsapp
    h = timedelta(hours=1)
    d = timedelta(days=1)
    critic = ["Alweer te laat, waardeloos bedrijf", "Waardeloze app, crasht alleen maar",
              "Slechtste klantenservice van Nederland", "Weer een kapot pakket. Schandalig.",
              "Nog altijd niks opgelost, belachelijk", "Blijf weg bij PakjePost, echt waardeloos"]
    return [
        # one unhappy story on three sites within a day (three accounts, linked to one customer)
        _m("complainer", tw, "sanne_klaagt",
           "Pakket 48213 nog steeds niet bezorgd, wat een waardeloze service @PakjePost 😡", T0, Channel.own),
        _m("complainer", fb, "sanne.klaagt",
           "PakjePost heeft mijn pakket 48213 nog steeds niet bezorgd. Waardeloos en niemand reageert.", T0 + 4 * h),
        _m("complainer", rv, "sanne_k",
           "1 ster. Pakket 48213 nooit bezorgd, klantenservice waardeloos. Blijf weg bij PakjePost.", T0 + 9 * h,
           url="https://reviews.example/pakjepost/r1"),
        # a loyal fan
        *[_m("fan", tw, "femke_fan", t, T0 + 3 * i * d, Channel.own) for i, t in enumerate([
            "Top service van PakjePost, dank jullie wel! 😍", "Wat een snelle bezorging weer, super blij 👍",
            "Love it, great service as always PakjePost!", "Beste bezorger ooit, super vriendelijk, bedankt!"])],
        # negative about everything, over five weeks
        *[_m("critic", rv, "klaagkoning", t, T0 + 6 * i * d, url=f"https://reviews.example/pakjepost/k{i}")
          for i, t in enumerate(critic)],
        # neutral questions, then an angry burst, then the compliment after a good resolution
        _m("angry", fb, "daan_rustig", "Wanneer bezorgen jullie op zondag?", T0, Channel.own),
        _m("angry", fb, "daan_rustig", "Kan ik mijn afleveradres wijzigen?", T0 + 5 * d, Channel.own),
        _m("angry", fb, "daan_rustig", "Mijn pakket is kwijt!! Belachelijk", T0 + 10 * d, Channel.own),
        _m("angry", fb, "daan_rustig", "Nog steeds niks gehoord, schandalig slecht", T0 + 10 * d + h, Channel.own),
        _m("angry", fb, "daan_rustig", "Ik ben er echt klaar mee, waardeloos", T0 + 10 * d + 2 * h, Channel.own),
        _m("angry", fb, "daan_rustig", "Opgelost, dank jullie wel voor de snelle hulp! Top service",
           T0 + 11 * d, Channel.own),
        # one customer, two accounts (linked in the registry)
        _m("linked", tw, "linda_t", "Hoe kan ik een pakket retour sturen?", T0, Channel.own),
        _m("linked", wa, "+31611111111", "Mijn retourpakket is nog steeds niet verwerkt, waardeloos",
           T0 + 2 * h, Channel.own),
        # abuse on our own page
        _m("abusive", fb, "boze_bert", "Stelletje klootzakken, waar is mijn pakket", T0, Channel.own),
    ]


def _phase_two() -> list[tuple[str, RawMention]]:
    return [
        _m("complainer", Source.twitter, "sanne_klaagt", "Dag 2: pakket 48213 nog steeds niet bezorgd. Schandalig",
           T0 + timedelta(days=1, hours=2), Channel.own),
        _m("critic", Source.review_site, "klaagkoning", "Weer vertraging, schandalig slecht", T0 + timedelta(days=37),
           url="https://reviews.example/pakjepost/k6"),
        _m("fan", Source.twitter, "femke_fan", "Weer top geregeld, dank jullie wel!", T0 + timedelta(days=13),
           Channel.own),
    ]


PHASE_ONE = _phase_one()
PHASE_TWO = _phase_two()


def _publish(settings: Settings, scripted: list[tuple[str, RawMention]]) -> None:
    # one key per scripted customer: its mentions stay in order through the pipeline
    with MentionPublisher(settings.kafka_bootstrap, settings.topic_raw) as pub:
        for script, m in scripted:
            m = m.model_copy(update={"ingested_at": datetime.now(timezone.utc)})
            pub.publish_bytes(m.model_dump_json(exclude_none=True).encode(), key=f"script-{script}".encode())


def _docs(es: Elasticsearch, settings: Settings, ids: list[str]) -> dict[str, dict]:
    index = f"{settings.es_index_prefix}-*"
    es.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)
    hits = es.search(index=index, size=len(ids), query={"ids": {"values": ids}}, ignore_unavailable=True,
                     allow_no_indices=True)["hits"]["hits"]
    return {h["_id"]: h["_source"] for h in hits}


def _wait_docs(es, settings, scripted, timeout=90) -> dict[str, dict]:
    ids = [m.id for _, m in scripted]

    def all_indexed():
        docs = _docs(es, settings, ids)
        return docs if len(docs) == len(ids) else None
    try:
        return wait_for(all_indexed, timeout=timeout, what=f"{len(ids)} mentions indexed")
    except AssertionError as exc:
        missing = set(ids) - set(_docs(es, settings, ids))
        raise AssertionError(f"{exc}; {len(ids) - len(missing)} of {len(ids)} indexed.\n"
                             f"{where_mentions_stopped(settings, missing)}") from None


def _metric(worker: WorkerProcess, name: str, labels: str = "") -> float:
    body = urllib.request.urlopen(f"http://127.0.0.1:{worker.web_port}/metrics", timeout=5).read().decode()
    pattern = re.compile(rf"^{name}(\{{[^}}]*{labels}[^}}]*\}})? ([0-9.e+]+)$", re.MULTILINE)
    return sum(float(m.group(2)) for m in pattern.finditer(body))


@pytest.fixture(scope="module")
def es(settings) -> Elasticsearch:
    return Elasticsearch(settings.es_url)


@pytest.fixture(scope="module")
def results(worker, settings, es) -> dict[str, dict]:
    """Phase one through the fixture's worker; links published at run time first."""
    ensure_topics(settings, ["account_links"])
    publish(settings.kafka_bootstrap, settings.topic_customers, [(a, Link(a, c, c.title())) for c, a in LINKS])
    wait_for(lambda: _metric(worker, "luister_customer_registry_links") >= len(LINKS), timeout=60,
             what="the worker to follow the registry links")
    _publish(settings, PHASE_ONE)
    return _wait_docs(es, settings, PHASE_ONE)


def _by(script: str, docs: dict[str, dict], phase=PHASE_ONE) -> list[dict]:
    return [docs[m.id] for s, m in phase if s == script]


def test_complaint_spread_over_three_sites_is_repeated_negativity_with_evidence(results):
    first, second, third = _by("complainer", results)
    assert {d["customer_id"] for d in (first, second, third)} == {"cust-sanne"}
    assert "repeated_negativity" not in first and first["labels"] == ["complaint"]
    assert second["labels"] == ["complaint", "repeated_negativity"]
    assert second["repeated_negativity"]["earlier_ids"] == [PHASE_ONE[0][1].id]
    assert third["repeated_negativity"]["earlier_ids"] == [PHASE_ONE[0][1].id, PHASE_ONE[1][1].id]
    assert third["repeated_negativity"]["sources"] == ["facebook", "review_site", "twitter"]
    assert third["severity"] >= 2 and "repeated negativity" in third["severity_reasons"]
    assert third["should_respond"] and third["respond_rule"].startswith("third_party")


def test_personas_fan_critic_and_the_temporarily_angry_customer(results):
    assert _by("fan", results)[-1]["persona"] == "brand_ambassador"
    critic = _by("critic", results)
    assert critic[-1]["persona"] == "chronic_critic" and critic[-1]["persona_confidence"] >= 0.6
    angry = _by("angry", results)
    assert [d["persona"] for d in angry[:2]] != ["temporarily_angry"] * 2
    assert angry[3]["persona"] == "temporarily_angry" and angry[4]["persona"] == "temporarily_angry"
    assert angry[5]["persona_change"] == {"from_persona": "temporarily_angry", "to_persona": angry[5]["persona"],
                                          "reason": RESOLVED}


def test_linked_accounts_share_one_history_and_profile(results, es, settings):
    tweet, whatsapp = _by("linked", results)
    assert tweet["customer_id"] == whatsapp["customer_id"] == "cust-linda"

    def profile():
        es.indices.refresh(index=settings.es_customers_index)
        got = es.options(ignore_status=404).get(index=settings.es_customers_index, id="cust-linda")
        return got.body.get("_source") if got.body.get("found") and got["_source"]["mentions"] == 2 else None

    doc = wait_for(profile, timeout=60, what="cust-linda's profile with both mentions")
    assert doc["accounts"] == ["twitter:linda_t", "whatsapp:+31611111111"] and doc["name"] == "Cust-Linda"
    assert [t["source"] for t in doc["timeline"]] == ["twitter", "whatsapp"]
    assert doc["windows"]["1d"]["n"] == "2" and doc["totals"]["type:complaint"] == "1"


def test_abusive_post_is_flagged_for_deletion_with_the_reason(results):
    [doc] = _by("abusive", results)
    assert doc["flags"]["abusive"] and doc["profanity_terms"] == ["klootzakken"]
    assert doc["moderation"]["action"] == "delete" and "insult" in doc["moderation"]["reason"]
    assert doc["should_respond"] is False and doc["respond_rule"] == "abusive_moderate"


def _profile(es, settings, customer_id: str) -> dict | None:
    es.indices.refresh(index=settings.es_customers_index)
    got = es.options(ignore_status=404).get(index=settings.es_customers_index, id=customer_id)
    return got.body["_source"] if got.body.get("found") else None


def test_a_late_link_moves_history_and_an_erasure_forgets_it(results, worker, settings, es):
    story = "Bestelling 90210 nog steeds niet geleverd, waardeloos"
    before = [_m("late", Source.twitter, "laat_gekoppeld", story, T0 + timedelta(hours=h), Channel.own)
              for h in (0, 1)]
    _publish(settings, before)
    docs = _wait_docs(es, settings, before)
    assert {d["customer_id"] for d in docs.values()} == {"twitter:laat_gekoppeld"}
    wait_for(lambda: _profile(es, settings, "twitter:laat_gekoppeld"), timeout=60, what="the account's own profile")

    links = [Link("twitter:laat_gekoppeld", "cust-late"), Link("facebook:laat.gekoppeld", "cust-late")]
    publish(settings.kafka_bootstrap, settings.topic_customers, [(link.account, link) for link in links])
    request_moves(settings.kafka_bootstrap, settings.topic_customer_control, links)
    moved = wait_for(lambda: (p := _profile(es, settings, "cust-late")) and p["mentions"] == 2 and p, timeout=60,
                     what="the history moved into cust-late")
    assert [t["id"] for t in moved["timeline"]] == [m.id for _, m in before]
    wait_for(lambda: _profile(es, settings, "twitter:laat_gekoppeld") is None, timeout=60,
             what="the account's own profile removed after the move")
    wait_for(lambda: _metric(worker, "luister_customer_registry_links") >= len(LINKS) + 2, timeout=60,
             what="the worker to follow the new links")
    after = [_m("late", Source.facebook, "laat.gekoppeld", "Bestelling 90210 is nog steeds niet geleverd. Schandalig!",
                T0 + timedelta(hours=3))]
    _publish(settings, after)
    [doc] = _wait_docs(es, settings, after).values()
    assert doc["customer_id"] == "cust-late"
    assert doc["repeated_negativity"]["earlier_ids"] == [m.id for _, m in before]

    # GDPR: `luister forget` publishes an erase request; the state, profile and links go
    publish_erase = MentionPublisher(settings.kafka_bootstrap, settings.topic_erase)
    with publish_erase as pub:
        pub.publish_bytes(b'{"customer_id": "cust-late"}', key=b"cust-late")
    wait_for(lambda: _profile(es, settings, "cust-late") is None, timeout=60, what="cust-late's profile erased")
    wait_for(lambda: _metric(worker, "luister_customer_registry_links") == len(LINKS), timeout=60,
             what="cust-late's accounts unlinked")
    again = [_m("late", Source.facebook, "laat.gekoppeld", "Bestelling 90210 nog steeds niet geleverd, belachelijk",
                T0 + timedelta(hours=4))]
    _publish(settings, again)
    [doc] = _wait_docs(es, settings, again).values()
    assert doc["customer_id"] == "facebook:laat.gekoppeld" and "repeated_negativity" not in doc
    assert doc["persona"] == "quiet_lurker"


def test_cli_links_lists_and_shows_customers(results, isolated_env, settings):
    from click.testing import CliRunner

    from luister.cli import main

    env = {**isolated_env, "LUISTER_CONFIG": ""}
    runner = CliRunner()
    out = runner.invoke(main, ["customers", "link", "cust-cli", "twitter:@CLI_Klant", "email:cli@example.nl",
                               "--name", "Cli Klant"], env=env)
    assert out.exit_code == 0 and "linked 2 account(s) to cust-cli" in out.output, out.output
    listed = runner.invoke(main, ["customers", "list"], env=env)
    assert "cust-cli" in listed.output and "twitter:cli_klant" in listed.output and "cust-linda" in listed.output
    shown = runner.invoke(main, ["customers", "show", "whatsapp:+31611111111"], env=env)
    assert shown.exit_code == 0 and "cust-linda" in shown.output and "twitter:linda_t" in shown.output
    assert runner.invoke(main, ["customers", "unlink", "email:cli@example.nl"], env=env).exit_code == 0
    relisted = runner.invoke(main, ["customers", "list", "--json"], env=env)
    assert "email:cli@example.nl" not in relisted.output and "twitter:cli_klant" in relisted.output


def test_registry_documents_load_from_an_elasticsearch_index(es, settings):
    import asyncio

    from elasticsearch import AsyncElasticsearch

    from pipeline.customers.registry import load_index

    index = f"{settings.es_customers_index}-registry"
    es.index(index=index, id="c1", document={"customer_id": "c1", "accounts": ["twitter:a", "email:a@b.nl"]},
             refresh=True)

    async def load():
        async with AsyncElasticsearch(settings.es_url) as client:
            return await load_index(client, index)
    try:
        links = asyncio.run(load())
    finally:
        es.indices.delete(index=index)
    assert sorted((link.account, link.customer_id) for link in links) == [("email:a@b.nl", "c1"), ("twitter:a", "c1")]


def test_demo_summary_shows_the_triage_fields(results, es, settings, capsys):
    from luister.demo import _print_triage

    _print_triage(es, f"{settings.es_index_prefix}-*", {m.id for _, m in PHASE_ONE}, settings)
    out = capsys.readouterr().out
    for line in ("by persona", "by labels", "by severity", "by language", "by tone.formality", "by respond_rule",
                 "by moderation.action", "by persona_change.to_persona", "flags ", "persona conf.",
                 "respond_by set", "profanity terms", "customer profiles"):
        assert line in out, out
    assert "repeated_negativity 2" in out and "delete 1" in out and "abusive 1" in out
    assert "with linked accounts" in out and "unavailable" not in out


def test_restart_on_an_empty_disk_recovers_customer_state_from_the_changelog(results, worker, isolated_env,
                                                                             settings, es, tmp_path_factory):
    worker.stop()
    env = {**os.environ, **isolated_env, "LUISTER_WORKER_DATA_DIR": str(tmp_path_factory.mktemp("fresh-disk"))}
    again = WorkerProcess(env=env, log_path=tmp_path_factory.mktemp("restart") / "worker.log", web_port=free_port())
    again.start()
    try:
        _publish(settings, PHASE_TWO)
        docs = _wait_docs(es, settings, PHASE_TWO)
    finally:
        again.stop()
    complaint, critic, fan = (docs[m.id] for _, m in PHASE_TWO)
    assert complaint["repeated_negativity"]["earlier_ids"] == [m.id for s, m in PHASE_ONE if s == "complainer"]
    assert critic["persona"] == "chronic_critic" and "7 of 7 posts negative" in critic["persona_reason"]
    assert fan["persona"] == "brand_ambassador" and fan["persona_reason"].startswith("5 of 5")


def test_two_workers_in_one_group_split_customers_and_agree_with_one(results, isolated_env, settings, es,
                                                                    tmp_path_factory):
    single = _docs(es, settings, [m.id for _, m in PHASE_ONE + PHASE_TWO])
    assert {m.id for _, m in PHASE_ONE} <= single.keys()  # phase two too, unless the restart test failed
    tag = uuid.uuid4().hex[:8]
    env2 = {**isolated_env, "LUISTER_APP_ID": f"luister-test-{tag}", "LUISTER_ES_INDEX_PREFIX": f"luister-test-{tag}",
            "LUISTER_ES_CUSTOMERS_INDEX": f"luister-test-{tag}.customers",
            **{f"LUISTER_TOPIC_{t.upper()}": f"test-{tag}.{t}" for t in ("raw", "normalized", "classified", "dlq",
                                                                          "alerts")}}
    settings2 = Settings(**{k.removeprefix("LUISTER_").lower(): v for k, v in env2.items()})
    create_topics(settings2)
    workers = [WorkerProcess(env={**os.environ, **env2, "LUISTER_WORKER_DATA_DIR": str(tmp_path_factory.mktemp(f"w{i}"))},
                      log_path=tmp_path_factory.mktemp(f"group{i}") / "worker.log", web_port=free_port())
               for i in range(2)]
    try:
        starter = threading.Thread(target=workers[1].start)
        starter.start()
        workers[0].start()
        starter.join()
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        try:
            def stable_with_two():
                group = admin.describe_groups([settings2.app_id])[settings2.app_id]
                return group["group_state"] == "Stable" and len(group["members"]) == 2
            wait_for(stable_with_two, timeout=60, what="a stable group of two workers")
        finally:
            admin.close()
        _publish(settings2, PHASE_ONE + PHASE_TWO)
        try:
            grouped = _wait_docs(es, settings2, PHASE_ONE + PHASE_TWO)
        except AssertionError as exc:
            states = [urllib.request.urlopen(f"http://127.0.0.1:{w.web_port}/readyz", timeout=5).read().decode()
                      if w.alive() else "dead" for w in workers]
            raise AssertionError(f"{exc}\nworkers' /readyz: {states}") from None
        per_worker = [_metric(w, "luister_stage_events_total", 'stage="profile"') for w in workers]
        assert all(n > 0 for n in per_worker) and sum(per_worker) >= len(grouped), per_worker
    finally:
        for w in workers:
            w.stop()
        drop_index_family(settings.es_url, settings2.es_index_prefix)
        es.options(ignore_status=404).indices.delete(index=settings2.es_customers_index)
    for mention_id, doc in single.items():
        assert {f: doc.get(f) for f in TRIAGE_FIELDS} == {f: grouped[mention_id].get(f) for f in TRIAGE_FIELDS}
