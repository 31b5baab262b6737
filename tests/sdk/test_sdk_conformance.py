"""Conformance of the brickwarden emulator with the official Databricks SDK for Python.

Run against a running emulator (``tests/it/emulator_sdk.rs`` starts one and sets the variables):

    EMULATOR_BASE_URL   http://127.0.0.1:PORT
    EMULATOR_WS_URL     {base}/ws/ws-1 (premium)
    EMULATOR_WS2_URL    {base}/ws/ws-2 (standard tier: Premium-only APIs refused)
    EMULATOR_TOKEN      the accepted PAT
    EMULATOR_CLIENT_SECRET  the accepted OAuth / Entra ID client secret
    EMULATOR_ARM_URL, EMULATOR_AUTHORITY_HOST, EMULATOR_TENANT_ID,
    EMULATOR_ARM_RESOURCE_ID (ws-1), EMULATOR_ARM_RESOURCE_ID_STANDARD (ws-2, standard tier)

Every test starts from the seeded state (``POST /_emulator/reset``).
"""

import os
import time
from types import SimpleNamespace

import pytest
import requests
from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config
from databricks.sdk.errors import (
    BadRequest,
    InvalidParameterValue,
    InvalidState,
    NotFound,
    PermissionDenied,
    ResourceAlreadyExists,
    ResourceConflict,
    ResourceDoesNotExist,
)
from databricks.sdk.service import settings as st
from databricks.sdk.service import workspace as wsvc

from conformance import (
    ARM,
    ARM_SCOPE,
    BASE,
    DATABRICKS_SCOPE,
    RESOURCE_ID,
    RESOURCE_ID_STANDARD,
    SDK_OPTS,
    SECRET,
    TOKEN,
    emulator_workspaces,
    enable_with_standards,
    entra_token_response,
    inject_fault,
    journal,
    token_request,
    update_fields,
    write_with_etag,
)

WS = os.environ["EMULATOR_WS_URL"]
WS2 = os.environ["EMULATOR_WS2_URL"]
ARM_VERSION = "2026-01-01"
DIAG_VERSION = "2021-05-01-preview"


def sdk(**kwargs) -> WorkspaceClient:
    return WorkspaceClient(config=Config(**kwargs, **SDK_OPTS))


def client(host=WS, token=TOKEN) -> WorkspaceClient:
    return sdk(host=host, token=token, auth_type="pat")


# A replace (PUT) must keep the admins group's CAN_MANAGE, or the service refuses it. The SDK's
# TokenPermissionLevel only has CAN_USE, so the level is given as a stand-in with `.value`
# (all `as_dict` reads).
ADMINS_MANAGE = st.TokenAccessControlRequest(group_name="admins", permission_level=SimpleNamespace(value="CAN_MANAGE"))


@pytest.fixture
def w() -> WorkspaceClient:
    return client()


def admin_patch(ws: str, body: dict):
    r = requests.patch(f"{BASE}/_emulator/state/{ws}", json=body, timeout=10)
    r.raise_for_status()
    return r.json()


def entra_token(scope: str, secret: str = SECRET, client_id: str = "brickwarden-ci") -> str:
    body = entra_token_response(scope, client_id, secret)
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] > 0 and body["ext_expires_in"] > 0
    return body["access_token"]


# ---------------------------------------------------------------------------------------------
# Start-up, identity and authentication


def test_sdk_starts_and_probes_host_metadata(w):
    me = w.current_user.me()
    assert me.user_name == "admin@example.com"
    assert any(g.display == "admins" for g in me.groups)
    paths = [(e["method"], e["path"]) for e in journal(workspace="ws-1")]
    assert ("GET", "/.well-known/databricks-config") in paths
    assert ("GET", "/api/2.0/preview/scim/v2/Me") in paths
    assert w.config.workspace_id  # filled in from /.well-known/databricks-config


def test_bad_token_is_refused_like_the_real_gateway():
    # The workspace gateway answers a token it does not accept with 403 and a *numeric*
    # error_code: {"error_code": 403, "message": "Invalid access token."}. databricks-sdk-py
    # finds no string code to map and falls back to the status: PermissionDenied.
    with pytest.raises(PermissionDenied) as err:
        client(token="dapi-wrong").current_user.me()
    assert err.value.error_code == 403
    assert str(err.value).startswith("Invalid access token.")
    with pytest.raises(PermissionDenied):
        client(token="dapi-wrong").ip_access_lists.list().__next__()
    r = requests.get(f"{WS}/api/2.0/ip-access-lists", headers={"Authorization": "Bearer dapi-wrong"}, timeout=10)
    assert r.status_code == 403 and r.json() == {"error_code": 403, "message": "Invalid access token."}
    # No credentials at all: 401, numeric code too.
    r = requests.get(f"{WS}/api/2.0/ip-access-lists", timeout=10)
    assert r.status_code == 401
    assert r.json() == {
        "error_code": 401,
        "message": "Credential was not sent or was of an unsupported type for this API.",
    }


