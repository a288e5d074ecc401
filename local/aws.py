"""The AWS stand-in: moto's server in this process, provisioned by reading template.yaml.

``start_moto`` runs moto's server on a loopback port; ``provision`` creates every DynamoDB
table (indexes, stream, TTL, PITR), KMS key, Secrets Manager secret, Cognito user pool and app
client the template declares, and binds their physical ids into the template so its Refs
resolve. Handlers reach moto through boto3's standard ``AWS_ENDPOINT_URL`` setting.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

from local import moto_speedups, moto_streams
from local.template import (
    KMS_KEY_TYPE,
    REGION,
    SCHEDULE_GROUP_TYPE,
    SECRET_TYPE,
    SQS_QUEUE_TYPE,
    TABLE_TYPE,
    USER_POOL_CLIENT_TYPE,
    USER_POOL_TYPE,
    Template,
    secure_parameters,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

log = logging.getLogger(__name__)

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}

# Properties of AWS::Cognito::UserPoolClient that CreateUserPoolClient takes under the same name.
_CLIENT_FIELDS = (
    "ClientName",
    "GenerateSecret",
    "RefreshTokenValidity",
    "AccessTokenValidity",
    "IdTokenValidity",
    "TokenValidityUnits",
    "ReadAttributes",
    "WriteAttributes",
    "ExplicitAuthFlows",
    "SupportedIdentityProviders",
    "CallbackURLs",
    "LogoutURLs",
    "DefaultRedirectURI",
    "AllowedOAuthFlows",
    "AllowedOAuthScopes",
    "AllowedOAuthFlowsUserPoolClient",
    "PreventUserExistenceErrors",
    "EnableTokenRevocation",
    "AuthSessionValidity",
)
# Properties of AWS::Cognito::UserPool that CreateUserPool takes under the same name.
_POOL_FIELDS = (
    "Policies",
    "LambdaConfig",
    "AutoVerifiedAttributes",
    "AliasAttributes",
    "UsernameAttributes",
    "SmsVerificationMessage",
    "EmailVerificationMessage",
    "EmailVerificationSubject",
    "VerificationMessageTemplate",
    "MfaConfiguration",
    "DeviceConfiguration",
    "EmailConfiguration",
    "AdminCreateUserConfig",
    "UsernameConfiguration",
    "AccountRecoverySetting",
    "UserAttributeUpdateSettings",
    "DeletionProtection",
)


# ------------------------------------------------------------------------------ moto server


class _MotoServer(ThreadedMotoServer):
    """ThreadedMotoServer that reports a bind failure instead of waiting forever for it."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(ip_address=host, port=port, verbose=False)
        self.error: BaseException | None = None

    def _server_entry(self) -> None:
        try:
            super()._server_entry()
        except BaseException as exc:  # re-raised in start(), on the caller's thread
            self.error = exc
            self._server_ready_event.set()

    def start(self) -> None:
        super().start()
        if self.error is not None:
            raise self.error


@dataclass
class MotoHandle:
    """A running moto server: where it listens and how to stop it."""

    server: ThreadedMotoServer
    host: str
    port: int

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.stop()


