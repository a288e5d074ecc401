"""local.template reads template.yaml the way CloudFormation and SAM would."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.template import (
    EnvironmentConflictError,
    Template,
    TemplateError,
    UnresolvedReferenceError,
    expand_sam,
    load_yaml,
)

SHORT_TAGS = """
Parameters:
  Stage: { Type: String, Default: dev, AllowedValues: [dev, prod, local] }
  Suffix: { Type: String, Default: x }
  Origin: { Type: String, Default: "http://x" }
Mappings:
  Sizes: { dev: { Memory: 128 }, prod: { Memory: 1024 }, local: { Memory: 64 } }
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  NotProd: !Not [!Condition IsProd]
  Both: !And [!Condition NotProd, !Equals [!Ref Suffix, x]]
Globals:
  Function:
    Runtime: python3.11
    Timeout: 10
    MemorySize: !FindInMap [Sizes, !Ref Stage, Memory]
    Environment:
      Variables:
        SHARED: !Sub "${Stage}-${AWS::Region}"
        TABLE: !Ref Table
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{ AttributeName: id, KeyType: HASH }]
      AttributeDefinitions: [{ AttributeName: id, AttributeType: S }]
  ProdOnly:
    Type: AWS::DynamoDB::Table
    Condition: IsProd
    Properties:
      KeySchema: [{ AttributeName: id, KeyType: HASH }]
      AttributeDefinitions: [{ AttributeName: id, AttributeType: S }]
  Key:
    Type: AWS::KMS::Key
    Properties: { Description: k }
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: pkg.mod.handler
      Timeout: 3
      Environment:
        Variables:
          OWN: !Join ["-", [a, !Select [1, !Split [",", "x,y,z"]]]]
          KEY: !GetAtt Key.Arn
          MAYBE: !If [Both, yes-both, !Ref "AWS::NoValue"]
      Events:
        Get:
          Type: HttpApi
          Properties: { ApiId: !Ref Api, Method: get, Path: "/items/{id}" }
        Open:
          Type: HttpApi
          Properties: { ApiId: !Ref Api, Method: GET, Path: /open, Auth: { Authorizer: NONE } }
        Implicit:
          Type: HttpApi
          Properties: { Method: POST, Path: /implicit }
        Tick:
          Type: Schedule
          Properties: { Schedule: rate(1 minute) }
  Other:
    Type: AWS::Serverless::Function
    Properties:
      Handler: pkg.other.handler
      Environment: { Variables: { SHARED: different } }
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration: { AllowOrigins: [!Ref Origin], MaxAge: 5 }
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt:
            IdentitySource: $request.header.Authorization
            JwtConfiguration: { issuer: "https://issuer.example", audience: [app] }
