"""Conformance of the emulator's Azure Resource Manager (``/arm``) with the official Azure SDKs
for Python: ``azure-mgmt-databricks`` (api-version 2026-01-01) and ``azure-mgmt-monitor`` 6.x
(diagnostic settings, api-version 2021-05-01-preview).

Same environment as ``test_sdk_conformance.py`` (``tests/emulator_sdk.rs`` sets it).

Authentication: the SDKs' default policy (``ARMChallengeAuthenticationPolicy``, a
``BearerTokenCredentialPolicy``) refuses to send a bearer token over plain http, and the
emulator serves http. So the clients get ``authentication_policy=EmulatorBearerPolicy(...)``: a
small policy of our own that asks the credential for a token and sets the ``Authorization``
header, nothing else. The credential (``EmulatorCredential``) is an
``azure.core.credentials.TokenCredential`` that gets its tokens from the emulator's Entra ID
endpoint with the client-credentials grant, as ``ClientSecretCredential`` would.
"""

import time

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.mgmt.databricks import AzureDatabricksManagementClient
from azure.mgmt.databricks import models as dbm
from azure.mgmt.monitor import MonitorManagementClient
from azure.mgmt.monitor.models import DiagnosticSettingsResource, LogSettings

from conformance import (
    ARM,
    ARM_SCOPE,
    RESOURCE_ID,
    RESOURCE_ID_STANDARD,
    SECRET,
    emulator_workspaces,
    entra_token_response,
    inject_fault,
    journal,
)

SUBSCRIPTION = RESOURCE_ID.split("/")[2]
GROUP = RESOURCE_ID.split("/")[4]
LAW = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.OperationalInsights/workspaces/law"


class EmulatorCredential:
    """A TokenCredential backed by the emulator's Entra ID token endpoint."""

    def __init__(self, client_id: str = "azure-sdk-conformance", secret: str = SECRET):
        self.client_id = client_id
        self.secret = secret

    def get_token(self, *scopes, **kwargs) -> AccessToken:
        body = entra_token_response(" ".join(scopes), self.client_id, self.secret)
        return AccessToken(body["access_token"], int(time.time()) + int(body["expires_in"]))


class EmulatorBearerPolicy(SansIOHTTPPolicy):
    """Sets ``Authorization: Bearer`` from the credential, over http too (see module doc)."""

    def __init__(self, credential, *scopes):
        self.credential = credential
        self.scopes = scopes
        self.token = None

    def on_request(self, request):
        if self.token is None or self.token.expires_on - 60 < time.time():
            self.token = self.credential.get_token(*self.scopes)
        request.http_request.headers["Authorization"] = f"Bearer {self.token.token}"


def arm_client(client_class):
    """``client_class`` (an azure-mgmt client) on the emulator's ARM, with its own credential."""
    credential = EmulatorCredential()
    return client_class(
        credential,
        SUBSCRIPTION,
        base_url=ARM,
        authentication_policy=EmulatorBearerPolicy(credential, ARM_SCOPE),
        # Keep retries short so a wrong answer fails fast.
        retry_total=1,
    )


@pytest.fixture
def dbx() -> AzureDatabricksManagementClient:
    return arm_client(AzureDatabricksManagementClient)


def name_of(resource_id: str) -> str:
    return resource_id.rsplit("/", 1)[1]


def test_get_seeded_workspace(dbx):
    ws = dbx.workspaces.get(GROUP, "ws-1")
    assert ws.id == RESOURCE_ID and ws.type == "Microsoft.Databricks/workspaces"
    assert ws.sku.name == "premium"
    assert ws.compute_mode == dbm.ComputeMode.HYBRID
    assert ws.provisioning_state == dbm.ProvisioningState.SUCCEEDED
    assert ws.public_network_access == dbm.PublicNetworkAccess.ENABLED
    assert ws.parameters.enable_no_public_ip.value is False
    esc = ws.enhanced_security_compliance
    assert esc.compliance_security_profile.value == dbm.ComplianceSecurityProfileValue.DISABLED
    assert esc.compliance_security_profile.compliance_standards == []
    assert esc.enhanced_security_monitoring.value == dbm.EnhancedSecurityMonitoringValue.DISABLED
    assert esc.automatic_cluster_update.value == dbm.AutomaticClusterUpdateValue.DISABLED
    assert ws.workspace_id and ws.workspace_url
    assert dbx.workspaces.get(GROUP, name_of(RESOURCE_ID_STANDARD)).sku.name == "standard"


def test_list_by_resource_group_and_subscription(dbx):
    by_group = sorted(w.name for w in dbx.workspaces.list_by_resource_group(GROUP))
    by_sub = sorted(w.name for w in dbx.workspaces.list_by_subscription())
    assert by_group == by_sub == ["ws-1", "ws-2", "ws-3"]