def test_oauth_m2m():
    m2m = sdk(host=WS, client_id="ci-service-principal", client_secret=SECRET, auth_type="oauth-m2m")
    me = m2m.current_user.me()
    assert me.user_name == "ci-service-principal"
    # The service principal is a workspace admin and can manage the workspace.
    assert m2m.workspace_conf.get_status(keys="enableTokensConfig") == {"enableTokensConfig": None}
    token_calls = [e for e in journal(workspace="ws-1") if e["path"] == "/oidc/v1/token"]
    assert token_calls and token_calls[0]["status"] == 200
    # A workspace's OAuth token is not valid in another workspace.
    token = m2m.config.oauth_token().access_token
    with pytest.raises(PermissionDenied):
        client(host=WS2, token=token).current_user.me()


def test_oauth_m2m_wrong_secret_fails():
    with pytest.raises(Exception):
        sdk(host=WS, client_id="ci", client_secret="wrong", auth_type="oauth-m2m").current_user.me()


def test_entra_id_tokens_by_audience():
    dbx = entra_token(DATABRICKS_SCOPE)
    assert client(token=dbx).current_user.me().user_name == "brickwarden-ci"
    assert client(host=WS2, token=dbx).current_user.me().user_name == "brickwarden-ci"
    arm = entra_token(ARM_SCOPE)
    with pytest.raises(PermissionDenied):
        client(token=arm).current_user.me()
    # Workload identity: any JWT-shaped client assertion.
    r = token_request(
        grant_type="client_credentials",
        client_id="wi-client",
        scope=DATABRICKS_SCOPE,
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion="eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
    )
    assert r.status_code == 200, r.text
    # Wrong secret: the AAD error shape.
    r = token_request(grant_type="client_credentials", client_id="x", client_secret="nope", scope=DATABRICKS_SCOPE)
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert r.json()["error_codes"] == [7000215]
    assert r.json()["error_description"].startswith("AADSTS7000215")


# ---------------------------------------------------------------------------------------------
# IP access lists


def test_ip_access_lists_crud(w):
    assert list(w.ip_access_lists.list()) == []
    created = w.ip_access_lists.create(
        label="corp-vpn", list_type=st.ListType.ALLOW, ip_addresses=["203.0.113.0/24", "198.51.100.7"]
    ).ip_access_list
    assert created.list_id and created.enabled and created.address_count == 2
    assert created.list_type == st.ListType.ALLOW
    assert created.created_at > 0 and created.created_by > 0 and created.updated_by == created.created_by
    got = w.ip_access_lists.get(created.list_id).ip_access_list
    assert got.label == "corp-vpn" and got.ip_addresses == ["203.0.113.0/24", "198.51.100.7"]
    w.ip_access_lists.update(created.list_id, label="corp", ip_addresses=["203.0.113.0/24"])
    got = w.ip_access_lists.get(created.list_id).ip_access_list
    assert got.label == "corp" and got.address_count == 1 and got.list_type == st.ListType.ALLOW
    w.ip_access_lists.replace(
        created.list_id, label="blocked", list_type=st.ListType.BLOCK, enabled=False, ip_addresses=["192.0.2.0/24"]
    )
    got = w.ip_access_lists.get(created.list_id).ip_access_list
    assert (got.label, got.list_type, got.enabled, got.ip_addresses) == (
        "blocked",
        st.ListType.BLOCK,
        False,
        ["192.0.2.0/24"],
    )
    assert [l.list_id for l in w.ip_access_lists.list()] == [created.list_id]
    # One list per (list_type, label).
    with pytest.raises(ResourceAlreadyExists) as err:
        w.ip_access_lists.create(label="blocked", list_type=st.ListType.BLOCK, ip_addresses=["192.0.2.9"])
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"
    other = w.ip_access_lists.create(label="blocked", list_type=st.ListType.ALLOW, ip_addresses=["192.0.2.9"])
    with pytest.raises(ResourceAlreadyExists):
        w.ip_access_lists.update(other.ip_access_list.list_id, list_type=st.ListType.BLOCK)
    w.ip_access_lists.delete(other.ip_access_list.list_id)
    w.ip_access_lists.delete(created.list_id)
    with pytest.raises(ResourceDoesNotExist):
        w.ip_access_lists.get(created.list_id)


