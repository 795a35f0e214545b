"""Load and validate `kfstack.yaml`: `load_spec(path)` is the one entry point.

Validation is offline and runs in four steps, each stopping at its first failure:

    1. YAML parsing                    (a recursion guard for absurd nesting)
    2. shape guard                     (depth and alias-expanded size, iteratively)
    3. the typed model (`model`)       (types, unknown keys, per-field limits)
    4. cross-field rules (`rules`)     (against the shipped catalog; fills derived values)

`load_spec` then records the spec file's folder (`Spec.base_dir`): relative local paths
in the spec (`kubeflow.manifests`, `existing.kubeconfig`, `file:` secret references, ...)
are read from there wherever kfstack runs, and stay as written in the spec so nothing
rendered from it depends on the checkout's location (installer.spec.paths).

Every failure becomes one `SpecError` that lists each offending field by its path
(`node_pools[1].gpu.model`, `aws['odd key']`); no input makes validation crash, which
tests/test_spec_properties.py checks with generated specs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from installer.errors import SpecError, SpecProblem
from installer.spec import rules
from installer.spec.model import Spec

__all__ = ["LoadedSpec", "Spec", "load_spec", "parse_spec", "json_schema"]

# The deepest real field is about six levels down, and a large spec holds a few thousand
# values; anything far beyond either is not a spec (and would be costly to validate).
MAX_DEPTH = 32
MAX_VALUES = 100_000


@dataclass
class LoadedSpec:
    spec: Spec
    path: Path | None
    warnings: list[SpecProblem] = field(default_factory=list)


def load_spec(path: str | Path, *, require_host_keys: bool = True) -> LoadedSpec:
    """Read, parse and validate the spec at `path` (`require_host_keys`: see `rules.check`).

    Raises:
        SpecError: the file is missing, unreadable, not YAML, or invalid.
    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(
            source, [SpecProblem("", "file not found", "create one with `kfstack init`")]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(source, [SpecProblem("", f"cannot read the file ({exc})")]) from None
    loaded = parse_spec(text, source=source, require_host_keys=require_host_keys)
    loaded.path = path
    loaded.spec.base_dir = path.resolve().parent
    return loaded


def parse_spec(text: str, *, source: str = "<spec>", require_host_keys: bool = True) -> LoadedSpec:
    """Validate spec text. Raises SpecError."""
    try:
        data = yaml.safe_load(text)
    except RecursionError:
        # PyYAML's composer recurses once per nesting level.
        raise SpecError(
            source, [SpecProblem("", f"not valid YAML: nested more than {MAX_DEPTH} levels deep")]
        ) from None
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f"line {mark.line + 1}, column {mark.column + 1}: "
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(source, [SpecProblem("", f"not valid YAML: {where}{problem}")]) from None
    return validate_data(data, source=source, require_host_keys=require_host_keys)


def validate_data(
    data: Any, *, source: str = "<spec>", require_host_keys: bool = True
) -> LoadedSpec:
    """Validate already-parsed data. Raises SpecError."""
    if data is None:
        raise SpecError(
            source,
            [SpecProblem("", "the file is empty", "start from `kfstack init` or examples/")],
        )
    if not isinstance(data, dict):
        raise SpecError(
            source,
            [SpecProblem("", f"the top level must be a mapping, not {type(data).__name__}")],
        )
    shape = _check_shape(data)
    if shape is not None:
        raise SpecError(source, [shape])
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(source, [_problem(err) for err in exc.errors()]) from None
    except (TypeError, ValueError, RecursionError) as exc:  # e.g. unhashable YAML keys
        raise SpecError(source, [SpecProblem("", f"invalid content ({exc})")]) from None
    findings = rules.check(spec, require_host_keys=require_host_keys)
    if findings.problems:
        raise SpecError(source, findings.problems)
    return LoadedSpec(spec=spec, path=None, warnings=findings.warnings)


def _check_shape(data: Any) -> SpecProblem | None:
    """A problem if the data nests deeper than MAX_DEPTH or holds more than MAX_VALUES values.

    Iterative, and run before the model: YAML aliases can expand a few lines into
    billions of values ("billion laughs"), and deep nesting exhausts the recursion of
    the model's validators. Both are refused here, cheaply, with the path at fault.
    """
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    seen = 0
    while stack:
        node, path, depth = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            top = re.match(r"[^.\[]+|\[[^\]]*\]", path)
            return SpecProblem(
                top.group(0) if top else path,
                f"the spec holds more than {MAX_VALUES} values (YAML aliases expanded)",
                "a spec is a few hundred values; remove the repeated aliases",
            )
        if depth > MAX_DEPTH:
            return SpecProblem(path, f"nested more than {MAX_DEPTH} levels deep; no spec field is")
        if isinstance(node, dict):
            for key, value in node.items():
                stack.append((value, _join(path, key), depth + 1))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                stack.append((value, _join(path, index), depth + 1))
    return None


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _join(path: str, part: Any) -> str:
    """Extend a field path: `a.b`, `a[0]`, and `a['odd key']` for keys that are not names."""
    if isinstance(part, int) and not isinstance(part, bool):
        return f"{path}[{part}]"
    if isinstance(part, str) and _PLAIN_KEY.fullmatch(part):
        return f"{path}.{part}" if path else part
    return f"{path}[{str(part)!r}]"


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the spec, for editors and `kfstack schema`."""
    schema = Spec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://kfstack.dev/schema/spec-v1.json"
    schema["title"] = "kfstack platform spec (spec_version 1)"
    return schema


def _problem(err: dict[str, Any]) -> SpecProblem:
    loc = [part for part in err.get("loc", ()) if not _is_union_tag(part)]
    path = ""
    for part in loc:
        path = _join(path, part)
    kind = err.get("type", "")
    message = err.get("msg", "invalid value")
    if kind == "extra_forbidden":
        message = "unknown field"
        hint = "check the spelling; `kfstack schema` lists every field"
        return SpecProblem(path, message, hint)
    if kind == "missing":
        return SpecProblem(path, "required field is missing")
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    given = err.get("input")
    if kind not in {"model_type", "dict_type", "list_type"} and isinstance(
        given, (str, int, float, bool)
    ):
        message += f" (got {given!r})"
    return SpecProblem(path, message)


def _is_union_tag(part: Any) -> bool:
    # pydantic inserts the chosen type into the location of union members
    return isinstance(part, str) and (part.startswith("function-") or part in {"str", "int"})
