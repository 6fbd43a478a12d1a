"""A seeded, deterministic stream of realistic synthetic mentions with their true labels.

Used for demos, load tests and evaluating the classifier: every `RawMention` comes with
the message type it was generated as. Authors have personas (chronic critics repeating
one grudge across sites, brand ambassadors, temporarily angry customers whose complaints
end in a thank-you, one-off quiet lurkers, journalists and news outlets). A `BurstSpec`
adds a negative surge for one brand and topic, for testing crisis detection.

Only `random.Random(seed)` is used, never the global generator or the wall clock, so the
same arguments always give the same stream.
"""
from __future__ import annotations

import math
import random
import re
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from connectors import synthetic_corpus as corpus
from connectors.base import Connector
from schemas.mention import Author, Channel, MessageType, Persona, RawMention, Source, mention_id, stable_native_id

DEFAULT_START = datetime(2026, 10, 1, 8, 0, tzinfo=timezone.utc)

C, Q, S, P, O = (MessageType.complaint, MessageType.question, MessageType.suggestion,
                 MessageType.compliment, MessageType.other)


@dataclass(frozen=True)
class BurstSpec:
    """A negative surge: extra complaints about `topic` for `brand` during the window."""

    brand: str
    start_offset: timedelta
    duration: timedelta
    rate_per_minute: float
    topic: str


@dataclass(frozen=True)
class Generated:
    """One generated mention plus the ground truth an evaluation needs."""

    mention: RawMention
    label: str  # the MessageType value it was generated as
    language: str  # "nl" or "en"
    persona: Persona
    in_burst: bool = False


@dataclass(eq=False)
class _Person:
    handle: str
    name: str
    followers: int
    verified: bool
    persona: Persona
    lang: str
    sources: dict[Source, float]
    brand: str | None = None  # loyal to / angry at one brand; None = any
    role: str | None = None  # "press" or "outlet" for journalists and news sites
    grudge: str | None = None  # a critic's one story, repeated everywhere
    issue: str | None = None  # an angry customer's current problem
    arc_left: int = 0  # complaints left before the angry customer's thank-you
    last: dict[Source, str] = field(default_factory=dict)  # last mention id per source, for threads


# Type mix per persona (weights); temporarily angry customers follow an arc instead.
_MIX = {
    Persona.chronic_critic: {C: 0.85, O: 0.08, S: 0.07},
    Persona.brand_ambassador: {P: 0.70, S: 0.12, Q: 0.10, O: 0.08},
    Persona.regular: {C: 0.30, Q: 0.28, S: 0.16, P: 0.12, O: 0.14},
    Persona.quiet_lurker: {Q: 0.43, C: 0.30, P: 0.12, S: 0.10, O: 0.05},
}
T = Source
_SOURCES = {
    "critic": {T.twitter: 3, T.facebook: 2, T.review_site: 2, T.forum: 1, T.reddit: 1, T.bluesky: 1,
               T.mastodon: 1, T.instagram: 1},
    "ambassador": {T.instagram: 3, T.twitter: 2, T.facebook: 2, T.bluesky: 1, T.review_site: 1},
    "angry": {T.twitter: 3, T.facebook: 2, T.instagram: 1, T.whatsapp: 1, T.review_site: 1},
    "regular": {T.twitter: 3, T.facebook: 2, T.instagram: 2, T.reddit: 1, T.mastodon: 1, T.bluesky: 1,
                T.forum: 1, T.review_site: 1, T.whatsapp: 0.5},
    "lurker": {T.forum: 2, T.reddit: 2, T.twitter: 2, T.facebook: 2, T.review_site: 2, T.instagram: 1},
    "press": {T.twitter: 2, T.bluesky: 1, T.mastodon: 1},
    "outlet": {T.news: 2, T.rss: 1},
}
_SOCIAL = {T.twitter, T.mastodon, T.bluesky, T.facebook, T.instagram}
_PRIVATE = {T.whatsapp, T.email}  # direct messages to the brand: always its own channel
_LONG_FORM = {T.review_site, T.forum, T.reddit}
_HINTED = {T.twitter: 0.7, T.mastodon: 0.6, T.bluesky: 0.6, T.review_site: 0.4}  # platforms that report a language
_SUBS = {"nl": ["thenetherlands", "nederland", "klantenservice"],
         "en": ["europe", "CustomerService", "mildlyinfuriating"]}
_B32 = "234567abcdefghijklmnopqrstuvwxyz"


def _pick(rng: random.Random, weights: dict) -> object:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


