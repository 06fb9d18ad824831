"""Exceptions that mean "the database cannot be reached right now" rather
than "this code is wrong": they become 503s, not 500s."""

import psycopg
from django.db import InterfaceError, OperationalError

# psycopg_pool.PoolTimeout (no free connection within DB_POOL_TIMEOUT) is a
# psycopg.OperationalError; Django wraps driver errors raised through its
# connection in django.db.OperationalError, the native async pool does not.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, psycopg.OperationalError)
