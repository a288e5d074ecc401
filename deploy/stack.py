#!/usr/bin/env python3
"""One command to deploy, invite, re-key and remove a stack (``make deploy``, ``make destroy``).

    python deploy/stack.py deploy  [--config-env default] [--guided]
    python deploy/stack.py keyset  [--config-env default]        # the eBay keyset, Postmark token
    python deploy/stack.py invite  EMAIL [--config-env default]  # a user of an invite-only pool
    python deploy/stack.py destroy [--config-env default] [--yes]

``deploy``: ``sam build``; ``sam deploy --guided`` the first time (the stack does not exist yet,
or ``--guided``): SAM asks for the stack name, region and every template parameter (Stage,
Profile, AlarmEmail, ...) and saves the answers in samconfig.toml under ``--config-env``; later
runs deploy with those answers. Then every active snipe is put in its owner's ACTIVESNIPES set
where a stack older than the sets left it out (common/data/active_backfill.py; idempotent).
Then the stack's SSM SecureStrings (template.yaml, ``Metadata:
SecureParameters``; CloudFormation cannot create one) are created where missing: generated keys,
and the eBay keyset and Postmark token asked for on a terminal (never saved in samconfig.toml,
never passed through CloudFormation). On the first run it offers to invite the owner (an
invite-only pool has no sign-up page). Last, deploy/dashboard.py builds the dashboard from the
stack's outputs, uploads it and prints the URLs to register with eBay; this prints where the
dashboard is.

``destroy``: empties the dashboard's bucket (CloudFormation cannot delete a bucket with files),
``sam delete``, then deletes the SecureStrings. The DynamoDB tables are kept
(``DeletionPolicy: Retain``: snipes and history outlive a mistaken delete); it prints their
names and the command that deletes them.

Needs AWS credentials (``aws configure``, or AWS_PROFILE) and the dev install (``sam``, boto3).
"""

from __future__ import annotations

import argparse
import getpass
import json
import subprocess
import sys
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local.template import SecureParameter, load_yaml, secure_parameters  # noqa: E402

SAMCONFIG = ROOT / "samconfig.toml"
TEMPLATE = ROOT / "template.yaml"
BIN = Path(sys.executable).parent

Ask = Callable[[str, bool], str]  # (prompt, secret) -> answer


@dataclass(frozen=True)
class Target:
    """Which stack a config env of samconfig.toml deploys, and where."""

    config_env: str
    stack_name: str
    region: str | None

    @classmethod
    def read(cls, config_env: str, path: Path = SAMCONFIG) -> Target:
        config = tomllib.loads(path.read_text()) if path.exists() else {}
        env = config.get(config_env, {})
        merged: dict[str, Any] = {}
        for section in ("global", "deploy"):
            merged |= env.get(section, {}).get("parameters", {})
        return cls(
            config_env=config_env,
            stack_name=str(merged.get("stack_name") or f"ebay-sniper-{config_env}"),
            region=merged.get("region"),
        )


def _session(target: Target) -> Any:
    import boto3

    return boto3.session.Session(region_name=target.region)


def stack_outputs(target: Target, cloudformation: Any = None) -> dict[str, str] | None:
    """The stack's outputs, or None when it does not exist."""
    from botocore.exceptions import ClientError

    cloudformation = cloudformation or _session(target).client("cloudformation")
    try:
        stacks = cloudformation.describe_stacks(StackName=target.stack_name)["Stacks"]
    except ClientError as exc:
        # A missing stack is a plain ValidationError; only its message tells it apart.
        if "does not exist" in str(exc):
            return None
        raise
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def ensure_parameters(
    stack_name: str,
    ssm: Any,
    ask: Ask | None,
    parameters: Sequence[SecureParameter] | None = None,
) -> list[str]:
    """Create the SecureStrings that are missing; ask for the eBay keyset and the Postmark token
    while they hold their placeholders (``ask`` None: no terminal, leave them). Returns the names
    created or changed."""
    changed = []
    for parameter in parameters or secure_parameters(load_yaml(TEMPLATE)):
        name = parameter.name(stack_name)
        try:
            current: str | None = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"][
                "Value"
            ]
        except ssm.exceptions.ParameterNotFound:
            current = None
        value = current if current is not None else parameter.initial_value()
        if ask is not None and parameter.value is not None and value == parameter.value:
            value = _asked(parameter.suffix, value, ask)
        if value != current:
            ssm.put_parameter(
                Name=name,
                Description=parameter.description[:1024],
                Type="SecureString",
                Value=value,
                Overwrite=True,
            )
            changed.append(name)
    return changed