class _World:
    """The author population and the state that makes the stream coherent over time."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.seq = 0
        self.handles: set[str] = set()
        self.ids: set[str] = set()
        brands = list(corpus.BRANDS)
        self.brands = brands
        self.critics = [self._person(Persona.chronic_critic, "nl" if i % 2 else "en", "critic",
                                     brand=rng.choice(brands), handle=corpus.CRITIC_HANDLES[i]) for i in range(6)]
        for c in self.critics:
            c.grudge = corpus.fill("{issue}", corpus.slots_for(c.brand, c.lang), rng)
        self.critics[0].followers = 38_000  # the critic with reach: a "hoofdpijndossier"
        self.ambassadors = [self._person(Persona.brand_ambassador, "nl" if i % 2 else "en", "ambassador",
                                         brand=rng.choice(brands)) for i in range(8)]
        self.ambassadors[0].followers, self.ambassadors[0].verified = 120_000, True
        self.regulars = [self._person(Persona.regular, "nl" if i % 2 else "en", "regular") for i in range(60)]
        for influencer in self.regulars[:3]:
            influencer.followers, influencer.verified = rng.randint(50_000, 400_000), True
        self.press = [self._person(Persona.regular, "nl" if i % 2 else "en", "press", role="press") for i in range(4)]
        for j in self.press:
            j.followers, j.verified, j.name = rng.randint(8_000, 250_000), True, f"{j.name} | journalist"
        self.handles.update(h for lang in corpus.LANGS for _, h in corpus.OUTLETS[lang])
        self.outlets = [_Person(handle, name, rng.randint(40_000, 900_000), True, Persona.regular, lang,
                                _SOURCES["outlet"], role="outlet")
                        for lang in corpus.LANGS for name, handle in corpus.OUTLETS[lang]]
        self.arcs: list[_Person] = []  # temporarily angry customers mid-story

    # ------------------------------------------------------------ people
    def _person(self, persona: Persona, lang: str, kind: str, *, brand: str | None = None,
                role: str | None = None, handle: str | None = None) -> _Person:
        rng = self.rng
        first, last = rng.choice(corpus.FIRST[lang]), rng.choice(corpus.LAST[lang])
        if handle is None:
            compact = re.sub(r"[^a-z]", "", last.lower())
            handle = rng.choice([f"{first.lower()}{compact}", f"{first.lower()}_{compact[:1]}",
                                 f"{first.lower()}{rng.randint(1, 99)}",
                                 f"{compact}{first[:1].lower()}{rng.randint(70, 99)}",
                                 f"{first}{last.split()[-1]}".replace("'", "")])
        while handle in self.handles:
            handle += str(rng.randint(0, 9))
        self.handles.add(handle)
        mu = {"lurker": 3.0, "angry": 4.5, "critic": 5.5, "ambassador": 6.0}.get(kind, 5.0)
        return _Person(handle, f"{first} {last}", int(rng.lognormvariate(mu, 1.2)), False, persona, lang,
                       _SOURCES[kind], brand=brand, role=role)

    def _lurker(self, lang: str | None = None) -> _Person:
        return self._person(Persona.quiet_lurker, lang or self.rng.choice(corpus.LANGS), "lurker")

    def _angry(self) -> tuple[_Person, MessageType]:
        rng = self.rng
        if len(self.arcs) < 2 or (len(self.arcs) < 5 and rng.random() < 0.25):
            p = self._person(Persona.temporarily_angry, rng.choice(corpus.LANGS), "angry",
                             brand=rng.choice(self.brands))
            p.issue = corpus.fill("{issue}", corpus.slots_for(p.brand, p.lang), rng)
            p.arc_left = rng.randint(2, 4)
            self.arcs.append(p)
        p = rng.choice(self.arcs)
        if p.arc_left > 0:
            p.arc_left -= 1
            return p, C
        self.arcs.remove(p)  # the story ends with a thank-you after the fix
        return p, P

    # ------------------------------------------------------------ posts
    def normal(self, when: datetime) -> Generated:
        rng = self.rng
        group = _pick(rng, {"critic": 13, "ambassador": 10, "angry": 14, "regular": 33, "lurker": 22, "press": 8})
        if group == "angry":
            person, kind = self._angry()
        else:
            person = {"critic": lambda: rng.choice(self.critics), "ambassador": lambda: rng.choice(self.ambassadors),
                      "regular": lambda: rng.choice(self.regulars), "lurker": self._lurker,
                      "press": lambda: rng.choice(self.press + self.outlets)}[group]()
            if person.role == "outlet":
                kind = O
            elif person.role == "press":
                kind = O if rng.random() < 0.75 else Q
            else:
                kind = _pick(rng, _MIX[person.persona])
        brand = person.brand or rng.choice(self.brands)
        if person.persona is Persona.chronic_critic and rng.random() < 0.2:
            brand = rng.choice(self.brands)  # critics are negative about more than one brand
        return self._post(when, person, kind, brand)

    def burst(self, when: datetime, spec: BurstSpec) -> Generated:
        rng = self.rng
        kind = _pick(rng, {C: 0.82, Q: 0.14, O: 0.04})
        if kind is O:
            person = rng.choice(self.press)
        elif rng.random() < 0.75:
            person = self._lurker("nl" if rng.random() < 0.6 else "en")  # many new voices: that is the surge
        else:
            person = rng.choice(self.regulars)
        return self._post(when, person, kind, spec.brand, burst=spec)

    def _post(self, when: datetime, person: _Person, kind: MessageType, brand: str,
              burst: BurstSpec | None = None) -> Generated:
        rng = self.rng
        if person.persona is Persona.temporarily_angry and person.last and rng.random() < 0.75:
            source = rng.choice(list(person.last))  # keep going in the same thread
        else:
            source = _pick(rng, person.sources)
        if source in _PRIVATE:
            channel = Channel.own
        elif source in _SOCIAL:
            own_p = 0.2 if person.role else 0.75 if person.persona is Persona.temporarily_angry else 0.55
            channel = Channel.own if rng.random() < own_p else Channel.third_party
        else:
            channel = Channel.third_party
        text = self._text(kind, person, brand, source, channel, burst)
        native = self._native(source, when)
        url = self._url(source, native, person, brand, when, text)
        if source in (T.news, T.rss):
            native = stable_native_id(url)  # no native id: derive one from the article URL
        mid = mention_id(source.value, native)
        assert mid not in self.ids, mid
        self.ids.add(mid)
        reply_to = None
        if source in person.last and person.persona is Persona.temporarily_angry:
            reply_to = person.last[source]
        elif channel is Channel.own and source in _SOCIAL and rng.random() < 0.3:
            reply_to = mention_id(source.value, self._native(source, when - timedelta(hours=rng.randint(1, 48))))
        person.last[source] = mid
        hint = None
        if rng.random() < _HINTED.get(source, 0.0):
            hint = "und" if rng.random() < 0.05 else person.lang
        handle_ref = "@" + corpus.BRANDS[brand][1].lower()
        keyword = handle_ref if handle_ref in text.lower() else brand.lower()
        mention = RawMention(
            id=mid, source=source, channel=channel, url=url,
            author=Author(handle=person.handle, display_name=person.name, followers=person.followers,
                          is_verified=person.verified),
            text=text, lang_hint=hint, created_at=when, in_reply_to=reply_to, brand=brand, matched_keyword=keyword,
        )
        return Generated(mention, kind.value, person.lang, person.persona, in_burst=burst is not None)

    # ------------------------------------------------------------ text
    def _text(self, kind: MessageType, person: _Person, brand: str, source: Source, channel: Channel,
              burst: BurstSpec | None) -> str:
        rng, lang, k = self.rng, person.lang, kind.value
        slots = corpus.slots_for(brand, lang)
        at = "@" + corpus.BRANDS[brand][1]
        if source in _PRIVATE:
            slots["b"] = brand  # a direct message: no @-mention needed
        elif channel is Channel.own:
            slots["b"] = at  # on the brand's own profile people address it
        elif source in _LONG_FORM or source in (T.news, T.rss):
            slots["b"] = brand
        else:
            slots["b"] = rng.choice([brand, brand, at, brand.lower(), "#" + brand])
        slots["link"] = f"https://{rng.choice(['link.example', 'read.example', 'news.example'])}/{self._code(7)}"
        if person.grudge and brand == person.brand:
            slots["grudge"] = person.grudge
        else:
            slots["grudge"] = slots["issue"]
        if person.issue and brand == person.brand and rng.random() < 0.7:
            slots["issue"] = person.issue  # the angry customer tells the same story again
        if burst:
            slots["topic"] = burst.topic
            slots["topictag"] = re.sub(r"\W", "", (brand + burst.topic).lower())

        if burst and kind is not O:
            template = rng.choice(corpus.BURST[(k, lang)])
        elif person.role == "outlet":
            template = "{^news}. " + rng.choice(corpus.NEWS_LEAD[lang])
        elif person.role == "press" and kind is O:
            template = rng.choice(corpus.PRESS[lang])
        elif person.persona is Persona.chronic_critic and kind is C and rng.random() < 0.65:
            template = rng.choice(corpus.CRITIC[lang])
        elif person.persona is Persona.chronic_critic and kind is O:
            template = rng.choice(corpus.CRITIC_OTHER[lang])
        elif person.persona is Persona.temporarily_angry and kind is C and rng.random() < 0.6:
            template = rng.choice(corpus.ANGRY[lang])
        elif person.persona is Persona.temporarily_angry and kind is P:
            template = rng.choice(corpus.RESOLVED[lang])
        elif person.persona is Persona.brand_ambassador and kind is P and rng.random() < 0.5:
            template = rng.choice(corpus.AMBASSADOR[lang])
        else:
            template = rng.choice(corpus.TEMPLATES[(k, lang)])
        text = corpus.fill(template, slots, rng)
        return self._decorate(text, kind, lang, source, slots) if not person.role else text

    def _decorate(self, text: str, kind: MessageType, lang: str, source: Source, slots: dict) -> str:
        rng, k = self.rng, kind.value
        mood = "negative" if kind is C else "positive" if kind is P else None
        if source in _LONG_FORM and rng.random() < 0.6:
            text = corpus.add_sentence(text, corpus.fill(rng.choice(corpus.DETAIL[(k, lang)]), slots, rng))
        if source is T.review_site and k in corpus.STARS and rng.random() < 0.5:
            text = corpus.STARS[k] + " " + text
        if mood and lang == "nl" and rng.random() < 0.1:
            text = corpus.add_sentence(text, rng.choice(corpus.CODESWITCH[mood]))
        if mood and source in _SOCIAL and rng.random() < 0.2:
            tags = corpus.HASHTAGS[(mood, lang)] + (slots["tag"] if mood == "negative" else [])
            text += " " + rng.choice(tags)
        if kind is C and rng.random() < 0.05:
            text += f" https://pics.example/{self._code(8)}"  # a screenshot as proof
        if source in _SOCIAL and rng.random() < 0.04:
            text += " cc " + rng.choice(corpus.FRIENDS)
        if not corpus.is_formal(text):
            if rng.random() < 0.3:
                text = corpus.informalise(text, lang, rng)
            if rng.random() < 0.06:
                text = text.lower()
        return re.sub(r"\s{2,}", " ", text).strip()

    # ------------------------------------------------------------ ids and urls
    def _code(self, n: int) -> str:
        return "".join(self.rng.choice(string.ascii_letters + string.digits) for _ in range(n))

    def _native(self, source: Source, when: datetime) -> str:
        """A native id in the platform's own style; the sequence number keeps it unique."""
        self.seq += 1
        ms, seq, rng = int(when.timestamp() * 1000), self.seq, self.rng
        if source is T.twitter:
            return str(((ms - 1_288_834_974_657) << 22) | (seq & 0x3FFFFF))  # snowflake layout
        if source is T.mastodon:
            return str((ms << 16) | (seq & 0xFFFF))
        if source is T.bluesky:
            n, out = (ms * 1000 << 10) | (seq & 0x3FF), ""
            while n:
                n, r = divmod(n, 32)
                out = _B32[r] + out
            return out.rjust(13, "2")
        if source is T.reddit:
            n, out = 40_000_000 + seq * 37 + rng.randrange(37), ""
            while n:
                n, r = divmod(n, 36)
                out = (string.digits + string.ascii_lowercase)[r] + out
            return "t1_" + out
        if source is T.facebook:
            return f"10{rng.randrange(10**12, 10**13)}_{10**15 + seq * 1000 + rng.randrange(1000)}"
        if source is T.instagram:
            return str(3_400_000_000_000_000_000 + ms * 1000 + seq % 1000)
        if source is T.forum:
            return f"{rng.randrange(1000, 99999)}-{seq}"
        if source is T.review_site:
            return f"r{500_000 + seq * 13 + rng.randrange(13)}"
        if source is T.whatsapp:
            return f"wamid.{rng.getrandbits(64):016x}{seq:06x}"
        return f"{seq}-{self._code(6)}"  # news/rss: replaced by a hash of the URL

    def _url(self, source: Source, native: str, person: _Person, brand: str, when: datetime, text: str) -> str | None:
        h, page = person.handle, corpus.BRANDS[brand][1]
        slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].rstrip("-")
        return {
            T.twitter: f"https://social.example/{h}/status/{native}",
            T.mastodon: f"https://toot.example/@{h}/{native}",
            T.bluesky: f"https://sky.example/profile/{h.lower()}/post/{native}",
            T.reddit: f"https://forum-r.example/r/{self.rng.choice(_SUBS[person.lang])}/comments/{native}/",
            T.facebook: f"https://fb.example/{page}/posts/{native.split('_')[-1]}",
            T.instagram: f"https://photos.example/p/{native}/",
            T.forum: f"https://forum.example/t/{slug[:40]}/{native}",
            T.review_site: f"https://reviews.example/{brand.lower()}/review/{native}",
            T.news: f"https://news.example/{when:%Y/%m/%d}/{slug}-{self.seq}",
            T.rss: f"https://blog.example/{when:%Y/%m}/{slug}-{self.seq}",
        }.get(source)  # whatsapp/email: no public URL


