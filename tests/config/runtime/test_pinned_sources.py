"""Every Django method the runtime copies or overrides in depth (and the
psycopg ones its native reads stand in for, the ninja ones its responses
skip and the uvicorn ones its workers build on), pinned to its source in the
version of constraints.txt.

When a Django upgrade changes one of them, its test fails and names the fork
and what to re-check there; once the fork is brought in step, record the new
digest here (the failure message prints it). The digests are of
``inspect.getsource()``, so a change of comment counts too: a pin is a
reminder to read the upstream change, not a proof that the fork broke."""

import hashlib
import importlib
import importlib.metadata
import inspect
from pathlib import Path

import pytest

CONSTRAINTS = Path(__file__).resolve().parents[3] / "constraints.txt"

HANDLER = (
    "config/runtime/handler.py (PooledThreadASGIHandler)",
    "handle() is a copy of ASGIHandler.handle: port the upstream change; __call__ "
    "replaces the per-request ThreadSensitiveContext",
)
SIGNALS = (
    "config/runtime/handler.py (send_on_loop, close_on_loop)",
    "send_on_loop copies Signal.asend's dispatch and close_on_loop HttpResponseBase.close; "
    "that the receivers left out on the loop (_connection_receivers) still act only on "
    "the calling thread's database connections, and that close_caches still does nothing "
    "but call each cache's close",
)
SEND = (
    "config/runtime/handler.py (send_response)",
    "send_response copies ASGIHandler.send_response for responses that are not streamed, "
    "reading headers off ResponseHeaders._store: that __setitem__ still stores each name "
    "and value as a str valid in ASCII and Latin-1 under _store[name.lower()]",
)
RELEASE = (
    "config/runtime/handler.py (release_request)",
    "the attributes that tie a request into reference cycles (_REQUEST_CYCLES)",
)
MIDDLEWARE = (
    "config/runtime/middleware.py (NoThreadHopMixin and subclasses)",
    "that the hooks still do no I/O except where response_needs_thread says, "
    "and how the handler adapts process_view; that SecurityMiddleware.process_response "
    "still only sets headers a response lacks, from settings read in __init__ and "
    "request.is_secure()",
)
CHECKS = (
    "config/runtime/checks.py",
    "which checks Django gates on its middleware's dotted path (_GATED)",
)
TEMPLATES = (
    "config/runtime/templates.py",
    "Template.render is copied with the context emptied after rendering",
)
BACKEND = (
    "config/runtime/postgresql/base.py",
    "get_new_connection is wrapped by the fail-fast breaker",
)
NATIVE = (
    "config/runtime/native_db.py",
    "row names (_value_names), converters, count semantics (_count_of), and that "
    "sql_shape still sees every attribute that shapes a query",
)
PSYCOPG = (
    "config/runtime/native_db.py (_results)",
    "that a batch sent on a checked-out connection still needs nothing more of "
    "AsyncCursor.execute than the client-side binding and the results of libpq, "
    "and that PostgresClientQuery.convert and dump still bind Django's SQL as native_db.bind does",
)

RESPONSES = (
    "config/runtime/responses.py (PlainDictResults)",
    "ninja's choice of status and schema for a result, the options it dumps with, "
    "and that its getter still hands a dict's values over unchanged",
)

QUERY_LOG = (
    "config/runtime/native_db.py (_query_logging_connection)",
    "that a context's connections are still the attributes of connections._connections",
)
POOL = (
    "config/runtime/native_db.py (_execute)",
    "that a connection taken with getconn and given back with putconn still needs no "
    "more than what connection() does around it (its commit, a no-op in autocommit)",
)
QUEUE = (
    "config/runtime/native_pool.py (QueuedAsyncConnectionPool)",
    "that getconn still takes a timeout for its whole wait and putconn still puts a "
    "healthy connection back in the pool before returning, so the request let in next "
    "finds it there",
)
SERVER = (
    "config/runtime/serve.py (WorkerServer)",
    "that startup given no sockets still starts the lifespan and serves nothing, that "
    "protocols are still made as WorkerServer.startup makes them, and that shutdown "
    "still closes the connections open and waits for their requests",
)

