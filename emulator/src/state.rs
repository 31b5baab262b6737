//! The emulator's in-memory world: one [`Workspace`] per emulated workspace plus the access
//! tokens the token endpoints issued. Everything lives behind one `std::sync::Mutex` owned by
//! [`crate::App`]; handlers lock it, mutate, and unlock before any `.await`.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Value, json};

use super::access::ListType;
use super::arm;
use super::databricks::{settings, workspace_conf};

/// Subscription of every emulated ARM resource.
pub const SUBSCRIPTION_ID: &str = "00000000-0000-0000-0000-000000000000";
/// Resource group of every emulated ARM resource.
pub const RESOURCE_GROUP: &str = "rg";
/// The Entra ID tenant the emulator pretends to be.
pub const TENANT_ID: &str = "11111111-1111-1111-1111-111111111111";
/// Application id of the Azure Databricks resource (Entra scope `{id}/.default`).
pub const DATABRICKS_RESOURCE_ID: &str = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d";
/// User name of the principal behind the configured PAT (a workspace admin).
pub const ADMIN_USER: &str = "admin@example.com";
/// Application id of the seeded service principal.
pub const SEEDED_SP_APP_ID: &str = "6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b";

const DAY_MS: i64 = 86_400_000;

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

pub fn now_secs() -> i64 {
    now_ms() / 1000
}

/// Deterministic FNV-1a hash, used for seeded ids and etags.
pub fn fnv64(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0xff)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// 64 lowercase hex characters, like the real token ids.
pub fn hex64(parts: &[&str]) -> String {
    let a = fnv64(parts);
    let b = fnv64(&[&a.to_string(), "b"]);
    let c = fnv64(&[&b.to_string(), "c"]);
    let d = fnv64(&[&c.to_string(), "d"]);
    format!("{a:016x}{b:016x}{c:016x}{d:016x}")
}

/// A random 64-hex-character id.
pub fn random_hex64() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    User,
    ServicePrincipal,
}

/// A workspace identity: a user or a service principal.
#[derive(Debug, Clone, Serialize)]
pub struct Principal {
    pub kind: PrincipalKind,
    pub id: u64,
    /// `userName` for users, `applicationId` for service principals.
    pub name: String,
    pub display_name: String,
    pub groups: Vec<String>,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.groups.iter().any(|g| g == "admins")
    }

    /// The principal string secret ACLs use.
    pub fn acl_name(&self) -> &str {
        &self.name
    }

    pub fn acl_principal(&self) -> AclPrincipal {
        match self.kind {
            PrincipalKind::User => AclPrincipal::User(self.name.clone()),
            PrincipalKind::ServicePrincipal => AclPrincipal::ServicePrincipal(self.name.clone()),
        }
    }
}

/// A principal of a permissions ACL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AclPrincipal {
    User(String),
    Group(String),
    ServicePrincipal(String),
}

impl AclPrincipal {
    pub fn field(&self) -> (&'static str, &str) {
        match self {
            Self::User(n) => ("user_name", n),
            Self::Group(n) => ("group_name", n),
            Self::ServicePrincipal(n) => ("service_principal_name", n),
        }
    }
}

/// Who made a request to a workspace, as the authentication layer resolved it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub workspace: String,
    pub principal: Principal,
    pub ip: IpAddr,
}

/// A seeded workspace (`ws-1`), and its admin (the first principal of its directory) calling
/// from 127.0.0.1: what the workspace API families' unit tests start from.
#[cfg(test)]
pub fn seeded_with_admin() -> (Workspace, Caller) {
    let ws = Workspace::seed(1, "http://x");
    let caller = Caller {
        workspace: ws.name.clone(),
        principal: ws.directory[0].clone(),
        ip: IpAddr::from([127, 0, 0, 1]),
    };
    (ws, caller)
}

#[derive(Debug, Clone, Serialize)]
pub struct IpAccessList {
    pub list_id: String,
    pub label: String,
    pub list_type: ListType,
    pub ip_addresses: Vec<String>,
    pub address_count: usize,
    pub enabled: bool,
    pub created_at: i64,
    pub created_by: u64,
    pub updated_at: i64,
    pub updated_by: u64,
}

