"""Make the local moto server cost per request what the request costs.

The fixes, measured with the fan-out benchmark (bench/fanout.py), where moto was most of the
local stack's CPU; neither changes what moto answers.

**Keep-alive.** Werkzeug's development server, which moto's server runs on, closes the
connection after every response, so each boto3 call paid a TCP connect and moto a new thread.
Requests with a Content-Length (every boto3 request) now keep their connection: the body is
read to its end after the response, so the next request starts where it should; chunked
requests and ``Connection: close`` still close. Idle connections close after a minute.

**Index queries.** moto answers a Query on a secondary index by sorting *every* item of the
table (Python-level ``DynamoType`` comparisons), then checking each against the key condition.
When the broadcaster queried the Connections table's (since removed) userId index once per user
per batch, with 1,000 open connections that sort was about half of the local stack's CPU in the
fan-out benchmark (bench/fanout.py), where DynamoDB answers such a query in milliseconds
whatever the table's size. Every other index Query
(ByEbayItemId, ActiveByEndTime, ByOwner...) is served the same way.

While an index Query runs, ``Table.all_items`` hands moto only the items whose string or binary
partition-key attributes equal the query's (the exact test moto applies next: same type, same
value), in the order the full sort would give them. Results, their order and pagination are
unchanged; number-typed conditions are left to moto (``"1"`` equals ``"1.0"`` there).

**Transactions.** moto's TransactWriteItems deep-copies every table it touches, stream records
included, before writing, and on a cancelled transaction puts the copies in the tables' place.
At 1,000 snipes (bench/chaos.py) that was ~0.4 s per transaction and growing, the moto process
reached 15 GB (killed by the kernel), and a stream reader holding an iterator (the stream pump)
kept reading the replaced table's stream, which no longer receives records.

The conditions are now checked first, against the state before the transaction (as DynamoDB
does; the items are distinct, moto checks that too): if one fails, the transaction is cancelled
with moto's reasons and nothing was written, so nothing needs undoing; if all hold, moto's own
code writes without the copies, and should a write still fail, the items it touched and their
stream records are put back as they were. Anything unusual (more than 100 items, one item
twice, an expression moto rejects) takes moto's own path unchanged.

**Answers.** moto builds an item operation's answer in the wire format already (items as
DynamoDB JSON), then walks it again with its generic serializer, attribute by attribute along
the API's shape: 1.8 ms of CPU for a BatchGetItem of five small items, half of a GetItem's 5.1
ms (bench/moto_cost.py). GetItem, PutItem, UpdateItem, DeleteItem, Query, Scan, BatchGetItem,
BatchWriteItem, TransactGetItems and TransactWriteItems now answer with that dict dumped as JSON,
keeping the output shape's members that have a value, as the serializer does
(tests/integration/local/test_moto_speedups.py compares every one); errors take moto's path.

**Lookups that never change.** For every request moto listed its own package directory (a
stat per service, to route the request), called ``inspect.getmembers`` on the response class (to
find the action's method), and werkzeug formatted a log line the stack silences. The first two
are computed once; the line is formatted only when the werkzeug logger would write it.

**An item's size, once.** moto builds every item it stores (PutItem, BatchWriteItem, a
transaction's Put) one attribute at a time into a ``LimitedSizeDict`` that adds up the size of
*every* attribute already in it at each step, to refuse an item over DynamoDB's 400 KB: for a
snipe-sized item of 25 attributes, ~325 size computations, three quarters of a put's CPU. The
item is now built whole and its size added up once, with the same sizes and limit: a sum of
sizes that are never negative passes the limit at the end if and only if it passes it at some
step, so moto refuses exactly the items it refused (``tests/integration/local/
test_moto_speedups.py``). Other writes into an item (UpdateItem's) keep moto's check.

**Parameters from json.loads.** moto decodes a request's JSON, then walks it along the
operation's input shape (``moto/core/parse.py``), building every dict and list again, to
base64-decode blobs and parse timestamps, which DynamoDB's item requests rarely hold: 0.77 ms of
CPU for a BatchWriteItem of ten snipes, where ``json.loads`` takes 0.06. A DynamoDB request's
decoded JSON is now checked against what that walk would change, in place, and used as it is
when the walk would make exactly it: every object key a member of its shape and not null, lists
and maps where the shape has them, integers as ints, no blob (``B``, ``BS``), timestamp or float
member; a structure's members are put in the shape's order, as moto's walk orders them. Anything
else (a binary value, a body boto3 would not send, an unknown operation, another content type)
takes moto's parser. Decoding and checking those ten snipes takes 0.17 ms
(tests/integration/local/test_moto_speedups.py compares the two on generated requests of every
operation the product uses, and on mangled ones).

**DynamoDB without Flask.** Every request went through moto's Flask app for its service:
routing a URL map with one rule, pushing a request and an app context, opening a session,
flask_cors's after_request, popping the contexts. A POST to ``/`` of DynamoDB or DynamoDB
Streams without an ``Origin`` header now goes from moto's own routing (``get_application``)
straight to the route's view, as ``convert_to_flask_response`` calls it (the same request
class), and is answered with the same ``flask.Response`` and the one header flask_cors adds to
such a request (``Access-Control-Allow-Origin: *``); anything else, and an app not set up as
moto sets it up, still goes through Flask. tests/integration/local/test_moto_speedups.py sends
the same requests both ways (moto's answers, its errors, and a stub view's odd answers) and
compares status, headers in order and body. In-process, a GetItem's CPU went from 0.46-0.60 to
0.33-0.45 ms (``run_wsgi_app``, 1,500 requests, two rounds).

**Results converted by type.** A DynamoDB handler's result passes through ``dynamo_to_dict``,
which asks every value ``isinstance`` four times and ``hasattr(value, "to_json")``: 0.32 ms of
CPU for a BatchGetItem's five snipes, where walking the same dicts, lists and DynamoTypes by
their exact type takes 0.05 ms. ``DynamoResult`` now converts that way, and hands anything else
(a binary value, an Item, a datetime, a tuple) to moto's function (the two are compared on
generated results in tests/integration/local/test_moto_speedups.py).

**Headers without email's parser.** ``http.server`` reads a request's headers with
``http.client.parse_headers``, which hands them to email's feed parser: ~0.1 ms of CPU for the
dozen headers of a boto3 request, 10 % of moto's CPU in bench/moto_cost.py (py-spy). The
keep-alive handler's headers are a class of their own, and for that class only the lines,
read as before (same limits), that are all plain ``Name: value`` lines become the message the
parser makes of them (``set_raw`` of the name and the value stripped as its compat32 policy
strips it, an empty payload); a folded line, a bare CR, a character outside printable ASCII, a
multipart or message content type, or a block not ending in CRLF CRLF goes to the parser
(tests/integration/local/test_moto_speedups.py compares the two messages on generated blocks).

Measured with ``bench/moto_cost.py --clients 1`` (moto's CPU per request): GetItem 5.1 ms ->
1.4 ms, UpdateItem 5.6 -> 3.7 ms, TransactWriteItems 6.0 -> 4.3 ms; BatchWriteItem of ten
snipes 8.6 -> 6.1 ms (its items sized once). Parameters from json.loads, DynamoDB without
Flask and headers without email's parser together, same command run twice on each side
alternately (the figure moves ~15 % between runs; mean of two): GetItem 1.48 -> 1.12 ms,
UpdateItem 4.40 -> 3.68, TransactWriteItems 4.94 -> 4.18, BatchWriteItem 6.53 -> 5.02,
BatchGetItem 2.58 -> 2.19. Results converted by type, ``--ops GetItem,BatchGetItem --requests
1200``, two alternate runs each side: GetItem 1.19 -> 0.98 ms, BatchGetItem 1.89 -> 1.39.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from typing import Any

_installed = threading.Lock()
_scope = threading.local()

IDLE_CONNECTION_SECONDS = 60
# LimitedSizeDict's limit (moto: "between 409 and 410KB" measured against DynamoDB's 400 KB)
ITEM_SIZE_LIMIT = 405_000


def install() -> None:
    """Patch moto's server and ``Table`` once per process (idempotent, thread-safe); a server
    started afterwards in this process uses them."""
    with _installed:
        _keep_alive()
        _index_prefilter()
        _fast_transactions()
        _fast_answers()
        _fixed_lookups()
        _item_sized_once()
        _fast_parsing()
        _without_flask()
        _results_converted_once()


def _keep_alive() -> None:
    import socket

    from moto.moto_server import threaded_moto_server
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.wsgi import LimitedStream

    if getattr(threaded_moto_server.MotoRequestHandler, "keep_alive", False):
        return

    class KeepAliveRequestHandler(MotoRequestHandler):
        keep_alive = True
        timeout = IDLE_CONNECTION_SECONDS
        MessageClass = _plain_headers()

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            # werkzeug formats the line before its logger drops it (the stack silences it).
            if logging.getLogger("werkzeug").isEnabledFor(logging.INFO):
                super().log_request(code, size)

        def log_error(self, format: str, *args: Any) -> None:
            if not format.startswith("Request timed out"):  # an idle connection, closed
                super().log_error(format, *args)

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def run_wsgi(self) -> None:
            length = self.headers.get("Content-Length", "0")
            if (
                self.request_version != "HTTP/1.1"
                or "Transfer-Encoding" in self.headers
                or "Expect" in self.headers
                or self.headers.get("Connection", "").lower() == "close"
                or not length.isdigit()
            ):
                super().run_wsgi()  # werkzeug's way: answer, then close
                return
            environ = self.make_environ()
            body = LimitedStream(self.rfile, int(length))  # type: ignore[arg-type]
            environ["wsgi.input"] = body
            started: list[Any] = []

            def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
                started[:] = [status, headers]
                return lambda data: None  # moto never uses write()

            try:
                result = self.server.app(environ, start_response)
                try:
                    payload = b"".join(result)
                finally:
                    if hasattr(result, "close"):
                        result.close()
                body.exhaust()  # what the app left unread is not the next request
            except Exception:
                self.close_connection = True
                self.log_error("moto failed on %s %s", self.command, self.path)
                self.send_error(500)
                return
            status, headers = started
            code, _, reason = status.partition(" ")
            self.send_response(int(code), reason)
            names = set()
            for name, value in headers:
                names.add(name.lower())
                self.send_header(name, value)
            if "content-length" not in names:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD" and payload:
                self.wfile.write(payload)

    threaded_moto_server.MotoRequestHandler = KeepAliveRequestHandler  # type: ignore[misc]


def _index_prefilter() -> None:
    from moto.dynamodb.models.table import Table

    if True:
        if getattr(Table.query, "index_prefilter", False):
            return
        original_query = Table.query
        original_all_items = Table.all_items

        def query(self: Any, *args: Any, **kwargs: Any) -> Any:
            index_name = kwargs.get("index_name", args[7] if len(args) > 7 else None)
            conditions = [
                (name, value)
                for name, value in kwargs.get("hash_key_conditions") or ()
                if value.type in ("S", "B")
            ]
            if not index_name or not conditions:
                return original_query(self, *args, **kwargs)
            previous = getattr(_scope, "filter", None)
            _scope.filter = (self, conditions)
            try:
                return original_query(self, *args, **kwargs)
            finally:
                _scope.filter = previous

        def all_items(self: Any) -> Any:
            scope = getattr(_scope, "filter", None)
            if scope is None or scope[0] is not self:
                return original_all_items(self)
            _scope.filter = None  # one use: whatever else the query reads sees the whole table
            conditions = scope[1]
            matching = []
            for stored in self.items.values():
                for item in stored.values() if self.range_key_attr else (stored,):
                    for name, wanted in conditions:
                        value = item.attrs.get(name)
                        if (
                            value is None
                            or value.type != wanted.type
                            or value.value != wanted.value
                        ):
                            break
                    else:
                        matching.append(item)
            return sorted(
                matching,
                key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key,
            )

        query.index_prefilter = True  # type: ignore[attr-defined]
        Table.query = query  # type: ignore[method-assign]
        Table.all_items = all_items  # type: ignore[method-assign]


def _fast_transactions() -> None:
    import copy

    from moto.dynamodb import models
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import ConditionalCheckFailed, TransactionCanceledException
    from moto.dynamodb.models.table import Table

    backend = models.DynamoDBBackend
    original = backend.transact_write_items
    if getattr(original, "fast", False):
        return
    writing = threading.local()

    class _Copy:
        """``copy`` as moto's models module sees it: a table is not copied while a checked
        transaction writes."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if getattr(writing, "on", False) and isinstance(value, Table):
                return value
            return copy.deepcopy(value, memo)

    models.copy = _Copy()  # type: ignore[assignment]

    def key_of(self: Any, kind: str, op: dict[str, Any]) -> dict[str, Any]:
        if kind != "Put":
            return dict(op["Key"])
        table = self.get_table(op["TableName"])
        key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = op["Item"][table.range_key_attr]
        return key

    def reasons(self: Any, items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any]] | None:
        """moto's cancellation reasons, or None to leave the transaction to moto."""
        if len(items) > 100:
            return None
        seen: set[tuple[str, str]] = set()
        found: list[tuple[Any, Any, Any]] = []
        for item in items:
            if len(item) != 1:
                return None
            kind, op = next(iter(item.items()))
            if kind not in {"ConditionCheck", "Put", "Delete", "Update"}:
                return None
            table_name = op["TableName"]
            key = key_of(self, kind, op)
            unique = (str(table_name), str(dict(sorted(key.items()))))
            if unique in seen:
                return None
            seen.add(unique)
            current = self.get_item(table_name, key)
            condition = op.get("ConditionExpression")
            if condition is None or get_filter_expression(
                condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            ).expr(current):
                found.append((None, None, None))
                continue
            old = None
            if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                old = current.to_json()["Attributes"]
            found.append(("ConditionalCheckFailed", ConditionalCheckFailed().message, old))
        return found

    def snapshot(self: Any, items: list[dict[str, Any]]) -> Any:
        """What the transaction may change, to put back if a write fails after all: each
        item as it is, and the length of each table's stream."""
        saved = []
        streams = {}
        for item in items:
            kind, op = next(iter(item.items()))
            table = self.get_table(op["TableName"])
            hash_key, range_key = self.get_keys_value(table, key_of(self, kind, op))
            saved.append(
                (table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key)))
            )
            if table.stream_shard is not None:
                streams[id(table)] = (table.stream_shard, len(table.stream_shard.items))
        return saved, list(streams.values())

    def restore(saved: Any, streams: Any) -> None:
        for table, hash_key, range_key, before in saved:
            if range_key is None:
                table.items.pop(hash_key, None)
                if before is not None:
                    table.items[hash_key] = before
            else:
                table.items[hash_key].pop(range_key, None)
                if before is not None:
                    table.items[hash_key][range_key] = before
                elif not table.items[hash_key]:
                    del table.items[hash_key]
        for shard, length in streams:
            del shard.items[length:]

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        try:
            found = reasons(self, transact_items)
        except Exception:  # moto's own path raises it as moto does
            found = None
        if found is None:
            return original(self, transact_items)
        if any(code is not None for code, _, _ in found):
            raise TransactionCanceledException(found)
        backup = snapshot(self, transact_items)
        writing.on = True
        try:
            return original(self, transact_items)
        except BaseException:
            restore(*backup)
            raise
        finally:
            writing.on = False

    transact_write_items.fast = True  # type: ignore[attr-defined]
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]


