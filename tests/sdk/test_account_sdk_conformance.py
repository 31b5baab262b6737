"""Conformance of the emulator's account API (``{base}/accounts``) with the official Databricks SDK
for Python's ``AccountClient``.

Run against two running emulators (``tests/it/emulator_sdk.rs`` starts them and sets the
variables):

    EMULATOR_BASE_URL       an Azure-mode emulator (ws-3 in northeurope, the others westeurope)
    EMULATOR_AWS_BASE_URL   an AWS-mode emulator (``cloud: Aws``: private access settings)
    EMULATOR_ACCOUNT_ID     the account id both serve
    EMULATOR_TOKEN          the workspaces' PAT (the account API refuses it)
    EMULATOR_CLIENT_SECRET  the accepted OAuth / Entra ID client secret
    EMULATOR_AUTHORITY_HOST, EMULATOR_TENANT_ID  the emulated Entra ID (the Azure-mode emulator's)

Every test starts from the seeded state (``POST /_emulator/reset`` on both).
"""

import os
from datetime import timedelta
from types import SimpleNamespace

import pytest
import requests
from databricks.sdk import AccountClient
from databricks.sdk.core import Config
from databricks.sdk.errors import (
    BadRequest,
    InvalidParameterValue,
    InvalidState,
    NotFound,
    ResourceAlreadyExists,
    Unauthenticated,
)
from databricks.sdk.service import provisioning as pv
from databricks.sdk.service import settings as st

from conformance import (
    BASE,
    DATABRICKS_SCOPE,
    SDK_OPTS,
    SECRET,
    TOKEN,
    emulator_workspaces,
    enable_with_standards,
    entra_token_response,
    journal,
    reset_emulator,
    update_fields,
    write_with_etag,
)

AWS_BASE = os.environ["EMULATOR_AWS_BASE_URL"]
ACCOUNT_ID = os.environ["EMULATOR_ACCOUNT_ID"]
CLIENT_ID = "account-sdk-client"
LAKE = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/lake"


@pytest.fixture(autouse=True)
def reset_aws():
    """The AWS-mode emulator starts from its seeded state too (conftest.py resets the other)."""
    reset_emulator(AWS_BASE)


def account_client(base=BASE, **auth) -> AccountClient:
    return AccountClient(config=Config(host=f"{base}/accounts", account_id=ACCOUNT_ID, **auth, **SDK_OPTS))


def account(base=BASE, secret=SECRET) -> AccountClient:
    """OAuth M2M as ``CLIENT_ID``."""
    return account_client(base, client_id=CLIENT_ID, client_secret=secret)


@pytest.fixture
def a() -> AccountClient:
    return account()


def account_journal():
    return journal(workspace="account")


def workspace_ids():
    return {w["id"]: w for w in emulator_workspaces()}


# --- authentication -------------------------------------------------------------------------


def test_oauth_m2m_through_host_metadata_and_account_oidc(a):
    assert list(a.ip_access_lists.list()) == []
    assert a.config.auth_type == "oauth-m2m"
    seen = [(e["method"], e["path"], e["status"]) for e in account_journal()]
    assert ("GET", "/.well-known/databricks-config", 200) in seen
    assert ("GET", f"/oidc/accounts/{ACCOUNT_ID}/.well-known/oauth-authorization-server", 200) in seen
    assert ("POST", f"/oidc/accounts/{ACCOUNT_ID}/v1/token", 200) in seen
    calls = [e for e in account_journal() if e["path"].startswith("/api/2.0/accounts/")]
    assert calls and all(e["principal"] == CLIENT_ID for e in calls)


def test_wrong_client_secret_is_refused():
    bad = account(secret="wrong")
    with pytest.raises(Exception, match="invalid_client|Client authentication failed"):
        list(bad.ip_access_lists.list())


def test_entra_id_token_is_accepted_and_a_pat_is_refused():
    token = entra_token_response(DATABRICKS_SCOPE, "entra-app")["access_token"]
    entra = account_client(token=token, auth_type="pat")
    assert list(entra.network_policies.list_network_policies_rpc())[0].network_policy_id == "default-policy"
    pat = account_client(token=TOKEN, auth_type="pat")
    with pytest.raises(Unauthenticated):
        list(pat.ip_access_lists.list())


