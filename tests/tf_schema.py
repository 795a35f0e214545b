"""Check a generated Terraform root against providers' real schemas, offline.

`terraform validate` needs the provider binaries, which cannot be installed here for
google and azurerm; their schemas can (`../shared/provider-schemas/`, the layout of
`terraform providers schema -json`). `check_root(root, schemas)` walks what Terraform
would read:

    root *.tf.json      provider, resource and data blocks, and module calls
    └── module calls    every argument must be a variable of the module, every variable
        │               without a default must be given, and values passed to typed
        │               variables must fit the type (Terraform silently drops unknown
        │               object attributes, so a misspelt key would otherwise vanish)
        └── module *.tf resource and data blocks (parsed with python-hcl2), including
                        `dynamic` blocks

and reports, for every resource and nested block: unknown resource types, unknown
argument or block names, blocks written as attributes (and the reverse), a `single`
block repeated, and required arguments or blocks that are missing. Values are not
evaluated: an expression stands for whatever it computes.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

# Meta-arguments Terraform handles itself, valid in every resource or data block.
META_ARGUMENTS = {"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner"}
MODULE_META = {"source", "version", "count", "for_each", "depends_on", "providers"}
# Resource types built into Terraform (no provider schema).
BUILTIN_RESOURCES = {"terraform_data"}
_HCL_MARKERS = ("__is_block__", "__start_line__", "__end_line__", "__comments__")


@dataclass
class ProviderSchema:
    """One provider's schema: its config block, resources and data sources by type."""

    name: str
    provider: dict[str, Any]
    resources: dict[str, dict[str, Any]]
    data_sources: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, path: Path) -> ProviderSchema:
        raw = json.loads(Path(path).read_text())
        (address, schema), *_ = raw["provider_schemas"].items()
        return cls(
            name=address.rsplit("/", 1)[-1],
            provider=_arguments_only(schema["provider"]["block"]),
            resources={
                k: _arguments_only(v["block"])
                for k, v in schema.get("resource_schemas", {}).items()
            },
            data_sources={
                k: _arguments_only(v["block"])
                for k, v in schema.get("data_source_schemas", {}).items()
            },
        )


def _arguments_only(block: dict[str, Any]) -> dict[str, Any]:
    """Drop attributes a configuration cannot set (computed only), as the offline files
    already do, so a schema straight from `terraform providers schema -json` checks the
    same way."""
    attributes = {
        name: attr
        for name, attr in (block.get("attributes") or {}).items()
        if attr.get("required") or attr.get("optional") or not attr.get("computed")
    }
    nested = {
        name: dict(spec, block=_arguments_only(spec.get("block") or {}))
        for name, spec in (block.get("block_types") or {}).items()
    }
    return {"attributes": attributes, "block_types": nested}


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    # Every resource type checked, as `<file>: <type>`; tests assert coverage with it.
    checked: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")


def check_root(root: Path, schemas: list[ProviderSchema]) -> Report:
    """Walk the Terraform root at `root` (and the modules it calls) against `schemas`."""
    report = Report()
    by_name = {s.name: s for s in schemas}
    for path in sorted(root.glob("*.tf.json")):
        document = json.loads(path.read_text())
        _check_json_document(document, path.name, root, by_name, report)
    for path in sorted(root.glob("*.tf")):
        _check_hcl_file(path, path.name, root, by_name, report)
    return report


# ---------------------------------------------------------------------------- documents


def _check_json_document(doc: dict, where: str, base: Path, schemas, report: Report) -> None:
    for name, bodies in (doc.get("provider") or {}).items():
        schema = schemas.get(name)
        if schema is None:
            report.add(f"{where}: provider.{name}", "no schema loaded for this provider")
            continue
        for body in bodies if isinstance(bodies, list) else [bodies]:
            _check_body(body, schema.provider, f"{where}: provider.{name}", report, hcl=False)
    for kind in ("resource", "data"):
        for rtype, instances in (doc.get(kind) or {}).items():
            for rname, body in instances.items():
                for one in body if isinstance(body, list) else [body]:
                    _check_resource(kind, rtype, rname, one, where, schemas, report, hcl=False)
    for mname, call in (doc.get("module") or {}).items():
        _check_module_call(mname, call, where, base, schemas, report)


def load_hcl(path: Path) -> dict[str, Any]:
    """Parse an HCL file (cached by content: every matrix case copies the same modules)."""
    return copy.deepcopy(_parse_hcl(path.read_text()))


