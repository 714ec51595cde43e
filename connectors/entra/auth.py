"""App-only credentials and Graph tokens: a client secret or a certificate, through msal.

msal talks to the sign-in authority over our session (``_MsalHttp``); every answer is checked
first (``connectors.tokens``), so an HTML page, an empty body or JSON of the wrong shape is one
line naming the authority's origin, and a rejected credential is one AuthError with its fix.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import msal
import requests
from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS

from connectors.base import ConnectorContext
from connectors.entra.settings import KEY, SOURCE, EntraSettings
from connectors.tokens import (
    DISCOVERY_FIELDS,
    TOKEN_FIELDS,
    answer_problem,
    endpoint,
    not_a_token_answer,
    unavailable,
)
from scanner.core.errors import AuthError, ConfigError, RetryableError
from scanner.core.names import one_line
from scanner.core.settings import secret


@dataclass(frozen=True)
class _Credential:
    kind: str
    """``secret`` or ``certificate``."""
    value: Any = field(repr=False)


def _read_credential(settings: EntraSettings, ctx: ConnectorContext) -> _Credential:
    has_secret = bool(settings.client_secret_env or settings.client_secret_file)
    has_cert = bool(
        settings.certificate_thumbprint or settings.private_key_env or settings.private_key_file
    )
    if has_secret and has_cert:
        raise ConfigError(
            f"{KEY}: set either client_secret_env/_file or certificate_thumbprint with "
            f"private_key_env/_file, not both"
        )
    if has_cert:
        if not settings.certificate_thumbprint:
            raise ConfigError(
                f"{KEY}.certificate_thumbprint: required with a private key (the hex thumbprint "
                "shown under Certificates & secrets)"
            )
        thumbprint = settings.certificate_thumbprint.replace(":", "").strip()
        if not re.fullmatch(r"[0-9A-Fa-f]{40}", thumbprint):
            raise ConfigError(
                f"{KEY}.certificate_thumbprint: expected 40 hex digits (SHA-1), got "
                f"{len(thumbprint)} characters"
            )
        key = secret(
            settings.private_key_env,
            settings.private_key_file,
            f"{KEY}.private_key",
            ctx.config_path,
        )
        if not key or "PRIVATE KEY" not in key:
            raise ConfigError(f"{KEY}.private_key: not a PEM private key")
        return _Credential("certificate", {"private_key": key, "thumbprint": thumbprint})
    value = secret(
        settings.client_secret_env,
        settings.client_secret_file,
        f"{KEY}.client_secret",
        ctx.config_path,
    )
    return _Credential("secret", value)


class _MsalHttp:
    """msal's http_client: our session (trusted CA, no env overrides) with a timeout.

    Every answer is checked before msal reads it (``connectors.tokens``): on an HTML page, an
    empty body or JSON of the wrong shape msal raises a parser error and logs the whole body;
    here it becomes one RetryableError naming the authority's origin. msal asks only for JSON:
    the OpenID discovery document (GET) and tokens (POST)."""

    def __init__(self, session: requests.Session, timeout: float) -> None:
        self._session, self._timeout = session, timeout

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return _msal_answer(self._session.post(url, **kwargs), url)

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        response = self._session.get(url, **kwargs)
        if urlsplit(url).path.endswith("/.well-known/openid-configuration"):
            return _msal_answer(response, url, DISCOVERY, DISCOVERY_FIELDS)
        return _msal_answer(response, url, "the sign-in authority", ())

    def close(self) -> None:  # msal may close its client; the session is the context's
        pass


DISCOVERY = "the sign-in authority's discovery document"


def _msal_answer(
    response: requests.Response,
    url: str,
    what: str = "the token endpoint",
    fields: tuple[str, ...] = TOKEN_FIELDS,
) -> requests.Response:
    """``response`` if msal can read it; 429/5xx and non-token answers raise our error."""
    where = f"{KEY}.authority_host"
    status = response.status_code
    if status == 429 or status >= 500:
        raise unavailable(SOURCE, url, status, where, what)
    problem = answer_problem(status, response.headers.get("Content-Type"), response.content, fields)
    if problem is not None:
        expected = "a discovery document" if fields == DISCOVERY_FIELDS else "a token response"
        raise not_a_token_answer(SOURCE, url, status, problem, where, what, expected)
    return response


_AADSTS = re.compile(r"AADSTS\d+")
_TOKEN_FIXES = {
    "AADSTS7000215": "the secret value is wrong: copy the secret's Value (not its ID) into {where}",
    "AADSTS7000222": "the secret has expired: create a new one under Certificates & secrets",
    "AADSTS700027": "the certificate does not match: upload it to the app registration and "
    "check certificate_thumbprint",
    "AADSTS700016": "the app is not in this tenant: check client_id and tenant_id",
    "AADSTS90002": "the tenant was not found: check tenant_id and authority_host",
}


class _Tokens:
    """App-only Graph tokens from msal; msal caches them until 5 minutes before expiry."""

    def __init__(
        self,
        settings: EntraSettings,
        credential: _Credential,
        session: requests.Session,
        timeout: float,
    ) -> None:
        self.settings = settings
        self._credential = credential
        self._http = _MsalHttp(session, timeout)
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()
        self.scope = f"{settings.graph_url.rstrip('/')}/.default"

    @property
    def authority(self) -> str:
        return f"{self.settings.authority_host.rstrip('/')}/{self.settings.tenant_id}"

    def _what(self) -> str:
        if self._credential.kind == "certificate":
            return f"the certificate {self.settings.certificate_thumbprint}"
        return "the client secret"

    def _build(self) -> msal.ConfidentialClientApplication:
        host = urlsplit(self.settings.authority_host).hostname or ""
        try:
            return msal.ConfidentialClientApplication(
                self.settings.client_id,
                client_credential=self._credential.value,
                authority=self.authority,
                http_client=self._http,
                # Off the well-known clouds (a proxy, a local test server) msal's instance
                # discovery would call login.microsoftonline.com; the authority is configured.
                instance_discovery=host in WELL_KNOWN_AUTHORITY_HOSTS,
                token_cache=msal.TokenCache(),
            )
        except requests.RequestException as err:
            raise RetryableError(
                SOURCE,
                f"cannot reach the sign-in authority at {endpoint(self.authority)} "
                f"({type(err).__name__}); check authority_host, ca_bundle and the network",
            ) from None
        except ValueError:
            # msal's text may quote what the server sent (a 4xx body, an endpoint URL): not ours
            # to print. Bodies that are not discovery documents were refused by _msal_answer.
            raise AuthError(
                SOURCE,
                f"tenant {self.settings.tenant_id} is unknown to {endpoint(self.authority)} (its "
                "discovery document answered an error or could not be used); check "
                f"{KEY}.tenant_id and authority_host",
            ) from None
        except (KeyError, TypeError, AttributeError) as err:
            raise self._unreadable(DISCOVERY, err) from None

    def token(self) -> str:
        with self._lock:
            if self._app is None:
                self._app = self._build()
            try:
                result = self._app.acquire_token_for_client(scopes=[self.scope])
            except requests.RequestException as err:
                raise RetryableError(
                    SOURCE,
                    f"cannot reach the token endpoint at {endpoint(self.authority)} "
                    f"({type(err).__name__}); check authority_host, ca_bundle and the network",
                ) from None
            except (ValueError, TypeError, KeyError, AttributeError) as err:
                # msal reading a JSON token answer of the wrong shape (an id_token that is not
                # a JWT, an expires_in that is not a number): the server's fault, not a bug.
                raise self._unreadable("the token endpoint", err) from None
        if not isinstance(result, dict):
            raise self._unreadable("the token endpoint", TypeError("no answer"))
        token = result.get("access_token")
        if isinstance(token, str) and token:
            return token
        if result.get("error"):
            raise self._rejected(result)
        raise not_a_token_answer(
            SOURCE, self.authority, 200, "JSON without access_token", f"{KEY}.authority_host"
        )

    def _unreadable(self, what: str, err: Exception) -> RetryableError:
        return RetryableError(
            SOURCE,
            f"{what} at {endpoint(self.authority)} answered with something msal cannot read "
            f"({type(err).__name__}), not a token response; check {KEY}.authority_host, or a "
            "proxy or captive portal in the way",
        )

    def _rejected(self, result: Mapping[str, Any]) -> AuthError:
        description = str(result.get("error_description") or result.get("error") or "no reason")
        first_line = description.splitlines()[0].strip()
        code_match = _AADSTS.search(first_line)
        code = code_match.group(0) if code_match else str(result.get("error") or "error")
        where = (
            f"{KEY}.client_secret_env/_file"
            if self._credential.kind == "secret"
            else f"{KEY}.private_key_env/_file"
        )
        fix = _TOKEN_FIXES.get(code, "check the app registration's credentials and consent")
        detail = first_line if first_line.startswith(code) else f"{code}: {first_line}"
        return AuthError(
            SOURCE,
            f"{self._what()} for app {self.settings.client_id} in tenant "
            f"{self.settings.tenant_id} was rejected ({one_line(detail, 300)}). Fix: "
            f"{fix.format(where=where)}",
        )

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}