def test_ip_access_lists_validation_and_quota(w):
    with pytest.raises(InvalidParameterValue):
        w.ip_access_lists.create(label="bad", list_type=st.ListType.ALLOW, ip_addresses=["10.0.0.300"])
    with pytest.raises(InvalidParameterValue):
        w.ip_access_lists.create(label="v6", list_type=st.ListType.ALLOW, ip_addresses=["2001:db8::/32"])
    many = [f"10.{i // 256}.{i % 256}.1" for i in range(1000)]
    w.ip_access_lists.create(label="many", list_type=st.ListType.ALLOW, ip_addresses=many)
    with pytest.raises(BadRequest) as err:
        w.ip_access_lists.create(label="one-more", list_type=st.ListType.BLOCK, ip_addresses=["192.0.2.1"])
    assert err.value.error_code == "QUOTA_EXCEEDED"


def test_ip_access_lists_lockout_guard(w):
    other = w.ip_access_lists.create(label="other", list_type=st.ListType.ALLOW, ip_addresses=["10.0.0.0/8"])
    with pytest.raises(InvalidState) as err:
        w.workspace_conf.set_status({"enableIpAccessLists": "true"})
    assert err.value.error_code == "INVALID_STATE"
    assert "Your current IP 127.0.0.1 will not be allowed" in str(err.value)
    mine = w.ip_access_lists.create(label="ci", list_type=st.ListType.ALLOW, ip_addresses=["127.0.0.1/32"])
    w.workspace_conf.set_status({"enableIpAccessLists": "true"})
    assert w.workspace_conf.get_status(keys="enableIpAccessLists") == {"enableIpAccessLists": "true"}
    with pytest.raises(InvalidState):
        w.ip_access_lists.delete(mine.ip_access_list.list_id)
    with pytest.raises(InvalidState):
        w.ip_access_lists.update(mine.ip_access_list.list_id, enabled=False)
    with pytest.raises(InvalidState):
        w.ip_access_lists.create(label="block-me", list_type=st.ListType.BLOCK, ip_addresses=["127.0.0.0/8"])
    # Changes that keep the caller allowed go through.
    w.ip_access_lists.delete(other.ip_access_list.list_id)
    w.workspace_conf.set_status({"enableIpAccessLists": "false"})
    w.ip_access_lists.delete(mine.ip_access_list.list_id)


def test_locked_out_caller_gets_403_but_admin_api_works(w):
    admin_patch(
        "ws-1",
        {
            "workspace_conf": {"enableIpAccessLists": "true"},
            "ip_access_lists": [{"label": "elsewhere", "list_type": "ALLOW", "ip_addresses": ["10.0.0.0/8"]}],
        },
    )
    with pytest.raises(PermissionDenied) as err:
        w.workspace_conf.get_status(keys="enableIpAccessLists")
    assert "blocked by Databricks IP ACL" in str(err.value)
    assert err.value.error_code == 403  # numeric, as the gateway answers
    # Other workspaces are unaffected.
    assert client(host=WS2).workspace_conf.get_status(keys="enableIpAccessLists") == {"enableIpAccessLists": None}
    state = requests.get(f"{BASE}/_emulator/state/ws-1", timeout=10).json()
    assert state["workspace_conf"]["enableIpAccessLists"] == "true"


# ---------------------------------------------------------------------------------------------
# Workspace conf


def test_workspace_conf(w):
    keys = "enableIpAccessLists,enableTokensConfig,maxTokenLifetimeDays,enableExportNotebook,enableVerboseAuditLogs"
    conf = w.workspace_conf.get_status(keys=keys)
    # A new workspace has set none of them: never-set keys read as null (the platform default).
    assert conf == {k: None for k in keys.split(",")}
    w.workspace_conf.set_status({"enableExportNotebook": "false", "maxTokenLifetimeDays": "90", "enable-X-Frame-Options": "true"})
    conf = w.workspace_conf.get_status(keys="enableExportNotebook,maxTokenLifetimeDays,enable-X-Frame-Options")
    assert conf == {"enableExportNotebook": "false", "maxTokenLifetimeDays": "90", "enable-X-Frame-Options": "true"}