PINS = {
    "django.core.handlers.asgi:ASGIHandler.__call__": ("f756809e9c9308dc", HANDLER),
    "django.core.handlers.asgi:ASGIHandler.handle": ("98faeb5bef800331", HANDLER),
    "django.core.handlers.asgi:ASGIHandler.listen_for_disconnect": ("c729aa315c734f98", HANDLER),
    "django.core.handlers.asgi:ASGIHandler.send_response": ("77eda2b08689b44e", SEND),
    "django.http.response:ResponseHeaders.__setitem__": ("ec78a9c6b2bc2b8c", SEND),
    "django.http.response:ResponseHeaders._convert_to_charset": ("7f988dada70f15e8", SEND),
    "django.dispatch.dispatcher:Signal.asend": ("b27a0e4474a61569", SIGNALS),
    "django.dispatch.dispatcher:Signal._live_receivers": ("0a7af5d851f7fd87", SIGNALS),
    "django.http.response:HttpResponseBase.close": ("84589f5b23acbb23", SIGNALS),
    "django.db:reset_queries": ("9989bcde56b2f76a", SIGNALS),
    "django.db:close_old_connections": ("c352dd45e8333c97", SIGNALS),
    "django.core.cache:close_caches": ("abe7badf0640b146", SIGNALS),
    "django.core.cache.backends.base:BaseCache.close": ("d6b55968d67c6922", SIGNALS),
    "django.contrib.auth.middleware:AuthenticationMiddleware.process_request": (
        "6dd39b90ad6373e2",
        RELEASE,
    ),
    "django.contrib.messages.middleware:MessageMiddleware.process_request": (
        "7f4834ba26ee0583",
        RELEASE,
    ),
    "django.utils.deprecation:MiddlewareMixin": ("719062a110865f71", MIDDLEWARE),
    "django.core.handlers.base:BaseHandler.load_middleware": ("a1fb7ee5f8586195", MIDDLEWARE),
    "django.middleware.security:SecurityMiddleware": ("7c0daafdd127de47", MIDDLEWARE),
    "django.contrib.sessions.middleware:SessionMiddleware": ("81dfc7bdab259429", MIDDLEWARE),
    "django.middleware.common:CommonMiddleware": ("0a9411bc1510a38c", MIDDLEWARE),
    "django.middleware.csrf:CsrfViewMiddleware": ("461e7a1110dea43f", MIDDLEWARE),
    "django.contrib.auth.middleware:AuthenticationMiddleware": ("016788fb7214c6ed", MIDDLEWARE),
    "django.contrib.messages.middleware:MessageMiddleware": ("68bbf99a11d6e87e", MIDDLEWARE),
    "django.middleware.clickjacking:XFrameOptionsMiddleware": ("b005c3dcd16801e1", MIDDLEWARE),
    "django.core.checks.security.base:_security_middleware": ("e3e716d19c284d45", CHECKS),
    "django.core.checks.security.base:_xframe_middleware": ("617ba4b512a45824", CHECKS),
    "django.core.checks.security.csrf:_csrf_middleware": ("fb71e62045d557b7", CHECKS),
    "django.core.checks.security.base:check_security_middleware": ("2fb3d776e5848a36", CHECKS),
    "django.core.checks.security.base:check_xframe_options_middleware": (
        "01292f0855f9f670",
        CHECKS,
    ),
    "django.core.checks.security.csrf:check_csrf_middleware": ("bfd2646da44d517d", CHECKS),
    "django.template.backends.django:Template.render": ("4a1ec275ca1ac350", TEMPLATES),
    "django.template.backends.django:DjangoTemplates.from_string": ("29dbf317d48ac80b", TEMPLATES),
    "django.template.backends.django:DjangoTemplates.get_template": ("01480fb11fa0c984", TEMPLATES),
    "django.template.context:make_context": ("a3d2a4696151e6f7", TEMPLATES),
    "django.db.backends.postgresql.base:DatabaseWrapper.get_new_connection": (
        "acc4e253c2e311a4",
        BACKEND,
    ),
    "django.db.models.query:ValuesIterable.__iter__": ("02f58ade3ac0f2ed", NATIVE),
    "django.db.models.sql.compiler:SQLCompiler.results_iter": ("d279d61b80a3a115", NATIVE),
    "django.db.models.sql.compiler:SQLCompiler.apply_converters": ("c034ce3e5090aa2e", NATIVE),
    "django.db.models.sql.query:Query.__init__": ("294734cf62c79b04", NATIVE),
    "django.db.models.sql.query:Query.get_count": ("9efdd1361ffd9e33", NATIVE),
    "django.db.models.lookups:Lookup.__init__": ("0c9b7d10fe88d56f", NATIVE),
    "django.utils.tree:Node.__init__": ("53354417f2f40014", NATIVE),
    "django.utils.connection:BaseConnectionHandler.all": ("025dd23cb80fcc62", QUERY_LOG),
    "psycopg_pool.pool_async:AsyncConnectionPool.connection": ("e8a525a680693781", POOL),
    "psycopg_pool.pool_async:AsyncConnectionPool.getconn": ("9ce0f57bc51648f0", QUEUE),
    "psycopg_pool.pool_async:AsyncConnectionPool.putconn": ("be880052c5c0a33c", QUEUE),
    "psycopg.cursor_async:AsyncCursor.execute": ("58d46b145d23fa90", PSYCOPG),
    "psycopg._cursor_base:BaseCursor._execute_gen": ("d4128fe2e2207fb5", PSYCOPG),
    "psycopg._queries:PostgresClientQuery.convert": ("5aa984d3b447031c", PSYCOPG),
    "psycopg._queries:PostgresClientQuery.dump": ("ff871595dfd71e47", PSYCOPG),
    "ninja.operation:Operation._result_to_response": ("6ca7ef1c987a1af9", RESPONSES),
    "ninja.operation:Operation._create_response_model": ("3b7aceebf22922f6", RESPONSES),
    "ninja.schema:DjangoGetter.__getattr__": ("3b4b232f6199cd71", RESPONSES),
    "ninja.schema:DjangoGetter._convert_result": ("643dbb5db04545df", RESPONSES),
    "uvicorn.server:Server.startup": ("2aa1d70a244bfcf2", SERVER),
    "uvicorn.server:Server.shutdown": ("9b33c50562992b1e", SERVER),
}
# The distributions of the packages pinned above, where the names differ.
DISTRIBUTIONS = {"ninja": "django-ninja"}


