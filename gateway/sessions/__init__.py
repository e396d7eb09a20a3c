"""The phone app's sessions, one module per job.

`app_session` is the owner that wires the others together: `peer_link` (the
replaceable peer connection and its numbered outbox, with `delivery`'s pure
acks and replay), `settings` (the pure settings reducer), `upload_gate` (what
the server-side edge may send to the cloud), `track_source` (the phone's tracks
as edge media) and `lifecycle` (how every gateway session ends, edge ones included).
"""
