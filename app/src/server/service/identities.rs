//! The identities at OpenID Connect providers linked to an account: listing them, linking
//! another (after recent authentication, through the provider's own login), and unlinking
//! one, never the account's last way to sign in. Each change is mailed and audited.

use super::providers::ProviderRefusal;
use super::{AuthService, removal_refused};
use crate::api::{ApiError, LinkedIdentity};
use crate::server::audit::{Event, Record};
use crate::server::oidc::Identity;
use crate::server::store::{Ceremony, NewIdentity};
use crate::server::{ClientMeta, now};

impl AuthService {
    /// The caller's linked identities, oldest first.
    pub async fn linked_identities(&self, access_token: &str) -> Result<Vec<LinkedIdentity>, ApiError> {
        let claims = self.authenticate_live(access_token).await?;
        let rows = self.store().identities_of(&claims.user_id).await?;
        Ok(rows
            .into_iter()
            .map(|row| LinkedIdentity {
                name: self.provider_name(&row.provider),
                provider: row.provider,
                email: row.email,
                created_at: u64::try_from(row.created_at).unwrap_or(0),
                last_used_at: row.last_used_at.and_then(|t| u64::try_from(t).ok()),
            })
            .collect())
    }

    /// Begins linking `provider` to the caller's account (after recent authentication):
    /// the URL to send the browser to. The callback comes back to the security page.
    pub async fn begin_link(
        &self,
        access_token: &str,
        provider: &str,
        password: Option<String>,
        meta: ClientMeta,
    ) -> Result<String, ApiError> {
        let claims = self.recently_authenticated(access_token, password, &meta).await?;
        let provider = self.provider(provider)?;
        self.send_to(provider, "/security".to_owned(), Ceremony::ProviderLink, Some(&claims.user_id)).await
    }

    /// The callback's half of linking: `identity` to `user_id`, unless it signs in to
    /// another account already.
    pub(super) async fn link(
        &self,
        user_id: &str,
        identity: &Identity,
        meta: &ClientMeta,
        now: u64,
    ) -> Result<Result<(), ProviderRefusal>, ApiError> {
        match self.store().identity_owner(&identity.provider, &identity.subject).await? {
            Some(owner) if owner == user_id => return Ok(Ok(())),
            Some(_) => return Ok(Err(ProviderRefusal::IdentityInUse)),
            None => {}
        }
        let Some(account) = self.store().account_mail(user_id).await? else {
            return Ok(Err(ProviderRefusal::Expired));
        };
        let name = self.provider_name(&identity.provider);
        let notice = self.0.mails.identity_changed(&account.email, &account.username, &name, true);
        let email = identity.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
        let new = NewIdentity { provider: &identity.provider, subject: &identity.subject, email, now };
        if !self.store().link_identity(user_id, &new, &notice).await? {
            return Ok(Err(ProviderRefusal::IdentityInUse));
        }
        self.mail_queued();
        let ip = self.client_ip(meta);
        self.record(Record { event: Event::IdentityLinked, user_id: Some(user_id), session_id: None, ip })
            .await;
        Ok(Ok(()))
    }

    /// Unlinks the caller's identity at `provider` (after recent authentication), unless it
    /// is the account's last way to sign in.
    pub async fn unlink_identity(
        &self,
        access_token: &str,
        provider: &str,
        password: Option<String>,
        meta: ClientMeta,
    ) -> Result<(), ApiError> {
        let claims = self.recently_authenticated(access_token, password, &meta).await?;
        let account = self.own_account(&claims).await?;
        let name = self.provider_name(provider);
        let notice = self.0.mails.identity_changed(&account.email, &account.username, &name, false);
        self.store()
            .unlink_identity(&claims.user_id, provider, now(), &notice)
            .await?
            .map_err(|r| removal_refused(r, "No identity of that provider is linked.", "provider"))?;
        self.mail_queued();
        self.record_for(Event::IdentityUnlinked, &claims, &meta).await;
        Ok(())
    }

    /// A provider's configured name; its id when it is no longer configured.
    fn provider_name(&self, provider: &str) -> String {
        self.0.providers.get(provider).map_or_else(|| provider.to_owned(), |p| p.name.clone())
    }
}