def _gap(rng: random.Random, rate_per_minute: float) -> float:
    """Seconds to the next post: Poisson arrivals, so bursts and lulls occur naturally."""
    return rng.expovariate(rate_per_minute / 60.0)


def daily_profile(night: float = 0.25, peak_hour: float = 14.0) -> Callable[[datetime], float]:
    """A day/night rate curve for `rate_profile`: 1.0 at `peak_hour` (UTC), `night` twelve hours later."""
    if not 0 < night <= 1:
        raise ValueError("night must be in (0, 1]")

    def factor(when: datetime) -> float:
        hour = when.hour + when.minute / 60 + when.second / 3600
        return night + (1 - night) * (1 + math.cos(2 * math.pi * (hour - peak_hour) / 24)) / 2

    return factor


def generate_records(count: int, *, seed: int = 7, start: datetime | None = None, rate_per_minute: float = 30.0,
                     burst: BurstSpec | None = None,
                     rate_profile: Callable[[datetime], float] | None = None) -> Iterator[Generated]:
    """`count` mentions in time order (burst posts included in the count), with ground truth.

    `rate_profile(when)` scales the ordinary rate over the day (e.g. `daily_profile()`); without it
    the rate is constant and the stream is exactly as before.
    """
    if count < 0 or rate_per_minute <= 0:
        raise ValueError("count must be >= 0 and rate_per_minute > 0")
    start = DEFAULT_START if start is None else start
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if burst is not None and (burst.brand not in corpus.BRANDS or burst.rate_per_minute <= 0
                              or burst.duration <= timedelta(0)):
        raise ValueError(f"bad burst: brand must be one of {sorted(corpus.BRANDS)}, rate and duration positive")
    rng = random.Random(seed)
    world = _World(rng)

    def rate_at(offset_s: float) -> float:
        if rate_profile is None:
            return rate_per_minute
        return rate_per_minute * max(1e-3, rate_profile(start + timedelta(seconds=offset_s)))

    t_normal = _gap(rng, rate_at(0.0))
    t_burst = b_end = None
    if burst is not None:
        t_burst = burst.start_offset.total_seconds() + _gap(rng, burst.rate_per_minute)
        b_end = (burst.start_offset + burst.duration).total_seconds()
    for _ in range(count):
        if t_burst is not None and t_burst < b_end and t_burst <= t_normal:
            when, t_burst = t_burst, t_burst + _gap(rng, burst.rate_per_minute)
            yield world.burst(start + timedelta(milliseconds=round(when * 1000)), burst)
        else:
            when, t_normal = t_normal, t_normal + _gap(rng, rate_at(t_normal))
            yield world.normal(start + timedelta(milliseconds=round(when * 1000)))


def generate(count: int, *, seed: int = 7, start: datetime | None = None, rate_per_minute: float = 30.0,
             burst: BurstSpec | None = None,
             rate_profile: Callable[[datetime], float] | None = None) -> Iterator[tuple[RawMention, str]]:
    """Yield (mention, true message type) pairs; see `generate_records` for more ground truth."""
    for rec in generate_records(count, seed=seed, start=start, rate_per_minute=rate_per_minute, burst=burst,
                                rate_profile=rate_profile):
        yield rec.mention, rec.label


def to_json_line(m: RawMention) -> str:
    return m.model_dump_json(exclude_none=True)


class SyntheticConnector(Connector):
    """Publishes a generated stream, e.g. `luister generate --count 1000 --publish`."""

    name = "synthetic"

    def __init__(self, count: int, *, seed: int = 7, start: datetime | None = None, rate_per_minute: float = 30.0,
                 burst: BurstSpec | None = None):
        self.count, self.seed, self.start = count, seed, start
        self.rate_per_minute, self.burst = rate_per_minute, burst

    def records(self) -> Iterator[RawMention]:
        for mention, _label in generate(self.count, seed=self.seed, start=self.start,
                                        rate_per_minute=self.rate_per_minute, burst=self.burst):
            yield mention
