"""Linked identities: which accounts (twitter:anna, whatsapp:+316..., email:a@b.nl) are one
customer. Pure data + parsing; the worker keeps it current with follower.py.

Sources, later ones winning: the registry file (YAML/JSON), an Elasticsearch index of
the same documents, and the compacted Kafka topic `customers.registry` (key = account,
value = {"account", "customer_id", "name"?}; an empty value unlinks). An account that no
one linked is its own customer: its id is the account key itself ("source:handle"),
which is stable and readable.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from schemas import customer_key


def account_key(account: str) -> str:
    """"Twitter:@Anna " -> "twitter:anna" (the same normal form as RawMention.customer_key)."""
    source, sep, handle = account.strip().partition(":")
    if not sep or not handle.strip():
        raise ValueError(f"an account is 'source:handle', got {account!r}")
    return customer_key(source.strip().lower(), handle)


@dataclass(frozen=True)
class Link:
    account: str
    customer_id: str
    name: str | None = None

    def to_record(self) -> tuple[bytes, bytes]:
        body = {"account": self.account, "customer_id": self.customer_id}
        if self.name:
            body["name"] = self.name
        return self.account.encode(), json.dumps(body, ensure_ascii=False).encode()


def parse_record(key: bytes | None, value: bytes | None) -> tuple[str, Link | None]:
    """A registry topic record: (account, link) or (account, None) for an unlink (tombstone)."""
    if key is None:
        raise ValueError("registry record without a key")
    account = account_key(key.decode())
    if not value:
        return account, None
    body = json.loads(value)
    return account, Link(account, str(body["customer_id"]), body.get("name"))


def links_from_documents(docs: Iterable[dict[str, Any]]) -> Iterator[Link]:
    """Registry documents: {"customer_id": ..., "name"?: ..., "accounts": ["twitter:anna", ...]}."""
    for doc in docs:
        cid = str(doc["customer_id"]).strip()
        if not cid:
            raise ValueError("a registry document needs a customer_id")
        for account in doc.get("accounts", []):
            yield Link(account_key(account), cid, doc.get("name"))


def load_file(path: Path | str) -> list[Link]:
    """A YAML or JSON file: {"customers": [registry documents]} (see data/registry/example.yaml)."""
    text = Path(path).read_text(encoding="utf-8")
    data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    return list(links_from_documents((data or {}).get("customers", [])))


@dataclass
class Registry:
    links: dict[str, Link] = field(default_factory=dict)

    def apply(self, account: str, link: Link | None) -> None:
        if link is None:
            self.links.pop(account, None)
        else:
            self.links[account] = link

    def extend(self, links: Iterable[Link]) -> None:
        for link in links:
            self.apply(link.account, link)

    def resolve(self, account: str) -> str:
        link = self.links.get(account)
        return link.customer_id if link else account

    def accounts_of(self, customer_id: str) -> list[str]:
        return sorted(a for a, link in self.links.items() if link.customer_id == customer_id)

    def __len__(self) -> int:
        return len(self.links)


async def load_index(es, index: str) -> list[Link]:
    """Registry documents from an Elasticsearch index (`es`: an AsyncElasticsearch client)."""
    from elasticsearch.helpers import async_scan

    docs = [hit["_source"] async for hit in async_scan(es, index=index, query={"query": {"match_all": {}}})]
    return list(links_from_documents(docs))
