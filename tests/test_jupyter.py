"""Jupyter answers on its listed port, refuses API calls without a token, and accepts the
token the image documents (images.yaml jupyter.token_env, set to a random value per run)."""
import http.client

import pytest

from imagecheck.check import fail, not_applicable
from imagecheck.image import services as services_module

pytestmark = pytest.mark.services

REFUSED = (401, 403)
API = "/api/contents"


@pytest.fixture(autouse=True)
def _jupyter_is_promised(image):
    """The checks of this module apply only to an image that lists a jupyter port."""
    if "jupyter" not in image.spec.ports.values():
        not_applicable(f"images.yaml lists no jupyter port for {image.ref}")


def _get(services, path, token=None):
    try:
        return services.http(path, token)
    except (OSError, http.client.HTTPException) as error:
        fail(f"GET {path} on {services.endpoint('jupyter')} failed: {type(error).__name__}: {error}")


def test_jupyter_answers_http(image, services, evidence):
    status, body = _get(services, "/api")
    version = (services_module.json_or_none(body) or {}).get("version")
    evidence("jupyter.api", {"status": status, "version": version})
    assert status == 200 and version, (f"Jupyter in {image.ref} answers GET /api with HTTP {status} "
                                       f"({body[:120]!r}), expected 200 and its version")


def test_jupyter_refuses_unauthenticated_api_calls(image, services, evidence):
    status, body = _get(services, API)
    evidence("jupyter.unauthenticated_status", status)
    assert status in REFUSED, (
        f"Jupyter in {image.ref} answers GET {API} without a token with HTTP {status}, expected 401 or 403: "
        "anyone who reaches the port can run code\n  hint: never set the token (or password) to '' in "
        "jupyter_server_config; take it from $" + image.spec.jupyter.token_env)


def test_jupyter_accepts_the_documented_token(image, services, evidence):
    status, body = _get(services, API, token=services.token)
    evidence("jupyter.token_env", image.spec.jupyter.token_env)
    evidence("jupyter.token_status", status)
    assert status == 200, (
        f"Jupyter in {image.ref} answers GET {API} with the token from ${image.spec.jupyter.token_env} with "
        f"HTTP {status}, expected 200\n  hint: the image must read its token from the variable images.yaml "
        "names (jupyter.token_env)")
