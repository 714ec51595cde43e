"""Grants: delegated oauth2PermissionGrants and the app-role assignments of third-party apps.

Per-app calls (a service principal lookup, an app's grants, its app-role assignments) run
``concurrency`` at a time; app-role ids resolve to permission names through the resource's
``appRoles`` (cached per resource) or the shipped Microsoft Graph table.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from connectors.entra.graph import DEFAULT_ACCESS_ROLE, DIRECTORY_PAGE, SP_INDEX_FIELDS
from connectors.entra.index import _Consents, _SpEntry, _SpIndex
from connectors.entra.parse import _require, load_graph_app_roles, parse_grant, parse_time
from connectors.entra.settings import SOURCE
from scanner.core.models import Checkpoint, Grant, Removed, SourceRecord, SourceWarning
from scanner.net.http import HttpClient, HttpStatusError
from scanner.net.paging import Page, odata_pages


class GrantReader:
    """Reads grants from Graph for one connector; the streams ``EntraConnector`` yields."""

    def __init__(
        self, client: HttpClient, v1: str, concurrency: int, emails: Mapping[str, str]
    ) -> None:
        self.client = client
        self.v1 = v1
        self.concurrency = concurrency
        self._emails = emails
        """User id -> email, filled by the users stream (a grant names only the user id)."""
        self._roles_by_resource: dict[str, dict[str, str]] = {}
        self._roles_lock = threading.Lock()
        self._graph_roles: dict[str, str] | None = None

    def _pages(self, url: str, params: Mapping[str, Any] | None = None) -> Iterator[Page]:
        return odata_pages(self.client, url, params=params)

    def delegated(self, consents: _Consents, index: _SpIndex) -> Iterator[SourceRecord]:
        """Every delegated grant, a Checkpoint after each page."""
        params = {"$top": DIRECTORY_PAGE}
        for page in self._pages(f"{self.v1}/oauth2PermissionGrants", params):
            self.lookup_sps(_grant_sps(page.items) - index.known(), index)
            for raw in page.items:
                yield self._delegated_grant(raw, index, consents)
            yield Checkpoint(SOURCE, "grants")

    def _delegated_grant(
        self, raw: Mapping[str, Any], index: _SpIndex, consents: _Consents
    ) -> Grant | SourceWarning:
        client = index.get(_require(raw, "clientId", "permission grant"))
        if client is None:
            return SourceWarning(
                SOURCE,
                "grants",
                f"grant {raw.get('id')} names service principal {raw['clientId']}, "
                "which no longer exists",
            )
        user_id = raw.get("principalId")
        return parse_grant(
            raw,
            client,
            index.get(raw.get("resourceId") or ""),
            self._emails.get(user_id or ""),
            consents.first(raw["clientId"], user_id),
        )

    def changed(
        self,
        changed: set[str],
        consents: _Consents,
        index: _SpIndex,
        audit_cursor: str | None,
    ) -> Iterator[SourceRecord]:
        """Incremental: re-read the grants of the apps that changed since the last scan.

        Each app's ``Removed(grant)`` comes first, then its current grants, so revoked ones end
        gone and kept ones stay (the store applies them in order). Never marked complete. After
        the last page the ``grants_audit`` watermark moves to ``audit_cursor``.
        """
        ids = sorted(changed)
        self.lookup_sps(set(ids) - index.known(), index)
        batch = max(1, self.concurrency) * 8
        for chunk in _chunks(ids, batch):
            results = self._parallel(lambda object_id: self._grants_of(object_id, index), chunk)
            found = [g for delegated, _ in results for g in delegated]
            self.lookup_sps(_grant_sps(found) - index.known(), index)
            for object_id, (delegated, assignments) in zip(chunk, results, strict=True):
                client = index.get(object_id)
                if client is None:  # deleted meanwhile: the apps delta round retires it
                    continue
                yield Removed(SOURCE, "grant", client_id=client.app_id)
                for raw in delegated:
                    yield self._delegated_grant(raw, index, consents)
                if assignments:
                    yield from self._app_only_grants(client, assignments)
            yield Checkpoint(SOURCE, "grants")
        if audit_cursor:
            yield Checkpoint(SOURCE, "grants_audit", cursor=audit_cursor)

    def _grants_of(
        self, object_id: str, index: _SpIndex
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
        """One app's delegated grants and (third-party apps only) app-role assignments."""
        client = index.get(object_id)
        if client is None:
            return [], None
        params = {"$filter": f"clientId eq '{object_id}'", "$top": DIRECTORY_PAGE}
        url = f"{self.v1}/oauth2PermissionGrants"
        delegated = [item for page in self._pages(url, params) for item in page.items]
        assignments = self._assignments_of(object_id) if client.third_party else None
        return delegated, assignments

    def lookup_sps(self, object_ids: set[str], index: _SpIndex) -> None:
        """Fetch service principals missing from the index (in parallel)."""

        def fetch(object_id: str) -> None:
            try:
                body, _ = self.client.get_json(
                    f"{self.v1}/servicePrincipals/{quote(object_id)}",
                    params={"$select": SP_INDEX_FIELDS},
                )
            except HttpStatusError as err:
                if err.status == 404:
                    return
                raise
            index.add(body)

        self._parallel(fetch, sorted(object_ids))

    def _parallel(self, work: Callable[[str], Any], items: list[str]) -> list[Any]:
        if not items:
            return []
        workers = max(1, min(self.concurrency, len(items)))
        if workers == 1:
            return [work(item) for item in items]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="entra") as pool:
            return list(pool.map(work, items))

    def application(self, index: _SpIndex) -> Iterator[SourceRecord]:
        """App-only permissions: app-role assignments held by each third-party service principal."""
        batch = max(1, self.concurrency) * 8
        for chunk in _chunks(index.third_party(), batch):
            results = self._parallel(self._assignments_of, chunk)
            for object_id, assignments in zip(chunk, results, strict=True):
                client = index.get(object_id)
                if client is None or assignments is None:
                    continue
                yield from self._app_only_grants(client, assignments)
            yield Checkpoint(SOURCE, "grants")

    def _assignments_of(self, object_id: str) -> list[dict[str, Any]] | None:
        url = f"{self.v1}/servicePrincipals/{quote(object_id)}/appRoleAssignments"
        try:
            assignments = [item for page in self._pages(url) for item in page.items]
        except HttpStatusError as err:
            if err.status == 404:  # deleted since it was listed
                return None
            raise
        for item in assignments:
            self._roles_of(str(item.get("resourceId") or ""))
        return assignments

    def _app_only_grants(
        self, client: _SpEntry, assignments: Iterable[Mapping[str, Any]]
    ) -> Iterator[Grant]:
        by_resource: dict[str, list[Mapping[str, Any]]] = {}
        for item in assignments:
            if item.get("appRoleId") == DEFAULT_ACCESS_ROLE or item.get("deletedDateTime"):
                continue
            by_resource.setdefault(str(item.get("resourceId") or ""), []).append(item)
        for resource_id, items in by_resource.items():
            roles = self._roles_of(resource_id)
            names = tuple(
                roles.get(str(i.get("appRoleId")).lower()) or str(i.get("appRoleId")) for i in items
            )
            created = [t for t in (parse_time(i.get("createdDateTime")) for i in items) if t]
            yield Grant(
                source=SOURCE,
                client_id=client.app_id,
                user_id=None,
                scopes=names,
                consent_type="application",
                resource=items[0].get("resourceDisplayName") or None,
                granted_at=min(created) if created else None,
            )

    def _roles_of(self, resource_id: str) -> dict[str, str]:
        """App-role id -> permission name for a resource service principal (cached).

        Falls back to the shipped Microsoft Graph table (scanner/data/microsoft) for ids the
        resource does not list, or when it cannot be read.
        """
        # One lock for the few resources (usually only Microsoft Graph): each is read once.
        with self._roles_lock:
            if resource_id not in self._roles_by_resource:
                self._roles_by_resource[resource_id] = self._fetch_roles(resource_id)
            return self._roles_by_resource[resource_id]

    def _fetch_roles(self, resource_id: str) -> dict[str, str]:
        if self._graph_roles is None:
            self._graph_roles = load_graph_app_roles()
        roles = dict(self._graph_roles)
        if resource_id:
            try:
                body, _ = self.client.get_json(
                    f"{self.v1}/servicePrincipals/{quote(resource_id)}",
                    params={"$select": "id,appId,appRoles"},
                )
                for role in body.get("appRoles") or []:
                    if role.get("id") and role.get("value"):
                        roles[str(role["id"]).lower()] = str(role["value"])
            except HttpStatusError as err:
                if err.status not in (403, 404):
                    raise
        return roles


def _grant_sps(grants: Iterable[Mapping[str, Any]]) -> set[str]:
    """Service principal ids (clients and resources) that delegated grants name."""
    return {
        str(object_id)
        for raw in grants
        for object_id in (raw.get("clientId"), raw.get("resourceId"))
        if object_id
    }


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
