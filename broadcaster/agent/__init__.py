"""The speaker-cluster agent: it plays what the server planned, and nothing else.

It runs on a small box wired to a cluster's amplifier. It never imports the server's API,
models, database or services: it only obeys signed orders (``broadcaster.delivery.orders``)
and reports back over plain HTTP, so it keeps playing its queue while the server is away. It
dials out for its orders (``pull``) and listens on no port unless ``http`` push is configured.

    pull.py        the long-poll: one outbound connection, orders in, verdicts out
    app.py         http push only: POST /orders, GET /status for loopback (plain Starlette)
    clock.py       the server's time as estimated from every exchange (NTP-style)
    intake.py      verify an envelope, refuse replays, store it, hand it on
    store.py       SQLite (WAL): orders, last seq, report outbox — a reboot loses nothing
    download.py    audio download with HTTP Range resume, size and sha256 checks
    conductor.py   one task per order: download, wait, take the speaker, play, report
    speaker.py     who may sound now; an emergency pre-empts
    players/       play back-ends behind one interface and a registry (null, aplay, ffmpeg)
    reporting.py   report outbox flushing and heartbeats, signed with the cluster's Ed25519 key
    runtime.py     wires it all, starts the configured receiver, handles SIGTERM
"""