def test_workspace_conf_invalid_keys_and_values(w):
    # One unknown (or retired) key fails the whole batched read, with the JSON list the
    # Terraform provider parses; the rest can be read again without it.
    with pytest.raises(BadRequest) as err:
        w.workspace_conf.get_status(keys="enableIpAccessLists,enableByocUi")
    assert str(err.value) == 'Invalid keys: ["enableByocUi"]'
    assert err.value.error_code == "BAD_REQUEST"
    assert w.workspace_conf.get_status(keys="enableIpAccessLists") == {"enableIpAccessLists": None}
    with pytest.raises(BadRequest) as err:
        w.workspace_conf.set_status({"noSuchKey": "true"})
    assert 'Invalid keys: ["noSuchKey"]' in str(err.value)
    with pytest.raises(BadRequest) as err:
        w.workspace_conf.set_status({"enableExportNotebook": "maybe"})
    assert "Some values are not allowed" in str(err.value)
    with pytest.raises(BadRequest):
        w.workspace_conf.set_status({"maxTokenLifetimeDays": "731"})


# ---------------------------------------------------------------------------------------------
# Tokens, token management and token permissions


def test_tokens_lifecycle(w):
    created = w.tokens.create(comment="brickwarden test", lifetime_seconds=3600)
    assert created.token_value.startswith("dapi")
    info = created.token_info
    assert info.comment == "brickwarden test"
    assert info.expiry_time - info.creation_time == 3600 * 1000
    # The new token authenticates as its owner.
    w_new = client(token=created.token_value)
    assert w_new.current_user.me().user_name == "admin@example.com"
    assert info.token_id in [t.token_id for t in w.tokens.list()]
    managed = {t.token_id: t for t in w.token_management.list()}
    assert info.token_id in managed
    assert managed[info.token_id].created_by_username == "admin@example.com"
    assert managed[info.token_id].owner_id == managed[info.token_id].created_by_id
    assert any(t.expiry_time == -1 for t in managed.values()), "a seeded token never expires"
    got = w.token_management.get(info.token_id).token_info
    assert got.comment == "brickwarden test"
    assert [t.token_id for t in w.token_management.list(created_by_username="alice@example.com")]
    w.tokens.delete(info.token_id)
    with pytest.raises(PermissionDenied):
        w_new.current_user.me()
    with pytest.raises(ResourceDoesNotExist):
        w.token_management.get(info.token_id)
    seeded = next(iter(w.token_management.list()))
    w.token_management.delete(seeded.token_id)
    assert seeded.token_id not in [t.token_id for t in w.token_management.list()]


def test_token_lifetime_bound_and_disabled_tokens(w):
    w.workspace_conf.set_status({"maxTokenLifetimeDays": "1"})
    with pytest.raises(InvalidParameterValue):
        w.tokens.create(comment="too long", lifetime_seconds=2 * 86400)
    bounded = w.tokens.create(comment="bounded").token_info
    assert bounded.expiry_time - bounded.creation_time == 86400 * 1000
    w.workspace_conf.set_status({"enableTokensConfig": "false"})
    with pytest.raises(PermissionDenied):
        w.tokens.create(comment="disabled")