@functools.lru_cache(maxsize=64)
def _parse_hcl(text: str) -> dict[str, Any]:
    return hcl2.loads(text)


def _check_hcl_file(path: Path, where: str, base: Path, schemas, report: Report) -> None:
    doc = load_hcl(path)
    for kind in ("resource", "data"):
        for entry in doc.get(kind) or []:
            for rtype, named in entry.items():
                for rname, body in named.items():
                    _check_resource(
                        kind, _unquote(rtype), _unquote(rname), body, where, schemas, report, True
                    )
    for entry in doc.get("module") or []:
        for mname, call in entry.items():
            call = {k: v for k, v in call.items() if k not in _HCL_MARKERS}
            call["source"] = _unquote(call.get("source", ""))
            _check_module_call(_unquote(mname), call, where, base, schemas, report)


def _check_resource(kind, rtype, rname, body, where, schemas, report: Report, hcl: bool) -> None:
    label = f"{where}: {kind}.{rtype}.{rname}" if kind == "data" else f"{where}: {rtype}.{rname}"
    if kind == "resource" and rtype in BUILTIN_RESOURCES:
        report.checked.append(f"{where}: {rtype}")
        return
    schema = schemas.get(rtype.split("_", 1)[0])
    if schema is None:
        report.add(label, f"no provider schema loaded for {rtype}")
        return
    table = schema.resources if kind == "resource" else schema.data_sources
    block = table.get(rtype)
    if block is None:
        report.add(label, f"unknown {kind} type {rtype} in provider {schema.name}")
        return
    report.checked.append(f"{where}: {rtype}")
    _check_body(body, block, label, report, hcl=hcl, meta=META_ARGUMENTS)


# ---------------------------------------------------------------------------- blocks


def _check_body(
    body: Any, block: dict, label: str, report: Report, *, hcl: bool, meta=frozenset()
) -> None:
    if not isinstance(body, dict):
        report.add(label, f"expected a block body, got {type(body).__name__}")
        return
    attributes = block.get("attributes") or {}
    nested = block.get("block_types") or {}
    present: dict[str, int] = {}

    for key, value in body.items():
        if key in _HCL_MARKERS or key in meta:
            continue
        if key == "dynamic":
            for name, content in _dynamic_blocks(value, hcl):
                spec = nested.get(name)
                if spec is None:
                    report.add(label, f"dynamic block {name!r} is not a block of this type")
                    continue
                # A dynamic block may generate none, so it neither repeats a single block
                # nor proves a required one; count it as present once.
                present[name] = max(present.get(name, 0), 1)
                _check_body(content, spec["block"], f"{label}.{name}", report, hcl=hcl)
            continue
        if key in attributes:
            if hcl and _is_block(value):
                report.add(label, f"{key!r} is an argument; write `{key} = ...`, not a block")
            present[key] = 1
            continue
        if key in nested:
            spec = nested[key]
            instances = _block_instances(value, hcl)
            if instances is None:
                report.add(label, f"{key!r} is a nested block; write `{key} {{ ... }}`")
                continue
            present[key] = present.get(key, 0) + len(instances)
            most = 1 if spec.get("nesting_mode") == "single" else spec.get("max_items")
            if most and len(instances) > most:
                times = "once" if most == 1 else f"{most} times"
                report.add(label, f"block {key!r} may appear {times}, found {len(instances)}")
            for index, instance in enumerate(instances):
                suffix = f"[{index}]" if len(instances) > 1 else ""
                _check_body(instance, spec["block"], f"{label}.{key}{suffix}", report, hcl=hcl)
            continue
        report.add(label, f"unknown argument or block {key!r}")

    for name, attr in attributes.items():
        if attr.get("required") and name not in present:
            report.add(label, f"required argument {name!r} is missing")
    for name, spec in nested.items():
        if (spec.get("required") or (spec.get("min_items") or 0) > 0) and name not in present:
            report.add(label, f"required block {name!r} is missing")


def _is_block(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and v.get("__is_block__") for v in value)
    )


def _block_instances(value: Any, hcl: bool) -> list[dict] | None:
    """The instances of a nested block, or None when it was written as an attribute."""
    if hcl:
        return [dict(v) for v in value] if _is_block(value) else None
    # Terraform JSON writes a block as an object or a list of objects.
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        return list(value)
    return None