class _FirstComeFirstServed:
    """A lock taken in the order it was asked for. ``threading.Lock`` is not: a thread that
    has just released it, or one arriving, often takes it again before those already waiting,
    so under a burst (200 snipes sealing in the same second) some requests waited in moto for
    many seconds while later ones were served, and their clients gave up and sent them again."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._waiting: collections.deque[threading.Event] = collections.deque()
        self._held = False

    def __enter__(self) -> None:
        with self._guard:
            if not self._held:
                self._held = True
                return
            turn = threading.Event()
            self._waiting.append(turn)
        turn.wait()  # the holder hands the lock over: it stays held

    def __exit__(self, *_exc: object) -> None:
        with self._guard:
            if self._waiting:
                self._waiting.popleft().set()
            else:
                self._held = False


_DYNAMODB_LOCK = _FirstComeFirstServed()


def _serialise_dynamodb() -> None:
    """One DynamoDB request at a time in moto. Its TransactWriteItems deep-copies whole tables
    while other request threads write to them ("dictionary changed size during iteration", a
    500 the real service never gives); DynamoDB itself is safe under concurrent writes."""
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action
    if getattr(original, "serialised", False):
        return

    def call_action(self: Any) -> Any:
        with _DYNAMODB_LOCK:
            return original(self)

    call_action.serialised = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]


def start_moto(port: int = 0, host: str = "127.0.0.1") -> MotoHandle:
    """Start moto's server on ``host:port`` (0 = a free port) in a daemon thread.

    Raises ``OSError`` when the port is taken. Request logs are silenced. Connections are kept
    alive and index queries read only their partition (``local.moto_speedups``); stream pages
    are written without moto's generic serializer (``local.moto_streams``).
    """
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    _serialise_dynamodb()
    moto_speedups.install()
    moto_streams.install()
    server = _MotoServer(host, port)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    return MotoHandle(server=server, host=bound_host, port=bound_port)


@contextmanager
def aws_environment(endpoint_url: str) -> Iterator[None]:
    """Point boto3 at ``endpoint_url`` with fake credentials; restore the environment after."""
    saved = dict(os.environ)
    os.environ.update(FAKE_CREDENTIALS)
    os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def client(service: str, endpoint_url: str) -> Any:
    """A boto3 client on the local endpoint, independent of the process environment."""
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 2, "mode": "standard"}),
    )


# ------------------------------------------------------------------------------ provisioning


@dataclass(frozen=True, slots=True)
class TableInfo:
    logical_id: str
    name: str
    arn: str
    stream_arn: str | None
    key_names: tuple[str, ...]  # hash key, then range key if any


@dataclass
class Provisioned:
    """What ``provision`` created, by logical id, and the template bound to it."""

    template: Template
    endpoint_url: str
    tables: dict[str, TableInfo] = field(default_factory=dict)
    kms_keys: dict[str, str] = field(default_factory=dict)  # logical id -> key id
    secrets: dict[str, str] = field(default_factory=dict)  # logical id -> ARN
    # Metadata's SecureParameters: suffix -> the SSM parameter's name (/<stack name>/<suffix>).
    parameters: dict[str, str] = field(default_factory=dict)
    user_pools: dict[str, str] = field(default_factory=dict)  # logical id -> pool id
    user_pool_clients: dict[str, str] = field(default_factory=dict)  # logical id -> client id
    queues: dict[str, str] = field(default_factory=dict)  # logical id -> queue URL

    @property
    def physical_ids(self) -> dict[str, str]:
        """Logical id -> what ``!Ref`` returns, for every resource with a known id."""
        return dict(self.template.refs)

    @property
    def user_pool_id(self) -> str:
        return next(iter(self.user_pools.values()))

    @property
    def user_pool_client_id(self) -> str:
        return next(iter(self.user_pool_clients.values()))

    @property
    def issuer(self) -> str:
        """The ``iss`` claim of the pool's tokens (moto uses the real Cognito form)."""
        return f"https://cognito-idp.{REGION}.amazonaws.com/{self.user_pool_id}"

    @property
    def jwks_url(self) -> str:
        """Where moto serves the pool's signing keys."""
        return f"{self.endpoint_url}/{self.user_pool_id}/.well-known/jwks.json"

    def environment(self) -> dict[str, str]:
        """The union of every function's environment variables, Refs resolved."""
        return self.template.environment_union()

    def table_name(self, logical_id: str) -> str:
        return self.tables[logical_id].name


