"""What a function's code can reach, read from the source: AWS API actions and settings.

A function is its ``Handler`` module plus what that can reach. Reachability is by *name*, the
way a reader follows the code without running it:

- modules: the handler's module and, transitively, every product module it imports (also
  inside functions, and a string literal naming a product module, as a lazy loader would
  import it); ``if TYPE_CHECKING:`` imports are not followed;
- code: a module's top level runs when it is imported; a function or method runs when its
  name is used (called, passed, decorated with a registering decorator such as
  ``@app.get(...)``) by code that runs. Two methods of one name in reachable modules are both
  taken (``repo.get`` takes every ``get``), but a method only once its class is used (named
  by code that runs: constructed, subclassed, annotated): the analysis errs towards more,
  never fewer.

An AWS call is a call ``x.op(...)`` on an object named ``*client*`` (``self.client``,
``self._client``, ``default_client()``: the convention of the data layer) where ``op`` is an
operation (botocore's model, ``xform_name``) of a service the same module creates a client
for (``boto3.client("kms")``) or types one with (``mypy_boto3_kms``). What it cannot see, and
what covers it:

- calls made inside libraries: ``LIBRARY_CALLS`` (Powertools' ``SSMProvider``, which
  ``common.aws.get_secret`` reads the stack's SecureString parameters through);
- IAM names that are not the operation's: ``IAM_ACTIONS`` (``Invoke`` is
  ``lambda:InvokeFunction``; a transaction is authorised per item as ``PutItem``,
  ``UpdateItem``, ``DeleteItem``, ``ConditionCheckItem``: taken from the item kinds the module
  writes; a schedule with a role needs ``iam:PassRole``);
- ``getattr(client, name)`` and other dynamic dispatch: none in the product code today;
  ``tests/unit/test_deployment.py`` fails on a ``getattr`` over a client so it cannot slip in.

Which DynamoDB table a call touches is derived (``Reach.table_actions``), by following the
table's name from the call back to where it is chosen: a call's ``TableName`` (a keyword, a
``**kwargs`` dict literal, a transaction item, a ``RequestItems`` key) is ``self.table`` of a
repository, or a parameter of a helper (``take_slot(users_and_app_state_table, ...)``,
``batch_delete``, ``query_items``); ``self.table`` is what the class's ``__init__`` stored, a
parameter, bound where the class is constructed (``HistoryRepository(s.bid_history_table)``) or
where the function that constructs it is called (``_bids_repo(s.bids_table,
s.users_and_app_state_table, ...)``), in the function's reach. The name reached last says the
table (``users_and_app_state_table``, ``users``: the Users table; ``TABLE_NAMES``); a name
that says none is reported, so a new repository cannot go unchecked. Other resources
(schedules, keys, secrets) are checked apart, per statement, to name this stack's resources.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import botocore.session
from botocore import xform_name

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("common", "rest", "workers", "realtime")

# Calls whose AWS request a library, or the product's own signer, makes: (module imported,
# function called) -> actions.
LIBRARY_CALLS: dict[tuple[str, str], set[str]] = {
    # common.aws.get_secret, every product read of a parameter: Powertools' SSM provider on a
    # client with the product's timeouts (GetParameter with decryption; the AWS-managed aws/ssm
    # key needs no kms:Decrypt grant). Powertools' own get_secret and get_parameter are unused.
    ("aws_lambda_powertools.utilities.parameters", "SSMProvider"): {"ssm:GetParameter"},
    # common.data.push.SignedPusher: @connections requests SigV4-signed for execute-api by
    # common.sigv4 (POST on a connection), sent over its own kept-alive pool.
    ("common.sigv4", "SigV4Signer"): {"execute-api:ManageConnections"},
}

# botocore service name -> IAM prefix, where they differ.
IAM_PREFIX = {"apigatewaymanagementapi": "execute-api"}
# (service, operation) -> IAM actions, where they are not prefix:Operation.
IAM_ACTIONS: dict[tuple[str, str], set[str]] = {
    ("lambda", "Invoke"): {"lambda:InvokeFunction"},
    ("scheduler", "CreateSchedule"): {"scheduler:CreateSchedule", "iam:PassRole"},
    ("scheduler", "UpdateSchedule"): {"scheduler:UpdateSchedule", "iam:PassRole"},
    ("apigatewaymanagementapi", "PostToConnection"): {"execute-api:ManageConnections"},
    ("apigatewaymanagementapi", "DeleteConnection"): {"execute-api:ManageConnections"},
    ("apigatewaymanagementapi", "GetConnection"): {"execute-api:ManageConnections"},
    # Authorised by the access token it is given, not by IAM.
    ("cognito-idp", "GetUser"): set(),
}
# A table's name, by the words of the variable, parameter or setting that holds it. Longest
# first: "bid_history_table" is BidHistory's, not Bids'.
TABLE_NAMES = (
    ("history", "BidHistoryTable"),
    ("connection", "ConnectionsTable"),
    ("bid", "BidsTable"),
    ("user", "UsersTable"),
)
TRANSACTION_ITEM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
# Decorators that do not register the function anywhere: it runs only when called by name.
PASSIVE_DECORATORS = {
    "per_container", "cache", "lru_cache", "cached_property", "property", "staticmethod",
    "classmethod", "overload", "abstractmethod", "dataclass", "field_validator",
    "model_validator", "override", "contextmanager",
}  # fmt: skip


@functools.cache
def operations(service: str) -> dict[str, str]:
    """python method name -> API operation name."""
    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


@dataclass
class Unit:
    """A function body, or a module's top level: what it names, calls and reads."""

    module: str
    names: set[str] = field(default_factory=set)
    calls: set[str] = field(default_factory=set)  # attribute and plain call names
    client_calls: set[str] = field(default_factory=set)  # x.op(...) where x is named *client*
    strings: set[str] = field(default_factory=set)
    attributes: set[str] = field(default_factory=set)
    dict_keys: set[str] = field(default_factory=set)
    environ: set[str] = field(default_factory=set)
    # Where tables are named (see Reach.table_actions). A Ref is ("self", attr), ("name", n),
    # ("attr", a) for x.a, ("kwargs",) for the def's **kwargs, or ("?", source).
    def_name: str = ""
    owner: str | None = None
    params: list[str] = field(default_factory=list)
    kwarg: str | None = None
    table_dicts: dict[str, tuple[Ref, bool]] = field(default_factory=dict)  # var -> its TableName
    request_dicts: dict[str, list[Ref]] = field(default_factory=dict)  # var -> RequestItems keys
    table_calls: list[tuple[str, Ref, bool]] = field(default_factory=list)  # (op, table, index?)
    transaction_items: list[tuple[str, Ref]] = field(default_factory=list)  # ("Put", table)
    arg_calls: list[ArgCall] = field(default_factory=list)
    self_binds: dict[str, Ref] = field(default_factory=dict)  # self.attr = <ref>
    # Receivers whose class is known (a parameter's annotation, ``x = C(...)``, ``self``), and
    # the methods named on them: (class, method). Those names are not in ``names``.
    types: dict[str, str] = field(default_factory=dict)
    typed_attrs: set[tuple[str, str]] = field(default_factory=set)


