//! Signing in through OpenID Connect providers: each provider's metadata (discovered from
//! its issuer at start), the authorization request (code flow with PKCE, `state` and
//! `nonce`), and the callback's code exchanged for an ID token that is checked (signature
//! from the provider's keys, issuer, audience, expiry, nonce) before anything is believed.
//! The `openidconnect` crate does the protocol; this module keeps it to what the app needs.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenClaims, CoreJsonWebKeySet,
    CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, SignatureVerificationError, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How long a provider may take to answer one request.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// One provider's settings, as configured (`OIDC_<ID>_*`).
#[derive(Clone, Debug)]
pub struct ProviderSettings {
    /// Lowercase letters and digits: in URLs (`/auth/<id>/callback`) and stored links.
    pub id: String,
    /// What the login page's button says: "Continue with <name>".
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
}

type Client =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet, EndpointMaybeSet>;

/// A provider whose metadata has been read.
pub struct Provider {
    pub id: String,
    pub name: String,
    settings: ProviderSettings,
    endpoints: Endpoints,
    metadata: CoreProviderMetadata,
    /// Replaced when the provider signs with a key it did not publish at start.
    client: RwLock<Arc<Client>>,
    http: reqwest::Client,
}

/// The provider's token endpoint and this site's callback for it.
struct Endpoints {
    token_url: TokenUrl,
    redirect: RedirectUrl,
}

/// What the browser is sent to the provider with, and what the callback needs to finish:
/// the PKCE verifier and the nonce never leave the server.
pub struct Authorization {
    pub url: String,
    pub state: String,
    pub pending: Pending,
}

/// Kept server-side between the redirect and the callback.
#[derive(Serialize, Deserialize)]
pub struct Pending {
    pub provider: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// Where to go once signed in (already checked to be a path of this site).
    pub next: String,
}

/// Who the provider says signed in, from a checked ID token (and userinfo for what the
/// token left out).
#[derive(Clone, Debug)]
pub struct Identity {
    pub provider: String,
    pub subject: String,
    pub email: Option<String>,
    /// Only an address the provider vouches for (`email_verified: true`) counts as verified.
    pub email_verified: bool,
    pub preferred_username: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub name: Option<String>,
}

/// Why a callback could not be finished.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// The provider could not be reached, or answered with an error.
    #[error("the provider did not answer: {0}")]
    Unreachable(String),
    /// What came back does not prove anything: a bad signature, another issuer or
    /// audience, an expired token, a nonce that is not ours.
    #[error("the provider's answer was refused: {0}")]
    Refused(String),
}