def test_token_permissions(w):
    perms = w.token_management.get_permissions()
    assert perms.object_id == "/authorization/tokens"
    assert perms.object_type == "tokens"
    by_group = {a.group_name: a for a in perms.access_control_list if a.group_name}
    assert set(by_group) == {"admins", "users"}
    assert by_group["users"].all_permissions[0].permission_level == st.TokenPermissionLevel.CAN_USE
    assert by_group["users"].all_permissions[0].inherited is False
    levels = w.token_management.get_permission_levels().permission_levels
    assert st.TokenPermissionLevel.CAN_USE in [l.permission_level for l in levels]

    alice_tokens = [t.token_id for t in w.token_management.list(created_by_username="alice@example.com")]
    assert alice_tokens
    # Replace: only data-engineers (alice is a member) keeps CAN_USE. A replace must keep
    # admins' CAN_MANAGE, so it names it.
    perms = w.token_management.set_permissions(
        access_control_list=[
            st.TokenAccessControlRequest(group_name="data-engineers", permission_level=st.TokenPermissionLevel.CAN_USE),
            ADMINS_MANAGE,
        ]
    )
    groups = {a.group_name for a in perms.access_control_list if a.group_name}
    assert groups == {"admins", "data-engineers"}
    # Add a user.
    perms = w.token_management.update_permissions(
        access_control_list=[
            st.TokenAccessControlRequest(user_name="bob@example.com", permission_level=st.TokenPermissionLevel.CAN_USE)
        ]
    )
    assert "bob@example.com" in [a.user_name for a in perms.access_control_list]
    assert [t.token_id for t in w.token_management.list(created_by_username="alice@example.com")] == alice_tokens
    # Removing alice's CAN_USE deletes her tokens, as the real service does.
    w.token_management.set_permissions(
        access_control_list=[
            st.TokenAccessControlRequest(user_name="bob@example.com", permission_level=st.TokenPermissionLevel.CAN_USE),
            ADMINS_MANAGE,
        ]
    )
    assert list(w.token_management.list(created_by_username="alice@example.com")) == []
    # The admins group cannot be downgraded, nor left out of a replace (which would drop its
    # CAN_MANAGE): the message the Terraform provider quotes.
    with pytest.raises(InvalidParameterValue):
        w.token_management.set_permissions(
            access_control_list=[
                st.TokenAccessControlRequest(group_name="admins", permission_level=st.TokenPermissionLevel.CAN_USE)
            ]
        )
    before = w.token_management.get_permissions()
    with pytest.raises(InvalidParameterValue) as err:
        w.token_management.set_permissions(
            access_control_list=[
                st.TokenAccessControlRequest(user_name="bob@example.com", permission_level=st.TokenPermissionLevel.CAN_USE)
            ]
        )
    assert str(err.value) == "Cannot change permissions for group 'admins' to None."
    assert w.token_management.get_permissions() == before


# ---------------------------------------------------------------------------------------------
# Settings


def test_restrict_workspace_admins(w):
    api = w.settings.restrict_workspace_admins
    status = st.RestrictWorkspaceAdminsMessageStatus
    cur, new, stale = write_with_etag(
        api, "restrict_workspace_admins", "status", status.ALLOW_ALL, status.RESTRICT_TOKENS_AND_JOB_RUN_AS
    )
    assert cur.setting_name == "default" and cur.etag
    assert new.etag != cur.etag
    assert api.get().etag == new.etag
    # Stale etag: 409 with the fresh etag in the error details.
    assert stale.error_code == "RESOURCE_CONFLICT"
    infos = stale.get_error_info()
    assert infos and infos[0].metadata["etag"] == new.etag
    deleted = api.delete(etag=new.etag)
    assert deleted.etag and deleted.etag != new.etag
    assert api.get().restrict_workspace_admins.status == st.RestrictWorkspaceAdminsMessageStatus.ALLOW_ALL


def test_settings_patch_without_etag_on_never_written_setting(w):
    # Like the real service (terraform-provider-databricks settings/generic_setting_test.go):
    # 404 NOT_FOUND carrying the current etag, then the retry with it succeeds.
    api = w.settings.disable_legacy_dbfs
    setting = st.DisableLegacyDbfs(disable_legacy_dbfs=st.BooleanMessage(value=True))
    with pytest.raises(NotFound) as err:
        api.update(allow_missing=True, setting=setting, field_mask="disable_legacy_dbfs.value")
    assert err.value.error_code == "NOT_FOUND"
    etag = err.value.get_error_info()[0].metadata["etag"]
    assert etag == api.get().etag
    setting.etag = etag
    assert api.update(allow_missing=True, setting=setting, field_mask="disable_legacy_dbfs.value").disable_legacy_dbfs.value
    # Written now: a missing etag is a conflict like a stale one.
    setting.etag = None
    with pytest.raises(ResourceConflict):
        api.update(allow_missing=True, setting=setting, field_mask="disable_legacy_dbfs.value")


def test_automatic_cluster_update(w):
    cur, new, _ = write_with_etag(
        w.settings.automatic_cluster_update, "automatic_cluster_update_workspace", "enabled", False, True
    )
    assert cur.automatic_cluster_update_workspace.can_toggle is True
    # The rest of the message is kept (field mask).
    assert new.automatic_cluster_update_workspace.maintenance_window is not None


