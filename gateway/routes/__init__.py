"""The phone app's HTTP API, one module per area of the app.

`auth` is the middleware every `/v1/` request passes (token → who is asking,
per-user rate limits, security headers); the route modules (`pages`,
`pairing`, `live`, `glasses`, `memory`, `history`) read only the user it
leaves on the request. `gateway.app_api.AppApi` installs them all on a `Gateway`.
"""