def provision(
    template: Template,
    endpoint_url: str,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Provisioned:
    """Create the template's resources in moto at ``endpoint_url``.

    ``overrides`` maps a logical id to property values that replace the template's for this
    run only (for example ``{"EbayAppSecret": {"SecretString": "..."}}``). The template is bound
    to the physical ids, so ``template.functions`` and friends resolve afterwards.
    """
    overrides = overrides or {}
    result = Provisioned(template=template, endpoint_url=endpoint_url)

    def properties(logical_id: str) -> dict[str, Any]:
        return {**template.properties(logical_id), **overrides.get(logical_id, {})}

    kms = client("kms", endpoint_url)
    for logical_id in template.resources(KMS_KEY_TYPE):
        result.kms_keys[logical_id] = _create_kms_key(kms, template, logical_id, properties)

    dynamodb = client("dynamodb", endpoint_url)
    for logical_id in template.resources(TABLE_TYPE):
        result.tables[logical_id] = _create_table(dynamodb, template, logical_id, properties)

    secretsmanager = client("secretsmanager", endpoint_url)
    for logical_id in template.resources(SECRET_TYPE):
        result.secrets[logical_id] = _create_secret(
            secretsmanager, template, logical_id, properties
        )

    ssm = client("ssm", endpoint_url)
    for parameter in secure_parameters(template.raw):
        name = parameter.name(template.stack_name)
        ssm.put_parameter(
            Name=name,
            Description=parameter.description[:1024],
            Type="SecureString",
            Value=parameter.initial_value(),
            Overwrite=True,
        )
        result.parameters[parameter.suffix] = name

    sqs = client("sqs", endpoint_url)
    for logical_id in template.resources(SQS_QUEUE_TYPE):
        result.queues[logical_id] = _create_queue(sqs, template, logical_id, properties)

    scheduler = client("scheduler", endpoint_url)
    for logical_id in template.resources(SCHEDULE_GROUP_TYPE):
        _create_schedule_group(scheduler, template, logical_id, properties)

    cognito = client("cognito-idp", endpoint_url)
    for logical_id in template.resources(USER_POOL_TYPE):
        result.user_pools[logical_id] = _create_user_pool(cognito, template, logical_id, properties)
    for logical_id in template.resources(USER_POOL_CLIENT_TYPE):
        props = properties(logical_id)
        kwargs = {name: props[name] for name in _CLIENT_FIELDS if name in props}
        kwargs.setdefault("ClientName", template.physical_name(logical_id))
        created = cognito.create_user_pool_client(UserPoolId=props["UserPoolId"], **kwargs)
        client_id = created["UserPoolClient"]["ClientId"]
        template.bind(logical_id, client_id)
        result.user_pool_clients[logical_id] = client_id

    log.debug("provisioned %s", result.physical_ids)
    return result


def _create_kms_key(kms: Any, template: Template, logical_id: str, properties: Any) -> str:
    props = properties(logical_id)
    kwargs: dict[str, Any] = {
        "Description": props.get("Description", ""),
        "KeyUsage": props.get("KeyUsage", "ENCRYPT_DECRYPT"),
        "KeySpec": props.get("KeySpec", "SYMMETRIC_DEFAULT"),
    }
    if "KeyPolicy" in props:
        policy = props["KeyPolicy"]
        kwargs["Policy"] = policy if isinstance(policy, str) else json.dumps(policy)
    metadata = kms.create_key(**kwargs)["KeyMetadata"]
    if props.get("EnableKeyRotation"):
        kms.enable_key_rotation(KeyId=metadata["KeyId"])
    template.bind(logical_id, metadata["KeyId"], Arn=metadata["Arn"], KeyId=metadata["KeyId"])
    return str(metadata["KeyId"])


def _create_table(dynamodb: Any, template: Template, logical_id: str, properties: Any) -> TableInfo:
    props = properties(logical_id)
    name = template.refs[logical_id]
    description = dynamodb.create_table(**_table_request(name, props))["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and str(ttl.get("Enabled")).lower() == "true":
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )
    pitr = props.get("PointInTimeRecoverySpecification", {})
    if str(pitr.get("PointInTimeRecoveryEnabled")).lower() == "true":
        dynamodb.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
    stream_arn = description.get("LatestStreamArn")
    attributes = {"Arn": description["TableArn"]}
    if stream_arn:
        attributes["StreamArn"] = stream_arn
    template.bind(logical_id, name, **attributes)
    keys = sorted(props["KeySchema"], key=lambda key: key["KeyType"] != "HASH")
    return TableInfo(
        logical_id=logical_id,
        name=name,
        arn=description["TableArn"],
        stream_arn=stream_arn,
        key_names=tuple(key["AttributeName"] for key in keys),
    )


def _table_request(name: str, props: Mapping[str, Any]) -> dict[str, Any]:
    billing = props.get("BillingMode", "PROVISIONED")
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": billing,
    }
    throughput = props.get("ProvisionedThroughput")
    if billing == "PROVISIONED":
        request["ProvisionedThroughput"] = _throughput(throughput)
    gsis = []
    for index in props.get("GlobalSecondaryIndexes", []):
        gsi = {key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
        if billing == "PROVISIONED":
            gsi["ProvisionedThroughput"] = _throughput(index.get("ProvisionedThroughput"))
        gsis.append(gsi)
    if gsis:
        request["GlobalSecondaryIndexes"] = gsis
    lsis = [
        {key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
        for index in props.get("LocalSecondaryIndexes", [])
    ]
    if lsis:
        request["LocalSecondaryIndexes"] = lsis
    stream = props.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream["StreamViewType"],
        }
    sse = props.get("SSESpecification")
    if sse and str(sse.get("SSEEnabled")).lower() == "true":
        request["SSESpecification"] = {"Enabled": True}
    if props.get("Tags"):
        request["Tags"] = props["Tags"]
    return request


def _throughput(value: Mapping[str, Any] | None) -> dict[str, int]:
    value = value or {}
    return {
        "ReadCapacityUnits": int(value.get("ReadCapacityUnits", 5)),
        "WriteCapacityUnits": int(value.get("WriteCapacityUnits", 5)),
    }


def _create_queue(sqs: Any, template: Template, logical_id: str, properties: Any) -> str:
    props = properties(logical_id)
    name = props.get("QueueName") or template.physical_name(logical_id)
    attributes = {
        key: str(props[key])
        for key in ("MessageRetentionPeriod", "VisibilityTimeout", "DelaySeconds")
        if key in props
    }
    url = str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])
    arn = f"arn:aws:sqs:{REGION}:{template.account_id}:{name}"
    template.bind(logical_id, url, Arn=arn, QueueName=name, QueueUrl=url)
    return url


