//! Bearer-token authentication of workspace and ARM requests, and issuing of OAuth access
//! tokens (JWT-shaped, unsigned: only the emulator reads them, from its own table).

use std::time::Duration;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine as _;
use base64::engine::general_purpose::{
    STANDARD_PAD_INDIFFERENT, URL_SAFE_NO_PAD, URL_SAFE_PAD_INDIFFERENT,
};
use serde_json::json;

use super::errors::{ApiError, ArmError};
use super::state::{
    ADMIN_USER, Audience, DATABRICKS_RESOURCE_ID, IssuedToken, Principal, PrincipalKind, TENANT_ID,
    World, now_ms,
};

/// Unpadded base64url.
pub fn base64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Decodes standard or URL-safe base64, padded or not.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    STANDARD_PAD_INDIFFERENT
        .decode(text)
        .or_else(|_| URL_SAFE_PAD_INDIFFERENT.decode(text))
        .ok()
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// HTTP Basic credentials (client id, secret), if any.
pub fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(encoded.trim())?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((percent_decode(id), percent_decode(secret)))
}

/// Decodes one `application/x-www-form-urlencoded` value, as RFC 6749 §2.3.1 encodes the client
/// id and secret of HTTP Basic client authentication (`+` is a space).
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// Whether `assertion` looks like a JWT (three non-empty base64url parts).
pub fn is_jwt(assertion: &str) -> bool {
    let parts: Vec<&str> = assertion.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
        })
}

/// Issues an access token for `audience`, valid for `lifetime` from now (to the millisecond;
/// the JWT's `exp` claim is in whole seconds, as JWTs have it).
pub fn issue(
    world: &mut World,
    audience: Audience,
    client_id: &str,
    issuer: &str,
    lifetime: Duration,
) -> String {
    let now_ms = now_ms();
    world.prune_issued(now_ms);
    let expires_at_ms =
        now_ms.saturating_add(i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX));
    let now = now_ms / 1000;
    let aud = match &audience {
        Audience::AzureDatabricks => DATABRICKS_RESOURCE_ID.to_string(),
        Audience::Workspace(ws) => format!("databricks-workspace:{ws}"),
        Audience::Arm => "https://management.azure.com/".to_string(),
        Audience::Account(account_id) => account_id.clone(),
    };
    let header = json!({"alg": "none", "typ": "JWT", "kid": "emulator"});
    let claims = json!({
        "aud": aud,
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": expires_at_ms / 1000,
        "sub": client_id,
        "appid": client_id,
        "azp": client_id,
        "tid": TENANT_ID,
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    let signature = base64url(uuid::Uuid::new_v4().as_bytes());
    let token = format!(
        "{}.{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(claims.to_string().as_bytes()),
        signature
    );
    world.issued.insert(
        token.clone(),
        IssuedToken {
            audience,
            client_id: client_id.to_string(),
            expires_at_ms,
        },
    );
    token
}

/// Resolves the principal behind a workspace request's bearer token.
///
/// Accepted: the configured PAT (the `admin@example.com` workspace admin), unexpired tokens
/// created in this workspace through `token/create` (while `enableTokensConfig` is not
/// `"false"`), Databricks OAuth tokens issued by this workspace's `/oidc/v1/token`, and Entra ID
/// tokens for the Azure Databricks resource. OAuth clients become workspace admins on first use.
pub fn authenticate_workspace(
    world: &mut World,
    pat: &str,
    workspace: &str,
    token: Option<&str>,
) -> Result<Principal, ApiError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(ApiError::no_credentials());
    };
    // Every refused token gets the same gateway answer as on the real service: 403
    // `{"error_code": 403, "message": "Invalid access token."}` (see `ApiError::gateway`).
    let invalid = ApiError::invalid_token;
    let now = now_ms();
    let issued = world.issued.get(token).cloned();
    let ws = world.workspaces.get_mut(workspace).ok_or_else(invalid)?;
    if token == pat {
        return ws
            .principal_by_name(ADMIN_USER)
            .cloned()
            .ok_or_else(invalid);
    }
    if let Some(record) = ws.tokens.iter().find(|t| t.value == token) {
        if record.is_expired(now) {
            return Err(invalid());
        }
        if !ws.tokens_enabled() {
            return Err(ApiError::permission_denied(
                "Personal access tokens are disabled for this workspace.",
            ));
        }
        let owner_id = record.owner_id;
        return ws
            .directory
            .iter()
            .find(|p| p.id == owner_id)
            .cloned()
            .ok_or_else(invalid);
    }
    let Some(issued) = issued else {
        return Err(invalid());
    };
    match &issued.audience {
        Audience::AzureDatabricks => {}
        Audience::Workspace(w) if w == workspace => {}
        _ => return Err(invalid()),
    }
    if issued.expires_at_ms <= now {
        return Err(invalid());
    }
    Ok(ws.ensure_principal(
        PrincipalKind::ServicePrincipal,
        &issued.client_id,
        &format!("oauth-client-{}", &issued.client_id),
        true,
    ))
}