def test_update_with_the_poller(dbx):
    ws = dbx.workspaces.get(GROUP, "ws-1")
    ws.public_network_access = dbm.PublicNetworkAccess.DISABLED
    ws.required_nsg_rules = dbm.RequiredNsgRules.NO_AZURE_DATABRICKS_RULES
    ws.parameters.enable_no_public_ip.value = True
    poller = dbx.workspaces.begin_create_or_update(GROUP, "ws-1", ws, polling_interval=0.1)
    assert not poller.done()
    done = poller.result(timeout=30)
    assert poller.status().lower() == "succeeded"
    assert done.provisioning_state == dbm.ProvisioningState.SUCCEEDED
    assert done.public_network_access == dbm.PublicNetworkAccess.DISABLED
    assert done.parameters.enable_no_public_ip.value is True
    statuses = [
        e["path"].rsplit("/", 2)[1]
        for e in journal(workspace="arm")
        if "/operation" in e["path"]
    ]
    assert statuses and set(statuses) == {"operationStatuses"}, "polled the Azure-AsyncOperation URL"


def test_create_with_the_poller(dbx):
    new = dbm.Workspace(
        location="westeurope",
        sku=dbm.Sku(name="premium"),
        compute_mode=dbm.ComputeMode.HYBRID,
        managed_resource_group_id=f"/subscriptions/{SUBSCRIPTION}/resourceGroups/databricks-rg-new",
        tags={"team": "data"},
    )
    poller = dbx.workspaces.begin_create_or_update(GROUP, "ws-new", new, polling_interval=0.1)
    created = poller.result(timeout=30)
    assert created.name == "ws-new" and created.provisioning_state == dbm.ProvisioningState.SUCCEEDED
    assert created.tags == {"team": "data"} and created.workspace_url
    assert "ws-new" in [w.name for w in dbx.workspaces.list_by_subscription()]
    host = next(w["host"] for w in emulator_workspaces() if w["id"] == "ws-new")
    assert host.endswith("/ws/ws-new")


def test_update_tags_with_the_poller(dbx):
    poller = dbx.workspaces.begin_update(GROUP, "ws-1", dbm.WorkspaceUpdate(tags={"owner": "platform"}), polling_interval=0.1)
    assert poller.result(timeout=30).tags == {"owner": "platform"}
    assert dbx.workspaces.get(GROUP, "ws-1").tags == {"owner": "platform"}


def test_enhanced_security_compliance_round_trip(dbx):
    ws = dbx.workspaces.get(GROUP, "ws-1")
    ws.enhanced_security_compliance = dbm.EnhancedSecurityComplianceDefinition(
        compliance_security_profile=dbm.ComplianceSecurityProfileDefinition(
            value=dbm.ComplianceSecurityProfileValue.ENABLED, compliance_standards=["HIPAA", "PCI_DSS", "ARC_AMPE"]
        ),
    )
    done = dbx.workspaces.begin_create_or_update(GROUP, "ws-1", ws, polling_interval=0.1).result(timeout=30)
    esc = done.enhanced_security_compliance
    assert esc.compliance_security_profile.value == dbm.ComplianceSecurityProfileValue.ENABLED
    assert esc.compliance_security_profile.compliance_standards == ["HIPAA", "PCI_DSS", "ARC_AMPE"]
    # The profile brings monitoring and automatic cluster update with it.
    assert esc.enhanced_security_monitoring.value == dbm.EnhancedSecurityMonitoringValue.ENABLED
    assert esc.automatic_cluster_update.value == dbm.AutomaticClusterUpdateValue.ENABLED
    assert dbx.workspaces.get(GROUP, "ws-1").enhanced_security_compliance == esc
    # Irreversible.
    done.enhanced_security_compliance.compliance_security_profile.value = dbm.ComplianceSecurityProfileValue.DISABLED
    with pytest.raises(HttpResponseError) as err:
        dbx.workspaces.begin_create_or_update(GROUP, "ws-1", done, polling_interval=0.1)
    assert err.value.status_code == 400
    assert err.value.error.code == "ComplianceSecurityProfileCannotBeDisabled"
    # Unknown standard.
    ws = dbx.workspaces.get(GROUP, "ws-3")
    ws.enhanced_security_compliance.compliance_security_profile.compliance_standards = ["NOT_A_STANDARD"]
    with pytest.raises(HttpResponseError):
        dbx.workspaces.begin_create_or_update(GROUP, "ws-3", ws, polling_interval=0.1)