def _create_schedule_group(
    scheduler: Any, template: Template, logical_id: str, properties: Any
) -> str:
    props = properties(logical_id)
    name = str(props.get("Name") or template.physical_name(logical_id))
    try:
        arn = str(scheduler.create_schedule_group(Name=name)["ScheduleGroupArn"])
    except scheduler.exceptions.ConflictException:
        # Provisioned again into the same moto (a test session): the group is already there.
        arn = str(scheduler.get_schedule_group(Name=name)["Arn"])
    template.bind(logical_id, name, Arn=arn)
    return name


def _create_secret(secrets: Any, template: Template, logical_id: str, properties: Any) -> str:
    props = properties(logical_id)
    name = props.get("Name") or template.physical_name(logical_id)
    kwargs: dict[str, Any] = {"Name": name, "Description": props.get("Description", "")}
    if "KmsKeyId" in props:
        kwargs["KmsKeyId"] = props["KmsKeyId"]
    if "SecretString" in props:
        kwargs["SecretString"] = props["SecretString"]
    elif "GenerateSecretString" in props:
        kwargs["SecretString"] = _generated_secret(secrets, props["GenerateSecretString"])
    arn = str(secrets.create_secret(**kwargs)["ARN"])
    template.bind(logical_id, arn, Id=arn, Name=name)
    return arn


def _generated_secret(secrets: Any, spec: Mapping[str, Any]) -> str:
    options = {
        key: spec[key]
        for key in (
            "PasswordLength",
            "ExcludeCharacters",
            "ExcludeNumbers",
            "ExcludePunctuation",
            "ExcludeUppercase",
            "ExcludeLowercase",
            "IncludeSpace",
            "RequireEachIncludedType",
        )
        if key in spec
    }
    password = str(secrets.get_random_password(**options)["RandomPassword"])
    template_text = spec.get("SecretStringTemplate")
    if template_text and spec.get("GenerateStringKey"):
        document = json.loads(template_text)
        document[spec["GenerateStringKey"]] = password
        return json.dumps(document)
    return password


def _create_user_pool(cognito: Any, template: Template, logical_id: str, properties: Any) -> str:
    props = properties(logical_id)
    kwargs = {name: props[name] for name in _POOL_FIELDS if name in props}
    if "Schema" in props:
        kwargs["Schema"] = props["Schema"]
    pool = cognito.create_user_pool(
        PoolName=props.get("UserPoolName") or template.physical_name(logical_id), **kwargs
    )["UserPool"]
    pool_id = str(pool["Id"])
    provider = f"cognito-idp.{REGION}.amazonaws.com/{pool_id}"
    template.bind(
        logical_id,
        pool_id,
        Arn=pool["Arn"],
        ProviderName=provider,
        ProviderURL=f"https://{provider}",
        UserPoolId=pool_id,
    )
    return pool_id


# ------------------------------------------------------------------------------ test isolation


def reset_tables(provisioned: Provisioned, *, recreate: bool = False) -> None:
    """Empty every table (or delete and create them again, which also resets their streams)."""
    dynamodb: DynamoDBClient = client("dynamodb", provisioned.endpoint_url)
    for info in provisioned.tables.values():
        if recreate:
            dynamodb.delete_table(TableName=info.name)
            props = provisioned.template.properties(info.logical_id)
            provisioned.tables[info.logical_id] = _create_table(
                dynamodb, provisioned.template, info.logical_id, lambda _id, props=props: props
            )
            continue
        _delete_all_items(dynamodb, info)


def _delete_all_items(dynamodb: DynamoDBClient, info: TableInfo) -> None:
    projection = ", ".join(f"#k{i}" for i in range(len(info.key_names)))
    names = {f"#k{i}": key for i, key in enumerate(info.key_names)}
    paginator = dynamodb.get_paginator("scan")
    for page in paginator.paginate(
        TableName=info.name, ProjectionExpression=projection, ExpressionAttributeNames=names
    ):
        items = page.get("Items", [])
        for start in range(0, len(items), 25):
            requests: Any = [{"DeleteRequest": {"Key": item}} for item in items[start : start + 25]]
            unprocessed: Any = {info.name: requests}
            while unprocessed:
                response = dynamodb.batch_write_item(RequestItems=unprocessed)
                unprocessed = response.get("UnprocessedItems") or {}