def test_compliance_security_profile_is_irreversible(w):
    api = w.settings.compliance_security_profile
    cur = api.get()
    assert cur.compliance_security_profile_workspace.is_enabled is False
    new = enable_with_standards(
        api, "compliance_security_profile_workspace", "is_enabled", cur.etag, [st.ComplianceStandard.HIPAA]
    )
    # Turning the profile on forces ESM and automatic cluster update on.
    assert w.settings.enhanced_security_monitoring.get().enhanced_security_monitoring_workspace.is_enabled is True
    acu = w.settings.automatic_cluster_update.get().automatic_cluster_update_workspace
    assert acu.enabled is True and acu.can_toggle is False
    with pytest.raises(BadRequest):
        update_fields(api, "compliance_security_profile_workspace", new.etag, is_enabled=False)


def test_enhanced_security_monitoring(w):
    write_with_etag(
        w.settings.enhanced_security_monitoring, "enhanced_security_monitoring_workspace", "is_enabled", False, True
    )


def test_disable_legacy_dbfs(w):
    api = w.settings.disable_legacy_dbfs
    cur = api.get()
    assert cur.disable_legacy_dbfs.value is False
    new = update_fields(api, "disable_legacy_dbfs", cur.etag, value=True)
    assert new.disable_legacy_dbfs.value is True
    with pytest.raises(ResourceConflict):
        api.delete(etag=cur.etag)
    api.delete(etag=new.etag)
    assert api.get().disable_legacy_dbfs.value is False


# ---------------------------------------------------------------------------------------------
# Pricing tiers


def test_standard_tier_refuses_premium_only_apis():
    std = client(host=WS2)
    calls = {
        "ip access lists": lambda: list(std.ip_access_lists.list()),
        "token permissions": std.token_management.get_permissions,
        "secret acls": lambda: list(std.secrets.list_acls("etl")),
        "settings": std.settings.restrict_workspace_admins.get,
    }
    for what, call in calls.items():
        with pytest.raises(PermissionDenied) as err:
            call()
        assert err.value.error_code == "FEATURE_DISABLED", what
        assert "pricing tier" in str(err.value), what
    # What Standard has keeps working.
    assert std.workspace_conf.get_status(keys="enableTokensConfig") == {"enableTokensConfig": None}
    assert [s.name for s in std.secrets.list_scopes()] == ["etl"]
    assert list(std.token_management.list())
    listed = emulator_workspaces()
    assert {w["id"]: w["sku"] for w in listed} == {"ws-1": "premium", "ws-2": "standard", "ws-3": "premium"}


def test_emulator_workspace_list():
    first = emulator_workspaces()[0]
    assert set(first) == {"id", "host", "workspaceId", "azureResourceId", "sku", "region"}
    assert isinstance(first["workspaceId"], int) and first["region"] == "westeurope"
    assert first["id"] == "ws-1" and first["azureResourceId"] == RESOURCE_ID
    # `host` is the workspace's own address (a port of its own, no path prefix), as a real
    # workspace's host is; the path-prefixed URL keeps working too.
    assert first["host"] != WS and first["host"].count("/") == 2
    assert isinstance(first["workspaceId"], int)
    assert client(host=first["host"]).get_workspace_id() == first["workspaceId"]
    assert client(host=WS).get_workspace_id() == first["workspaceId"]
    assert client(host=first["host"]).current_user.me().user_name == "admin@example.com"


# ---------------------------------------------------------------------------------------------
# Secrets


def test_secret_scopes_and_acls(w):
    scopes = {s.name: s for s in w.secrets.list_scopes()}
    assert scopes["etl"].backend_type == wsvc.ScopeBackendType.DATABRICKS
    w.secrets.create_scope(scope="brickwarden-test")
    with pytest.raises(ResourceAlreadyExists):
        w.secrets.create_scope(scope="brickwarden-test")
    assert {a.principal: a.permission for a in w.secrets.list_acls("brickwarden-test")} == {
        "admin@example.com": wsvc.AclPermission.MANAGE
    }
    w.secrets.put_acl("etl", "data-engineers", wsvc.AclPermission.READ)
    acl = w.secrets.get_acl("etl", "data-engineers")
    assert (acl.principal, acl.permission) == ("data-engineers", wsvc.AclPermission.READ)
    assert "data-engineers" in [a.principal for a in w.secrets.list_acls("etl")]
    w.secrets.delete_acl("etl", "data-engineers")
    with pytest.raises(ResourceDoesNotExist):
        w.secrets.get_acl("etl", "data-engineers")
    with pytest.raises(ResourceDoesNotExist):
        list(w.secrets.list_acls("no-such-scope"))
    w.secrets.put_secret("brickwarden-test", "password", string_value="hunter2")
    secrets = list(w.secrets.list_secrets("brickwarden-test"))
    assert [s.key for s in secrets] == ["password"] and secrets[0].last_updated_timestamp > 0
    w.secrets.delete_scope("brickwarden-test")
    assert "brickwarden-test" not in [s.name for s in w.secrets.list_scopes()]
    state = requests.get(f"{BASE}/_emulator/state/ws-1", timeout=10).text
    assert "hunter2" not in state