# --- account IP access lists ----------------------------------------------------------------


def test_ip_access_lists_crud(a):
    created = a.ip_access_lists.create(label="corp", list_type=st.ListType.ALLOW, ip_addresses=["10.0.0.0/8"])
    info = created.ip_access_list
    assert info.label == "corp" and info.enabled and info.address_count == 1 and info.list_id
    assert a.ip_access_lists.get(info.list_id).ip_access_list.ip_addresses == ["10.0.0.0/8"]
    a.ip_access_lists.replace(
        info.list_id, label="corp", list_type=st.ListType.ALLOW, enabled=True, ip_addresses=["10.0.0.0/8", "1.2.3.4"]
    )
    a.ip_access_lists.update(info.list_id, enabled=False)
    got = a.ip_access_lists.get(info.list_id).ip_access_list
    assert got.address_count == 2 and got.enabled is False
    assert [l.list_id for l in a.ip_access_lists.list()] == [info.list_id]
    with pytest.raises(ResourceAlreadyExists):
        a.ip_access_lists.create(label="corp", list_type=st.ListType.ALLOW, ip_addresses=["11.0.0.0/8"])
    with pytest.raises(InvalidParameterValue):
        a.ip_access_lists.create(label="v6", list_type=st.ListType.BLOCK, ip_addresses=["::1"])
    with pytest.raises(BadRequest) as quota:
        a.ip_access_lists.create(
            label="many",
            list_type=st.ListType.BLOCK,
            ip_addresses=[f"11.0.{i // 256}.{i % 256}" for i in range(999)],
        )
    assert quota.value.error_code == "QUOTA_EXCEEDED"
    a.ip_access_lists.delete(info.list_id)
    with pytest.raises(NotFound):
        a.ip_access_lists.get(info.list_id)


def enable_ip_access_lists(a, on=True):
    api = a.settings.enable_ip_access_lists
    return update_fields(api, "acct_ip_acl_enable", api.get().etag, value=on)


def test_ip_access_lists_apply_once_enabled_and_guard_against_lockout(a):
    other = a.ip_access_lists.create(label="other", list_type=st.ListType.ALLOW, ip_addresses=["10.0.0.0/8"])
    # Turning the lists on while they block 127.0.0.1 would lock the caller out.
    with pytest.raises(InvalidState):
        enable_ip_access_lists(a)
    a.ip_access_lists.create(label="me", list_type=st.ListType.ALLOW, ip_addresses=["127.0.0.1"])
    assert enable_ip_access_lists(a).acct_ip_acl_enable.value is True
    with pytest.raises(InvalidState):
        a.ip_access_lists.create(label="blk", list_type=st.ListType.BLOCK, ip_addresses=["127.0.0.0/8"])
    a.ip_access_lists.delete(other.ip_access_list.list_id)
    assert len(list(a.ip_access_lists.list())) == 1


# --- account settings -----------------------------------------------------------------------


def test_settings_read_and_update_with_etags(a):
    s = a.settings
    assert s.enable_ip_access_lists.get().acct_ip_acl_enable.value is False
    assert s.disable_legacy_features.get().disable_legacy_features.value is False
    assert s.personal_compute.get().personal_compute.value == st.PersonalComputeMessageEnum.ON
    assert s.csp_enablement_account.get().csp_enablement_account.is_enforced is False
    assert s.esm_enablement_account.get().esm_enablement_account.is_enforced is False

    cur, out, stale = write_with_etag(s.disable_legacy_features, "disable_legacy_features", "value", False, True)
    assert out.etag != cur.etag
    assert stale.error_code == "RESOURCE_CONFLICT"

    pc = s.personal_compute.get()
    out = update_fields(s.personal_compute, "personal_compute", pc.etag, value=st.PersonalComputeMessageEnum.DELEGATE)
    assert out.personal_compute.value == st.PersonalComputeMessageEnum.DELEGATE
    # The SDK's enum has ON and DELEGATE only; anything else (an "OFF") is refused.
    with pytest.raises(InvalidParameterValue):
        update_fields(s.personal_compute, "personal_compute", out.etag, value=SimpleNamespace(value="OFF"))
    reverted = s.personal_compute.delete(etag=out.etag)
    assert reverted.etag and s.personal_compute.get().personal_compute.value == st.PersonalComputeMessageEnum.ON

    csp = s.csp_enablement_account.get()
    enable_with_standards(
        s.csp_enablement_account, "csp_enablement_account", "is_enforced", csp.etag, [st.ComplianceStandard.HIPAA]
    )

    esm = s.esm_enablement_account.get()
    out = update_fields(s.esm_enablement_account, "esm_enablement_account", esm.etag, is_enforced=True)
    assert out.esm_enablement_account.is_enforced is True