/// A personal access token (or on-behalf-of token) created in a workspace.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub token_id: String,
    /// The bearer value; never serialised anywhere.
    pub value: String,
    pub comment: String,
    pub owner_id: u64,
    pub owner_name: String,
    pub created_by_id: u64,
    pub created_by_username: String,
    pub creation_time: i64,
    /// Epoch ms, or -1 for no expiry.
    pub expiry_time: i64,
}

impl TokenRecord {
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expiry_time != -1 && self.expiry_time <= now_ms
    }

    /// `TokenInfo` of the token-management API.
    pub fn token_info(&self, workspace_id: u64) -> Value {
        json!({
            "token_id": self.token_id,
            "comment": self.comment,
            "created_by_id": self.created_by_id,
            "created_by_username": self.created_by_username,
            "owner_id": self.owner_id,
            "creation_time": self.creation_time,
            "expiry_time": self.expiry_time,
            "workspace_id": workspace_id,
        })
    }

    /// `PublicTokenInfo` of the tokens API.
    pub fn public_info(&self) -> Value {
        json!({
            "token_id": self.token_id,
            "comment": self.comment,
            "creation_time": self.creation_time,
            "expiry_time": self.expiry_time,
        })
    }
}

/// One etag-guarded settings object.
#[derive(Debug, Clone)]
pub struct SettingRecord {
    /// The inner message (e.g. `{"status": "ALLOW_ALL"}` for `restrict_workspace_admins`).
    pub value: Value,
    pub version: u64,
    /// Whether anyone ever wrote it (a fresh workspace's settings are platform defaults).
    pub written: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SecretMeta {
    pub key: String,
    pub last_updated_timestamp: i64,
}

#[derive(Debug, Clone)]
pub struct SecretScope {
    pub name: String,
    pub backend_type: String,
    pub keyvault_metadata: Option<Value>,
    /// principal -> READ | WRITE | MANAGE
    pub acls: BTreeMap<String, String>,
    /// Secret keys and when they were written; values are never kept.
    pub secrets: BTreeMap<String, SecretMeta>,
}

/// The whole state of one emulated workspace.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub name: String,
    pub index: usize,
    pub workspace_id: u64,
    pub url: String,
    pub directory: Vec<Principal>,
    pub ip_access_lists: Vec<IpAccessList>,
    pub conf: BTreeMap<String, Option<String>>,
    pub tokens: Vec<TokenRecord>,
    /// Grants on `authorization/tokens` besides the implicit `admins` CAN_MANAGE.
    pub token_acl: BTreeMap<AclPrincipal, String>,
    pub settings: BTreeMap<String, SettingRecord>,
    pub secret_scopes: BTreeMap<String, SecretScope>,
    pub arm: Value,
    pub diagnostic_settings: BTreeMap<String, Value>,
    /// The ARM long-running operation under way on this workspace, if any.
    pub arm_operation: Option<String>,
    next_principal_id: u64,
}

impl Workspace {
    /// A freshly provisioned Premium workspace `ws-{index}`: insecure defaults, two old
    /// tokens, one secret scope. Everything is derived from `index`, so two emulators seed
    /// identical state.
    pub fn seed(index: usize, base_url: &str) -> Self {
        Self::seed_named(&format!("ws-{index}"), index, "premium", base_url)
    }