def _asked(suffix: str, placeholder: str, ask: Ask) -> str:
    if suffix == "ebay-app":
        print("\neBay keyset (developer.ebay.com > Application Keys; sandbox first):")
        client_id = ask("  App ID (Client ID): ", False).strip()
        if not client_id:
            print("  skipped: `make keyset` sets it later")
            return placeholder
        secret = ask("  Cert ID (Client Secret): ", True).strip()
        ru_name = ask("  RuName (eBay Redirect URL name): ", False).strip()
        return json.dumps({"clientId": client_id, "clientSecret": secret, "ruName": ru_name})
    if suffix == "postmark":
        prompt = "\nPostmark server token (Enter: its test token, mail accepted, not sent): "
        token = ask(prompt, True).strip()
        return json.dumps({"serverToken": token}) if token else placeholder
    return placeholder


def _terminal_ask(prompt: str, secret: bool) -> str:
    return getpass.getpass(prompt) if secret else input(prompt)


def invite(target: Target, email: str, outputs: dict[str, str], cognito: Any = None) -> None:
    """An invited user: Cognito mails them a temporary password, changed at first sign-in."""
    cognito = cognito or _session(target).client("cognito-idp")
    cognito.admin_create_user(
        UserPoolId=outputs["UserPoolId"],
        Username=email,
        UserAttributes=[
            {"Name": "email", "Value": email},
            {"Name": "email_verified", "Value": "true"},
        ],
        DesiredDeliveryMediums=["EMAIL"],
    )
    print(f"Invited {email}: Cognito mails a temporary password (valid 3 days).")


def _sam(*args: str) -> None:
    subprocess.run([str(BIN / "sam"), *args], cwd=ROOT, check=True)  # noqa: S603 (our own argv)


def stack_tables(target: Target, cloudformation: Any = None) -> dict[str, str]:
    """The stack's tables: logical id (template.yaml) -> table name."""
    cloudformation = cloudformation or _session(target).client("cloudformation")
    resources = cloudformation.describe_stack_resources(StackName=target.stack_name)
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in resources["StackResources"]
        if r["ResourceType"] == "AWS::DynamoDB::Table"
    }


def backfill_active_sets(target: Target, dynamodb: Any = None) -> None:
    """Every active snipe into its owner's ACTIVESNIPES set, once the deployed code keeps the
    sets: snipes made before it did (common/data/active_backfill.py says why here). Idempotent:
    a stack already done is read (its active snipes and their owners' sets) and not written."""
    from common.data.active_backfill import backfill_active_sets as backfill

    tables = stack_tables(target)
    dynamodb = dynamodb or _session(target).client("dynamodb")
    done = backfill(dynamodb, tables["UsersTable"], tables["BidsTable"])
    print(f"active snipes: {done.active}, added to their owner's set: {done.added}", end="")
    print(f", ended meanwhile: {done.ended}" if done.ended else "")


def deploy(target: Target, guided: bool, ask: Ask | None) -> int:
    _sam("build", "--config-env", target.config_env)
    first = stack_outputs(target) is None
    if guided or first:
        if ask is None:
            print("The first deploy asks questions: run it on a terminal.", file=sys.stderr)
            return 2
        print("\nFirst deploy: SAM asks for the stack name, region and parameters (Profile")
        print("personal keeps it under $0.50 a month; AlarmEmail gets the alarms).")
        _sam("deploy", "--guided", "--config-env", target.config_env)
        target = Target.read(target.config_env)
    else:
        _sam("deploy", "--config-env", target.config_env)
    outputs = stack_outputs(target) or {}
    backfill_active_sets(target)
    ssm = _session(target).client("ssm")
    for name in ensure_parameters(target.stack_name, ssm, ask):
        print(f"set {name}")
    if first and ask is not None:
        email = ask("\nYour email, to be invited as the first user (Enter: skip): ", False)
        if email.strip():
            invite(target, email.strip(), outputs)
    publish = [sys.executable, str(ROOT / "deploy/dashboard.py"), "--stack-name"]
    publish += [target.stack_name] + (["--region", target.region] if target.region else [])
    subprocess.run(publish, cwd=ROOT, check=True)  # noqa: S603 (our own argv)
    print(f"\nDashboard: {outputs.get('DashboardUrl', '(no DashboardUrl output)')}")
    if "OperationsDashboardUrl" in outputs:
        print(f"Operations: {outputs['OperationsDashboardUrl']}")
    return 0


