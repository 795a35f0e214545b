"""Kustomize's output as documents: each object with the exact text kustomize printed.

A cold render of the full platform is ~11 MB of YAML in ~700 documents, and turning it
into Python objects was the largest part of kfstack's own work (PyYAML builds every
node in Python even with libyaml; measured with cProfile, issue #5). Two things make it
cheap without changing what is checked:

- `split` keeps each document's text, so an object that post-render leaves untouched is
  written to `manifests.yaml` as kustomize printed it, instead of being dumped again;
- `parse` reads a document with `yaml_rs` (a Rust YAML parser, ~5x faster than PyYAML
  with libyaml on this output) and falls back to PyYAML where the two could disagree.

`yaml_rs` implements YAML 1.2; PyYAML, like the Kubernetes API server's decoder
(sigs.k8s.io/yaml over go-yaml v2), implements YAML 1.1. They differ only for some plain
(unquoted) scalars: 1.1 booleans (`yes`, `on`, `off` ...), 0-prefixed octals such as
`defaultMode: 0644`, `0o`/`0b` numbers, exponents without a dot or a signed exponent,
sexagesimals (`1:30`), dates, `=` and `<<`, and explicit tags. A document whose text
holds such a token anywhere, or that `yaml_rs` rejects (duplicate keys, for one), is read
by PyYAML, so every document reads as PyYAML (and the API server) reads it;
`tests/test_platform_documents.py` pins each case. Kustomize (go-yaml v3) quotes
strings that look like 1.1 booleans or numbers, so the fallback is rare in practice.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

try:
    import yaml_rs
except ImportError:  # pragma: no cover - a platform without a yaml-rs wheel
    yaml_rs = None

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SEPARATOR = re.compile(r"^---[ \t]*\n", re.MULTILINE)
# Where YAML 1.1 and 1.2 may disagree, or where yaml_rs is laxer about numbers than
# either (it reads `_1`, `+.5` and `.NaN` as numbers): a plain token, found after the
# places a plain scalar can start and before where it can end, that is a 1.1 word or
# date, or a number in any but its plain decimal form. Dotted versions (`1.29.0`) read
# the same in both. The net is wide (it also fires inside block scalars): a false hit
# only costs a slower parse. Possessive quantifiers keep the scan linear on the ~11 MB
# of a full render.
_START = r"(?:^[ \t]*+(?:-[ \t]++)*+|:[ \t]++|[\[{,][ \t]*+|\?[ \t]++)"
_END = r"(?=[ \t]*+(?:$|:(?:[ \t]|$)|[,\]}]|#))"
_CANDIDATE = re.compile(
    rf"{_START}(?=[-+._0-9YyNnOo=<])"
    rf"((?:[-+._0-9a-zA-Z=<]|:(?=[0-9_]))++|[0-9-]++[Tt \t][^\n]*+){_END}",
    re.MULTILINE,
)
_DIVERGENT = re.compile(
    r"[Yy]es|YES|[Nn]o|NO|[Oo]n|ON|[Oo]ff|OFF|=|<<"
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt \t].*)?"  # dates
    r"|(?=[-+.0-9_][-+._0-9a-fA-FxXoO:]*$).*_.*"  # underscores in a number
    r"|\+.*|-?\.[0-9].*|[-+]?\.(?i:inf|nan)"  # a leading + or .
    r"|-?0[0-9a-zA-Z_].*"  # octal, 0o, 0b, 0x
    r"|-?[0-9][0-9.]*[eE][-+]?[0-9]+"  # exponents
    r"|-?[0-9][0-9_]*(?::[0-9_]+)+(?:\.[0-9_]*)?"  # sexagesimal
)
# Standard tags (`!!binary`, `!!timestamp` ...) read differently. (A local tag such as
# `!x` is an error to PyYAML and ignored by yaml_rs; go-yaml, which kustomize prints
# with, quotes every string that would start with one.)
_TAG = re.compile(r"!!|!<")


def _may_diverge(text: str) -> bool:
    if _TAG.search(text):
        return True
    return any(_DIVERGENT.fullmatch(m.group(1)) for m in _CANDIDATE.finditer(text))


def split(raw: str) -> list[str]:
    """The documents of a multi-document stream, each ending in a newline, empty ones
    dropped. A line `---` at column 0 can only be a document marker (the YAML spec
    forbids it inside a scalar), so splitting on it is exact."""
    out = []
    for text in _SEPARATOR.split(raw):
        if text.strip():
            out.append(text if text.endswith("\n") else text + "\n")
    return out


def parse(text: str) -> Any:
    """One YAML document as PyYAML's safe loader reads it (see the module docstring).

    Raises:
        yaml.YAMLError: the document is not valid YAML.
    """
    if yaml_rs is not None and not _may_diverge(text):
        try:
            return yaml_rs.loads(text, parse_datetime=False)
        except Exception:  # noqa: BLE001 - PyYAML below decides and names the error
            pass
    return yaml.load(text, Loader=_Loader)


def join(texts: list[str]) -> str:
    """The documents as one stream, each after a `---` line (the manifests.yaml form)."""
    return "".join(f"---\n{text}" for text in texts)