    /// Like [`Workspace::seed`], with a name and pricing tier of its own (ARM creates).
    pub fn seed_named(name: &str, index: usize, sku: &str, base_url: &str) -> Self {
        let name = name.to_string();
        let workspace_id = Self::id_for(index);
        let url = Self::url_for(base_url, &name);
        let now = now_ms();
        let admin_id = 4_000_000_000_000_001;
        let alice_id = 4_000_000_000_000_002;
        let sp_id = 4_000_000_000_000_003;
        let directory = vec![
            Principal {
                kind: PrincipalKind::User,
                id: admin_id,
                name: ADMIN_USER.into(),
                display_name: "Workspace Admin".into(),
                groups: vec!["admins".into(), "users".into()],
            },
            Principal {
                kind: PrincipalKind::User,
                id: alice_id,
                name: "alice@example.com".into(),
                display_name: "Alice Example".into(),
                groups: vec!["users".into(), "data-engineers".into()],
            },
            Principal {
                kind: PrincipalKind::User,
                id: 4_000_000_000_000_004,
                name: "bob@example.com".into(),
                display_name: "Bob Example".into(),
                groups: vec!["users".into()],
            },
            Principal {
                kind: PrincipalKind::ServicePrincipal,
                id: sp_id,
                name: SEEDED_SP_APP_ID.into(),
                display_name: "etl-automation".into(),
                groups: vec!["users".into()],
            },
        ];
        let tokens = vec![
            TokenRecord {
                token_id: hex64(&[&name, "token", "1"]),
                value: format!("dapi{}", &hex64(&[&name, "token-value", "1"])[..32]),
                comment: "ci-pipeline (no expiry)".into(),
                owner_id: admin_id,
                owner_name: ADMIN_USER.into(),
                created_by_id: admin_id,
                created_by_username: ADMIN_USER.into(),
                creation_time: now - 400 * DAY_MS,
                expiry_time: -1,
            },
            TokenRecord {
                token_id: hex64(&[&name, "token", "2"]),
                value: format!("dapi{}", &hex64(&[&name, "token-value", "2"])[..32]),
                comment: "notebook experiments".into(),
                owner_id: alice_id,
                owner_name: "alice@example.com".into(),
                created_by_id: alice_id,
                created_by_username: "alice@example.com".into(),
                creation_time: now - 500 * DAY_MS,
                expiry_time: now + 230 * DAY_MS,
            },
        ];
        let mut token_acl = BTreeMap::new();
        token_acl.insert(AclPrincipal::Group("users".into()), "CAN_USE".into());
        let mut secret_scopes = BTreeMap::new();
        let mut acls = BTreeMap::new();
        acls.insert(ADMIN_USER.to_string(), "MANAGE".to_string());
        acls.insert("users".to_string(), "READ".to_string());
        let mut secrets = BTreeMap::new();
        secrets.insert(
            "storage-account-key".to_string(),
            SecretMeta {
                key: "storage-account-key".into(),
                last_updated_timestamp: now - 90 * DAY_MS,
            },
        );
        secret_scopes.insert(
            "etl".to_string(),
            SecretScope {
                name: "etl".into(),
                backend_type: "DATABRICKS".into(),
                keyvault_metadata: None,
                acls,
                secrets,
            },
        );
        Self {
            arm: arm::seed_resource(&name, workspace_id, sku, &url),
            name,
            index,
            workspace_id,
            url,
            directory,
            ip_access_lists: Vec::new(),
            conf: workspace_conf::initial_conf(),
            tokens,
            token_acl,
            settings: settings::initial_settings(),
            secret_scopes,
            diagnostic_settings: BTreeMap::new(),
            arm_operation: None,
            next_principal_id: 4_000_000_000_000_100,
        }
    }

    /// The numeric workspace id of index `index`.
    pub fn id_for(index: usize) -> u64 {
        1_234_567_890_000_000 + index as u64 * 1_111
    }

    /// The path-prefixed base URL of workspace `name`: `{base_url}/ws/{name}`.
    pub fn url_for(base_url: &str, name: &str) -> String {
        format!("{base_url}/ws/{name}")
    }

    pub fn principal_by_name(&self, name: &str) -> Option<&Principal> {
        self.directory.iter().find(|p| p.name == name)
    }

