"""Provisioning creates what template.yaml declares: the test reads the template to know what."""

from __future__ import annotations

import base64
import json
import urllib.request

import boto3
import jwt
import pytest

from local.aws import Provisioned, reset_tables
from local.template import load_yaml

pytestmark = pytest.mark.integration


def _declared(resource_type: str) -> dict[str, dict]:
    return {
        logical_id: resource
        for logical_id, resource in load_yaml()["Resources"].items()
        if resource["Type"] == resource_type
    }


def test_every_table_and_index_in_the_template_exists(stack_resources: Provisioned) -> None:
    # Given the tables template.yaml declares
    declared = _declared("AWS::DynamoDB::Table")
    dynamodb = boto3.client("dynamodb")

    for logical_id, resource in declared.items():
        props = resource["Properties"]
        # When the provisioned table is described
        table = dynamodb.describe_table(TableName=stack_resources.table_name(logical_id))["Table"]

        # Then its keys, indexes, stream and TTL are the template's
        assert table["KeySchema"] == props["KeySchema"]
        assert {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]} == {
            a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]
        }
        expected_indexes = {
            index["IndexName"]: (index["KeySchema"], index["Projection"]["ProjectionType"])
            for index in props.get("GlobalSecondaryIndexes", [])
        }
        actual_indexes = {
            index["IndexName"]: (index["KeySchema"], index["Projection"]["ProjectionType"])
            for index in table.get("GlobalSecondaryIndexes", [])
        }
        assert actual_indexes == expected_indexes
        stream = props.get("StreamSpecification")
        if stream:
            assert table["StreamSpecification"] == {
                "StreamEnabled": True,
                "StreamViewType": stream["StreamViewType"],
            }
            assert stack_resources.tables[logical_id].stream_arn == table["LatestStreamArn"]
        else:
            assert "StreamSpecification" not in table
        ttl = dynamodb.describe_time_to_live(TableName=table["TableName"])
        if "TimeToLiveSpecification" in props:
            assert ttl["TimeToLiveDescription"] == {
                "TimeToLiveStatus": "ENABLED",
                "AttributeName": props["TimeToLiveSpecification"]["AttributeName"],
            }


def test_refs_in_function_environments_resolve_to_created_resources(
    stack_resources: Provisioned,
) -> None:
    # Given the provisioned stack
    # When the functions' environment is read from the template
    env = stack_resources.environment()

    # Then every Ref names something that exists in moto
    assert env["BIDS_TABLE"] == stack_resources.table_name("BidsTable")
    # (the personal profile: no KMS key; the tokens' key and the keyset are SecureStrings)
    assert env["TOKEN_KMS_KEY_ID"] == ""
    ssm = boto3.client("ssm")
    keyset = ssm.get_parameter(Name=env["EBAY_APP_SECRET_NAME"], WithDecryption=True)
    assert keyset["Parameter"]["Type"] == "SecureString"
    assert json.loads(keyset["Parameter"]["Value"]) == {
        "clientId": "",
        "clientSecret": "",
        "ruName": "",
    }
    token_key = ssm.get_parameter(Name=env["TOKEN_KEY_PARAMETER"], WithDecryption=True)
    assert len(base64.b64decode(token_key["Parameter"]["Value"])) == 32


def test_user_pool_and_client_follow_the_template(stack_resources: Provisioned) -> None:
    # Given the user pool the template declares
    declared = next(iter(_declared("AWS::Cognito::UserPool").values()))["Properties"]
    declared_client = next(iter(_declared("AWS::Cognito::UserPoolClient").values()))["Properties"]
    cognito = boto3.client("cognito-idp")

    # When moto describes the created pool and client
    pool = cognito.describe_user_pool(UserPoolId=stack_resources.user_pool_id)["UserPool"]
    app = cognito.describe_user_pool_client(
        UserPoolId=stack_resources.user_pool_id, ClientId=stack_resources.user_pool_client_id
    )["UserPoolClient"]

    # Then the password policy, username attributes and auth flows are the template's
    assert (
        pool["Policies"]["PasswordPolicy"]["MinimumLength"]
        == (declared["Policies"]["PasswordPolicy"]["MinimumLength"])
    )
    assert pool["UsernameAttributes"] == declared["UsernameAttributes"]
    assert app["ExplicitAuthFlows"] == declared_client["ExplicitAuthFlows"]
    # No password flow outside the local stack (whose /local/login moto serves regardless)
    assert "ALLOW_USER_PASSWORD_AUTH" not in app["ExplicitAuthFlows"]
    assert pool["UsernameConfiguration"] == {"CaseSensitive": False}


def test_pool_tokens_verify_against_the_served_jwks(stack_resources: Provisioned) -> None:
    # Given a confirmed user in the provisioned pool
    cognito = boto3.client("cognito-idp")
    pool_id, client_id = stack_resources.user_pool_id, stack_resources.user_pool_client_id
    cognito.admin_create_user(
        UserPoolId=pool_id, Username="jwks@example.com", MessageAction="SUPPRESS"
    )
    cognito.admin_set_user_password(
        UserPoolId=pool_id, Username="jwks@example.com", Password="Correct-Horse1", Permanent=True
    )

    # When the user logs in and the id token is checked against moto's JWKS
    tokens = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "jwks@example.com", "PASSWORD": "Correct-Horse1"},
    )["AuthenticationResult"]
    with urllib.request.urlopen(stack_resources.jwks_url) as response:
        keys = json.load(response)["keys"]
    key = jwt.PyJWK(keys[0]).key
    claims = jwt.decode(tokens["IdToken"], key, algorithms=["RS256"], audience=client_id)

    # Then the issuer is the one the template's authorizer expects
    assert claims["iss"] == stack_resources.issuer
    cognito.admin_delete_user(UserPoolId=pool_id, Username="jwks@example.com")


def test_reset_tables_empties_every_table(stack_resources: Provisioned) -> None:
    # Given an item in every table
    dynamodb = boto3.client("dynamodb")
    for info in stack_resources.tables.values():
        dynamodb.put_item(TableName=info.name, Item={key: {"S": "x"} for key in info.key_names})

    # When the tables are reset
    reset_tables(stack_resources)

    # Then they are empty
    for info in stack_resources.tables.values():
        assert dynamodb.scan(TableName=info.name)["Count"] == 0


def test_clean_tables_fixture_leaves_tables_empty(
    clean_tables: Provisioned, dynamodb_client
) -> None:
    # Given the clean_tables fixture, When a test writes an item
    dynamodb_client.put_item(
        TableName=clean_tables.table_name("UsersTable"), Item={"userId": {"S": "u1"}}
    )
    # Then it is visible during the test (the fixture empties tables afterwards)
    assert dynamodb_client.scan(TableName=clean_tables.table_name("UsersTable"))["Count"] == 1
