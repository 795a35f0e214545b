"""`kfstack schema` prints a JSON Schema that accepts every example and rejects unknown keys."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from installer.cli import cli


@pytest.fixture(scope="module")
def schema() -> dict:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(document)
    return document


def test_every_example_validates_against_the_printed_schema(schema, examples):
    files = sorted(examples.glob("*.yaml"))
    assert len(files) >= 5
    for path in files:
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)


@pytest.mark.parametrize(
    "where",
    [(), ("aws",), ("aws", "network"), ("node_pools", 0), ("kubeflow", "auth", "admin")],
)
def test_an_unknown_key_anywhere_fails_schema_validation(schema, examples, where):
    data = yaml.safe_load((examples / "aws.yaml").read_text())
    node = data
    for part in where:
        node = node[part]
    node["colour"] = "blue"
    with pytest.raises(jsonschema.ValidationError) as err:
        jsonschema.validate(data, schema)
    assert "colour" in err.value.message


def test_a_spec_written_by_init_validates_against_the_schema(schema, tmp_path):
    path = tmp_path / "kfstack.yaml"
    result = CliRunner().invoke(
        cli,
        ["init", "--non-interactive", "--target", "aws", "--name", "ml", "--region",
         "us-west-2", "--gpu", "L4:4:spot", "--team", "t:a@example.com", "-c", str(path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    jsonschema.validate(yaml.safe_load(path.read_text()), schema)