# --- network connectivity configs -----------------------------------------------------------


def approve(rule_id, state="ESTABLISHED", base=BASE):
    r = requests.post(
        f"{base}/_emulator/account/private-endpoint-rules/{rule_id}", json={"connection_state": state}, timeout=10
    )
    r.raise_for_status()
    return r.json()


def test_network_connectivity_configs_and_private_endpoint_rules(a):
    nc = a.network_connectivity
    ncc = nc.create_network_connectivity_configuration(
        st.CreateNetworkConnectivityConfiguration(name="ncc-westeurope", region="westeurope")
    )
    assert ncc.account_id == ACCOUNT_ID and ncc.region == "westeurope" and ncc.creation_time
    assert ncc.egress_config.default_rules.azure_service_endpoint_rule.target_region == "westeurope"
    for name, region in [("x", "westeurope"), ("bad name!", "westeurope"), ("ncc-mars", "mars-central")]:
        with pytest.raises(InvalidParameterValue):
            nc.create_network_connectivity_configuration(
                st.CreateNetworkConnectivityConfiguration(name=name, region=region)
            )
    ncc_id = ncc.network_connectivity_config_id
    assert [n.network_connectivity_config_id for n in nc.list_network_connectivity_configurations()] == [ncc_id]
    assert nc.get_network_connectivity_configuration(ncc_id).name == "ncc-westeurope"

    rule = nc.create_private_endpoint_rule(ncc_id, st.CreatePrivateEndpointRule(resource_id=LAKE, group_id="dfs"))
    assert rule.connection_state == st.NccPrivateEndpointRulePrivateLinkConnectionState.PENDING
    assert rule.network_connectivity_config_id == ncc_id and rule.endpoint_name and not rule.deactivated
    with pytest.raises(InvalidParameterValue):
        nc.create_private_endpoint_rule(ncc_id, st.CreatePrivateEndpointRule(group_id="dfs"))
    approve(rule.rule_id)
    got = nc.get_private_endpoint_rule(ncc_id, rule.rule_id)
    assert got.connection_state == st.NccPrivateEndpointRulePrivateLinkConnectionState.ESTABLISHED
    targets = nc.get_network_connectivity_configuration(ncc_id).egress_config.target_rules
    assert [r.rule_id for r in targets.azure_private_endpoint_rules] == [rule.rule_id]

    # Only domain_names of a rule to a customer-managed resource change in place.
    with pytest.raises(InvalidParameterValue):
        nc.update_private_endpoint_rule(
            ncc_id, rule.rule_id, st.UpdatePrivateEndpointRule(domain_names=["x.example.com"]), "domain_names"
        )
    custom = nc.create_private_endpoint_rule(
        ncc_id, st.CreatePrivateEndpointRule(resource_id=LAKE + "-pls", domain_names=["a.example.com"])
    )
    updated = nc.update_private_endpoint_rule(
        ncc_id, custom.rule_id, st.UpdatePrivateEndpointRule(domain_names=["b.example.com"]), "domain_names"
    )
    assert updated.domain_names == ["b.example.com"]

    # Deleting: a pending rule goes at once, an established one is deactivated and stays listed.
    gone = nc.delete_private_endpoint_rule(ncc_id, custom.rule_id)
    assert gone.deactivated is True
    deactivated = nc.delete_private_endpoint_rule(ncc_id, rule.rule_id)
    assert deactivated.deactivated is True and deactivated.deactivated_at
    listed = list(nc.list_private_endpoint_rules(ncc_id))
    assert [(r.rule_id, r.deactivated) for r in listed] == [(rule.rule_id, True)]
    with pytest.raises(NotFound):
        nc.get_private_endpoint_rule(ncc_id, custom.rule_id)

    nc.delete_network_connectivity_configuration(ncc_id)
    with pytest.raises(NotFound):
        nc.get_network_connectivity_configuration(ncc_id)