def empty_bucket(bucket: str, s3: Any) -> int:
    """Delete every object (and version) in the bucket; returns how many."""
    deleted = 0
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        keys = [
            {"Key": o["Key"], "VersionId": o["VersionId"]}
            for o in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        for start in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[start : start + 1000]})
        deleted += len(keys)
    return deleted


def destroy(target: Target, yes: bool, ask: Ask | None) -> int:
    outputs = stack_outputs(target)
    if outputs is None:
        print(f"No stack {target.stack_name} in {target.region or 'the default region'}.")
        return 0
    if not yes:
        if ask is None:
            print("destroy asks for confirmation: run it on a terminal, or pass --yes")
            return 2
        typed = ask(f"Delete stack {target.stack_name}? Type its name to confirm: ", False)
        if typed.strip() != target.stack_name:
            print("Not deleted.")
            return 1
    session = _session(target)
    bucket = outputs.get("DashboardBucketName")
    if bucket:
        print(f"emptied {bucket}: {empty_bucket(bucket, session.client('s3'))} objects")
    cloudformation = session.client("cloudformation")
    tables = [
        r["PhysicalResourceId"]
        for r in cloudformation.describe_stack_resources(StackName=target.stack_name)[
            "StackResources"
        ]
        if r["ResourceType"] == "AWS::DynamoDB::Table"
    ]
    region = ["--region", target.region] if target.region else []
    _sam("delete", "--stack-name", target.stack_name, "--no-prompts", *region)
    ssm = session.client("ssm")
    for parameter in secure_parameters(load_yaml(TEMPLATE)):
        try:
            ssm.delete_parameter(Name=parameter.name(target.stack_name))
        except ssm.exceptions.ParameterNotFound:
            continue
    print(f"Deleted {target.stack_name} and its parameters.")
    if tables:
        print("Kept (DeletionPolicy: Retain), with your snipes and history:")
        for table in tables:
            print(f"  aws dynamodb delete-table --table-name {table} {' '.join(region)}".rstrip())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["deploy", "keyset", "invite", "destroy"])
    parser.add_argument("email", nargs="?", help="invite: the user's email")
    parser.add_argument("--config-env", default="default", help="samconfig.toml's environment")
    parser.add_argument("--guided", action="store_true", help="deploy: ask again (sam --guided)")
    parser.add_argument("--yes", action="store_true", help="destroy: do not ask to confirm")
    args = parser.parse_args(argv)
    target = Target.read(args.config_env)
    ask: Ask | None = _terminal_ask if sys.stdin.isatty() else None
    if args.command == "deploy":
        return deploy(target, args.guided, ask)
    if args.command == "destroy":
        return destroy(target, args.yes, ask)
    outputs = stack_outputs(target)
    if outputs is None:
        print(f"No stack {target.stack_name}: `make deploy` first.", file=sys.stderr)
        return 2
    if args.command == "invite":
        if not args.email:
            parser.error("invite needs an EMAIL")
        invite(target, args.email, outputs)
        return 0
    if ask is None:
        print("keyset asks for the keys: run it on a terminal.", file=sys.stderr)
        return 2
    ssm = _session(target).client("ssm")
    for parameter in secure_parameters(load_yaml(TEMPLATE)):
        if parameter.value is not None:  # the eBay keyset and the Postmark token
            value = _asked(parameter.suffix, parameter.value, ask)
            if value != parameter.value:
                ssm.put_parameter(
                    Name=parameter.name(target.stack_name),
                    Type="SecureString",
                    Value=value,
                    Overwrite=True,
                )
                print(f"set {parameter.name(target.stack_name)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
