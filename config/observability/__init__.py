"""What an operator sees of the running service: access logs, request ids,
database timing and Prometheus metrics. One job, one ASGI middleware.

==================  =======================================================
module              what it holds
==================  =======================================================
``middleware``      ``observe(app)``: the ASGI middleware that config/asgi.py
                    puts around the application; request ids, the access
                    line, ``Server-Timing``, counting, ``/metrics``
``timing``          the request being served (a context variable), the ORM's
                    execute wrapper, and the hooks ``record_query`` (database
                    work done without Django's cursors) and ``watch_pool``
``logs``            ``RequestIdFilter`` and ``JsonFormatter`` for ``LOGGING``
``metrics``         the Prometheus metrics, gauge sampling, who may scrape;
                    imported only when metrics are on
==================  =======================================================

Switches (docs/configuration.md): ``OBSERVABILITY=0`` turns all of it off
(the application is not wrapped, nothing is timed or counted; the log
formatters stay); ``ACCESS_LOG=0`` only the access lines; metrics are on only
with ``METRICS_ALLOWED_IPS`` or ``METRICS_TOKEN`` set. It covers the ASGI
application; under WSGI (config/wsgi.py) nothing of it runs.

The two hooks for code that reaches the database without Django's cursors
(the runtime's native reads) are importable from here: ``record_query`` and
``watch_pool`` (config/observability/timing.py).

This package imports Django and config.access, never an app.
"""

from config.observability.timing import record_query, watch_pool

__all__ = ["record_query", "watch_pool"]