    /// The principal with `name`, created (in `users`, and `admins` if `admin`) if unknown.
    pub fn ensure_principal(
        &mut self,
        kind: PrincipalKind,
        name: &str,
        display: &str,
        admin: bool,
    ) -> Principal {
        if let Some(p) = self.principal_by_name(name) {
            return p.clone();
        }
        self.next_principal_id += 1;
        let mut groups = vec!["users".to_string()];
        if admin {
            groups.insert(0, "admins".to_string());
        }
        let principal = Principal {
            kind,
            id: self.next_principal_id,
            name: name.to_string(),
            display_name: display.to_string(),
            groups,
        };
        self.directory.push(principal.clone());
        principal
    }

    pub fn ip_access_lists_enabled(&self) -> bool {
        self.conf
            .get("enableIpAccessLists")
            .and_then(|v| v.as_deref())
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    pub fn tokens_enabled(&self) -> bool {
        !self
            .conf
            .get("enableTokensConfig")
            .and_then(|v| v.as_deref())
            .is_some_and(|v| v.eq_ignore_ascii_case("false"))
    }

    pub fn sku(&self) -> String {
        self.arm["sku"]["name"]
            .as_str()
            .unwrap_or("premium")
            .to_string()
    }

    /// Whether the caller's IP passes the enforced IP access lists.
    pub fn ip_allowed(&self, ip: IpAddr) -> bool {
        if !self.ip_access_lists_enabled() {
            return true;
        }
        super::databricks::ip_access_lists::allowed_with(&self.ip_access_lists, ip)
    }

    /// The whole state as JSON, for `GET /_emulator/state/{ws}`. No token values.
    pub fn dump(&self) -> Value {
        let tokens: Vec<Value> = self
            .tokens
            .iter()
            .map(|t| {
                let mut info = t.token_info(self.workspace_id);
                info["owner_username"] = json!(t.owner_name);
                info
            })
            .collect();
        let scopes: Vec<Value> = self
            .secret_scopes
            .values()
            .map(|s| {
                json!({
                    "name": s.name,
                    "backend_type": s.backend_type,
                    "acls": s.acls.iter().map(|(p, perm)| json!({"principal": p, "permission": perm})).collect::<Vec<_>>(),
                    "secrets": s.secrets.values().collect::<Vec<_>>(),
                })
            })
            .collect();
        let settings: serde_json::Map<String, Value> = settings::SETTINGS
            .iter()
            .map(|d| (d.setting_type.to_string(), settings::render(self, d)))
            .collect();
        json!({
            "workspace": self.name,
            "workspace_id": self.workspace_id,
            "url": self.url,
            "sku": self.sku(),
            "ip_access_lists": self.ip_access_lists,
            "workspace_conf": self.conf,
            "tokens": tokens,
            "token_permissions": super::databricks::tokens::permissions_json(self),
            "settings": settings,
            "secret_scopes": scopes,
            "arm": self.arm,
            "diagnostic_settings": self.diagnostic_settings.values().collect::<Vec<_>>(),
            "principals": self.directory,
        })
    }
}

/// Whom an issued access token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Entra ID token for the Azure Databricks resource: valid in every workspace.
    AzureDatabricks,
    /// Databricks OAuth token from one workspace's `/oidc/v1/token`.
    Workspace(String),
    /// Entra ID token for Azure Resource Manager.
    Arm,
    /// Databricks OAuth token from the account's `/oidc/accounts/{id}/v1/token`.
    Account(String),
}

#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub audience: Audience,
    /// Client id (application id) the token was issued to.
    pub client_id: String,
    /// Unix time in milliseconds after which the token is refused: a token issued for one
    /// second is good for a whole second, whenever in the second it was issued.
    pub expires_at_ms: i64,
}

/// What `GET /_emulator/workspaces` and the summary show of a workspace, known without
/// materialising its state.
#[derive(Debug, Clone)]
pub struct Listing {
    pub name: String,
    pub index: usize,
    pub workspace_id: u64,
    pub url: String,
    pub sku: String,
}