# The DynamoDB operations whose answer moto builds as wire-format JSON already (items as
# DynamoDB JSON), then walks again with its generic serializer. GetItem alone paid 2.6 ms of its
# 5.1 ms of CPU for that walk (bench/moto_cost.py).
FAST_ANSWERS = (
    "batch_get_item",
    "batch_write_item",
    "delete_item",
    "get_item",
    "put_item",
    "query",
    "scan",
    "transact_get_items",
    "transact_write_items",
    "update_item",
)


def _fast_answers() -> None:
    from moto.dynamodb.responses import DynamoHandler

    for name in FAST_ANSWERS:
        original = getattr(DynamoHandler, name)
        if getattr(original, "original", None):
            continue
        setattr(DynamoHandler, name, _dumped(original))


def _dumped(original: Any) -> Any:
    import functools
    import json

    # moto's own cached model (it loads it for its first request anyway): a botocore session
    # per operation took ~33 ms each, a third of a second at every moto start.
    from moto.core.utils import get_service_model

    operation = "".join(part.title() for part in original.__name__.split("_"))
    shape = get_service_model("dynamodb").operation_model(operation).output_shape
    members = frozenset(shape.members) if shape is not None else frozenset()

    @functools.wraps(original)
    def answer(self: Any) -> Any:
        result = original(self)  # validation and conditional errors raise as before
        # What the serializer writes: the output shape's members that have a value.
        body = {k: v for k, v in result.result.items() if k in members and v is not None}
        return json.dumps(body, default=_wire), {"Content-Type": "application/x-amz-json-1.0"}

    answer.original = original  # type: ignore[attr-defined]
    return answer