# --- workspaces -----------------------------------------------------------------------------


def test_workspaces_and_ncc_binding_within_a_region(a):
    listing = workspace_ids()
    workspaces = {w.workspace_name: w for w in a.workspaces.list()}
    assert set(workspaces) == set(listing)
    ws1 = workspaces["ws-1"]
    assert ws1.workspace_id == listing["ws-1"]["workspaceId"]
    assert ws1.location == "westeurope" and ws1.aws_region is None
    assert ws1.workspace_status == pv.WorkspaceStatus.RUNNING
    assert ws1.pricing_tier == pv.PricingTier.PREMIUM and ws1.deployment_name
    assert workspaces["ws-2"].pricing_tier == pv.PricingTier.STANDARD
    assert workspaces["ws-3"].location == listing["ws-3"]["region"] == "northeurope"
    assert a.workspaces.get(ws1.workspace_id).workspace_name == "ws-1"

    ncc = a.network_connectivity.create_network_connectivity_configuration(
        st.CreateNetworkConnectivityConfiguration(name="ncc-weu", region="westeurope")
    )
    bound = a.workspaces.update_and_wait(
        ws1.workspace_id,
        pv.Workspace(network_connectivity_config_id=ncc.network_connectivity_config_id),
        update_mask="network_connectivity_config_id",
        timeout=timedelta(seconds=30),
    )
    assert bound.network_connectivity_config_id == ncc.network_connectivity_config_id
    assert a.workspaces.get(ws1.workspace_id).network_connectivity_config_id == ncc.network_connectivity_config_id

    with pytest.raises(InvalidParameterValue) as other_region:
        a.workspaces.update(
            workspaces["ws-3"].workspace_id,
            pv.Workspace(network_connectivity_config_id=ncc.network_connectivity_config_id),
            update_mask="network_connectivity_config_id",
        )
    assert "westeurope" in str(other_region.value) and "northeurope" in str(other_region.value)
    with pytest.raises(NotFound):
        a.workspaces.get(1)


# --- network policies -----------------------------------------------------------------------