"""


@pytest.fixture
def small_template(tmp_path: Path) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(SHORT_TAGS)
    return path


def test_short_tags_become_long_form_intrinsics(small_template: Path) -> None:
    # Given a template using short tags
    # When it is loaded
    raw = load_yaml(small_template)

    # Then every tag is the long form CloudFormation documents
    fn = raw["Resources"]["Fn"]["Properties"]
    assert fn["Environment"]["Variables"]["KEY"] == {"Fn::GetAtt": ["Key", "Arn"]}
    assert raw["Conditions"]["NotProd"] == {"Fn::Not": [{"Condition": "IsProd"}]}
    assert raw["Globals"]["Function"]["Environment"]["Variables"]["TABLE"] == {"Ref": "Table"}


def test_parameters_conditions_globals_and_refs_resolve(small_template: Path) -> None:
    # Given the template loaded with a parameter override and the key's ARN bound
    template = Template.load(small_template, {"Stage": "local"})
    template.bind("Key", "key-id", Arn="arn:aws:kms:us-east-1:123456789012:key/key-id")

    # When a function is read
    fn = template.function("Fn")

    # Then Globals are merged under the function's own values and intrinsics are evaluated
    assert fn.timeout == 3
    assert fn.memory_size == 64
    assert fn.environment == {
        "SHARED": "local-us-east-1",
        "TABLE": "local-Table",
        "OWN": "a-y",
        "KEY": "arn:aws:kms:us-east-1:123456789012:key/key-id",
        "MAYBE": "yes-both",
    }
    assert set(template.tables) == {"Table"}  # ProdOnly's condition is false
    assert template.conditions == {"IsProd": False, "NotProd": True, "Both": True}


def test_sam_expands_routes_schedules_and_apis_as_deployed(small_template: Path) -> None:
    # Given the loaded template, which SAM's translator expanded, with a parameter overridden
    template = Template.load(small_template, {"Origin": "http://y"})
    template.bind("Key", "k", Arn="arn")

    # When its routes and schedules are read
    routes = {route.route_key: route for route in template.http_routes}

    # Then methods are upper case, path params kept, each route on the API SAM put it on
    assert routes["GET /items/{id}"].api_id == "Api"
    assert routes["GET /items/{id}"].function_id == "Fn"
    assert routes["GET /items/{id}"].authorizer == "Jwt"  # the API's default
    assert routes["GET /open"].authorizer == "NONE"
    assert routes["POST /implicit"].api_id == "ServerlessHttpApi"  # SAM's implicit HTTP API
    assert routes["POST /implicit"].authorizer is None
    # And the Schedule event is the EventBridge rule SAM makes, targeting the function
    (schedule,) = template.schedules
    assert (schedule.function_id, schedule.expression) == ("Fn", "rate(1 minute)")
    assert schedule.enabled
    assert schedule.from_rule
    assert schedule.payload is None
    assert template.http_api("Api").cors is not None
    # And the API's CORS origin is the parameter's value, not the default SAM saw
    assert template.http_api("Api").cors.allow_origins == ("http://y",)


def test_conflicting_environments_are_refused(small_template: Path) -> None:
    # Given two functions that set SHARED differently
    template = Template.load(small_template)
    template.bind("Key", "k", Arn="arn")

    # When the process-wide environment is computed
    # Then the conflict is an error naming the variable
    with pytest.raises(EnvironmentConflictError, match="SHARED"):
        template.environment_union()


def test_unknown_parameter_and_disallowed_value_are_refused(small_template: Path) -> None:
    with pytest.raises(TemplateError, match="undeclared"):
        Template.load(small_template, {"Nope": "1"})
    with pytest.raises(TemplateError, match="not one of"):
        Template.load(small_template, {"Stage": "staging"})


def test_ref_to_a_resource_not_created_yet_is_reported(small_template: Path) -> None:
    template = Template.load(small_template)
    with pytest.raises(UnresolvedReferenceError, match="Key"):
        template.function("Fn")


def test_the_real_template_gives_every_function_the_same_shared_environment(
    stack_resources,
) -> None:
    # Given template.yaml, provisioned
    template = stack_resources.template

    # When the environment of all functions is merged
    union = template.environment_union()

    # Then no two functions disagree and every function has the table names
    assert {"USERS_TABLE", "BIDS_TABLE", "TOKEN_KMS_KEY_ID", "EBAY_APP_SECRET_NAME"} <= set(union)
    for spec in template.functions.values():
        assert spec.handler
        assert spec.memory_size > 0
        assert spec.timeout > 0


def test_the_real_template_routes_and_authorizer(stack_resources) -> None:
    template = stack_resources.template
    api = template.http_api("HttpApi")
    assert {route.authorizer for route in template.http_routes} == {"CognitoJwt", "NONE"}
    authorizer = api.authorizers["CognitoJwt"]
    assert authorizer.issuer == stack_resources.issuer
    assert authorizer.audience == (stack_resources.user_pool_client_id,)
    assert authorizer.identity_header == "authorization"
    assert "GET /bids/{bidId}" in {route.route_key for route in template.http_routes}


def test_the_kept_expansion_follows_the_document() -> None:
    # Given a small SAM document, expanded once (and so kept on disk)
    def document(handler: str) -> dict:
        function = {"Handler": handler, "Runtime": "python3.11", "Timeout": 7}
        return {
            "Transform": "AWS::Serverless-2016-10-31",
            "Resources": {"Fn": {"Type": "AWS::Serverless::Function", "Properties": function}},
        }

    first = expand_sam(document("pkg.first.handler"))

    # When the document changes and is expanded again
    second = expand_sam(document("pkg.second.handler"))

    # Then each expansion is SAM's Lambda function for its own document, never the kept one
    assert first["Resources"]["Fn"]["Type"] == "AWS::Lambda::Function"
    assert first["Resources"]["Fn"]["Properties"]["Handler"] == "pkg.first.handler"
    assert second["Resources"]["Fn"]["Properties"]["Handler"] == "pkg.second.handler"
    assert expand_sam(document("pkg.first.handler")) == first
