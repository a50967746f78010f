//! Mail: what the app sends (`templates`), and how it leaves (`Mailer`, over SMTP with
//! lettre, or into `.eml` files when no SMTP server is configured).
//!
//! Nothing here is called on a request's path. A request writes an [`Outgoing`] mail into
//! the outbox in the same transaction as the change that causes it; the delivery loop
//! (`AuthService::deliver_mail`) sends it later, with retries.

pub mod templates;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;

/// Where mail goes.
#[derive(Clone, Debug)]
pub enum MailTransport {
    /// `smtp://host:port`, `smtp://user:pass@host:587?tls=required`, `smtps://host`.
    Smtp(String),
    /// No SMTP server: each mail becomes an `.eml` file in this folder, and its link is logged.
    Files(PathBuf),
}

#[derive(Clone, Debug)]
pub struct MailSettings {
    pub transport: MailTransport,
    /// `Name <address>` or a bare address.
    pub from: String,
    /// The origin links point at, without a trailing slash (`https://auth.example.com`).
    pub public_url: String,
}

/// One mail to send, as the outbox stores it.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The mail's link, if it has one: logged instead of mailed in file mode.
    pub link: Option<String>,
}

/// Why a mail was not sent: worth retrying, or never going to work.
#[derive(Debug)]
pub enum SendError {
    Retry(String),
    Permanent(String),
}

/// The configured transport.
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files { folder: PathBuf, transport: AsyncFileTransport<Tokio1Executor> },
}

/// How long one SMTP conversation may take before it counts as failed (and is retried).
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

impl Mailer {
    /// Checks the settings (an unreadable `SMTP_URL` or `MAIL_FROM` stops the start, with
    /// the reason) and prepares the transport. Connects to nothing yet.
    pub fn new(settings: &MailSettings) -> Result<Self, String> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| format!("MAIL_FROM {:?} is not an address: {e}", settings.from))?;
        let transport = match &settings.transport {
            MailTransport::Smtp(url) => {
                let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| format!("SMTP_URL is not usable: {e}"))?;
                Transport::Smtp(builder.timeout(Some(SMTP_TIMEOUT)).build())
            }
            MailTransport::Files(folder) => Transport::Files {
                folder: folder.clone(),
                transport: AsyncFileTransport::<Tokio1Executor>::new(folder),
            },
        };
        Ok(Self { from, transport })
    }

    /// The folder mail is written to, when it is written to files.
    pub fn folder(&self) -> Option<&std::path::Path> {
        match &self.transport {
            Transport::Files { folder, .. } => Some(folder),
            Transport::Smtp(_) => None,
        }
    }

    pub async fn send(&self, mail: &Outgoing) -> Result<(), SendError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| SendError::Permanent(format!("the recipient is not a deliverable address: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject)
            .multipart(MultiPart::alternative_plain_html(mail.text.clone(), mail.html.clone()))
            .map_err(|e| SendError::Permanent(format!("the mail could not be built: {e}")))?;
        match &self.transport {
            Transport::Smtp(smtp) => match smtp.send(message).await {
                Ok(_) => Ok(()),
                // 5xx: the server will never take it (no such mailbox, refused).
                Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
                Err(e) => Err(SendError::Retry(e.to_string())),
            },
            Transport::Files { transport, .. } => {
                transport.send(message).await.map_err(|e| SendError::Retry(e.to_string()))?;
                if let Some(link) = &mail.link {
                    // The promise of file mode: a developer without SMTP can still click it.
                    tracing::info!(to = %mail.to, subject = %mail.subject, %link, "mail written to a file");
                } else {
                    tracing::info!(to = %mail.to, subject = %mail.subject, "mail written to a file");
                }
                Ok(())
            }
        }
    }
}

/// A new link token and the hash that is stored of it: 256 random bits, URL-safe.
pub fn link_token() -> Result<(String, String), getrandom::Error> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    Ok((token, hash))
}

/// What is stored of a link token, and looked up by.
pub fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}
