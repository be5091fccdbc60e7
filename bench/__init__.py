"""``make bench``: phonegate under load, against the ceilings of what it does.

phonegate runs as it runs in production (``phonegate serve``, uvicorn with uvloop and
httptools, ``PHONEGATE_ENV=production``) on loopback, with its real ``twilio`` provider
sending to a fake on 127.0.0.1. The load comes from a separate process, the runner's:
16 closed-loop virtual users, each run bounded in operations and seconds, after a warm-up.
CPU seconds per operation are the server process tree's (``/proc/<pid>/stat``).

Each scenario also runs on two ceilings, on the same server stack and worker count: a bare
ASGI app returning a small JSON (the stack's limit), and one doing only the scenario's
irreducible work on the same database. phonegate's throughput is given as a share of the
latter, so the figures hold on a noisy machine and show what the framework, the ORM and
phonegate's own code add.

Modules: ``run`` (the command), ``runner`` (the course of a run), ``servers`` and
``procstat`` (processes), ``dataset`` (databases and users), ``loadclient`` and
``scenarios`` (the load), ``fake_provider``, ``ceilings`` with ``ceiling_*`` (the ceilings),
``plans`` (query plans), ``profiles`` (py-spy), ``report`` (docs/benchmarks.md).
"""
