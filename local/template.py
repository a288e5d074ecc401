"""Read template.yaml the way CloudFormation and SAM would, for the local stack.

The template is the one place a table, function, route or secret is declared. This module
loads it (with the CloudFormation short tags), has SAM's own translator (aws-sam-translator, the
``AWS::Serverless`` transform as a library) expand the ``AWS::Serverless`` resources into the
CloudFormation that is deployed (functions with their Globals, the HTTP API's OpenAPI body,
event source mappings, rules, event invoke configs), resolves parameters (defaults plus
overrides, like ``sam deploy --parameter-overrides``), conditions and intrinsic functions, and
exposes typed views of what the local stack needs. References to resources resolve to the
physical ids the local stack registers with :meth:`Template.bind` once it has created them.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import importlib.metadata
import json
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
SAM_CACHE_DIR = REPO_ROOT / ".aws-sam" / "local-expanded"
# Part of the kept expansions' key: raise it when _translate changes what it makes.
EXPANSION_FORMAT = 2

REGION = "us-east-1"
# moto's default account: ARNs it returns carry this id, so the pseudo parameter must agree.
ACCOUNT_ID = "123456789012"

FUNCTION_TYPE = "AWS::Lambda::Function"
# An HTTP API (SAM's HttpApi, its routes in an OpenAPI Body) or a WebSocket API (ProtocolType).
API_TYPE = "AWS::ApiGatewayV2::Api"
EVENT_SOURCE_MAPPING_TYPE = "AWS::Lambda::EventSourceMapping"
EVENT_RULE_TYPE = "AWS::Events::Rule"
EVENT_INVOKE_CONFIG_TYPE = "AWS::Lambda::EventInvokeConfig"
TABLE_TYPE = "AWS::DynamoDB::Table"
KMS_KEY_TYPE = "AWS::KMS::Key"
SECRET_TYPE = "AWS::SecretsManager::Secret"
USER_POOL_TYPE = "AWS::Cognito::UserPool"
USER_POOL_CLIENT_TYPE = "AWS::Cognito::UserPoolClient"
SQS_QUEUE_TYPE = "AWS::SQS::Queue"
SCHEDULE_GROUP_TYPE = "AWS::Scheduler::ScheduleGroup"
SCHEDULE_TYPE = "AWS::Scheduler::Schedule"
IAM_ROLE_TYPE = "AWS::IAM::Role"
LAYER_TYPE = "AWS::Lambda::LayerVersion"
USER_POOL_DOMAIN_TYPE = "AWS::Cognito::UserPoolDomain"
BUCKET_TYPE = "AWS::S3::Bucket"
LOG_GROUP_TYPE = "AWS::Logs::LogGroup"

# Code locations: SAM insists on an S3 URI; nothing is uploaded locally.
_SAM_CODE_URIS = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
}
# The HTTP API's OpenAPI methods; SAM's ANY.
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_ANY_METHOD = "x-amazon-apigateway-any-method"

_NO_VALUE = object()


class TemplateError(Exception):
    """The template cannot be read or resolved."""


@dataclass(frozen=True, slots=True)
class SecureParameter:
    """An SSM SecureString the stack reads (template ``Metadata: SecureParameters``): declared
    there because CloudFormation cannot create one; ``deploy/stack.py`` and the local stack do.
    """

    suffix: str
    description: str
    value: str | None  # the initial value, or None: generated
    generate_bytes: int | None  # random bytes, base64
    # Random bytes in URL-safe base64 without padding: letters, digits, - and _ only (eBay's
    # verification token allows nothing else).
    generate_token: int | None = None

    def name(self, stack_name: str) -> str:
        return f"/{stack_name}/{self.suffix}"

    def initial_value(self) -> str:
        if self.value is not None:
            return self.value
        if self.generate_token is not None:
            return secrets.token_urlsafe(self.generate_token)
        return base64.b64encode(secrets.token_bytes(self.generate_bytes or 32)).decode()


def secure_parameters(raw: Mapping[str, Any]) -> list[SecureParameter]:
    """The template's SecureParameters, in the order it declares them."""
    declared = (raw.get("Metadata") or {}).get("SecureParameters") or {}
    return [
        SecureParameter(
            suffix=str(suffix),
            description=" ".join(str(spec.get("Description", "")).split()),
            value=spec.get("Value"),
            generate_bytes=spec.get("GenerateBytes"),
            generate_token=spec.get("GenerateToken"),
        )
        for suffix, spec in declared.items()
    ]


