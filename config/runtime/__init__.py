"""How Django runs fast under ASGI: the pieces that stand in for parts of Django.

Everything outside this package is plain Django and django-ninja. The apps
(movies, catalog) use two calls from here, ``native_db.evaluate`` and
``native_db.filtered``; nothing else in them knows this package exists. The
runtime imports Django and ninja, never an app.

Each piece replaces something in Django 5.2 or django-ninja 1.7 (the
versions pinned in constraints.txt);
tests/config/runtime/test_pinned_sources.py pins the source of every Django
and ninja method copied or overridden in depth, and fails, naming the piece
to re-check, when an upgrade changes it. Each has a switch (a setting
read from the environment); ``DJANGO_RUNTIME=0`` turns them all off, and the
suite passes that way too (``.ci/run`` runs it).

============================  ==========================================  =====================
piece                         replaces (Django 5.2, ninja 1.7)            off switch
============================  ==========================================  =====================
``handler``                   ``ASGIHandler.__call__``/``handle``/          ``RUNTIME_HANDLER``
                              ``send_response``: a fixed set of threads
                              instead of one per request, signals (their
                              receivers found once) and close on the
                              loop, no ``asyncio.wait`` per request,
                              headers sent as stored, finished requests
                              freed by refcount, GC tuning at lifespan
                              startup; cookie-less API requests skip the
                              cookie middleware
                              (``RUNTIME_COOKIELESS_PREFIX``)
``middleware``                ``MiddlewareMixin.__acall__`` of Django's     ``RUNTIME_MIDDLEWARE``
                              security, session, common, CSRF, auth,
                              messages and clickjacking middleware: hooks
                              on the loop, no thread hop per hook; the
                              security headers worked out at start-up
``checks``                    security.W001–W003 and the deploy checks      (with the middleware)
                              gated on them, which look for Django's
                              middleware by path
``templates``                 ``django.template.backends.django``           ``RUNTIME_TEMPLATES``
                              ``Template.render``: the context freed when
                              done
``postgresql``                ``DatabaseWrapper.get_new_connection``:       ``RUNTIME_DB_BACKEND``
                              fail fast while the database is down;
                              psycopg's ``Connection.wait``: a deadline
                              on every wait (``DB_QUERY_TIMEOUT``)
``native_db``                 the async ORM's thread hop per query, for     ``NATIVE_ASYNC_DB``
                              ``values()`` querysets on PostgreSQL:
                              ``evaluate`` runs them on an async psycopg
                              pool in one round trip, as statements
                              prepared per connection
                              (``NATIVE_ASYNC_DB_PREPARE``), read off
                              libpq rather than through psycopg's
                              ``AsyncCursor.execute`` (pinned too); the
                              pool (``native_pool``) queues requests
                              beyond its size on a future each rather
                              than in psycopg_pool's ``WaitingClient``;
                              under load, concurrent requests share round
                              trips (``SharedRoundTrips``,
                              ``NATIVE_ASYNC_DB_SHARED_ROUND_TRIPS``), and
                              identical reads in one are sent once
                              (``RepeatedReads``,
                              ``NATIVE_ASYNC_DB_SHARE_REPEATED_READS``)
``responses``                 django-ninja's ``Operation._result_to_``      ``RUNTIME_RESPONSES``
                              ``response`` for plain-dict results: the
                              declared type validates and dumps them,
                              without the wrapper model per call
``serve``                     ``uvicorn --workers N``: one                  run uvicorn instead
                              ``SO_REUSEPORT`` socket per worker process,
                              each accepting every connection waiting at
                              once (``WorkerServer``), not uvloop's one
                              per turn of the loop
============================  ==========================================  =====================

``RUNTIME_HANDLER`` off also means no GC tuning, no request release and no
binding of native reads to the server's loop (they are the handler's
lifespan), so native reads fall back to the async ORM.
"""
