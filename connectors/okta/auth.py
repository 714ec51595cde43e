"""Credentials: an API token (``Authorization: SSWS ...``) or an OAuth 2.0 service app that signs
a private-key JWT (https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/);
``private_key_jwt`` is the only client authentication Okta accepts for Okta-scoped tokens.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from connectors.base import ConnectorContext
from connectors.okta.settings import SOURCE, OktaSettings
from connectors.tokens import answer_problem, not_a_token_answer
from scanner.core.errors import AuthError, ConfigError
from scanner.core.names import one_line
from scanner.core.settings import secret
from scanner.net.http import HttpClient, HttpStatusError


class TokenAuth:
    """``Authorization: SSWS <token>`` (https://developer.okta.com/docs/api/#authentication)."""

    def __init__(self, token: str, origin: str) -> None:
        self._token = token
        self.origin = origin
        """Where the token came from, for messages: the env var or file name."""

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"SSWS {self._token}"}

    def describe(self) -> str:
        return f"the API token in {self.origin}"


class ServiceAppAuth:
    """Client credentials with a private-key JWT at the org authorization server.

    https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/ : POST
    ``/oauth2/v1/token`` with ``grant_type=client_credentials``, the scopes, and a
    ``client_assertion`` signed by the app's key (``iss`` = ``sub`` = client id, ``aud`` = the
    token URL, at most one hour of lifetime). The token is cached until shortly before it expires.
    """

    ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    ASSERTION_LIFETIME = 300
    EXPIRY_MARGIN = 60

    def __init__(
        self,
        org_url: str,
        client_id: str,
        key: Any,
        algorithm: str,
        key_id: str | None,
        scopes: tuple[str, ...],
        client: HttpClient,
        origin: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token_url = f"{org_url}/oauth2/v1/token"
        self.org_url = org_url
        self.client_id = client_id
        self._key = key
        self._algorithm = algorithm
        self._key_id = key_id
        self.scopes = scopes
        self._client = client
        self.origin = origin
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0

    def describe(self) -> str:
        return f"the access token of service app {self.client_id}"

    def headers(self) -> dict[str, str]:
        with self._lock:
            if self._token is None or self._clock() > self._expires - self.EXPIRY_MARGIN:
                self._token, lifetime = self._fetch_token()
                self._expires = self._clock() + lifetime
            return {"Authorization": f"Bearer {self._token}"}

    def _assertion(self) -> str:
        now = int(self._clock())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url,
            "iat": now,
            "exp": now + self.ASSERTION_LIFETIME,
            "jti": uuid.uuid4().hex,
        }
        headers = {"kid": self._key_id} if self._key_id else None
        return jwt.encode(claims, self._key, algorithm=self._algorithm, headers=headers)

    def _fetch_token(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "scope": " ".join(self.scopes),
            "client_assertion_type": self.ASSERTION_TYPE,
            "client_assertion": self._assertion(),
        }
        try:
            response = self._client.request(
                "POST", self.token_url, data=form, headers={"Accept": "application/json"}
            )
        except HttpStatusError as err:
            self._check_answer(err.response)  # a proxy's HTML 403 is not Okta refusing
            raise self._token_error(err) from None
        self._check_answer(response)
        body = response.json()
        try:
            lifetime = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        return body["access_token"], lifetime

    def _check_answer(self, response: requests.Response) -> None:
        """Raise one line naming the org when the answer is no token (an HTML page, empty...)."""
        status = response.status_code
        problem = answer_problem(status, response.headers.get("Content-Type"), response.content)
        if problem is not None:
            raise not_a_token_answer(
                SOURCE, self.token_url, status, problem, "sources.okta.org_url"
            )

    def _token_error(self, err: HttpStatusError) -> AuthError:
        body = err.body if isinstance(err.body, dict) else {}
        code = one_line(body.get("error") or f"HTTP {err.status}", 100)
        detail = one_line(str(body.get("error_description") or "").strip(), 200)
        if code == "invalid_scope":
            fix = (
                f"grant the scopes {', '.join(self.scopes)} on the app's 'Okta API Scopes' tab, "
                "or narrow sources.okta.scopes"
            )
        elif code == "invalid_client":
            fix = (
                f"check sources.okta.client_id and that the public key of the key in "
                f"{self.origin} is registered on the app (Public key / Private key)"
            )
        else:
            fix = "check the service app's client authentication (Public key / Private key)"
        return AuthError(
            SOURCE,
            f"{self.org_url} refused a token for service app {self.client_id} "
            f"({code}{': ' + detail if detail else ''}); {fix}",
        )


Auth = TokenAuth | ServiceAppAuth


def build_auth(settings: OktaSettings, context: ConnectorContext, token_client: HttpClient) -> Auth:
    """Read the configured secret and return the matching auth, or raise ConfigError."""
    key_path = "sources.okta"
    config_file = context.config_path
    where = f" ({config_file})" if config_file else ""
    if settings.token_env or settings.token_file:
        token = secret(settings.token_env, settings.token_file, f"{key_path}.token", config_file)
        assert token is not None
        origin = settings.token_env or str(context.resolve_path(settings.token_file or ""))
        return TokenAuth(token, origin)
    if settings.client_id:
        pem = secret(
            settings.private_key_env,
            settings.private_key_file,
            f"{key_path}.private_key",
            config_file,
        )
        assert pem is not None
        origin = settings.private_key_env or str(
            context.resolve_path(settings.private_key_file or "")
        )
        key, algorithm, kid = load_private_key(pem, f"{key_path}.private_key", where)
        return ServiceAppAuth(
            settings.org_url,
            settings.client_id,
            key,
            algorithm,
            settings.key_id or kid,
            settings.scopes,
            token_client,
            origin,
        )
    raise ConfigError(
        f"{key_path}: set token_env (or token_file) for an API token, or client_id with "
        f"private_key_env (or private_key_file) for an OAuth service app{where}"
    )


def load_private_key(text: str, key: str, where: str) -> tuple[Any, str, str | None]:
    """A PEM or JWK private key -> (key object, JWS algorithm, kid from the JWK)."""
    kid: str | None = None
    try:
        if text.lstrip().startswith("{"):
            jwk = jwt.PyJWK.from_json(text)
            private = jwk.key
            kid = jwk.key_id
        else:
            private = serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError, jwt.PyJWTError) as err:
        raise ConfigError(
            f"{key}: not an unencrypted PEM or JWK private key ({type(err).__name__}); "
            f"export the service app's private key without a passphrase{where}"
        ) from None
    if isinstance(private, rsa.RSAPrivateKey):
        return private, "RS256", kid
    if isinstance(private, ec.EllipticCurvePrivateKey):
        return private, "ES256", kid
    raise ConfigError(f"{key}: Okta service apps sign with RSA or EC keys{where}")