Ref = tuple[str, ...]


@dataclass
class ArgCall:
    """A call's arguments as Refs: how a table's name travels into a helper or a class."""

    callee: str
    positional: list[Ref]
    keywords: dict[str, Ref]
    # TableName given by keyword or a **dict: (table, has an IndexName)
    table: tuple[Ref, bool] | None


@dataclass
class Module:
    name: str
    imports: set[str]
    services: set[str]
    library_imports: set[str]
    top: Unit
    # def name -> (body, registered by a decorator, owning class or None)
    defs: dict[str, list[tuple[Unit, bool, str | None]]]
    classes: set[str]
    # Classes that extend a library's class: the library calls their methods (BatchProcessor's
    # ``process``), so every method of theirs runs once the class is used.
    framework_classes: set[str] = field(default_factory=set)
    bases: dict[str, set[str]] = field(default_factory=dict)


def _module_path(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _decorator_name(node: ast.expr) -> str:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else ""


def _terminal_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _terminal_name(node.func)
    return ""


# Receivers of these types are never a product class.
BUILTIN_TYPES = {"str", "bytes", "int", "float", "bool", "dict", "list", "set", "tuple"}
STR_METHODS = frozenset(name for name in dir(str) if not name.startswith("_"))
TYPING_MODULES = {"typing", "typing_extensions", "collections.abc", "abc", "builtins"}


def _annotated_class(node: ast.expr) -> str | None:
    """The class an annotation names (``C``, ``C | None``, ``"C"``, ``str``), or None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            node = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        sides = [
            side
            for side in (node.left, node.right)
            if not (isinstance(side, ast.Constant) and side.value is None)
        ]
        return _annotated_class(sides[0]) if len(sides) == 1 else None
    if isinstance(node, ast.Name | ast.Attribute):
        name = _terminal_name(node)
        return name if name[:1].isupper() or name in BUILTIN_TYPES else None
    return None


def _ref(node: ast.expr) -> Ref:
    if isinstance(node, ast.Attribute):
        if isinstance(node.value, ast.Name) and node.value.id == "self":
            return ("self", node.attr)
        return ("attr", node.attr)
    if isinstance(node, ast.Name):
        return ("name", node.id)
    return ("?", ast.unparse(node))


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str) -> None:
        self.module = module
        self.imports: set[str] = set()
        self.services: set[str] = set()
        self.library_imports: set[str] = set()
        self.library_names: set[str] = set()
        self.str_calls: set[int] = set()
        self.defs: dict[str, list[tuple[Unit, bool, str | None]]] = {}
        self.classes: set[str] = set()
        self.bases: dict[str, set[str]] = {}
        self.owner: list[str | None] = [None]
        self.stack: list[Unit] = [Unit(module)]

    @property
    def unit(self) -> Unit:
        return self.stack[-1]

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node):
            # Not run, so not followed; but a client's type names its service.
            for child in ast.walk(node):
                if isinstance(child, ast.ImportFrom) and (child.module or "").startswith(
                    "mypy_boto3_"
                ):
                    self.services.add(child.module.split(".")[0].removeprefix("mypy_boto3_"))
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def _import(self, name: str) -> None:
        if name.split(".")[0] in PRODUCT:
            self.imports.add(name)
        else:
            self.library_imports.add(name)
            self.library_names.add(name.rpartition(".")[2])
        if name.startswith("mypy_boto3_"):
            self.services.add(name.split(".")[0].removeprefix("mypy_boto3_"))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._import(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module:
            return
        self._import(node.module)
        for alias in node.names:
            self._import(f"{node.module}.{alias.name}")

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        registered = any(_decorator_name(d) not in PASSIVE_DECORATORS for d in node.decorator_list)
        for decorator in node.decorator_list:  # evaluated where the def is
            self.visit(decorator)
        owner = self.owner[-1]
        args = [a.arg for a in [*node.args.posonlyargs, *node.args.args]]
        if owner is not None and args and args[0] in ("self", "cls"):
            args = args[1:]
        every = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        body = Unit(
            self.module,
            def_name=node.name,
            owner=owner,
            params=args + [a.arg for a in node.args.kwonlyargs],
            kwarg=node.args.kwarg.arg if node.args.kwarg else None,
            types={
                a.arg: cls
                for a in every
                if a.annotation is not None and (cls := _annotated_class(a.annotation))
            },
        )
        if owner is not None:
            body.types["self"] = owner
        self.stack.append(body)
        self.owner.append(None)  # a def nested in a method belongs to no class
        for child in [*node.args.defaults, *node.args.kw_defaults, *node.body]:
            if child is not None:
                self.visit(child)
        self.owner.pop()
        self.stack.pop()
        self.defs.setdefault(node.name, []).append((body, registered, owner))

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.classes.add(node.name)
        self.bases[node.name] = {_terminal_name(base) for base in node.bases}
        for child in [*node.bases, *node.decorator_list]:
            self.visit(child)
        # Class bodies run at import; a method runs if its class is used and its name too.
        self.owner.append(node.name)
        for child in node.body:
            self.visit(child)
        self.owner.pop()

    def visit_Name(self, node: ast.Name) -> None:
        self.unit.names.add(node.id)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.unit.attributes.add(node.attr)
        receiver = node.value
        if isinstance(receiver, ast.Name) and receiver.id in self.unit.types:
            self.unit.typed_attrs.add((self.unit.types[receiver.id], node.attr))
        elif id(node) not in self.str_calls:
            self.unit.names.add(node.attr)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            self.unit.strings.add(node.value)
            if node.value.split(".")[0] in PRODUCT and _module_path(node.value):
                self.imports.add(node.value)

    def visit_Dict(self, node: ast.Dict) -> None:
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                self.unit.dict_keys.add(key.value)
                if key.value in TRANSACTION_ITEM_ACTIONS:
                    table = self._table_of(value)
                    if table is not None:
                        self.unit.transaction_items.append((key.value, table[0]))
        self.generic_visit(node)

    def _table_of(self, node: ast.expr | None) -> tuple[Ref, bool] | None:
        """The TableName (and whether an IndexName is given) of a dict literal, or of the
        variable holding one."""
        if isinstance(node, ast.Name):
            return self.unit.table_dicts.get(node.id)
        if not isinstance(node, ast.Dict):
            return None
        keys = {k.value: v for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant)}  # fmt: skip
        if "TableName" not in keys:
            return None
        return _ref(keys["TableName"]), "IndexName" in keys

    def _assigned(self, target: ast.expr, value: ast.expr | None) -> None:
        if isinstance(target, ast.Name):
            # A name rebound to something else is no longer known to be of its class.
            self.unit.types.pop(target.id, None)
            if isinstance(value, ast.Call):
                func = value.func
                constructed = _terminal_name(func)
                if constructed[:1].isupper() or constructed in BUILTIN_TYPES:
                    self.unit.types[target.id] = constructed
                elif (
                    # datetime.fromisoformat(...): a library class's, not a product object
                    isinstance(func, ast.Attribute)
                    and isinstance(func.value, ast.Name)
                    and func.value.id in self.library_names
                ):
                    self.unit.types[target.id] = func.value.id
            elif isinstance(value, ast.Constant | ast.JoinedStr):
                self.unit.types[target.id] = (
                    type(value.value).__name__ if isinstance(value, ast.Constant) else "str"
                )
        if isinstance(target, ast.Name) and isinstance(value, ast.Dict):
            table = self._table_of(value)
            if table is not None:
                self.unit.table_dicts[target.id] = table
            elif value.keys and all(
                k is not None and not isinstance(k, ast.Constant) for k in value.keys
            ):
                self.unit.request_dicts.setdefault(target.id, []).extend(
                    _ref(k) for k in value.keys if k is not None
                )
        if (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == "self"
            and value is not None
        ):
            self.unit.self_binds[target.attr] = _ref(value)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)  # x = x.replace(...): the old x is the receiver
        for target in node.targets:
            self._assigned(target, node.value)
            self.visit(target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        self._assigned(node.target, node.value)
        annotated = _annotated_class(node.annotation)
        if isinstance(node.target, ast.Name) and annotated:
            self.unit.types[node.target.id] = annotated
        self.visit(node.target)

    def _call_table(self, node: ast.Call) -> tuple[Ref, bool] | None:
        named = {k.arg: k.value for k in node.keywords if k.arg}
        if "TableName" in named:
            return _ref(named["TableName"]), "IndexName" in named
        for keyword in node.keywords:
            if keyword.arg is None:  # **kwargs
                if isinstance(keyword.value, ast.Name) and keyword.value.id == self.unit.kwarg:
                    return ("kwargs",), False
                found = self._table_of(keyword.value)
                if found is not None:
                    return found
        return None

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in STR_METHODS
            and node.args
            and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args)
        ):
            # raw.replace(",", ""): str's, whatever raw is
            self.str_calls.add(id(func))
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        self.unit.calls.add(name)
        table = self._call_table(node)
        if isinstance(func, ast.Attribute) and "client" in _terminal_name(func.value).lower():
            self.unit.client_calls.add(name)
            requests = {k.arg: k.value for k in node.keywords if k.arg == "RequestItems"}
            if table is not None:
                self.unit.table_calls.append((name, *table))
            elif "RequestItems" in requests:
                items = requests["RequestItems"]
                keys = (
                    [_ref(k) for k in items.keys if k is not None]
                    if isinstance(items, ast.Dict)
                    else self.unit.request_dicts.get(getattr(items, "id", ""), [])
                )
                self.unit.table_calls.extend((name, key, False) for key in keys)
        else:
            self.unit.arg_calls.append(
                ArgCall(
                    callee=name,
                    positional=[_ref(a) for a in node.args],
                    keywords={k.arg: _ref(k.value) for k in node.keywords if k.arg},
                    table=table,
                )
            )
        first = node.args[0] if node.args else None
        if name == "client" and isinstance(first, ast.Constant) and isinstance(first.value, str):
            self.services.add(first.value)
        if name == "getattr" and first is not None:
            self.unit.names.add("<getattr>")
        if name in ("get", "getenv") and isinstance(first, ast.Constant):
            owner = func.value if isinstance(func, ast.Attribute) else None
            if isinstance(owner, ast.Attribute | ast.Name) and (
                getattr(owner, "attr", None) == "environ" or getattr(owner, "id", None) == "os"
            ):
                self.unit.environ.add(str(first.value))
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        owner = node.value
        if (
            isinstance(owner, ast.Attribute)
            and owner.attr == "environ"
            and isinstance(node.slice, ast.Constant)
        ):
            self.unit.environ.add(str(node.slice.value))
        self.generic_visit(node)


@functools.cache
def load_module(name: str) -> Module | None:
    path = _module_path(name)
    if path is None:
        return None
    collector = _Collector(name)
    collector.visit(ast.parse(path.read_text(), filename=str(path)))
    imports = set()
    for imported in collector.imports:
        # `from common.data import bids` names a module; `from common.data.bids import X` a name.
        imports.add(imported if _module_path(imported) else imported.rpartition(".")[0])
    # A package's parent packages run first.
    parts = name.split(".")
    imports.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return Module(
        name=name,
        imports={i for i in imports if i and i != name and _module_path(i)},
        services=collector.services,
        library_imports=collector.library_imports,
        top=collector.stack[0],
        defs=collector.defs,
        classes=collector.classes,
        framework_classes={
            name
            for name, bases in collector.bases.items()
            if bases & {i.rpartition(".")[2] for i in collector.library_imports} - {"Protocol"}
        },
        bases=collector.bases,
    )


def reachable_modules(root: str) -> dict[str, Module]:
    found: dict[str, Module] = {}
    pending = [root]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        module = load_module(name)
        if module is not None:
            found[name] = module
            pending.extend(module.imports)
    return found


@dataclass
class Reach:
    modules: dict[str, Module]
    units: list[tuple[Module, Unit]]

    def actions(self) -> set[str]:
        found: set[str] = set()
        for module, unit in self.units:
            for service in module.services:
                ops = operations(service)
                for call in unit.client_calls & set(ops):
                    found |= _iam(service, ops[call], module, self)
            for imported in module.library_imports | module.imports:
                for (library, function), actions in LIBRARY_CALLS.items():
                    if imported.startswith(library) and function in unit.calls:
                        found |= actions
        return found

    def environ(self) -> set[str]:
        return {name for _, unit in self.units for name in unit.environ}

    def attributes(self) -> set[str]:
        return {name for _, unit in self.units for name in unit.attributes}

    def table_actions(self) -> TableActions:
        """The DynamoDB actions the function can call on each table (logical id), the tables
        it queries an index of, and the table names it could not tell."""
        found = TableActions()
        for module, unit in self.units:
            if "dynamodb" not in module.services:
                continue
            ops = operations("dynamodb")
            for call, ref, indexed in unit.table_calls:
                if call not in ops or ops[call] == "TransactWriteItems":
                    continue
                action = f"dynamodb:{ops[call]}"
                if ref == ("kwargs",):
                    for caller, table in self._callers_tables(unit):
                        found.add(action, self._tables(table[0], caller, 1), table[1])
                else:
                    found.add(action, self._tables(ref, unit, 0), indexed)
            for kind, ref in unit.transaction_items:
                found.add(TRANSACTION_ITEM_ACTIONS[kind], self._tables(ref, unit, 0), False)
        return found

    def _tables(self, ref: Ref, unit: Unit, depth: int) -> set[str]:
        """The tables ``ref``, read in ``unit``, can name; "?<what>" for one it cannot tell."""
        kind, *rest = ref
        if depth > 10 or kind == "?":
            return {f"?{unit.module}.{unit.def_name}: {ref}"}
        if kind == "attr":
            return _table_named(rest[0], unit)
        if kind == "self":
            init = self._def(unit.module, unit.owner, "__init__")
            bound = init.self_binds.get(rest[0]) if init else None
            if init is None or bound is None:
                return _table_named(rest[0], unit)
            return self._tables(bound, init, depth + 1)
        if kind == "name" and rest[0] in unit.params:
            index = unit.params.index(rest[0])
            tables: set[str] = set()
            for caller, call in self._calls_of(unit):
                arg = call.keywords.get(rest[0])
                if arg is None and index < len(call.positional):
                    arg = call.positional[index]
                if arg is not None:
                    tables |= self._tables(arg, caller, depth + 1)
            return tables or _table_named(rest[0], unit)
        return _table_named(rest[-1], unit)

    def _def(self, module: str, owner: str | None, name: str) -> Unit | None:
        for body, _, body_owner in self.modules[module].defs.get(name, []):
            if body_owner == owner:
                return body
        return None

    def _calls_of(self, unit: Unit) -> Iterator[tuple[Unit, ArgCall]]:
        """Every call, in the function's reach, of the def ``unit`` is the body of."""
        callee = unit.owner if unit.def_name == "__init__" else unit.def_name
        for _, caller in self.units:
            for call in caller.arg_calls:
                if call.callee == callee:
                    yield caller, call

    def _callers_tables(self, unit: Unit) -> Iterator[tuple[Unit, tuple[Ref, bool]]]:
        for caller, call in self._calls_of(unit):
            if call.table is not None:
                yield caller, call.table

    def uses_getattr_on_a_client(self) -> list[str]:
        return [
            module.name
            for module, unit in self.units
            if "<getattr>" in unit.names and module.services
        ]


@dataclass
class TableActions:
    actions: dict[str, set[str]] = field(default_factory=dict)  # table -> actions
    indexed: set[str] = field(default_factory=set)  # tables whose index is queried
    unresolved: set[str] = field(default_factory=set)

    def add(self, action: str, tables: set[str], indexed: bool) -> None:
        for table in tables:
            if table.startswith("?"):
                self.unresolved.add(f"{action} on {table[1:]}")
                continue
            self.actions.setdefault(table, set()).add(action)
            if indexed:
                self.indexed.add(table)


def _table_named(name: str, unit: Unit) -> set[str]:
    words = name.lower()
    for word, table in TABLE_NAMES:
        if word in words:
            return {table}
    return {f"?{unit.module}.{unit.def_name}: {name!r} names no table"}


def _iam(service: str, operation: str, module: Module, reach: Reach) -> set[str]:
    if service == "dynamodb" and operation == "TransactWriteItems":
        kinds = {
            key for m, unit in reach.units if m.services & {"dynamodb"} for key in unit.dict_keys
        }
        return {action for kind, action in TRANSACTION_ITEM_ACTIONS.items() if kind in kinds}
    if (service, operation) in IAM_ACTIONS:
        return IAM_ACTIONS[(service, operation)]
    return {f"{IAM_PREFIX.get(service, service)}:{operation}"}


def reach(handler: str, siblings: frozenset[str] = frozenset()) -> Reach:
    """Everything the handler ``module.attribute`` can run.

    ``siblings`` are the other handlers in the same module (``connect_handler`` beside
    ``disconnect_handler``): decorated, but entry points of other functions.
    """
    module_name, _, attribute = handler.rpartition(".")
    skip = {(module_name, s.rpartition(".")[2]) for s in siblings if s != handler}
    modules = reachable_modules(module_name)
    units: list[tuple[Module, Unit]] = [(m, m.top) for m in modules.values()]
    seen_names: set[str] = {attribute}
    taken: set[int] = set()
    for _, unit in units:
        seen_names |= unit.names
    for m in modules.values():
        for name, bodies in m.defs.items():
            if (m.name, name) in skip:
                continue
            for body, registered, owner in bodies:
                if registered and (owner is None or owner in seen_names):
                    units.append((m, body))
                    taken.add(id(body))
    # A method named on a receiver of a known class runs only in that class, its bases and its
    # subclasses; a Protocol or a class of no reached module (a library's) is not known.
    # Classes by name (a port's Protocol and its adapter may share one); a Protocol's methods
    # run in the concrete classes that have them all.
    bases: dict[str, set[str]] = {}
    concrete: set[str] = set()
    # (module, class) -> its methods, each with its number of parameters
    methods: dict[tuple[str, str], set[tuple[str, int]]] = {}
    for m in modules.values():
        for cls, found in m.bases.items():
            bases.setdefault(cls, set()).update(found)
            methods[(m.name, cls)] = set()
            if "Protocol" not in found:
                concrete.add(cls)
        for name, bodies in m.defs.items():
            for body, _, owner in bodies:
                if owner is not None:
                    methods.setdefault((m.name, owner), set()).add((name, len(body.params)))
    implementers: dict[str, set[str]] = {}
    for (module, protocol), wanted in methods.items():
        if "Protocol" in modules[module].bases.get(protocol, set()) and wanted:
            implementers.setdefault(protocol, set()).update(
                cls
                for (other, cls), has in methods.items()
                if cls in concrete
                and "Protocol" not in modules[other].bases.get(cls, set())
                and wanted <= has
            )
    # A library's classes, not typing's (Any, Protocol, Mapping say nothing of the object).
    libraries = {
        name.rpartition(".")[2]
        for m in modules.values()
        for name in m.library_imports
        if name.rpartition(".")[0] not in TYPING_MODULES
    } | BUILTIN_TYPES
    typed_seen: set[tuple[str, str]] = set()
    changed = True
    while changed:
        changed = False
        for _, unit in units:
            seen_names |= unit.names
            for cls, attr in unit.typed_attrs:
                known = False
                if cls in concrete:
                    typed_seen.add((cls, attr))
                    known = True
                if implementers.get(cls):
                    typed_seen |= {(impl, attr) for impl in implementers[cls]}
                    known = True
                if not known and (cls not in libraries or cls in bases):
                    seen_names.add(attr)
        for m in modules.values():
            for name, bodies in m.defs.items():
                dunder = name.startswith("__") and name.endswith("__")
                for body, _, owner in bodies:
                    if id(body) in taken or (owner is not None and owner not in seen_names):
                        continue
                    typed = owner is not None and any(
                        (cls, name) in typed_seen for cls in _related(owner, bases)
                    )
                    if name in seen_names or typed or dunder or owner in m.framework_classes:
                        units.append((m, body))
                        taken.add(id(body))
                        changed = True
    return Reach(modules=modules, units=units)


def _related(cls: str, bases: dict[str, set[str]]) -> set[str]:
    """``cls``, its ancestors and its descendants, by name."""
    related = {cls}
    grew = True
    while grew:
        grew = False
        for name, found in bases.items():
            if name in related and not found <= related:
                related |= found
                grew = True
            if found & related and name not in related:
                related.add(name)
                grew = True
    return related


def iter_units(r: Reach) -> Iterator[Unit]:
    for _, unit in r.units:
        yield unit