def _dynamic_blocks(value: Any, hcl: bool) -> list[tuple[str, Any]]:
    found = []
    entries = value if isinstance(value, list) else [value]
    for entry in entries:
        for name, spec in (entry or {}).items():
            if name in _HCL_MARKERS:
                continue
            content = spec.get("content")
            if isinstance(content, list):
                content = content[0] if content else {}
            found.append((_unquote(name), content or {}))
    return found


# ---------------------------------------------------------------------------- modules


def _check_module_call(name, call, where, base: Path, schemas, report: Report) -> None:
    label = f"{where}: module.{name}"
    source = call.get("source", "")
    if not source.startswith("./") and not source.startswith("../"):
        report.add(label, f"source {source!r} is not a local module (cannot be checked)")
        return
    directory = (base / source).resolve()
    if not directory.is_dir():
        report.add(label, f"module source {source} does not exist under {base}")
        return
    variables = module_variables(directory)
    for key, value in call.items():
        if key in MODULE_META:
            continue
        if key not in variables:
            report.add(label, f"module {source} has no variable {key!r}")
            continue
        type_expr = variables[key]["type"]
        if type_expr is not None:
            for problem in check_value(value, type_expr, key):
                report.add(label, problem)
    for var, info in variables.items():
        if not info["has_default"] and var not in call:
            report.add(label, f"required variable {var!r} of {source} is not set")
    for path in sorted(directory.glob("*.tf")):
        _check_hcl_file(path, f"{source}/{path.name}", directory, schemas, report)


