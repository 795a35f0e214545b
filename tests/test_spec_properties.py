"""Whatever a spec file holds, `kfstack validate` answers 0 or 2, never a traceback.

Property-based: hypothesis starts from the shipped examples and mutates them (drops keys,
swaps in values of the wrong type, adds unknown keys, deep nesting, huge numbers,
unicode), or writes arbitrary text. On exit 2 the message must name a field path, or say
what is wrong with the YAML or the file as a whole.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from installer.cli import cli

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXAMPLE_DATA = {p.stem: yaml.safe_load(p.read_text()) for p in sorted(EXAMPLES.glob("*.yaml"))}

# 200 keeps CI fast; raise it locally to hunt for rarer crashes.
BOUNDED = settings(
    max_examples=int(os.environ.get("KFSTACK_HYPOTHESIS_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# A problem line: "  - node_pools[1].gpu.model: unknown GPU model ..."
FIELD_LINE = re.compile(r"^  - \S.*?: .+", re.MULTILINE)
FILE_LEVEL = (
    "not valid YAML",
    "the file is empty",
    "the top level must be a mapping",
    "cannot read the file",
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["", "1.34", "26.03", "us-east-1", "H100", "A10G", "-1", "ünïcødé ✓"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, prefix + (index,))
    return found


def _parent(data: Any, path: tuple) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


@st.composite
def mutated_specs(draw) -> Any:
    data = copy.deepcopy(EXAMPLE_DATA[draw(st.sampled_from(sorted(EXAMPLE_DATA)))])
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(data, path)
        action = draw(st.sampled_from(["drop", "replace", "unknown", "nest"]))
        if action == "drop":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(values)
        elif action == "unknown" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=15))] = draw(values)
        elif action == "nest":
            depth = draw(st.integers(min_value=1, max_value=60))
            nested: Any = draw(scalars)
            for _ in range(depth):
                nested = [nested] if draw(st.booleans()) else {"x": nested}
            parent[path[-1]] = nested
    return data


def validate_text(text: str):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kfstack.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        return CliRunner().invoke(cli, ["validate", "-c", str(path)])


def assert_clean_answer(result) -> None:
    assert result.exit_code in (0, 2), result.output
    # CliRunner records sys.exit(2) as SystemExit and sys.exit(0) as no exception.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    if result.exit_code == 2:
        assert "is not a valid kfstack spec" in result.output, result.output
        assert FIELD_LINE.search(result.output) or any(
            phrase in result.output for phrase in FILE_LEVEL
        ), result.output


@BOUNDED
@given(mutated_specs())
def test_a_mutated_example_is_either_valid_or_rejected_with_field_paths(data):
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    assert_clean_answer(validate_text(text))


@BOUNDED
@given(st.dictionaries(st.text(max_size=20), values, max_size=6))
def test_a_random_mapping_is_rejected_with_field_paths(data):
    text = yaml.safe_dump(data, allow_unicode=True)
    result = validate_text(text)
    assert_clean_answer(result)


@BOUNDED
@given(
    st.one_of(
        st.text(max_size=200),
        st.text(alphabet=":-[]{}&*!|>'\"%@`#,? \n\t", max_size=80),
        st.builds(
            lambda n: "a:\n" + "".join("  " * i + "- b:\n" for i in range(n)), st.integers(0, 120)
        ),
        st.builds(lambda n: "[" * n + "]" * n, st.integers(0, 1200)),
    )
)
def test_arbitrary_text_is_rejected_as_yaml_or_spec_problems_never_a_crash(text):
    assert_clean_answer(validate_text(text))


def test_a_key_that_is_not_a_name_is_quoted_in_the_field_path():
    result = validate_text("name: x\ntarget: aws\naws: {region: us-east-1, 'a: b': 1, 7: 2}\n")
    assert result.exit_code == 2
    assert "  - aws['a: b']: unknown field" in result.output
    assert "  - aws[7]: Keys should be strings" in result.output


def test_yaml_aliases_and_merge_keys_are_handled():
    text = "base: &b {min: 1, max: 2}\nname: x\ntarget: aws\naws: {region: us-east-1}\n"
    text += "node_pools:\n- {<<: *b, name: sys}\n"
    result = validate_text(text)
    assert result.exit_code == 2
    assert "  - base: unknown field" in result.output