/// The workspaces of the world: `ws-1`..`ws-N` seeded, plus those ARM created.
///
/// A seeded workspace's state is materialised on first touch ([`Workspaces::get`],
/// [`Workspaces::get_mut`]), so a fleet of thousands costs memory only for the workspaces a
/// test or benchmark actually talks to. Its seed is deterministic, so a late materialisation
/// is indistinguishable from an eager one (token ages are relative to the moment of
/// materialisation).
#[derive(Debug)]
pub struct Workspaces {
    seeded: usize,
    standard: Vec<usize>,
    base_url: String,
    materialised: HashMap<String, Workspace>,
    /// ARM-created workspaces, in creation order.
    created: Vec<String>,
}

impl Workspaces {
    pub fn new(seeded: usize, standard: &[usize], base_url: &str) -> Self {
        Self {
            seeded,
            standard: standard.to_vec(),
            base_url: base_url.to_string(),
            materialised: HashMap::new(),
            created: Vec::new(),
        }
    }

    /// The index of a seeded workspace `ws-{i}` (canonical spelling only).
    pub fn seeded_index(&self, name: &str) -> Option<usize> {
        let digits = name.strip_prefix("ws-")?;
        if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let index: usize = digits.parse().ok()?;
        (1..=self.seeded).contains(&index).then_some(index)
    }

    fn seeded_sku(&self, index: usize) -> &'static str {
        if self.standard.contains(&index) {
            "standard"
        } else {
            "premium"
        }
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.materialised.contains_key(name) || self.seeded_index(name).is_some()
    }

    /// How many workspaces exist (materialised or not).
    pub fn len(&self) -> usize {
        self.seeded + self.created.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many workspaces have a materialised state.
    pub fn materialised(&self) -> usize {
        self.materialised.len()
    }

    /// The workspace, materialised if it was not yet.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Workspace> {
        if !self.materialised.contains_key(name) {
            let index = self.seeded_index(name)?;
            let ws = Workspace::seed_named(name, index, self.seeded_sku(index), &self.base_url);
            self.materialised.insert(name.to_string(), ws);
        }
        self.materialised.get_mut(name)
    }

    /// The workspace, materialised if it was not yet.
    pub fn get(&mut self, name: &str) -> Option<&Workspace> {
        self.get_mut(name).map(|ws| &*ws)
    }

    /// Adds a workspace (an ARM create).
    pub fn insert(&mut self, name: String, ws: Workspace) {
        if !self.contains_key(&name) {
            self.created.push(name.clone());
        }
        self.materialised.insert(name, ws);
    }

    /// Every workspace name: the seeded ones by index, then the created ones.
    pub fn names(&self) -> impl Iterator<Item = String> + '_ {
        (1..=self.seeded)
            .map(|i| format!("ws-{i}"))
            .chain(self.created.iter().cloned())
    }

    /// The largest index in use (ARM creates take the next one).
    pub fn max_index(&self) -> usize {
        self.materialised
            .values()
            .map(|w| w.index)
            .max()
            .unwrap_or(0)
            .max(self.seeded)
    }

    /// Name, id, URL and tier of every workspace, in order, materialising none.
    pub fn listing(&self) -> Vec<Listing> {
        self.names()
            .map(|name| match self.materialised.get(&name) {
                Some(ws) => Listing {
                    index: ws.index,
                    workspace_id: ws.workspace_id,
                    url: ws.url.clone(),
                    sku: ws.sku(),
                    name,
                },
                None => {
                    let index = self.seeded_index(&name).unwrap_or_default();
                    Listing {
                        index,
                        workspace_id: Workspace::id_for(index),
                        url: Workspace::url_for(&self.base_url, &name),
                        sku: self.seeded_sku(index).to_string(),
                        name,
                    }
                }
            })
            .collect()
    }

    /// The workspaces materialised so far, in no particular order.
    pub fn all_materialised(&self) -> impl Iterator<Item = &Workspace> + '_ {
        self.materialised.values()
    }

    /// Every workspace, in order, all materialised (state dumps, ARM lists).
    pub fn all(&mut self) -> Vec<&Workspace> {
        let names: Vec<String> = self.names().collect();
        for name in &names {
            self.get_mut(name);
        }
        names
            .iter()
            .filter_map(|name| self.materialised.get(name))
            .collect()
    }
}