/// Validates an ARM request's bearer token; returns the client id.
pub fn authenticate_arm(world: &World, headers: &HeaderMap) -> Result<String, ArmError> {
    let Some(token) = bearer(headers).filter(|t| !t.is_empty()) else {
        return Err(ArmError::unauthorized(
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        ));
    };
    let Some(issued) = world.issued.get(token) else {
        return Err(ArmError::unauthorized(
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        ));
    };
    if issued.audience != Audience::Arm {
        return Err(ArmError::unauthorized(
            "InvalidAuthenticationTokenAudience",
            "The access token has been obtained for wrong audience or resource. It should exactly \
             match with one of the allowed audiences 'https://management.core.windows.net/',\
             'https://management.core.windows.net','https://management.azure.com/',\
             'https://management.azure.com'.",
        ));
    }
    let now = now_ms();
    if issued.expires_at_ms <= now {
        return Err(ArmError::unauthorized(
            "ExpiredAuthenticationToken",
            format!(
                "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
                jiff::Timestamp::from_second(issued.expires_at_ms / 1000).unwrap_or_default(),
                jiff::Timestamp::from_second(now / 1000).unwrap_or_default()
            ),
        ));
    }
    Ok(issued.client_id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// A token of client `cid` for `audience`, valid for `lifetime`.
    fn token_for(world: &mut World, audience: Audience, lifetime: Duration) -> String {
        issue(world, audience, "cid", "iss", lifetime)
    }

    #[test]
    fn base64_roundtrip() {
        for input in [
            "",
            "f",
            "fo",
            "foo",
            "foob",
            "fooba",
            "foobar",
            "client:secret/+?",
        ] {
            let enc = base64url(input.as_bytes());
            assert!(!enc.contains('='));
            assert_eq!(base64_decode(&enc).unwrap(), input.as_bytes());
        }
        assert_eq!(base64_decode("Zm9vYmE=").unwrap(), b"fooba");
    }

    #[test]
    fn parses_basic_and_bearer() {
        let mut h = HeaderMap::new();
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Basic aWQ6c2VjcmV0"),
        );
        assert_eq!(basic(&h), Some(("id".into(), "secret".into())));
        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(bearer(&h), Some("abc"));
    }

    #[test]
    fn jwt_shape() {
        assert!(is_jwt("a.b.c"));
        assert!(!is_jwt("a.b"));
        assert!(!is_jwt("a..c"));
        assert!(!is_jwt("a.b.c d"));
    }

    #[test]
    fn workspace_auth_rules() {
        let mut world = World::seed(2, &[], "http://x");
        let p = authenticate_workspace(&mut world, "pat", "ws-1", Some("pat")).unwrap();
        assert_eq!(p.name, ADMIN_USER);
        assert_eq!(
            authenticate_workspace(&mut world, "pat", "ws-1", None)
                .unwrap_err()
                .status
                .as_u16(),
            401
        );
        let bad = authenticate_workspace(&mut world, "pat", "ws-1", Some("nope")).unwrap_err();
        assert_eq!(bad.status.as_u16(), 403);
        assert_eq!(
            bad.body(),
            json!({"error_code": 403, "message": "Invalid access token."})
        );
        let none = authenticate_workspace(&mut world, "pat", "ws-1", None).unwrap_err();
        assert_eq!(none.body()["error_code"], 401);
        let t = token_for(
            &mut world,
            Audience::Workspace("ws-1".into()),
            Duration::from_secs(60),
        );
        let p = authenticate_workspace(&mut world, "pat", "ws-1", Some(&t)).unwrap();
        assert_eq!(p.name, "cid");
        assert!(p.is_admin());
        assert!(authenticate_workspace(&mut world, "pat", "ws-2", Some(&t)).is_err());
        let arm = token_for(&mut world, Audience::Arm, Duration::from_secs(60));
        assert!(authenticate_workspace(&mut world, "pat", "ws-1", Some(&arm)).is_err());
        let expired = token_for(&mut world, Audience::AzureDatabricks, Duration::ZERO);
        assert!(authenticate_workspace(&mut world, "pat", "ws-2", Some(&expired)).is_err());
        let seeded = world.workspaces.get("ws-1").unwrap().tokens[0]
            .value
            .clone();
        let p = authenticate_workspace(&mut world, "pat", "ws-1", Some(&seeded)).unwrap();
        assert_eq!(p.name, ADMIN_USER);
        assert!(authenticate_workspace(&mut world, "pat", "ws-2", Some(&seeded)).is_err());
    }
}
