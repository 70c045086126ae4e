"""A small OpenID provider that answers as Microsoft Entra ID does, on a loopback port.

It serves the discovery document, the JWKS, an authorize endpoint that sends the browser
straight back with a code (the person "signed in" is ``provider.user``), and a token
endpoint that checks the client, the redirect URI and the PKCE verifier before issuing an
RS256 ID token with ``roles`` (and, if given, ``groups``). The token's times come from the
clock the test gives, so they agree with the workspace's fixed clock.

Test knobs: ``tamper`` (claims to change in the next ID tokens, e.g. ``{"aud": "other"}``),
``foreign_key`` (sign with a key the JWKS does not have, under the same key id),
``deny`` (the authorize endpoint answers ``error=access_denied``), ``interactive`` (the
authorize endpoint shows a page with a "Continue" link back, as Microsoft's sign-in page
does: the way back is then a navigation started by the provider's page, a cross-site one
for the workspace). ``requests`` records what was asked, without secrets.

Signing is written here with ``cryptography`` (not with the library under test).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_SECRET = "fake-client-secret"  # noqa: S105 - a throwaway secret for a private server
TENANT = "99999999-8888-7777-6666-555555555555"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class FakeOidc:
    def __init__(
        self, now: Callable[[], datetime], *, host: str = "127.0.0.1", public_host: str | None = None
    ) -> None:
        self.now = now
        self.host = host
        self.public_host = public_host or host
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "fake-key-1"
        self.user: dict[str, Any] = {
            "sub": "subject-ada",
            "oid": "oid-ada",
            "preferred_username": "ada.lovelace@croydon.example",
            "name": "Ada Lovelace",
            "roles": ["CSCP.Team"],
        }
        self.tamper: dict[str, Any] = {}
        self.foreign_key = False
        self.deny = False
        self.interactive = False
        self.codes: dict[str, dict[str, Any]] = {}
        self.requests: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- what the workspace is told --------------------------------------------------
    @property
    def issuer(self) -> str:
        assert self._server is not None
        return f"http://{self.public_host}:{self._server.server_address[1]}"

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/oauth2/v2.0/authorize",
            "token_endpoint": self.issuer + "/oauth2/v2.0/token",
            "jwks_uri": self.issuer + "/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nonce",
                "roles",
                "groups",
                "preferred_username",
                "name",
                "oid",
                "tid",
            ],
        }

    def jwks(self) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "alg": "RS256",
                    "kid": self.kid,
                    "n": _int_b64(numbers.n),
                    "e": _int_b64(numbers.e),
                }
            ]
        }

    def settings(self) -> dict[str, str]:
        """The workspace's environment for this provider."""
        return {
            "MAILBOT_WEB_OIDC_TENANT": TENANT,
            "MAILBOT_WEB_OIDC_CLIENT_ID": CLIENT_ID,
            "MAILBOT_WEB_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "MAILBOT_WEB_OIDC_AUTHORITY": self.issuer,
        }

    # -- tokens ---------------------------------------------------------------------------
    def id_token(self, nonce: str, claims: dict[str, Any] | None = None) -> str:
        issued = int(self.now().timestamp())
        body: dict[str, Any] = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "tid": TENANT,
            "iat": issued,
            "nbf": issued,
            "exp": issued + 3600,
            "nonce": nonce,
            "ver": "2.0",
            **self.user,
        }
        body.update(claims or {})
        body.update(self.tamper)
        body = {k: v for k, v in body.items() if v is not None}
        header = {"alg": "RS256", "kid": self.kid, "typ": "JWT"}
        signing_input = (
            b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(body).encode())
        ).encode()
        key = self.other_key if self.foreign_key else self.key
        signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return signing_input.decode() + "." + b64url(signature)

    def authorize(self, query: dict[str, str]) -> tuple[int, str]:
        """The Location the browser is sent to (always back to the redirect URI)."""
        redirect = query.get("redirect_uri", "")
        problems = [
            name
            for name, ok in (
                ("response_type", query.get("response_type") == "code"),
                ("client_id", query.get("client_id") == CLIENT_ID),
                ("redirect_uri", redirect.startswith(("http://", "https://"))),
                ("scope", "openid" in query.get("scope", "").split()),
                ("state", bool(query.get("state"))),
                ("nonce", bool(query.get("nonce"))),
                ("code_challenge", bool(query.get("code_challenge"))),
                ("code_challenge_method", query.get("code_challenge_method") == "S256"),
            )
            if not ok
        ]
        if problems or not redirect:
            return 400, "bad authorization request: " + ", ".join(problems)
        if self.deny:
            params = {
                "error": "access_denied",
                "error_description": "The user said no.",
                "state": query["state"],
            }
        else:
            code = secrets.token_urlsafe(24)
            self.codes[code] = {
                "redirect_uri": redirect,
                "nonce": query["nonce"],
                "challenge": query["code_challenge"],
                "used": False,
            }
            params = {"code": code, "state": query["state"]}
        joiner = "&" if urlsplit(redirect).query else "?"
        return 302, redirect + joiner + urlencode(params)

    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> tuple[int, dict[str, Any]]:
        client_id, client_secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        if client_id != CLIENT_ID or client_secret != CLIENT_SECRET:
            return 401, {"error": "invalid_client"}
        grant = self.codes.get(form.get("code", ""))
        if form.get("grant_type") != "authorization_code" or grant is None or grant["used"]:
            return 400, {"error": "invalid_grant"}
        grant["used"] = True
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri"}
        verifier = form.get("code_verifier", "")
        if b64url(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        access = secrets.token_urlsafe(24)
        return 200, {
            "token_type": "Bearer",
            "expires_in": 3600,
            "access_token": access,
            "id_token": self.id_token(grant["nonce"]),
        }

    # -- the server -------------------------------------------------------------------------
    def start(self) -> str:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(
                self, status: int, body: bytes, kind: str = "application/json", location: str | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                if location:
                    self.send_header("Location", location)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                parts = urlsplit(self.path)
                provider.requests.append("GET " + parts.path)
                if parts.path == "/.well-known/openid-configuration":
                    self._send(200, json.dumps(provider.discovery()).encode())
                elif parts.path == "/discovery/v2.0/keys":
                    self._send(200, json.dumps(provider.jwks()).encode())
                elif parts.path == "/oauth2/v2.0/authorize":
                    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                    status, where = provider.authorize(query)
                    if status == 302 and provider.interactive:
                        page = (
                            f'<!DOCTYPE html><html lang="en"><title>Fake sign-in</title>'
                            f'<a id="continue" href="{html.escape(where)}">Continue</a></html>'
                        )
                        self._send(200, page.encode(), "text/html")
                    elif status == 302:
                        self._send(302, b"", "text/plain", location=where)
                    else:
                        self._send(status, where.encode(), "text/plain")
                else:
                    self._send(404, b"{}")

            def do_POST(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                provider.requests.append("POST " + parts.path)
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                basic = None
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Basic "):
                    user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                    basic = (user, password)
                if parts.path == "/oauth2/v2.0/token":
                    status, body = provider.token(form, basic)
                    self._send(status, json.dumps(body).encode())
                else:
                    self._send(404, b"{}")

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self.issuer

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


@contextmanager
def running(now: Callable[[], datetime], **kwargs: Any) -> Iterator[FakeOidc]:
    provider = FakeOidc(now, **kwargs)
    provider.start()
    try:
        yield provider
    finally:
        provider.stop()