def test_network_policies_and_workspace_binding(a):
    np_ = a.network_policies
    assert [p.network_policy_id for p in np_.list_network_policies_rpc()] == ["default-policy"]
    access = st.EgressNetworkPolicyNetworkAccessPolicy(
        restriction_mode=st.EgressNetworkPolicyNetworkAccessPolicyRestrictionMode.RESTRICTED_ACCESS,
        allowed_internet_destinations=[
            st.EgressNetworkPolicyNetworkAccessPolicyInternetDestination(
                destination="pypi.org",
                internet_destination_type=st.EgressNetworkPolicyNetworkAccessPolicyInternetDestinationInternetDestinationType.DNS_NAME,
            )
        ],
        allowed_storage_destinations=[
            st.EgressNetworkPolicyNetworkAccessPolicyStorageDestination(
                azure_storage_account="lake",
                azure_storage_service="dfs",
                storage_destination_type=st.EgressNetworkPolicyNetworkAccessPolicyStorageDestinationStorageDestinationType.AZURE_STORAGE,
            )
        ],
        policy_enforcement=st.EgressNetworkPolicyNetworkAccessPolicyPolicyEnforcement(
            enforcement_mode=st.EgressNetworkPolicyNetworkAccessPolicyPolicyEnforcementEnforcementMode.ENFORCED
        ),
    )
    created = np_.create_network_policy_rpc(
        st.AccountNetworkPolicy(network_policy_id="restricted", egress=st.NetworkPolicyEgress(network_access=access))
    )
    assert created.account_id == ACCOUNT_ID
    assert created.egress.network_access.allowed_internet_destinations[0].destination == "pypi.org"
    with pytest.raises(ResourceAlreadyExists):
        np_.create_network_policy_rpc(
            st.AccountNetworkPolicy(network_policy_id="restricted", egress=st.NetworkPolicyEgress(network_access=access))
        )
    access.policy_enforcement.enforcement_mode = (
        st.EgressNetworkPolicyNetworkAccessPolicyPolicyEnforcementEnforcementMode.DRY_RUN
    )
    updated = np_.update_network_policy_rpc(
        "restricted",
        st.AccountNetworkPolicy(network_policy_id="restricted", egress=st.NetworkPolicyEgress(network_access=access)),
    )
    assert (
        updated.egress.network_access.policy_enforcement.enforcement_mode
        == st.EgressNetworkPolicyNetworkAccessPolicyPolicyEnforcementEnforcementMode.DRY_RUN
    )
    assert np_.get_network_policy_rpc("restricted").egress.network_access.restriction_mode.value == "RESTRICTED_ACCESS"

    wid = workspace_ids()["ws-1"]["workspaceId"]
    wnc = a.workspace_network_configuration
    assert wnc.get_workspace_network_option_rpc(wid).network_policy_id == "default-policy"
    out = wnc.update_workspace_network_option_rpc(
        wid, st.WorkspaceNetworkOption(workspace_id=wid, network_policy_id="restricted")
    )
    assert out.network_policy_id == "restricted" and out.workspace_id == wid
    assert wnc.get_workspace_network_option_rpc(wid).network_policy_id == "restricted"
    with pytest.raises(NotFound):
        wnc.update_workspace_network_option_rpc(wid, st.WorkspaceNetworkOption(network_policy_id="nope"))

    with pytest.raises(InvalidParameterValue):
        np_.delete_network_policy_rpc("default-policy")
    np_.delete_network_policy_rpc("restricted")
    assert wnc.get_workspace_network_option_rpc(wid).network_policy_id == "default-policy"
    with pytest.raises(NotFound):
        np_.get_network_policy_rpc("restricted")


# --- AWS private access settings ------------------------------------------------------------


def test_private_access_settings_on_aws():
    aws = account(AWS_BASE)
    pa = aws.private_access
    created = pa.create(
        private_access_settings_name="pas-prod",
        region="us-east-1",
        public_access_enabled=False,
        private_access_level=pv.PrivateAccessLevel.ACCOUNT,
    )
    assert created.private_access_settings_id and created.account_id == ACCOUNT_ID
    assert created.public_access_enabled is False and created.private_access_level == pv.PrivateAccessLevel.ACCOUNT
    with pytest.raises(InvalidParameterValue):
        pa.create(private_access_settings_name="pas-bad", region="westeurope")
    pas_id = created.private_access_settings_id
    assert [p.private_access_settings_id for p in pa.list()] == [pas_id]
    replaced = pa.replace(
        pas_id,
        pv.PrivateAccessSettings(
            private_access_settings_name="pas-prod",
            region="us-east-1",
            public_access_enabled=True,
            private_access_level=pv.PrivateAccessLevel.ENDPOINT,
            allowed_vpc_endpoint_ids=["vpce-1"],
        ),
    )
    assert replaced.private_access_level == pv.PrivateAccessLevel.ENDPOINT
    assert pa.get(pas_id).allowed_vpc_endpoint_ids == ["vpce-1"]

    ws1 = next(w for w in aws.workspaces.list() if w.workspace_name == "ws-1")
    assert ws1.aws_region == "us-east-1" and ws1.location is None
    bound = aws.workspaces.update(
        ws1.workspace_id,
        pv.Workspace(private_access_settings_id=pas_id),
        update_mask="private_access_settings_id",
    ).response
    assert bound.private_access_settings_id == pas_id
    with pytest.raises(InvalidState):
        pa.delete(pas_id)

    spare = pa.create(private_access_settings_name="pas-spare", region="us-east-1")
    assert pa.delete(spare.private_access_settings_id).private_access_settings_name == "pas-spare"
    with pytest.raises(NotFound):
        pa.get(spare.private_access_settings_id)


def test_private_access_settings_are_not_served_on_azure(a):
    with pytest.raises(NotFound) as err:
        list(a.private_access.list())
    assert err.value.error_code == "ENDPOINT_NOT_FOUND"
