"""What the SDK conformance tests share: the environment more than one of them reads (a
module reads what it alone needs itself), the SDK options, and helpers for the emulator's admin API
(``/_emulator``), its Entra ID token endpoint and the settings API's etags.

``tests/it/emulator_sdk.rs`` starts the emulators and sets the variables; each test module's
docstring says which it uses.
"""

import os
import typing

import pytest
import requests
from databricks.sdk.errors import ResourceConflict

BASE = os.environ["EMULATOR_BASE_URL"]
TOKEN = os.environ["EMULATOR_TOKEN"]
SECRET = os.environ["EMULATOR_CLIENT_SECRET"]
ARM = os.environ["EMULATOR_ARM_URL"]
AUTHORITY = os.environ["EMULATOR_AUTHORITY_HOST"]
TENANT = os.environ["EMULATOR_TENANT_ID"]
RESOURCE_ID = os.environ["EMULATOR_ARM_RESOURCE_ID"]
RESOURCE_ID_STANDARD = os.environ["EMULATOR_ARM_RESOURCE_ID_STANDARD"]
DATABRICKS_SCOPE = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"
ARM_SCOPE = "https://management.azure.com/.default"

# Keep SDK retries short so a wrongly retriable answer fails fast instead of hanging.
SDK_OPTS = {"retry_timeout_seconds": 30, "http_timeout_seconds": 30}


def reset_emulator(base: str = BASE):
    """Back to the seeded state: ``POST /_emulator/reset``."""
    requests.post(f"{base}/_emulator/reset", timeout=10).raise_for_status()


def journal(base: str = BASE, **params) -> list:
    """The emulator's request journal, filtered by ``params`` (``workspace="ws-1"``, ...)."""
    r = requests.get(f"{base}/_emulator/requests", params=params, timeout=10)
    r.raise_for_status()
    return r.json()


def emulator_workspaces(base: str = BASE) -> list:
    """``GET /_emulator/workspaces``: the emulated workspaces, as the emulator lists them."""
    r = requests.get(f"{base}/_emulator/workspaces", timeout=10)
    r.raise_for_status()
    return r.json()


def inject_fault(**fault):
    """``POST /_emulator/faults``: the emulator answers the matching requests with ``fault``."""
    r = requests.post(f"{BASE}/_emulator/faults", json=fault, timeout=10)
    assert r.status_code == 201, r.text


def token_request(**form) -> requests.Response:
    """A token request (``form`` is its form body) to the emulator's Entra ID endpoint."""
    return requests.post(f"{AUTHORITY}/{TENANT}/oauth2/v2.0/token", data=form, timeout=10)


def entra_token_response(scope: str, client_id: str, secret: str = SECRET) -> dict:
    """The body of a client-credentials token answer from the emulator's Entra ID endpoint."""
    r = token_request(grant_type="client_credentials", client_id=client_id, client_secret=secret, scope=scope)
    r.raise_for_status()
    return r.json()


def update_fields(api, message: str, etag, **fields):
    """A settings API write (``api.update``, ``allow_missing``) of ``fields`` of the setting's
    ``message``, with ``etag``: the field mask names those fields, in order. The setting and the
    message are of the classes the SDK declares: ``api.get``'s return type and its ``message``.
    """
    setting_class = typing.get_type_hints(api.get)["return"]
    message_class = typing.get_type_hints(setting_class)[message]
    return api.update(
        allow_missing=True,
        setting=setting_class(**{message: message_class(**fields)}, etag=etag),
        field_mask=",".join(f"{message}.{name}" for name in fields),
    )


def enable_with_standards(api, message: str, switch: str, etag, standards: list):
    """Turns a compliance security profile (the setting's ``message``) on, its ``switch`` and its
    ``compliance_standards`` in one write with ``etag``; the answer has both."""
    new = update_fields(api, message, etag, **{switch: True, "compliance_standards": standards})
    profile = getattr(new, message)
    assert getattr(profile, switch) is True
    assert profile.compliance_standards == standards
    return new


def write_with_etag(api, message: str, name: str, default, value):
    """The settings API's optimistic concurrency, on the field ``name`` of a setting's ``message``,
    which reads ``default`` until written (see ``update_fields``).

    Writes ``value`` with the etag just read, then ``default`` back with that same etag, stale
    now, which must be refused (409). Returns the setting as read, as the write answered it, and
    the refusal.
    """
    cur = api.get()
    assert getattr(getattr(cur, message), name) is default
    new = update_fields(api, message, cur.etag, **{name: value})
    assert getattr(getattr(new, message), name) is value
    with pytest.raises(ResourceConflict) as stale:
        update_fields(api, message, cur.etag, **{name: default})
    return cur, new, stale.value
