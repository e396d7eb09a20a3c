"""What the auth middleware leaves on a request for the handlers after it."""

from __future__ import annotations

from aiohttp import web

from gateway.accounts import Principal

# Who the request acts for; every handler reads data for this user only.
USER = web.RequestKey("user", str)
PRINCIPAL = web.RequestKey("principal", Principal)
# Set only on a gateway with accounts: edge sessions bind their Hello to it.
AUTHENTICATED_USER = web.RequestKey("authenticated_user", str)
