"""One person across sources and spellings.

Directories name a person in several ways: Entra by object id, ``mail``,
``userPrincipalName``, ``otherMails`` and ``proxyAddresses`` (a guest's UPN
``alice_contoso.com#EXT#@tenant.onmicrosoft.com`` carries the home address); Google by id,
``primaryEmail`` and its aliases; Okta by id, ``login`` and ``email``; file imports by email.
Events and grants each use one of them. ``People`` joins every address and id a directory
record gives into one person (records of different sources that share an address are the same
person), so an app's users are counted once, whatever spelling each event used.

A person's key is the smallest primary address among their records (``source:id`` when no
record has one), so it is stable between runs. A person is *disabled* when every record that
lists them is disabled, suspended or deleted: an account still in use anywhere can still sign
in somewhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from scanner.store.inventory import DirectoryUser


@dataclass(frozen=True, slots=True)
class Person:
    """One person, as every directory record joined into them describes them."""

    key: str
    department: str | None
    """The first department a record gives (records in source order)."""
    groups: tuple[str, ...]
    """Every group or org unit of any record."""
    disabled: bool
    """No record of theirs is an account in use (disabled, suspended or deleted everywhere)."""
    guest: bool


class People:
    """Every known person, and the person each address or (source, id) names."""

    def __init__(self, users: Iterable[DirectoryUser]) -> None:
        records = list(users)
        parent: dict[str, str] = {}

        def find(node: str) -> str:
            root = node
            while parent.setdefault(root, root) != root:
                root = parent[root]
            while parent[node] != root:  # path compression
                parent[node], node = root, parent[node]
            return root

        for r in records:
            own = _id_node(r.source, r.id)
            for address in _addresses(r):
                a, b = find(own), find(address)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            find(own)

        groups: dict[str, list[DirectoryUser]] = {}
        for r in records:
            groups.setdefault(find(_id_node(r.source, r.id)), []).append(r)
        self._person: dict[str, Person] = {}
        for members in groups.values():
            person = _person(members)
            for r in members:
                self._person[_id_node(r.source, r.id)] = person
                for address in _addresses(r):
                    self._person[address] = person
        self._by_key = {p.key: p for p in self._person.values()}

    def key(self, source: str, user_id: str | None = None, email: str | None = None) -> str | None:
        """The key of the person an event or grant of ``source`` names by ``user_id`` and/or
        ``email``; an unknown address stands for itself, an unknown id for ``source:id``; None
        when it names nobody."""
        address = email.strip().lower() if email and email.strip() else None
        if user_id:
            known = self._person.get(_id_node(source, user_id))
            if known is not None:
                return known.key
        if address:
            known = self._person.get(address)
            return known.key if known is not None else address
        return _id_node(source, user_id) if user_id else None

    def get(self, key: str) -> Person | None:
        """The person of ``key`` (as ``key()`` returned it), if any directory lists them."""
        return self._by_key.get(key)

    def __len__(self) -> int:
        return len(self._by_key)

    def leavers(self) -> frozenset[str]:
        """Every address and key of the people who are disabled (no account in use)."""
        return frozenset(name for name, p in self._person.items() if p.disabled and "@" in name)


def _id_node(source: str, user_id: str) -> str:
    return f"{source}:{user_id}"


def _addresses(user: DirectoryUser) -> list[str]:
    found = [user.email, *user.aliases]
    return [a.strip().lower() for a in found if a and "@" in a]


def _person(members: list[DirectoryUser]) -> Person:
    primary = sorted({m.email.strip().lower() for m in members if m.email and "@" in m.email})
    key = primary[0] if primary else min(_id_node(m.source, m.id) for m in members)
    return Person(
        key=key,
        department=next((m.department for m in members if m.department), None),
        groups=tuple(sorted({g for m in members for g in m.groups})),
        disabled=not any(m.enabled and not m.gone for m in members),
        guest=any(m.is_guest for m in members),
    )