class UnresolvedReferenceError(TemplateError):
    """A Ref/GetAtt names a resource whose physical id is not known (yet)."""


class EnvironmentConflictError(TemplateError):
    """Two functions need different values for one environment variable.

    The local stack runs every handler in one process, so environment variables are shared.
    """


# ------------------------------------------------------------------------------ YAML loading


class CloudFormationLoader(yaml.SafeLoader):
    """A safe YAML loader that maps short tags to long form: ``!Ref x`` -> ``{"Ref": "x"}``."""


def _construct(node: yaml.Node, loader: yaml.SafeLoader) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise TemplateError(f"unsupported YAML node {node!r}")


def _multi_constructor(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    value = _construct(node, loader)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        logical_id, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [logical_id, attribute]}
    return {f"Fn::{tag_suffix}": value}


CloudFormationLoader.add_multi_constructor("!", _multi_constructor)


def load_yaml(path: Path | str = TEMPLATE_PATH) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML template into plain Python (long-form intrinsics)."""
    with Path(path).open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=CloudFormationLoader)  # noqa: S506 - a SafeLoader
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError(f"{path} is not a CloudFormation template (no Resources)")
    return document


def expand_sam(document: Mapping[str, Any], region: str = REGION) -> dict[str, Any]:
    """The CloudFormation template SAM deploys for ``document`` (``AWS::Serverless`` resources
    and ``Globals`` expanded by aws-sam-translator); intrinsics stay for :class:`Template`."""
    expanded: dict[str, Any] = json.loads(_expanded(json.dumps(document), region))
    return expanded


@lru_cache(maxsize=16)
def _expanded(document_json: str, region: str) -> str:
    # Importing the translator and translating template.yaml take seconds of CPU, so the result
    # is kept per document and translator version, in this process and on disk (.aws-sam/, which
    # `make clean` removes). SAM sees no parameter values (_translate), so the overrides do not
    # change the expansion: Template resolves them afterwards.
    version = importlib.metadata.version("aws-sam-translator")
    key = f"{EXPANSION_FORMAT}\n{version}\n{region}\n{document_json}"
    cached = SAM_CACHE_DIR / f"{hashlib.sha256(key.encode()).hexdigest()}.json"
    if cached.exists():
        return cached.read_text(encoding="utf-8")
    expanded = _translate(document_json, region)
    try:
        SAM_CACHE_DIR.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{secrets.token_hex(4)}.tmp")
        partial.write_text(expanded, encoding="utf-8")
        partial.replace(cached)  # whole or not at all, with other processes writing it too
    except OSError:
        pass  # a read-only checkout: translate again next time
    return expanded


def _translate(document_json: str, region: str) -> str:
    import boto3
    from samtranslator.metrics.metrics import Metrics
    from samtranslator.parser.parser import Parser
    from samtranslator.public.exceptions import InvalidDocumentException
    from samtranslator.translator.translator import Translator

    document = json.loads(document_json)
    for resource in document.get("Resources", {}).values():
        if resource.get("Type") in _SAM_CODE_URIS:
            properties = resource.setdefault("Properties", {})
            properties[_SAM_CODE_URIS[resource["Type"]]] = "s3://local/code"
    ((document.get("Globals") or {}).get("Function") or {}).pop("CodeUri", None)
    # SAM puts a parameter's default in place of its Ref where it can (the HTTP API's CORS
    # origins): without defaults every Ref stays, for Template to resolve with the overrides.
    parameters = document.get("Parameters") or {}
    document["Parameters"] = {
        name: {k: v for k, v in spec.items() if k != "Default"} for name, spec in parameters.items()
    }
    session = boto3.session.Session(region_name=region)
    metrics = Metrics()  # SAM's own timings; published to nowhere
    translator = Translator({}, Parser(), boto_session=session, metrics=metrics)
    try:
        expanded: dict[str, Any] = translator.translate(
            document, parameter_values={}, get_managed_policy_map=dict
        )
    except InvalidDocumentException as exc:
        causes = "; ".join(str(cause) for cause in exc.causes)
        raise TemplateError(f"SAM cannot translate the template: {causes}") from exc
    finally:
        metrics.publish()
    if parameters:
        expanded["Parameters"] = parameters
    return json.dumps(expanded)


# ------------------------------------------------------------------------------ typed views


@dataclass(frozen=True, slots=True)
class TableSpec:
    logical_id: str
    properties: dict[str, Any]

    @property
    def key_schema(self) -> list[dict[str, str]]:
        return list(self.properties["KeySchema"])

    @property
    def index_names(self) -> list[str]:
        indexes = self.properties.get("GlobalSecondaryIndexes", []) + self.properties.get(
            "LocalSecondaryIndexes", []
        )
        return [index["IndexName"] for index in indexes]

    @property
    def stream_view_type(self) -> str | None:
        spec = self.properties.get("StreamSpecification")
        return spec.get("StreamViewType") if spec else None

    @property
    def ttl_attribute(self) -> str | None:
        spec = self.properties.get("TimeToLiveSpecification")
        if spec and str(spec.get("Enabled", False)).lower() == "true":
            return str(spec["AttributeName"])
        return None


@dataclass(frozen=True, slots=True)
class HttpRoute:
    function_id: str
    method: str  # upper case; "ANY" matches every method
    path: str  # "/bids/{bidId}", "/{proxy+}"
    api_id: str  # logical id of the API (ServerlessHttpApi: SAM's implicit one)
    authorizer: str | None  # a security scheme of the API's; None or "NONE": no authorizer
    auth_scopes: tuple[str, ...]

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    logical_id: str
    physical_name: str
    handler: str
    runtime: str
    memory_size: int
    timeout: int
    environment: dict[str, str]
    properties: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """A recurring schedule that targets a function: an EventBridge rule (SAM ``Schedule``) or
    an EventBridge Scheduler schedule (``ScheduleV2``)."""

    function_id: str
    expression: str  # rate(...) or cron(...)
    payload: str | None  # the target's Input (JSON), if it sets one
    enabled: bool
    from_rule: bool  # a rule without Input delivers a Scheduled Event; Scheduler, {}


@dataclass(frozen=True, slots=True)
class CorsConfig:
    allow_origins: tuple[str, ...]
    allow_methods: tuple[str, ...]
    allow_headers: tuple[str, ...]
    expose_headers: tuple[str, ...]
    allow_credentials: bool
    max_age: int | None


@dataclass(frozen=True, slots=True)
class JwtAuthorizerConfig:
    name: str
    identity_source: str  # "$request.header.Authorization"
    issuer: str
    audience: tuple[str, ...]

    @property
    def identity_header(self) -> str:
        prefix = "$request.header."
        if not self.identity_source.startswith(prefix):
            raise TemplateError(f"unsupported identity source {self.identity_source}")
        return self.identity_source[len(prefix) :].lower()


@dataclass(frozen=True, slots=True)
class HttpApiSpec:
    logical_id: str
    properties: dict[str, Any]
    cors: CorsConfig | None
    authorizers: dict[str, JwtAuthorizerConfig]


# ------------------------------------------------------------------------------ the template


@dataclass
class Template:
    """A loaded template with parameters fixed; resource references bound as they are created."""

    raw: dict[str, Any]
    parameters: dict[str, str]
    path: Path = TEMPLATE_PATH
    region: str = REGION
    account_id: str = ACCOUNT_ID
    conditions: dict[str, bool] = field(default_factory=dict)
    # logical id -> what `Ref` returns; (logical id, attribute) -> what `GetAtt` returns
    refs: dict[str, str] = field(default_factory=dict)
    # Prepended to generated physical names, so two stacks can share one moto (tests).
    name_prefix: str = ""
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)

    # ---- construction

    @classmethod
    def load(
        cls,
        path: Path | str = TEMPLATE_PATH,
        overrides: Mapping[str, str] | None = None,
        *,
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
        name_prefix: str = "",
    ) -> Template:
        raw = expand_sam(load_yaml(path), region)
        template = cls(
            raw=raw,
            parameters=_resolve_parameters(raw.get("Parameters", {}), overrides or {}),
            path=Path(path),
            region=region,
            account_id=account_id,
            name_prefix=name_prefix,
        )
        template.conditions = template._evaluate_conditions()
        template._bind_local_names()
        return template

    def _evaluate_conditions(self) -> dict[str, bool]:
        results: dict[str, bool] = {}
        pending = dict(self.raw.get("Conditions", {}))

        def evaluate(name: str, seen: tuple[str, ...] = ()) -> bool:
            if name in results:
                return results[name]
            if name in seen or name not in pending:
                raise TemplateError(f"unknown or circular condition {name}")
            results[name] = bool(self._resolve(pending[name], lambda n: evaluate(n, (*seen, name))))
            return results[name]

        for name in pending:
            evaluate(name)
        return results

    def _bind_local_names(self) -> None:
        """Give resources that the local stack does not create in moto their physical ids."""
        for logical_id, resource in self.resources().items():
            kind = resource["Type"]
            if kind == FUNCTION_TYPE:
                name = resource.get("Properties", {}).get("FunctionName")
                name = self.resolve(name) if name else self.physical_name(logical_id)
                self.bind(
                    logical_id,
                    name,
                    Arn=f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}",
                )
            elif kind == API_TYPE:
                api_id = _api_id(self.stage, logical_id)
                websocket = resource.get("Properties", {}).get("ProtocolType") == "WEBSOCKET"
                scheme = "wss" if websocket else "https"
                endpoint = f"{scheme}://{api_id}.execute-api.{self.region}.amazonaws.com"
                self.bind(logical_id, api_id, ApiEndpoint=endpoint, ApiId=api_id)
            elif kind.startswith("AWS::ApiGatewayV2::"):
                # Routes, integrations, authorizers, stages: served by local/websocket_gateway.py.
                self.bind(logical_id, _api_id(self.stage, logical_id)[:7])
            elif kind == LAYER_TYPE:
                # Locally the layer's libraries are the virtualenv's; only its ARN is needed.
                name = self.physical_name(logical_id)
                self.bind(
                    logical_id, f"arn:aws:lambda:{self.region}:{self.account_id}:layer:{name}:1"
                )
            elif kind == IAM_ROLE_TYPE:
                # No IAM locally; the ARN is what Scheduler targets and PassRole policies name.
                name = resource.get("Properties", {}).get("RoleName")
                name = self.resolve(name) if name else self.physical_name(logical_id)
                arn = f"arn:aws:iam::{self.account_id}:role/{name}"
                self.bind(logical_id, arn, Arn=arn, RoleId=name)
            elif kind == LOG_GROUP_TYPE:
                # Log groups are not created locally (logs go to the console); access-log
                # settings name their ARNs.
                name = resource.get("Properties", {}).get("LogGroupName")
                try:
                    name = self.resolve(name) if name else self.physical_name(logical_id)
                except UnresolvedReferenceError:
                    continue  # a function's group, named after the function: bound below
                arn = f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{name}"
                self.bind(logical_id, str(name), Arn=f"{arn}:*")
            elif kind == USER_POOL_DOMAIN_TYPE:
                # The Hosted UI's prefix; local/hosted_ui.py answers for the domain.
                domain = self.resolve(resource.get("Properties", {}).get("Domain"))
                self.bind(logical_id, str(domain))
            elif kind == BUCKET_TYPE:
                # The dashboard's bucket: local/hosted_dashboard.py serves what it would hold.
                name = self.physical_name(logical_id).lower()
                self.bind(
                    logical_id,
                    name,
                    Arn=f"arn:aws:s3:::{name}",
                    DomainName=f"{name}.s3.amazonaws.com",
                    RegionalDomainName=f"{name}.s3.{self.region}.amazonaws.com",
                )
            elif kind.startswith("AWS::CloudFront::"):
                # The dashboard's distribution, its policies and function: ids of their shape.
                ident = "E" + _api_id(self.stage, logical_id).upper()[:13]
                arn = f"arn:aws:cloudfront::{self.account_id}:{logical_id.lower()}/{ident}"
                self.bind(
                    logical_id,
                    ident,
                    Id=ident,
                    Arn=arn,
                    FunctionARN=arn,
                    DomainName=f"{_api_id(self.stage, logical_id)[:13]}.cloudfront.net",
                )
            elif kind == TABLE_TYPE:
                # Table names are known before creation, so Refs to tables resolve early.
                name = resource.get("Properties", {}).get("TableName")
                name = self.resolve(name) if name else self.physical_name(logical_id)
                arn = f"arn:aws:dynamodb:{self.region}:{self.account_id}:table/{name}"
                self.bind(logical_id, name, Arn=arn)

    def bind(self, logical_id: str, ref: str, **attributes: str) -> None:
        """Record what ``!Ref logical_id`` (and ``!GetAtt logical_id.Attr``) resolve to."""
        self.refs[logical_id] = ref
        for name, value in attributes.items():
            self.attributes[(logical_id, name)] = value

    # ---- basics

    @property
    def stage(self) -> str:
        return self.parameters.get("Stage", "dev")

    @property
    def stack_name(self) -> str:
        # The prefix keeps names built from the stack name (schedule group, bid executor)
        # apart when two stacks share one moto.
        return f"{self.name_prefix}ebay-sniper-{self.stage}"

    def physical_name(self, logical_id: str) -> str:
        """The local physical name of a resource the template does not name itself."""
        return f"{self.name_prefix}{self.stage}-{logical_id}"

    def resources(self, resource_type: str | None = None) -> dict[str, dict[str, Any]]:
        """Resources present under the template's conditions, in template order."""
        found = {}
        for logical_id, resource in self.raw["Resources"].items():
            condition = resource.get("Condition")
            if condition and not self.conditions.get(condition, False):
                continue
            if resource_type is None or resource["Type"] == resource_type:
                found[logical_id] = resource
        return found

    def raw_properties(self, logical_id: str) -> dict[str, Any]:
        """Properties as SAM expanded them (Globals merged), intrinsics not resolved."""
        return copy.deepcopy(self.raw["Resources"][logical_id].get("Properties", {}))

    def properties(self, logical_id: str) -> dict[str, Any]:
        """Resolved properties (intrinsics evaluated)."""
        resolved = self.resolve(self.raw_properties(logical_id))
        assert isinstance(resolved, dict)
        return resolved

    # ---- typed accessors

    @property
    def tables(self) -> dict[str, TableSpec]:
        return {
            logical_id: TableSpec(logical_id, self.properties(logical_id))
            for logical_id in self.resources(TABLE_TYPE)
        }

    @property
    def functions(self) -> dict[str, FunctionSpec]:
        return {
            logical_id: self.function(logical_id) for logical_id in self.resources(FUNCTION_TYPE)
        }

    def function(self, logical_id: str) -> FunctionSpec:
        props = self.properties(logical_id)
        variables = props.get("Environment", {}).get("Variables", {}) or {}
        return FunctionSpec(
            logical_id=logical_id,
            physical_name=self.refs[logical_id],
            handler=str(props["Handler"]),
            runtime=str(props.get("Runtime", "")),
            memory_size=int(props.get("MemorySize", 128)),
            timeout=int(props.get("Timeout", 3)),
            environment={key: _env_string(value) for key, value in variables.items()},
            properties=props,
        )

    def function_id(self, name_or_arn: Any) -> str | None:
        """The logical id of the function a resolved ``FunctionName`` or ARN names."""
        for logical_id in self.resources(FUNCTION_TYPE):
            arn = self.attributes.get((logical_id, "Arn"))
            if name_or_arn in (self.refs.get(logical_id), arn) or (
                arn and str(name_or_arn).startswith(f"{arn}:")  # qualified
            ):
                return logical_id
        return None

    def targeting(self, resource_type: str) -> list[tuple[str, dict[str, Any]]]:
        """(function, resolved properties) of each resource of this type whose
        ``FunctionName`` is one of the template's functions (event source mappings, event
        invoke configs)."""
        found = []
        for logical_id in self.resources(resource_type):
            props = self.properties(logical_id)
            function_id = self.function_id(props.get("FunctionName"))
            if function_id is not None:
                found.append((function_id, props))
        return found

    def event_invoke_config(self, function_id: str) -> dict[str, Any]:
        """The function's EventInvokeConfig (SAM's ``EventInvokeConfig``), or {}."""
        configs = self.targeting(EVENT_INVOKE_CONFIG_TYPE)
        return next((props for fid, props in configs if fid == function_id), {})

    @property
    def schedules(self) -> list[ScheduleSpec]:
        """Rules (``Schedule`` events) and Scheduler schedules (``ScheduleV2``) on functions."""
        found = []
        for kind, targets_key in ((EVENT_RULE_TYPE, "Targets"), (SCHEDULE_TYPE, "Target")):
            for logical_id in self.resources(kind):
                props = self.properties(logical_id)
                targets = props.get(targets_key) or []
                for target in targets if isinstance(targets, list) else [targets]:
                    function_id = self.function_id(target.get("Arn"))
                    if function_id is None or "ScheduleExpression" not in props:
                        continue
                    found.append(
                        ScheduleSpec(
                            function_id=function_id,
                            expression=str(props["ScheduleExpression"]),
                            payload=target.get("Input"),
                            enabled=str(props.get("State", "ENABLED")).upper() != "DISABLED",
                            from_rule=kind == EVENT_RULE_TYPE,
                        )
                    )
        return found

    @property
    def http_apis(self) -> dict[str, HttpApiSpec]:
        return {
            logical_id: self.http_api(logical_id)
            for logical_id, resource in self.resources(API_TYPE).items()
            if "Body" in resource.get("Properties", {})
        }

    def http_api(self, logical_id: str) -> HttpApiSpec:
        """An HTTP API from the OpenAPI body SAM generates: CORS and JWT authorizers."""
        props = self.properties(logical_id)
        body = props.get("Body") or {}
        cors_props = body.get("x-amazon-apigateway-cors")
        cors = None
        if isinstance(cors_props, dict):
            cors = CorsConfig(
                allow_origins=tuple(cors_props.get("allowOrigins", ())),
                allow_methods=tuple(m.upper() for m in cors_props.get("allowMethods", ())),
                allow_headers=tuple(h.lower() for h in cors_props.get("allowHeaders", ())),
                expose_headers=tuple(h.lower() for h in cors_props.get("exposeHeaders", ())),
                allow_credentials=bool(cors_props.get("allowCredentials", False)),
                max_age=int(cors_props["maxAge"]) if "maxAge" in cors_props else None,
            )
        schemes = (body.get("components") or {}).get("securitySchemes") or {}
        authorizers = {}
        for name, scheme in schemes.items():
            config = scheme.get("x-amazon-apigateway-authorizer") or {}
            jwt = config.get("jwtConfiguration")
            if not jwt:
                raise TemplateError(
                    f"authorizer {name}: only JWT authorizers are supported locally"
                )
            authorizers[name] = JwtAuthorizerConfig(
                name=name,
                identity_source=str(config.get("identitySource", "$request.header.Authorization")),
                issuer=str(jwt["issuer"]),
                audience=tuple(str(a) for a in jwt.get("audience", ())),
            )
        return HttpApiSpec(
            logical_id=logical_id, properties=props, cors=cors, authorizers=authorizers
        )

    @property
    def http_routes(self) -> list[HttpRoute]:
        """Every route of every HTTP API: its OpenAPI operations and their Lambda integrations."""
        routes = []
        for api_id, resource in self.resources(API_TYPE).items():
            body = resource.get("Properties", {}).get("Body") or {}
            # Only the paths: their integrations name functions, bound from the start.
            for path, operations in self.resolve(body.get("paths") or {}).items():
                for method, operation in operations.items():
                    if method not in (*_METHODS, _ANY_METHOD):
                        continue
                    routes.append(_route(self, api_id, path, method, operation))
        return routes

    @property
    def user_pools(self) -> dict[str, dict[str, Any]]:
        return {
            logical_id: self.properties(logical_id) for logical_id in self.resources(USER_POOL_TYPE)
        }

    @property
    def user_pool_clients(self) -> dict[str, dict[str, Any]]:
        return {
            logical_id: self.properties(logical_id)
            for logical_id in self.resources(USER_POOL_CLIENT_TYPE)
        }

    @property
    def secrets(self) -> dict[str, dict[str, Any]]:
        return {
            logical_id: self.properties(logical_id) for logical_id in self.resources(SECRET_TYPE)
        }

    @property
    def kms_keys(self) -> dict[str, dict[str, Any]]:
        return {
            logical_id: self.properties(logical_id) for logical_id in self.resources(KMS_KEY_TYPE)
        }

    def environment_union(self) -> dict[str, str]:
        """Every function's environment in one mapping; conflicting values are an error."""
        union: dict[str, str] = {}
        owner: dict[str, str] = {}
        for spec in self.functions.values():
            for key, value in spec.environment.items():
                if key in union and union[key] != value:
                    raise EnvironmentConflictError(
                        f"{key} is {union[key]!r} for {owner[key]} but {value!r} for "
                        f"{spec.logical_id}; local handlers share one process environment"
                    )
                union[key] = value
                owner[key] = spec.logical_id
        return union

    def outputs(self) -> dict[str, Any]:
        return {
            name: self.resolve(output["Value"])
            for name, output in self.raw.get("Outputs", {}).items()
            if not output.get("Condition") or self.conditions.get(output["Condition"], False)
        }

    # ---- intrinsic functions

    def pseudo_parameters(self) -> dict[str, str]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{self.stack_name}/local"
            ),
        }

    def resolve(self, value: Any) -> Any:
        """Evaluate intrinsic functions in ``value``; ``AWS::NoValue`` removes the key/item."""
        return self._resolve(value, self._condition)

    def _condition(self, name: str) -> bool:
        if name not in self.conditions:
            raise TemplateError(f"unknown condition {name}")
        return self.conditions[name]

    def _ref(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        if name == "AWS::NoValue":
            return _NO_VALUE
        pseudo = self.pseudo_parameters()
        if name in pseudo:
            return pseudo[name]
        if name in self.refs:
            return self.refs[name]
        if name in self.raw["Resources"]:
            raise UnresolvedReferenceError(f"Ref {name}: the resource has not been created yet")
        raise TemplateError(f"Ref to unknown name {name}")

    def _get_att(self, logical_id: str, attribute: str) -> str:
        if (logical_id, attribute) in self.attributes:
            return self.attributes[(logical_id, attribute)]
        if logical_id in self.raw["Resources"]:
            raise UnresolvedReferenceError(f"GetAtt {logical_id}.{attribute} is not known (yet)")
        raise TemplateError(f"GetAtt on unknown resource {logical_id}")

    def _resolve(self, value: Any, condition: Any) -> Any:
        if isinstance(value, list):
            items = [self._resolve(item, condition) for item in value]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(str(arg))
            if key == "Condition" and isinstance(arg, str):
                return condition(arg)
            if key.startswith("Fn::"):
                return self._intrinsic(key, arg, condition)
        resolved = {}
        for key, item in value.items():
            result = self._resolve(item, condition)
            if result is not _NO_VALUE:
                resolved[key] = result
        return resolved

    def _intrinsic(self, name: str, arg: Any, condition: Any) -> Any:
        resolve = lambda v: self._resolve(v, condition)  # noqa: E731
        if name == "Fn::Sub":
            if isinstance(arg, list):
                text, variables = arg[0], resolve(arg[1])
            else:
                text, variables = arg, {}
            return self._sub(str(text), variables)
        if name == "Fn::GetAtt":
            parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return self._get_att(str(parts[0]), str(resolve(parts[1])))
        if name == "Fn::If":
            condition_name, when_true, when_false = arg
            return resolve(when_true if condition(condition_name) else when_false)
        if name == "Fn::Equals":
            left, right = resolve(arg[0]), resolve(arg[1])
            return str(left) == str(right)
        if name == "Fn::And":
            return all(bool(resolve(item)) for item in arg)
        if name == "Fn::Or":
            return any(bool(resolve(item)) for item in arg)
        if name == "Fn::Not":
            return not bool(resolve(arg[0]))
        if name == "Fn::Join":
            delimiter, items = arg
            return str(delimiter).join(str(item) for item in resolve(items))
        if name == "Fn::Select":
            index, items = resolve(arg[0]), resolve(arg[1])
            return items[int(index)]
        if name == "Fn::Split":
            delimiter, text = arg
            return str(resolve(text)).split(str(delimiter))
        if name == "Fn::FindInMap":
            map_name, top, second = (resolve(item) for item in arg[:3])
            try:
                return self.raw["Mappings"][map_name][top][second]
            except KeyError as exc:
                raise TemplateError(f"FindInMap {map_name}.{top}.{second} not found") from exc
        if name == "Fn::Base64":
            return base64.b64encode(str(resolve(arg)).encode()).decode()
        if name == "Fn::GetAZs":
            return [f"{self.region}{zone}" for zone in "abc"]
        if name == "Fn::ToJsonString":
            return json.dumps(resolve(arg), separators=(",", ":"))
        if name == "Fn::Length":
            return len(resolve(arg))
        raise TemplateError(f"{name} is not supported by the local stack")

    def _sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("!"):
                return "${" + expression[1:] + "}"
            if expression in variables:
                return str(variables[expression])
            if "." in expression and expression.split(".", 1)[0] in self.raw["Resources"]:
                logical_id, attribute = expression.split(".", 1)
                return self._get_att(logical_id, attribute)
            resolved = self._ref(expression)
            if resolved is _NO_VALUE:
                raise TemplateError(f"${{{expression}}} cannot be used in Fn::Sub")
            return str(resolved)

        return re.sub(r"\$\{([^}]+)\}", replace, text)


# ------------------------------------------------------------------------------ helpers


def _resolve_parameters(
    declared: Mapping[str, Any], overrides: Mapping[str, str]
) -> dict[str, str]:
    unknown = set(overrides) - set(declared)
    if unknown:
        raise TemplateError(f"parameter overrides for undeclared parameters: {sorted(unknown)}")
    values: dict[str, str] = {}
    for name, spec in declared.items():
        if name in overrides:
            value = overrides[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            raise TemplateError(f"parameter {name} has no default and no override")
        value = _env_string(value)
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in [str(item) for item in allowed]:
            raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
        pattern = spec.get("AllowedPattern")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise TemplateError(f"parameter {name}={value!r} does not match {pattern}")
        values[name] = value
    return values


def _route(template: Template, api_id: str, path: str, method: str, operation: Any) -> HttpRoute:
    uri = str(operation["x-amazon-apigateway-integration"]["uri"])
    # arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function ARN>/invocations
    function_arn = uri.split("/functions/", 1)[1].rsplit("/invocations", 1)[0]
    function_id = template.function_id(function_arn)
    if function_id is None:
        raise TemplateError(f"{method} {path}: no function of the template behind {uri}")
    security = operation.get("security") or [{}]
    ((authorizer, scopes),) = security[0].items() if security[0] else ((None, []),)
    return HttpRoute(
        function_id=function_id,
        method=_route_method(method),
        path=path,
        api_id=api_id,
        authorizer=authorizer,
        auth_scopes=tuple(scopes),
    )


def _route_method(method: Any) -> str:
    upper = str(method).upper()
    return "ANY" if upper in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else upper


def _env_string(value: Any) -> str:
    """Lambda environment values are strings; YAML booleans and numbers become what CFN sends."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _api_id(stage: str, logical_id: str) -> str:
    """A stable 10-character id shaped like API Gateway's (lower-case letters and digits)."""
    digest = hashlib.sha256(f"{stage}/{logical_id}".encode()).hexdigest()
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    number = int(digest, 16)
    chars = []
    for _ in range(10):
        number, index = divmod(number, len(alphabet))
        chars.append(alphabet[index])
    return "".join(chars)


def iter_intrinsic_refs(value: Any) -> Iterator[str]:
    """Logical ids and parameters a value refers to (Ref, GetAtt and ${} in Sub)."""
    if isinstance(value, list):
        for item in value:
            yield from iter_intrinsic_refs(item)
    elif isinstance(value, dict):
        if set(value) == {"Ref"}:
            yield str(value["Ref"])
        elif set(value) == {"Fn::GetAtt"}:
            arg = value["Fn::GetAtt"]
            yield str(arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0])
        elif set(value) == {"Fn::Sub"}:
            arg = value["Fn::Sub"]
            text = arg[0] if isinstance(arg, list) else arg
            for expression in re.findall(r"\$\{([^}!]+)\}", str(text)):
                yield expression.split(".", 1)[0]
            if isinstance(arg, list):
                yield from iter_intrinsic_refs(arg[1])
        else:
            for item in value.values():
                yield from iter_intrinsic_refs(item)