# ---------------------------------------------------------------------------------------------
# Admin API: faults and journal


def test_fault_injection_is_retried_by_the_sdk(w):
    inject_fault(workspace="ws-1", path_prefix="/api/2.0/ip-access-lists", status=429, count=1, retry_after_seconds=1)
    requests.delete(f"{BASE}/_emulator/requests", timeout=10)
    started = time.monotonic()
    assert list(w.ip_access_lists.list()) == []
    assert time.monotonic() - started >= 0.9, "the SDK honoured Retry-After"
    statuses = [e["status"] for e in journal(workspace="ws-1") if e["path"] == "/api/2.0/ip-access-lists"]
    assert statuses == [429, 200]


def test_journal_never_records_secrets(w):
    w.tokens.create(comment="x", lifetime_seconds=60)
    entra_token(DATABRICKS_SCOPE)
    text = requests.get(f"{BASE}/_emulator/requests", timeout=10).text
    assert TOKEN not in text and SECRET not in text
    entries = journal()
    assert {"workspace", "method", "path", "status"} <= set(entries[0])
    assert not [e for e in entries if e["path"].startswith("/_emulator")]


# ---------------------------------------------------------------------------------------------
# Azure Resource Manager (plain HTTP: no Azure SDK needed)


def arm(method: str, path: str, token: str, api_version: str = ARM_VERSION, **kwargs):
    params = {"api-version": api_version} if api_version else {}
    return requests.request(
        method, f"{ARM}{path}", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs
    )


def wait_operation(url: str, token: str) -> dict:
    """Polls an Azure-AsyncOperation URL until its status is terminal."""
    for _ in range(100):
        r = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.status_code == 200, r.text
        if r.json()["status"] != "InProgress":
            return r.json()
        time.sleep(0.1)
    raise AssertionError(f"operation {url} never finished")


def test_arm_workspace_get_put_patch():
    token = entra_token(ARM_SCOPE)
    r = arm("GET", RESOURCE_ID, token)
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["id"] == RESOURCE_ID and res["type"] == "Microsoft.Databricks/workspaces"
    assert res["sku"]["name"] == "premium"
    props = res["properties"]
    assert props["parameters"]["enableNoPublicIp"] == {"type": "Bool", "value": False}
    assert props["publicNetworkAccess"] == "Enabled" and props["provisioningState"] == "Succeeded"
    assert "encryption" not in props and "customVirtualNetworkId" not in props["parameters"]

    props["parameters"]["enableNoPublicIp"]["value"] = True
    props["publicNetworkAccess"] = "Disabled"
    props["requiredNsgRules"] = "NoAzureDatabricksRules"
    props["encryption"] = {
        "entities": {
            "managedServices": {
                "keySource": "Microsoft.Keyvault",
                "keyVaultProperties": {"keyVaultUri": "https://kv.vault.azure.net/", "keyName": "k", "keyVersion": "1"},
            }
        }
    }
    r = arm("PUT", RESOURCE_ID, token, json=res)
    assert r.status_code == 200, r.text
    # Long-running: the answer says Updating and where to poll.
    assert r.json()["properties"]["provisioningState"] == "Updating"
    assert int(r.headers["Retry-After"]) >= 1 and r.headers["Location"]
    status_url = r.headers["Azure-AsyncOperation"]
    assert status_url.startswith(ARM)
    # A second write while the operation runs: 409 Conflict.
    busy = arm("PUT", RESOURCE_ID, token, json=res)
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "Conflict"
    wait_operation(status_url, token)
    again = arm("GET", RESOURCE_ID, token).json()
    assert again["properties"]["provisioningState"] == "Succeeded"
    assert again["properties"]["parameters"]["enableNoPublicIp"]["value"] is True
    assert again["properties"]["publicNetworkAccess"] == "Disabled"
    assert again["properties"]["encryption"]["entities"]["managedServices"]["keyVaultProperties"]["keyName"] == "k"

    r = arm("PATCH", RESOURCE_ID, token, json={"tags": {"owner": "platform"}})
    assert r.status_code == 200 and r.json()["tags"] == {"owner": "platform"}
    assert wait_operation(r.headers["Azure-AsyncOperation"], token)["status"] == "Succeeded"


