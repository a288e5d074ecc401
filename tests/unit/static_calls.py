"""What a function's code can reach, read from the source: AWS API actions and settings.

A function is its ``Handler`` module plus what that can reach. Reachability is by *name*, the
way a reader follows the code without running it:

- modules: the handler's module and, transitively, every product module it imports (also
  inside functions, and a string literal naming a product module, which is how the lazy loader
  of ``common.ebay`` imports); ``if TYPE_CHECKING:`` imports are not followed;
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

Which table, key or secret a call touches is not derived: resources are checked apart, per
statement, to name this stack's resources.
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

# Calls whose AWS request a library makes: (module imported, function called) -> actions.
LIBRARY_CALLS: dict[tuple[str, str], set[str]] = {
    # common.aws.get_secret, every product read of a parameter: Powertools' SSM provider on a
    # client with the product's timeouts (GetParameter with decryption; the AWS-managed aws/ssm
    # key needs no kms:Decrypt grant). Powertools' own get_secret and get_parameter are unused.
    ("aws_lambda_powertools.utilities.parameters", "SSMProvider"): {"ssm:GetParameter"},
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


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str) -> None:
        self.module = module
        self.imports: set[str] = set()
        self.services: set[str] = set()
        self.library_imports: set[str] = set()
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
        body = Unit(self.module)
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
        self.unit.names.add(node.attr)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            self.unit.strings.add(node.value)
            if node.value.split(".")[0] in PRODUCT and _module_path(node.value):
                self.imports.add(node.value)

    def visit_Dict(self, node: ast.Dict) -> None:
        for key in node.keys:
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                self.unit.dict_keys.add(key.value)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        self.unit.calls.add(name)
        if isinstance(func, ast.Attribute) and "client" in _terminal_name(func.value).lower():
            self.unit.client_calls.add(name)
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
            for imported in module.library_imports:
                for (library, function), actions in LIBRARY_CALLS.items():
                    if imported.startswith(library) and function in unit.calls:
                        found |= actions
        return found

    def environ(self) -> set[str]:
        return {name for _, unit in self.units for name in unit.environ}

    def attributes(self) -> set[str]:
        return {name for _, unit in self.units for name in unit.attributes}

    def uses_getattr_on_a_client(self) -> list[str]:
        return [
            module.name
            for module, unit in self.units
            if "<getattr>" in unit.names and module.services
        ]


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
    changed = True
    while changed:
        changed = False
        for _, unit in units:
            seen_names |= unit.names
        for m in modules.values():
            for name, bodies in m.defs.items():
                dunder = name.startswith("__") and name.endswith("__")
                for body, _, owner in bodies:
                    if id(body) in taken or (owner is not None and owner not in seen_names):
                        continue
                    if name in seen_names or dunder or owner in m.framework_classes:
                        units.append((m, body))
                        taken.add(id(body))
                        changed = True
    return Reach(modules=modules, units=units)


def iter_units(r: Reach) -> Iterator[Unit]:
    for _, unit in r.units:
        yield unit