def test_unknown_fields_are_preserved(dbx):
    token = EmulatorCredential().get_token(ARM_SCOPE).token
    url = f"{ARM}{RESOURCE_ID}?api-version=2026-01-01"
    auth = {"Authorization": f"Bearer {token}"}
    raw = requests.get(url, headers=auth, timeout=10).json()
    raw["properties"]["aFieldFromTheFuture"] = {"nested": ["kept"]}
    raw["properties"]["defaultCatalog"] = {"initialType": "UnityCatalog"}
    r = requests.put(url, headers=auth, json=raw, timeout=10)
    assert r.status_code == 200, r.text
    # A typed GET + PUT through the SDK keeps what it does not model, too.
    ws = dbx.workspaces.get(GROUP, "ws-1")
    ws.tags = {"after": "sdk"}
    time.sleep(0.5)  # let the raw PUT's operation finish
    dbx.workspaces.begin_create_or_update(GROUP, "ws-1", ws, polling_interval=0.1).result(timeout=30)
    again = requests.get(url, headers=auth, timeout=10).json()
    assert again["properties"]["aFieldFromTheFuture"] == {"nested": ["kept"]}
    assert again["properties"]["defaultCatalog"] == {"initialType": "UnityCatalog"}
    assert again["tags"] == {"after": "sdk"}


def test_error_codes(dbx):
    with pytest.raises(ResourceNotFoundError) as err:
        dbx.workspaces.get(GROUP, "ws-99")
    assert err.value.status_code == 404 and err.value.error.code == "ResourceNotFound"
    ws = dbx.workspaces.get(GROUP, "ws-1")
    first = dbx.workspaces.begin_create_or_update(GROUP, "ws-1", ws, polling_interval=0.1)
    with pytest.raises(HttpResponseError) as err:
        dbx.workspaces.begin_create_or_update(GROUP, "ws-1", ws, polling_interval=0.1)
    assert err.value.status_code == 409 and err.value.error.code == "Conflict"
    first.result(timeout=30)
    # Changes Azure cannot make in place are refused before any operation starts.
    ws = dbx.workspaces.get(GROUP, "ws-1")
    ws.parameters.custom_virtual_network_id = dbm.WorkspaceCustomStringParameter(value="/subscriptions/x/vnet")
    with pytest.raises(HttpResponseError) as err:
        dbx.workspaces.begin_create_or_update(GROUP, "ws-1", ws, polling_interval=0.1)
    assert err.value.status_code == 400 and err.value.error.code == "VirtualNetworkIdChangeNotAllowed"


def test_failed_operation_fails_the_poller(dbx):
    inject_fault(
        workspace="arm",
        method="PUT",
        path_prefix=RESOURCE_ID,
        operation_error={"code": "InternalServerError", "message": "provisioning failed"},
    )
    ws = dbx.workspaces.get(GROUP, "ws-1")
    ws.public_network_access = dbm.PublicNetworkAccess.DISABLED
    poller = dbx.workspaces.begin_create_or_update(GROUP, "ws-1", ws, polling_interval=0.1)
    with pytest.raises(HttpResponseError) as err:
        poller.result(timeout=30)
    assert "provisioning failed" in str(err.value)
    after = dbx.workspaces.get(GROUP, "ws-1")
    assert after.provisioning_state == dbm.ProvisioningState.FAILED
    assert after.public_network_access == dbm.PublicNetworkAccess.ENABLED, "the change was not applied"


def test_diagnostic_settings():
    mon = arm_client(MonitorManagementClient)
    assert list(mon.diagnostic_settings.list(RESOURCE_ID)) == []
    with pytest.raises(ResourceNotFoundError):
        mon.diagnostic_settings.get(RESOURCE_ID, "brickwarden")
    categories = ["accounts", "clusters", "secrets", "jobs", "notebook", "workspace", "unityCatalog", "Files"]
    setting = DiagnosticSettingsResource(
        workspace_id=LAW,
        logs=[LogSettings(category=c, enabled=True) for c in categories],
    )
    created = mon.diagnostic_settings.create_or_update(RESOURCE_ID, "brickwarden", setting)
    assert created.name == "brickwarden" and created.workspace_id == LAW
    got = mon.diagnostic_settings.get(RESOURCE_ID, "brickwarden")
    assert [l.category for l in got.logs] == categories and all(l.enabled for l in got.logs)
    assert [d.name for d in mon.diagnostic_settings.list(RESOURCE_ID)] == ["brickwarden"]
    bad = DiagnosticSettingsResource(workspace_id=LAW, logs=[LogSettings(category="notACategory", enabled=True)])
    with pytest.raises(HttpResponseError) as err:
        mon.diagnostic_settings.create_or_update(RESOURCE_ID, "bad", bad)
    assert err.value.status_code == 400
    mon.diagnostic_settings.delete(RESOURCE_ID, "brickwarden")
    assert list(mon.diagnostic_settings.list(RESOURCE_ID)) == []
