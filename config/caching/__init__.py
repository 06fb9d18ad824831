"""Conditional GETs and cache headers for the API's public reads.

- ``models.TableStamp``: version stamps of the tables the public API reads
  (every table of the movies and catalog apps, many-to-many tables included).
- ``triggers``: the database triggers that keep them, on PostgreSQL and
  SQLite, installed after every ``migrate``; every write counts, whatever
  made it.
- ``conditional``: ``versions_of(app_label)`` (one query), the ETag, and
  ``conditional_reads``, the ninja view-mode decorator that config/api.py puts
  on both app routers: ETag and 304 for public reads, ``Cache-Control`` and
  ``Vary`` on every answer.

docs/api.md ("Conditional GETs and caching") says what a client sees.
"""
