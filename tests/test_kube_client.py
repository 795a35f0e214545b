"""The REST client's reading of what the API server says besides the body."""

from __future__ import annotations

from installer.kube.client import _warning_texts


def test_warning_headers_are_read_as_the_api_server_writes_them():
    assert _warning_texts(['299 - "v1 Endpoints is deprecated in v1.33+; use EndpointSlice"']) == [
        "v1 Endpoints is deprecated in v1.33+; use EndpointSlice"
    ]
    # Several in one header, comma-separated; escaped quotes and backslashes inside.
    assert _warning_texts(['299 - "a, with comma", 299 - "say \\"hi\\" \\\\ bye"']) == [
        "a, with comma",
        'say "hi" \\ bye',
    ]
    assert _warning_texts(["not a warn-value"]) == []
