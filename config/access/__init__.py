"""Who may call the project and how often.

- ``models``, ``tokens``, ``token_format``: API tokens (stored hashed) and the
  bearer authentication every router uses.
- ``ratelimit``: fixed-window counters shared by all worker processes.
- ``middleware``: request size limits and API throttling, before any view.
- ``logins``: throttled login for the site and the admin.
- ``log_filters``: secrets scrubbed from logs and error reports.
- ``checks``: a mistyped rate setting stops start-up.

The Django app label is ``config`` (see ``apps.AccessConfig``).
"""
