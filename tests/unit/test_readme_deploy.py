"""README's Deploy section is the path a new user follows: every stack output, template
parameter, make target and `sniper smoke` option it names must exist."""

from __future__ import annotations

import re
from pathlib import Path

from local.cli import build_parser
from local.template import load_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_yaml(ROOT / "template.yaml")
OUTPUTS = set(TEMPLATE["Outputs"])
PARAMETERS = set(TEMPLATE["Parameters"])


def _deploy_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Deploy\n(.*?)^## ", readme, re.DOTALL | re.MULTILINE)
    assert section, "README has no Deploy section"
    return re.sub(r"\s+", " ", section.group(1))


DEPLOY = _deploy_section()
CODE = re.findall(r"`([^`]+)`", DEPLOY)


def test_every_output_it_cites_is_one_of_the_templates():
    # "output `X`", "outputs `X` and `Y`": the names right after the word
    cited = {
        name
        for run in re.findall(r"\boutputs? ((?:`\w+`(?:,? (?:and )?)?)+)", DEPLOY)
        for name in re.findall(r"`(\w+)`", run)
    }
    assert {"EbayAcceptUrl", "EbayDeclineUrl", "CliCallbackUrl", "AccountDeletionEndpoint"} <= cited
    assert cited <= OUTPUTS, cited - OUTPUTS


def test_every_name_it_cites_is_an_output_or_a_parameter():
    # a backticked CamelCase word (`Profile`, `EbayAcceptUrl`), alone or set (`SelfSignUp=true`)
    names = {m.group(1) for c in CODE if (m := re.fullmatch(r"([A-Z][a-z]\w*)(=\S*)?", c))}
    assert "Profile" in names
    assert names <= OUTPUTS | PARAMETERS, names - OUTPUTS - PARAMETERS


def test_every_make_target_it_cites_exists():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, re.MULTILINE))
    cited = {m.group(1) for c in CODE if (m := re.match(r"make (\w+)", c))}
    assert {"deploy", "destroy", "invite", "keyset"} <= cited
    assert cited <= targets, cited - targets


def test_every_smoke_option_it_cites_exists():
    smoke = build_parser()._subparsers._group_actions[0].choices["smoke"]
    options = {flag for action in smoke._actions for flag in action.option_strings}
    at = DEPLOY.index("sniper smoke")
    cited = set(re.findall(r"`(--[a-z-]+)", DEPLOY[at:])) | set(
        re.findall(r"(--[a-z-]+)", next(c for c in CODE if c.startswith(".venv/bin/sniper smoke")))
    )
    assert {"--stack", "--item", "--max", "--token", "--no-browser"} <= cited
    assert cited <= options, cited - options