impl Provider {
    /// Reads the provider's metadata and keys from `<issuer>/.well-known/openid-configuration`.
    /// `redirect` is this site's callback URL for it.
    pub async fn discover(settings: &ProviderSettings, redirect: &str) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            // A provider's redirect is never followed: a request could be steered elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()
            .map_err(|e| format!("no HTTP client: {e}"))?;
        let issuer = IssuerUrl::new(settings.issuer.clone()).map_err(|e| format!("the issuer URL: {e}"))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &http).await.map_err(|e| {
            format!("{}/.well-known/openid-configuration could not be read: {e}", settings.issuer)
        })?;
        let token_url = metadata
            .token_endpoint()
            .cloned()
            .ok_or_else(|| format!("{} names no token endpoint", settings.issuer))?;
        let redirect = RedirectUrl::new(redirect.to_owned()).map_err(|e| format!("the callback URL: {e}"))?;
        let endpoints = Endpoints { token_url, redirect };
        let client = RwLock::new(Arc::new(client(&metadata, settings, &endpoints)));
        Ok(Self {
            id: settings.id.clone(),
            name: settings.name.clone(),
            settings: settings.clone(),
            endpoints,
            metadata,
            client,
            http,
        })
    }

    fn client(&self) -> Arc<Client> {
        Arc::clone(&self.client.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// A new authorization request for the browser to follow.
    pub fn authorize(&self, next: String) -> Authorization {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = self
            .client()
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        Authorization {
            url: url.to_string(),
            state: state.secret().clone(),
            pending: Pending {
                provider: self.id.clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                next,
            },
        }
    }

    /// The callback's `code` exchanged for tokens, and the ID token checked against the
    /// pending request's nonce.
    pub async fn finish(&self, code: &str, pending: Pending) -> Result<Identity, CallbackError> {
        let tokens = self
            .client()
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                openidconnect::RequestTokenError::ServerResponse(r) => {
                    CallbackError::Refused(format!("the code was refused: {r}"))
                }
                other => CallbackError::Unreachable(other.to_string()),
            })?;
        let id_token = tokens.id_token().ok_or_else(|| CallbackError::Refused("no ID token".into()))?;
        let nonce = Nonce::new(pending.nonce);
        let claims = self.verify(id_token, &nonce).await?;
        let mut identity = Identity {
            provider: self.id.clone(),
            subject: claims.subject().as_str().to_owned(),
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified() == Some(true),
            preferred_username: claims.preferred_username().map(|u| u.as_str().to_owned()),
            given_name: claims.given_name().and_then(|c| c.get(None)).map(|v| v.as_str().to_owned()),
            family_name: claims.family_name().and_then(|c| c.get(None)).map(|v| v.as_str().to_owned()),
            name: claims.name().and_then(|c| c.get(None)).map(|v| v.as_str().to_owned()),
        };
        if identity.email.is_none() {
            // Providers that follow the spec to the letter put the address in userinfo only.
            self.complete_from_userinfo(&mut identity, tokens.access_token().clone()).await?;
        }
        Ok(identity)
    }

    /// The ID token's claims, once its signature, issuer, audience, expiry and nonce check
    /// out. A key the provider did not publish at start is looked up once more: providers
    /// rotate their keys. (Only the provider's own token endpoint, reached with this app's
    /// secret, hands over ID tokens here, so nobody else can make the server fetch keys.)
    async fn verify(
        &self,
        id_token: &CoreIdToken,
        nonce: &Nonce,
    ) -> Result<CoreIdTokenClaims, CallbackError> {
        let check = |client: &Client| id_token.claims(&client.id_token_verifier(), nonce).cloned();
        let unknown_key =
            ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey);
        match check(&self.client()) {
            Err(e) if e == unknown_key => {
                let keys = CoreJsonWebKeySet::fetch_async(self.metadata.jwks_uri(), &self.http)
                    .await
                    .map_err(|e| CallbackError::Unreachable(format!("its keys: {e}")))?;
                let renewed =
                    Arc::new(client(&self.metadata.clone().set_jwks(keys), &self.settings, &self.endpoints));
                let claims = check(&renewed);
                *self.client.write().unwrap_or_else(|e| e.into_inner()) = renewed;
                claims
            }
            other => other,
        }
        .map_err(|e| CallbackError::Refused(e.to_string()))
    }

    async fn complete_from_userinfo(
        &self,
        identity: &mut Identity,
        access_token: openidconnect::AccessToken,
    ) -> Result<(), CallbackError> {
        let client = self.client();
        let Ok(request) = client.user_info(access_token, None) else {
            return Ok(()); // No userinfo endpoint: what the token said is all there is.
        };
        let info: CoreUserInfoClaims =
            request.request_async(&self.http).await.map_err(|e| CallbackError::Unreachable(e.to_string()))?;
        if info.subject().as_str() != identity.subject {
            return Err(CallbackError::Refused("userinfo is about someone else".into()));
        }
        identity.email = info.email().map(|e| e.as_str().to_owned());
        identity.email_verified = info.email_verified() == Some(true);
        Ok(())
    }
}

fn client(metadata: &CoreProviderMetadata, settings: &ProviderSettings, endpoints: &Endpoints) -> Client {
    CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(settings.client_id.clone()),
        Some(ClientSecret::new(settings.client_secret.clone())),
    )
    .set_token_uri(endpoints.token_url.clone())
    .set_redirect_uri(endpoints.redirect.clone())
}

/// The providers people can sign in with, in the configured order.
#[derive(Default)]
pub struct Providers(Vec<Provider>);

impl Providers {
    pub fn new(providers: Vec<Provider>) -> Self {
        Self(providers)
    }

    pub fn get(&self, id: &str) -> Option<&Provider> {
        self.0.iter().find(|p| p.id == id)
    }

    /// Id and name of each, for the login page's buttons.
    pub fn listed(&self) -> Vec<crate::api::ProviderInfo> {
        self.0.iter().map(|p| crate::api::ProviderInfo { id: p.id.clone(), name: p.name.clone() }).collect()
    }
}
