-- Argo CD health check of a brickwarden.io/v1alpha1 DatabricksWorkspace.
-- Install: the key resource.customizations.health.brickwarden.io_DatabricksWorkspace of
-- argocd-cm (deploy/argocd/argocd-cm-patch.yaml; see deploy/argocd/README.md).
--
--   Suspended    spec.suspend, the brickwarden.io/suspend annotation, or Ready reason Suspended
--   Progressing  no status yet, status.observedGeneration behind metadata.generation, or
--                Reconciling=True (failed remediations the controller retries on its own)
--   Degraded     Stalled=True or Ready=False (cannot reconcile: missing Secret or baseline,
--                invalid spec, refused credentials, a remediation refused by a guard), or
--                Compliant=False (drift brickwarden will not fix by itself: Audit mode,
--                blocked, requires recreate, verify-only)
--   Healthy      Ready=True and Compliant=True
local hs = {}

local function find(conditions, kind)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function describe(c)
  local reason = c.reason or ""
  local message = c.message or ""
  if reason == "" then
    return message
  end
  if message == "" then
    return reason
  end
  return reason .. ": " .. message
end

local function result(status, message)
  hs.status = status
  hs.message = message
  return hs
end

local metadata = obj.metadata or {}
local annotations = metadata.annotations or {}
if (obj.spec ~= nil and obj.spec.suspend == true) or annotations["brickwarden.io/suspend"] == "true" then
  return result("Suspended", "suspended: brickwarden neither reads nor writes this workspace")
end

local status = obj.status
if status == nil or status.conditions == nil then
  return result("Progressing", "waiting for brickwarden to reconcile the workspace")
end
if metadata.generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < metadata.generation) then
  return result("Progressing", "waiting for brickwarden to reconcile generation " .. tostring(metadata.generation))
end

local ready = find(status.conditions, "Ready")
if ready ~= nil and ready.status == "True" and ready.reason == "Suspended" then
  return result("Suspended", describe(ready))
end
local stalled = find(status.conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  return result("Degraded", describe(stalled))
end
if ready == nil then
  return result("Progressing", "waiting for the Ready condition")
end
if ready.status ~= "True" then
  return result("Degraded", describe(ready))
end
local reconciling = find(status.conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  return result("Progressing", describe(reconciling))
end
local compliant = find(status.conditions, "Compliant")
if compliant == nil then
  return result("Progressing", "waiting for the Compliant condition")
end
if compliant.status ~= "True" then
  return result("Degraded", describe(compliant))
end
return result("Healthy", describe(compliant))
