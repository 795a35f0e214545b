"""`kfstack catalog` lists GPU types with specs and prices, and suggests on a typo."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from installer.cli import cli


def catalog(*args: str):
    return CliRunner().invoke(cli, ["catalog", *args])


def test_the_aws_table_for_one_region_shows_each_gpu_type_with_its_price():
    result = catalog("--target", "aws", "--region", "us-east-1")
    assert result.exit_code == 0, result.output
    line = next(row for row in result.stdout.splitlines() if row.startswith("aws    p5.48xlarge"))
    assert line.split()[2:] == ["8", "x", "H100", "640", "GB", "192", "2048", "GB", "us-east-1",
                                "$55.040", "$26.000"]  # fmt: skip
    assert "figures as of aws 2026-11-02" in result.stdout
    assert "indicative" in result.stdout


def test_json_lists_every_offer_of_one_gpu_across_clouds_with_the_date():
    result = catalog("--gpu", "h100", "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data["as_of"]) == {"aws", "gcp", "azure"}
    assert {o["gpu"] for o in data["offers"]} == {"H100"}
    assert {o["cloud"] for o in data["offers"]} == {"aws", "gcp", "azure"}
    first = data["offers"][0]
    assert set(first) >= {"gpu_count", "gpu_memory_gb", "vcpu", "memory_gb", "on_demand_per_hour",
                          "spot_per_hour", "region", "as_of"}  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message", "suggestion"),
    [
        (["--target", "awz"], "unknown target 'awz'", "did you mean aws?"),
        (
            ["--target", "gcp", "--region", "us-centrl1"],
            "unknown region",
            "did you mean us-central1?",
        ),
        (["--gpu", "L40"], "unknown GPU model 'L40'", "did you mean L40S?"),
    ],
)
def test_an_unknown_filter_exits_2_with_a_suggestion(args, message, suggestion):
    result = catalog(*args)
    assert result.exit_code == 2
    assert message in result.output and suggestion in result.output


def test_a_known_gpu_that_a_cloud_does_not_offer_gives_an_empty_table():
    result = catalog("--target", "aws", "--gpu", "H100-NVL")
    assert result.exit_code == 0
    assert "no GPU instance type matches" in result.stdout