def module_variables(directory: Path) -> dict[str, dict[str, Any]]:
    """Variables of the module in `directory`: parsed type and whether it has a default."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        doc = load_hcl(path)
        for entry in doc.get("variable") or []:
            for name, body in entry.items():
                raw = body.get("type")
                found[_unquote(name)] = {
                    "type": parse_type(_strip_interpolation(raw)) if raw else None,
                    "has_default": "default" in body,
                }
    return found


# ---------------------------------------------------------------------------- types

_TOKEN = re.compile(
    r"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_-]*)|(?P<num>-?\d+(?:\.\d+)?)"
    r'|(?P<str>"(?:[^"\\]|\\.)*")|(?P<punct>[(){}\[\],=:]))'
)


def parse_type(text: str) -> Any:
    """Parse a Terraform type constraint into nested tuples:
    ("string"|"number"|"bool"|"any",) | ("list"|"set"|"map", T) | ("tuple", [T...])
    | ("object", {name: (T, optional)})."""
    tokens = _tokenize(text)
    parsed, pos = _parse_type(tokens, 0)
    if pos != len(tokens):
        raise ValueError(f"trailing text in type {text!r}")
    return parsed


def _tokenize(text: str) -> list[str]:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ValueError(f"cannot read type {text!r} at {pos}")
        tokens.append(match.group().strip())
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens


def _parse_type(tokens: list[str], pos: int) -> tuple[Any, int]:
    word = tokens[pos]
    if word in ("string", "number", "bool", "any"):
        return (word,), pos + 1
    if word in ("list", "set", "map"):
        inner, pos = _parse_type(tokens, _expect(tokens, pos + 1, "("))
        return (word, inner), _expect(tokens, pos, ")")
    if word == "tuple":
        pos = _expect(tokens, _expect(tokens, pos + 1, "("), "[")
        items = []
        while tokens[pos] != "]":
            item, pos = _parse_type(tokens, pos)
            items.append(item)
            if tokens[pos] == ",":
                pos += 1
        return ("tuple", items), _expect(tokens, pos + 1, ")")
    if word == "object":
        pos = _expect(tokens, _expect(tokens, pos + 1, "("), "{")
        fields: dict[str, tuple[Any, bool]] = {}
        while tokens[pos] != "}":
            key = tokens[pos]
            pos = _expect(tokens, pos + 1, "=")
            if tokens[pos] == "optional":
                inner, pos = _parse_type(tokens, _expect(tokens, pos + 1, "("))
                pos = _skip_to_close(tokens, pos)
                fields[key] = (inner, True)
            else:
                inner, pos = _parse_type(tokens, pos)
                fields[key] = (inner, False)
            if tokens[pos] == ",":
                pos += 1
        return ("object", fields), _expect(tokens, pos + 1, ")")
    raise ValueError(f"unknown type keyword {word!r}")


def _expect(tokens: list[str], pos: int, want: str) -> int:
    if pos >= len(tokens) or tokens[pos] != want:
        got = tokens[pos] if pos < len(tokens) else "end"
        raise ValueError(f"expected {want!r} in type, got {got!r}")
    return pos + 1


def _skip_to_close(tokens: list[str], pos: int) -> int:
    """Skip an optional() default value; return the position after its closing ')'."""
    depth = 0
    while pos < len(tokens):
        token = tokens[pos]
        if token in "([{":
            depth += 1
        elif token in ")]}":
            if depth == 0:
                return pos + 1
            depth -= 1
        pos += 1
    raise ValueError("unbalanced optional()")


def check_value(value: Any, type_: Any, path: str) -> list[str]:
    """Problems with passing `value` (JSON) to a variable of parsed type `type_`."""
    if value is None or _is_expression(value):
        return []
    kind = type_[0]
    if kind == "any":
        return []
    if kind == "string":
        # Terraform converts numbers and bools to strings.
        ok = isinstance(value, str | int | float | bool)
        return [] if ok else [f"{path}: expected a string, got {type(value).__name__}"]
    if kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if isinstance(value, str):
            ok = re.fullmatch(r"-?\d+(\.\d+)?", value) is not None
        return [] if ok else [f"{path}: expected a number, got {value!r}"]
    if kind == "bool":
        ok = isinstance(value, bool) or value in ("true", "false")
        return [] if ok else [f"{path}: expected a bool, got {value!r}"]
    if kind in ("list", "set"):
        if not isinstance(value, list):
            return [f"{path}: expected a {kind}, got {type(value).__name__}"]
        return [p for i, v in enumerate(value) for p in check_value(v, type_[1], f"{path}[{i}]")]
    if kind == "tuple":
        if not isinstance(value, list) or len(value) != len(type_[1]):
            return [f"{path}: expected a tuple of {len(type_[1])}"]
        return [
            p for i, v in enumerate(value) for p in check_value(v, type_[1][i], f"{path}[{i}]")
        ]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected a map, got {type(value).__name__}"]
        return [p for k, v in value.items() for p in check_value(v, type_[1], f"{path}.{k}")]
    # object
    if not isinstance(value, dict):
        return [f"{path}: expected an object, got {type(value).__name__}"]
    problems = []
    fields = type_[1]
    for key in value:
        if key not in fields:
            problems.append(f"{path}: attribute {key!r} is not in the variable's type")
    for key, (inner, optional) in fields.items():
        if key in value:
            problems += check_value(value[key], inner, f"{path}.{key}")
        elif not optional:
            problems.append(f"{path}: required attribute {key!r} is missing")
    return problems


def _is_expression(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def _strip_interpolation(raw: str) -> str:
    raw = raw.strip()
    return raw[2:-1] if raw.startswith("${") and raw.endswith("}") else raw


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


# ---------------------------------------------------------------------------- sources

SCHEMA_VERSIONS = {"google": "6.50.0", "azurerm": "4.55.0", "aws": "6.25.0"}


def locate_schema(
    shared: Path | None, name: str, scratch: Path, version: str | None = None
) -> tuple[Path | None, str]:
    """The schema file for provider `name`: from `../shared/provider-schemas` when present,
    else what Terraform itself reports on a connected machine (`terraform init` of the
    same provider version in `scratch`, then `terraform providers schema -json`). Returns
    the path, or None and the reason it could not be had (offline, no terraform)."""
    version = version or SCHEMA_VERSIONS[name]
    if shared is not None:
        path = shared / "provider-schemas" / f"{name}-{version}.json"
        if path.is_file():
            return path, ""
    terraform = shutil.which("terraform")
    if terraform is None:
        return None, "no ../shared/provider-schemas and no terraform on PATH"
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "versions.tf.json").write_text(
        json.dumps(
            {
                "terraform": {
                    "required_providers": {
                        name: {"source": f"hashicorp/{name}", "version": f"= {version}"}
                    }
                }
            }
        )
    )
    init = subprocess.run(
        [terraform, "init", "-backend=false", "-input=false", "-no-color"],
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if init.returncode != 0:
        tail = (init.stderr.strip().splitlines() or ["?"])[-1]
        return None, f"cannot install the {name} provider {version} (offline?): {tail}"
    shown = subprocess.run(
        [terraform, "providers", "schema", "-json"],
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    path = scratch / f"{name}-{version}.json"
    path.write_text(shown.stdout)
    return path, ""