def test_arm_errors():
    token = entra_token(ARM_SCOPE)
    r = arm("GET", RESOURCE_ID, token, api_version=None)
    assert r.status_code == 400 and r.json()["error"]["code"] == "MissingApiVersionParameter"
    r = arm("GET", RESOURCE_ID, token, api_version="1999-01-01")
    assert r.status_code == 400 and "error" in r.json()
    res = arm("GET", RESOURCE_ID, token).json()
    res["properties"]["parameters"]["customVirtualNetworkId"] = {"value": "/subscriptions/x/virtualNetworks/v"}
    r = arm("PUT", RESOURCE_ID, token, json=res)
    assert r.status_code == 400 and r.json()["error"]["code"] == "VirtualNetworkIdChangeNotAllowed"
    res = arm("GET", RESOURCE_ID, token).json()
    res["properties"]["parameters"]["requireInfrastructureEncryption"] = {"value": True}
    r = arm("PUT", RESOURCE_ID, token, json=res)
    assert r.status_code == 400 and r.json()["error"]["code"]
    # CMK is not available on the standard tier.
    std = arm("GET", RESOURCE_ID_STANDARD, token).json()
    assert std["sku"]["name"] == "standard"
    std["properties"]["encryption"] = {
        "entities": {
            "managedDisk": {
                "keySource": "Microsoft.Keyvault",
                "keyVaultProperties": {"keyVaultUri": "https://kv.vault.azure.net/", "keyName": "k", "keyVersion": "1"},
            }
        }
    }
    r = arm("PUT", RESOURCE_ID_STANDARD, token, json=std)
    assert r.status_code == 400 and "premium" in r.json()["error"]["message"]
    # Authentication.
    r = requests.get(f"{ARM}{RESOURCE_ID}", params={"api-version": ARM_VERSION}, timeout=10)
    assert r.status_code == 401 and r.json()["error"]["code"] == "AuthenticationFailed"
    r = arm("GET", RESOURCE_ID, entra_token(DATABRICKS_SCOPE))
    assert r.status_code == 401 and r.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"
    r = arm("GET", RESOURCE_ID.replace("ws-1", "ws-99"), token)
    assert r.status_code == 404 and r.json()["error"]["code"] == "ResourceNotFound"


def test_arm_diagnostic_settings():
    token = entra_token(ARM_SCOPE)
    base = f"{RESOURCE_ID}/providers/Microsoft.Insights/diagnosticSettings"
    r = arm("GET", base, token, api_version=DIAG_VERSION)
    assert r.status_code == 200 and r.json() == {"value": []}
    r = arm("GET", f"{base}/brickwarden", token, api_version=DIAG_VERSION)
    assert r.status_code == 404
    body = {
        "properties": {
            "workspaceId": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law",
            "logs": [{"category": c, "enabled": True} for c in ["accounts", "clusters", "secrets", "jobs", "notebook", "workspace"]],
        }
    }
    r = arm("PUT", f"{base}/brickwarden", token, api_version=DIAG_VERSION, json=body)
    assert r.status_code == 200, r.text
    got = arm("GET", f"{base}/brickwarden", token, api_version=DIAG_VERSION).json()
    assert got["name"] == "brickwarden"
    assert got["properties"]["workspaceId"].endswith("/workspaces/law")
    assert [l["category"] for l in got["properties"]["logs"]][:2] == ["accounts", "clusters"]
    assert [d["name"] for d in arm("GET", base, token, api_version=DIAG_VERSION).json()["value"]] == ["brickwarden"]
    body["properties"]["logs"].append({"category": "bogus", "enabled": True})
    assert arm("PUT", f"{base}/bad", token, api_version=DIAG_VERSION, json=body).status_code == 400
    assert arm("DELETE", f"{base}/brickwarden", token, api_version=DIAG_VERSION).status_code in (200, 204)
    assert arm("GET", base, token, api_version=DIAG_VERSION).json() == {"value": []}
    state = requests.get(f"{BASE}/_emulator/state/ws-1", timeout=10).json()
    assert state["diagnostic_settings"] == []