/// The mutable world behind the server.
#[derive(Debug)]
pub struct World {
    pub workspaces: Workspaces,
    pub issued: HashMap<String, IssuedToken>,
    /// ARM long-running operations by id (kept after they finish, for their status URLs).
    pub arm_operations: HashMap<String, arm::Operation>,
    /// The Databricks account the workspaces belong to (`{base}/accounts`).
    pub account: crate::account::Account,
}

impl World {
    /// Workspaces `ws-1`..`ws-{workspaces}`; those whose index is in `standard` are on the
    /// Standard tier, the others Premium. Their state is materialised on first touch.
    pub fn seed(workspaces: usize, standard: &[usize], base_url: &str) -> Self {
        Self {
            workspaces: Workspaces::new(workspaces, standard, base_url),
            issued: HashMap::new(),
            arm_operations: HashMap::new(),
            account: crate::account::Account::default(),
        }
    }

    /// Drops issued tokens expired for over an hour (called when new ones are issued).
    pub fn prune_issued(&mut self, now_ms: i64) {
        self.issued
            .retain(|_, t| t.expires_at_ms > now_ms - 3_600_000);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeding_is_deterministic() {
        let a = Workspace::seed(1, "http://x");
        let b = Workspace::seed(1, "http://x");
        assert_eq!(a.tokens[0].token_id, b.tokens[0].token_id);
        assert_eq!(a.tokens[0].value, b.tokens[0].value);
        assert_ne!(
            a.tokens[0].token_id,
            Workspace::seed(2, "http://x").tokens[0].token_id
        );
        assert_eq!(a.tokens[0].token_id.len(), 64);
    }

    #[test]
    fn standard_workspaces_are_chosen_by_index() {
        let mut world = World::seed(3, &[2], "http://x");
        assert_eq!(world.workspaces.get("ws-2").unwrap().sku(), "standard");
        assert_eq!(world.workspaces.get("ws-1").unwrap().sku(), "premium");
        assert_eq!(world.workspaces.get("ws-3").unwrap().sku(), "premium");
    }

    #[test]
    fn a_fleet_is_materialised_on_first_touch() {
        let mut world = World::seed(5000, &[2], "http://x");
        assert_eq!(world.workspaces.len(), 5000);
        assert_eq!(world.workspaces.materialised(), 0);
        let listing = world.workspaces.listing();
        assert_eq!(listing.len(), 5000);
        assert_eq!(listing[1].sku, "standard");
        assert_eq!(listing[4999].name, "ws-5000");
        assert_eq!(world.workspaces.materialised(), 0);
        assert!(world.workspaces.contains_key("ws-5000"));
        for absent in ["ws-5001", "ws-0", "ws-01", "ws-x", "ws-"] {
            assert!(!world.workspaces.contains_key(absent), "{absent}");
            assert!(world.workspaces.get(absent).is_none(), "{absent}");
        }
        let touched = world.workspaces.get("ws-4321").unwrap();
        assert_eq!(touched.workspace_id, listing[4320].workspace_id);
        assert_eq!(touched.url, listing[4320].url);
        assert_eq!(world.workspaces.materialised(), 1);
        // A materialised workspace seeds exactly as an eager one would.
        let eager = Workspace::seed(4321, "http://x");
        assert_eq!(
            world.workspaces.get("ws-4321").unwrap().tokens[0].token_id,
            eager.tokens[0].token_id
        );
        assert_eq!(world.workspaces.max_index(), 5000);
    }

    #[test]
    fn fresh_workspace_is_insecure() {
        let ws = Workspace::seed(1, "http://x");
        assert!(!ws.ip_access_lists_enabled());
        assert!(ws.tokens_enabled());
        assert!(ws.tokens.iter().any(|t| t.expiry_time == -1));
        assert!(ws.ip_allowed("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn dump_never_contains_token_values() {
        let ws = Workspace::seed(1, "http://x");
        let dump = ws.dump().to_string();
        for token in &ws.tokens {
            assert!(!dump.contains(&token.value));
        }
    }
}
