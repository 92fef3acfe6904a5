"""Schemathesis against our OpenAPI schema, in process (ASGI, no network): no input may cause a 5xx.

Every operation gets a few schema-valid and a few schema-violating requests (derandomized, so the
run is repeatable), as the province admin, who reaches every operation. Kept small to run in well
under a minute. (Schemathesis' pytest plugin does not run on pytest 9, so the loop is ours.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.api.world import Template, World, running_world

EXAMPLES_PER_MODE = 8


@pytest.fixture(scope="module")
def fuzz_world(template: Template, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One world for every operation: the fuzzer's requests pile up in it, as in real use."""
    directory: Path = tmp_path_factory.mktemp("schemathesis")
    with running_world(template, directory) as world:
        yield world


def fuzz(operation: schemathesis.APIOperation, mode: GenerationMode, world: World, failures: list[str]) -> int:
    """Send EXAMPLES_PER_MODE generated requests to one operation; note any 5xx or off-shape error."""
    calls = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES_PER_MODE, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def exercise(case: schemathesis.Case) -> None:
        nonlocal calls
        calls += 1
        # Our token replaces whatever the generator put in Authorization (it fuzzes that header too);
        # logging out revokes the token it is called with, so that one gets a token of its own.
        logout = case.method == "DELETE" and case.path == "/api/v1/auth/token"
        token = world.new_token("province") if logout else world.token("province")
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        response = case.call()
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} ({mode.value}): "
                            f"{response.status_code} {response.text[:300]}\n  {case.as_curl_command()}")
        elif response.status_code >= 400 and not response.json().get("error", {}).get("code"):
            failures.append(f"{case.method} {case.formatted_path}: {response.status_code} not in our shape")

    try:
        exercise()
    except Unsatisfiable:
        # An operation without parameters or body has no schema to violate.
        assert mode == GenerationMode.NEGATIVE, f"no valid request generated for {operation.label}"
    return calls


def test_no_input_causes_a_server_error(fuzz_world: World) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_world.app)
    failures: list[str] = []
    operations = calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            calls += fuzz(operation, mode, fuzz_world, failures)
    assert operations >= 40 and calls >= operations * 2
    assert not failures, "\n".join(failures)