def resolve(path: str):
    module, _, attributes = path.partition(":")
    obj = importlib.import_module(module)
    for name in attributes.split("."):
        obj = getattr(obj, name)
    return obj


def digest(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def pin_failure(path: str, pinned: str, source: str) -> str | None:
    """The message for a pinned source that changed, or None if it has not."""
    actual = digest(source)
    if actual == pinned:
        return None
    (fork, recheck) = PINS[path][1]
    package = path.split(".", 1)[0]
    version = importlib.metadata.version(DISTRIBUTIONS.get(package, package))
    return (
        f"{package} {version} changed {path} "
        f"(digest {actual}, pinned {pinned}). "
        f"It is forked by {fork}: re-check {recheck}, then pin {actual!r} here."
    )


@pytest.mark.parametrize(
    "package", ["django", "django-ninja", "psycopg", "psycopg-pool", "uvicorn"]
)
def test_the_pins_are_for_the_versions_of_constraints_txt(package):
    pinned = next(
        line.split("==")[1].strip()
        for line in CONSTRAINTS.read_text().splitlines()
        if line.lower().startswith(f"{package}==")
    )
    installed = importlib.metadata.version(package)
    assert installed == pinned, (
        f"constraints.txt pins {package} {pinned} but {installed} is installed: "
        "install the pinned one (make install) before judging the pins below"
    )


@pytest.mark.parametrize("path", sorted(PINS))
def test_pinned_django_source_is_unchanged(path):
    message = pin_failure(path, PINS[path][0], inspect.getsource(resolve(path)))
    assert message is None, message


def test_an_altered_source_fails_and_names_the_fork():
    path = "django.core.handlers.asgi:ASGIHandler.handle"
    altered = inspect.getsource(resolve(path)).replace("body_file", "body")
    message = pin_failure(path, PINS[path][0], altered)
    assert message is not None
    assert "config/runtime/handler.py" in message
    assert "ASGIHandler.handle" in message