def _fixed_lookups() -> None:
    """Answers moto works out again for every request although they never change while it
    runs: the list of its service modules (a directory listing and a stat per entry, to route
    the request) and the method names of a response class (``inspect.getmembers``)."""
    from moto import backends
    from moto.core import responses

    if getattr(backends.list_of_moto_modules, "cache_info", None) is None:
        modules = tuple(backends.list_of_moto_modules())
        backends.list_of_moto_modules = functools.cache(lambda: modules)
    if getattr(responses.method_names_from_class, "cache_info", None) is None:
        names = responses.method_names_from_class
        responses.method_names_from_class = functools.cache(  # type: ignore[assignment]
            lambda clazz: tuple(names(clazz))
        )


def _wire(value: Any) -> Any:
    import base64

    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not in a DynamoDB answer")


def _item_sized_once() -> None:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.utilities import bytesize

    item_class = dynamo_type.Item
    if getattr(item_class.__init__, "original", None):
        return
    original = item_class.__init__
    limited, kind = dynamo_type.LimitedSizeDict, dynamo_type.DynamoType

    def __init__(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        values = {key: kind(value) for key, value in attrs.items()}
        # LimitedSizeDict.__setitem__'s sizes and limit, added up once
        if sum(bytesize(key) + value.size() for key, value in values.items()) > ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        self.attrs = limited()
        dict.update(self.attrs, values)  # dict's own update: no check per attribute

    __init__.original = original  # type: ignore[attr-defined]
    item_class.__init__ = __init__  # type: ignore[method-assign]


class _Differs(Exception):
    """moto's parser would not hand back the JSON as it was decoded."""


def _never(value: Any) -> Any:
    raise _Differs


def _checker(shape: Any, memo: dict[str, Any]) -> Any:
    """What moto's JSON parser does to a value of ``shape``, where it does nothing: None if it
    returns any value as it is, else a function that returns the decoded value (a structure's
    members put in the shape's order, as moto builds them) or raises ``_Differs``."""
    from moto.core.parse import BaseJSONParser, JSONParser

    kind = shape.type_name
    if kind == "structure":
        if shape.is_document_type:
            return None
        if shape.name in memo:  # a recursive shape (AttributeValue's M and L)
            return memo[shape.name]
        return _structure_checker(shape, memo)
    if kind == "list":
        return _list_checker(_checker(shape.member, memo))
    if kind == "map":
        if _checker(shape.key, memo) is not None:
            return _never
        return _map_checker(_checker(shape.value, memo))
    handler = getattr(JSONParser, f"_parse_{kind}", None)
    if handler is None:  # moto's _default_handle: the value as it is
        return None
    if kind in ("integer", "long", "short", "byte") and handler is BaseJSONParser._parse_integer:
        return _exactly(int)  # int(value) is value only for an int (not a bool)
    if kind in ("float", "double") and handler is BaseJSONParser._parse_float:
        return _exactly(float)
    return _never  # blobs are base64-decoded, timestamps parsed: moto's parser does those


def _exactly(kind: type) -> Any:
    def check(value: Any) -> Any:
        if type(value) is not kind:
            raise _Differs
        return value

    return check


def _structure_checker(shape: Any, memo: dict[str, Any]) -> Any:
    names = list(shape.members)
    if any(shape.members[name].serialization.get("name", name) != name for name in names):
        return _never
    members: dict[str, tuple[int, Any]] = {}

    def check(value: Any) -> Any:
        # moto keeps the shape's members that are not null, in the shape's order
        if type(value) is not dict:
            raise _Differs
        last = -1
        ordered = True
        for key, item in value.items():
            member = members.get(key)
            if member is None or item is None:
                raise _Differs
            position, inner = member
            if inner is not None:
                checked = inner(item)
                if checked is not item:
                    value[key] = checked
            if position < last:
                ordered = False
            last = position
        if ordered:
            return value
        return {name: value[name] for name in names if name in value}

    memo[shape.name] = check
    for position, name in enumerate(names):
        members[name] = (position, _checker(shape.members[name], memo))
    return check


def _list_checker(inner: Any) -> Any:
    def check(value: Any) -> Any:
        if type(value) is not list:  # moto iterates whatever it is given (a string's letters)
            raise _Differs
        if inner is not None:
            for index, item in enumerate(value):
                checked = inner(item)
                if checked is not item:
                    value[index] = checked
        return value

    return check


def _map_checker(inner: Any) -> Any:
    def check(value: Any) -> Any:
        if type(value) is not dict:
            raise _Differs
        if inner is not None:
            for key, item in value.items():
                checked = inner(item)
                if checked is not item:
                    value[key] = checked
        return value

    return check


@functools.lru_cache(maxsize=128)  # the operations clients call
def _request_checker(operation: str) -> Any:
    """The checker of a DynamoDB operation's input, or None where moto's own parser must run."""
    from moto.core.parse import PROTOCOL_PARSERS, JSONParser
    from moto.core.utils import get_service_model

    if PROTOCOL_PARSERS.get("json") is not JSONParser:
        return None
    try:
        shape = get_service_model("dynamodb").operation_model(operation).input_shape
    except Exception:  # an unknown operation: moto's parser raises it as before
        return None
    if shape is None or shape.type_name != "structure":
        return None
    return _checker(shape, {})


def fast_params(operation: str, body: bytes | str) -> dict[str, Any] | None:
    """The parameters moto's JSON parser would make of a DynamoDB request's body, from
    ``json.loads`` alone, or None where that might not be what moto's parser makes (a blob, a
    timestamp, a null, a member the shape does not have...): then moto's parser runs."""
    import json

    check = _request_checker(operation)
    if check is None or not body:
        return None
    try:
        text = body.decode() if isinstance(body, bytes) else body
        decoded = json.loads(text)
        if type(decoded) is not dict:
            return None
        return check(decoded)
    except (_Differs, ValueError, RecursionError):
        return None


def _fast_parsing() -> None:
    from moto.core.request import determine_request_protocol
    from moto.core.utils import get_service_model
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.parse_parameters
    if getattr(original, "fast", False):
        return

    def parse_parameters(self: Any, request: Any) -> None:
        if self.PROTOCOL_PARSER_MAP_TYPE is dict and self.boto3_service_name == "dynamodb":
            try:
                protocol = determine_request_protocol(
                    get_service_model("dynamodb"), request.content_type
                )
            except NotImplementedError:
                protocol = None
            if protocol == "json":
                params = fast_params(self._get_action(), request.data)
                if params is not None:
                    self.params = params
                    return
        original(self, request)

    parse_parameters.fast = True  # type: ignore[attr-defined]
    parse_parameters.original = original  # type: ignore[attr-defined]
    DynamoHandler.parse_parameters = parse_parameters  # type: ignore[method-assign]


# moto's Flask apps answered through ``dispatcher()``'s shortcut: their one route is ``/``.
WITHOUT_FLASK = frozenset({"dynamodb", "dynamodbstreams"})


def _without_flask() -> None:
    from moto.moto_server import threaded_moto_server

    threaded_moto_server.DomainDispatcherApplication = dispatcher()  # type: ignore[misc]


@functools.cache
def dispatcher() -> Any:
    """moto's dispatcher, answering DynamoDB and DynamoDB Streams requests without Flask."""
    from moto.core.utils import convert_to_flask_response
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    class Dispatcher(DomainDispatcherApplication):
        """Routes as moto does (``get_application``); a POST to ``/`` of an app in
        ``WITHOUT_FLASK`` then calls the route's view directly, as ``convert_to_flask_response``
        does, and answers with the response Flask would send: the same ``flask.Response``, with
        the one header flask_cors adds to a request without an Origin. Anything else (another
        method or path, an Origin, an app not set up as moto sets it up) goes through Flask."""

        def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
            app = self.get_application(environ)
            view = _bare_view(app, convert_to_flask_response)
            if (
                view is None
                or environ.get("REQUEST_METHOD") != "POST"
                or environ.get("PATH_INFO") != "/"
                or "HTTP_ORIGIN" in environ
                or "HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK" in environ
            ):
                return app(environ, start_response)
            return _answer(view, environ, start_response)

    return Dispatcher


def _bare_view(app: Any, view_class: type) -> Any:
    """The view of one of moto's ``WITHOUT_FLASK`` apps, or None if Flask must answer: the app
    is not one of those, or does more per request than moto's CORS (once per app)."""
    cached = getattr(app, "moto_speedups_view", False)
    if cached is not False:
        return cached
    view = None
    after = getattr(app, "after_request_funcs", {})
    if (
        getattr(app, "service", None) in WITHOUT_FLASK
        and [rule.rule for rule in app.url_map.iter_rules()] == ["/"]
        and len(app.view_functions) == 1
        and isinstance(next(iter(app.view_functions.values())), view_class)
        and not any(app.before_request_funcs.values())
        and not any(app.teardown_request_funcs.values())
        and not app.teardown_appcontext_funcs
        and not any(app.url_value_preprocessors.values())
        and list(after) == [None]
        and [f.__name__ for f in after[None]] == ["cors_after_request"]
        and not app.config.get("SECRET_KEY")
        and not any(key.startswith("CORS_") for key in app.config)
    ):
        view = next(iter(app.view_functions.values()))
    app.moto_speedups_view = view
    return view


def _answer(view: Any, environ: dict[str, Any], start_response: Any) -> Any:
    from botocore.exceptions import ClientError
    from flask import Response
    from moto.moto_api import recorder
    from moto.moto_server.werkzeug_app import BackendRequest
    from werkzeug.exceptions import HTTPException

    request = BackendRequest(environ)  # the request class moto's Flask apps use
    response: Any
    try:
        try:  # convert_to_flask_response.__call__
            recorder._record_request(request)
            result = view.callback(request, request.raw_url, dict(request.headers))
        except ClientError as exc:
            result = 400, {}, exc.response["Error"]["Message"]
        if len(result) == 3:
            status, headers, content = result
        else:
            status, headers, content = 200, {}, result
        response = Response(response=content, status=status, headers=headers)
    except HTTPException as exc:  # Flask answers with the exception's own response
        response = Response.force_type(exc, environ)  # type: ignore[arg-type]
    # flask_cors's after_request as moto sets it up (every origin, always sent): for a request
    # without an Origin, this one header
    if not response.headers.get("Access-Control-Allow-Origin"):
        response.headers.add("Access-Control-Allow-Origin", "*")
    return response(environ, start_response)


# A header line as email's parser reads it and nothing more: a name of the characters its
# header pattern allows (no space, no colon), a colon, a value of printable ASCII (nothing
# ``str.splitlines`` breaks at), CRLF.
_PLAIN_HEADER = re.compile(r"([!-9;-~]+):[ \t]*([\t -~]*)\r\n")


@functools.cache
def _plain_headers() -> type:
    """The class of the headers the keep-alive handler parses (``http.server`` asks
    ``http.client.parse_headers`` for one), behaving as ``http.client.HTTPMessage`` does.

    email's feed parser is most of the cost of reading a request's headers (~0.1 ms for a boto3
    request's dozen). For this class only, ``parse_headers`` reads the lines as it does, and when
    every one is a plain ``Name: value`` line, no content type is multipart or message, and the
    block ends with an empty line, builds the message the parser would build from them (the
    same ``set_raw`` of the name and the value stripped as compat32 strips it, the same empty
    payload); anything else goes to email's parser as before."""
    import email.parser
    import http.client
    from email import policy

    original = http.client.parse_headers
    existing: type | None = getattr(original, "plain_headers", None)
    if existing is not None:
        return existing

    class PlainHeaders(http.client.HTTPMessage):
        pass

    def parse_headers(fp: Any, _class: Any = http.client.HTTPMessage) -> Any:
        if _class is not PlainHeaders:
            return original(fp, _class)
        lines = http.client._read_headers(fp)  # type: ignore[attr-defined]
        text = b"".join(lines).decode("iso-8859-1")
        message = plain_message(text)
        if message is None:  # not `or`: a message is as true as it has headers
            message = email.parser.Parser(_class=_class).parsestr(text)
        return message

    def plain_message(text: str) -> Any:
        if not text.endswith("\r\n\r\n"):
            return None
        pairs = []
        end = len(text) - 2
        position = 0
        while position < end:
            line = _PLAIN_HEADER.match(text, position)
            if line is None:
                return None
            name, value = line.groups()
            if name.lower() == "content-type" and _structured(value):
                return None
            pairs.append((name, value))
            position = line.end()
        message = PlainHeaders(policy=policy.compat32)
        for name, value in pairs:
            message.set_raw(name, value)
        message.set_payload("")
        return message

    parse_headers.plain_headers = PlainHeaders  # type: ignore[attr-defined]
    parse_headers.plain_message = plain_message  # type: ignore[attr-defined]
    http.client.parse_headers = parse_headers
    return PlainHeaders


def _structured(content_type: str) -> bool:
    """A content type email's parser reads parts from (multipart/*, message/*)."""
    lowered = content_type.lower()
    return "multipart" in lowered or "message" in lowered


def _results_converted_once() -> None:
    """``dynamo_to_dict`` as ``DynamoResult`` uses it: the same result, by type rather than by
    ``isinstance`` and ``hasattr`` per value (``plain_result``)."""
    from moto.dynamodb import responses

    if getattr(responses.dynamo_to_dict, "original", None) is None:
        responses.dynamo_to_dict = plain_result()


@functools.cache
def plain_result() -> Any:
    """moto's ``dynamo_to_dict``, 7x cheaper on items: 0.32 ms of CPU for a BatchGetItem's five
    snipes, 10 % of moto's CPU serving GetItem and BatchGetItem (py-spy). It walks dicts, lists
    and DynamoTypes that are exactly those types (none has a ``to_json``, which moto would call
    first) and hands anything else (a binary value, an Item, a datetime...) to moto's own."""
    from moto.dynamodb.models import utilities
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

    original = utilities.dynamo_to_dict
    dicts: tuple[type, ...] = (
        (dict,) if hasattr(LimitedSizeDict, "to_json") else (dict, LimitedSizeDict)
    )
    as_is = (str, int, float, bool, type(None))
    binary = ("B", "BS")

    def convert(value: Any) -> Any:
        kind = type(value)
        if kind in dicts:
            return {key: convert(item) for key, item in value.items()}
        if kind is DynamoType and value.type not in binary:
            return {value.type: convert(value.value)}
        if kind is list:
            return [convert(item) for item in value]
        if kind in as_is:
            return value
        return original(value)

    convert.original = original  # type: ignore[attr-defined]
    return convert
