"""`Authorization: Bearer alliance_…`: a personal access token, as its owner."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.tokens import token_user

HOW = "Send the token as `Authorization: Bearer <token>`."
INVALID = "The token is unknown, revoked, or its owner can no longer sign in."


class AccessTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None  # no token: the API answers 401, saying how to send one
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the token as `Authorization: Bearer <token>`."
            )
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(INVALID) from None
        user = token_user(raw)
        if user is None:
            raise exceptions.AuthenticationFailed(INVALID)
        return user, None

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class AccessTokenScheme(OpenApiAuthenticationExtension):
    """The schema's word for it: HTTP bearer authentication."""

    target_class = "api.authentication.AccessTokenAuthentication"
    name = "accessToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A personal access token."}
