"""Schemathesis against the JSON API's own document, `/api/v1/openapi.json` (SQLite and
PostgreSQL): every operation, with requests generated from its schema (valid ones, and invalid
ones it must refuse), sent with a valid owner key to a store of the key's account. No answer may
be a 5xx, and every answer, errors included, must match the document: status code, content type,
headers and body. The budget is PARCOURS_FUZZ_EXAMPLES (tests/security_support.py), spread over
the operations.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import given
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.security_support import Hostile, assert_no_error_logged, fuzz_settings, hostile

__all__ = ["hostile"]  # the fixture, used by name

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_its_document_says(
        hostile: Hostile, mode: GenerationMode, caplog: pytest.LogCaptureFixture) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", hostile.app)
    headers = {"Authorization": f"Bearer {hostile.keys['acme']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 10  # the document was read whole
    share = 2.0 / len(operations)  # the budget of two fuzz properties, over all operations

    for operation in operations:
        @fuzz_settings(share)
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case: schemathesis.Case) -> None:
            # Always the key's own store, so that the operation's own code runs (other stores'
            # answers are tests/test_security_isolation.py's).
            if case.path_parameters and "store" in case.path_parameters:
                case.path_parameters["store"] = "own"
            case.call_and_validate(headers={**headers, **(case.headers or {})}, checks=CHECKS)

        check()
    assert_no_error_logged(caplog)
