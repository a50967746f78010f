//! Delivering queued mail: the background loop every serving instance runs. A request only
//! queues mail (in its own transaction) and wakes this loop; SMTP never slows a request.

use super::AuthService;
use crate::server::mail::SendError;
use crate::server::now;
use std::time::Duration;

/// How long an instance holds a claimed mail before another may try it (it crashed, say).
const LEASE_SECS: u64 = 120;
/// Attempts before a mail is given up on: retries back off from 1 s, doubling, to 15
/// minutes apart, so the last is about an hour and a half after the first.
const MAX_ATTEMPTS: i64 = 16;
/// How often the queue is looked at without being woken: retries fall due, and mail
/// queued by another instance (or the CLI) is picked up.
const POLL: Duration = Duration::from_secs(2);

impl AuthService {
    /// Sends queued mail until the process ends.
    pub async fn deliver_mail(&self) {
        if let Some(folder) = self.0.mailer.folder() {
            tracing::info!(folder = %folder.display(), "no SMTP_URL: mail is written to files, links are logged");
        }
        loop {
            self.deliver_due_mail().await;
            tokio::select! {
                () = self.0.mail_queued.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Sends every mail that is due now, one at a time. Returns how many were sent.
    pub async fn deliver_due_mail(&self) -> usize {
        let mut sent = 0;
        loop {
            let now = now();
            let claimed = match self.store().claim_mail(now, now + LEASE_SECS).await {
                Ok(Some(claimed)) => claimed,
                Ok(None) => return sent,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the outbox failed; trying again shortly");
                    return sent;
                }
            };
            let outcome = self.0.mailer.send(&claimed.mail()).await;
            let now = crate::server::now();
            let recorded = match outcome {
                Ok(()) => {
                    sent += 1;
                    metrics::counter!("mail_sent_total").increment(1);
                    tracing::info!(mail_id = %claimed.id, subject = %claimed.subject, "mail sent");
                    self.store().mail_sent(&claimed.id, now).await
                }
                Err(SendError::Retry(error)) if claimed.attempts < MAX_ATTEMPTS => {
                    let wait = backoff(claimed.attempts);
                    metrics::counter!("mail_retried_total").increment(1);
                    tracing::warn!(mail_id = %claimed.id, attempts = claimed.attempts, retry_in_secs = wait, %error,
                        "sending a mail failed; will retry");
                    self.store().mail_failed(&claimed.id, &error, now, Some(now + wait)).await
                }
                Err(SendError::Retry(error) | SendError::Permanent(error)) => {
                    metrics::counter!("mail_failed_total").increment(1);
                    tracing::error!(mail_id = %claimed.id, attempts = claimed.attempts, %error,
                        "giving up on a mail");
                    self.store().mail_failed(&claimed.id, &error, now, None).await
                }
            };
            if let Err(e) = recorded {
                tracing::warn!(error = %e, mail_id = %claimed.id, "recording a mail's outcome failed");
            }
        }
    }

    /// Wakes this instance's delivery loop: a mail was just queued.
    pub(super) fn mail_queued(&self) {
        self.0.mail_queued.notify_one();
    }
}

/// Seconds before the next attempt, after `attempts` failed ones: 1, 2, 4, … up to 15 minutes.
fn backoff(attempts: i64) -> u64 {
    let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(10);
    (1u64 << exponent).min(900)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        assert_eq!((1..=5).map(backoff).collect::<Vec<_>>(), [1, 2, 4, 8, 16]);
        assert_eq!(backoff(30), 900);
        let total: u64 = (1..MAX_ATTEMPTS).map(backoff).sum();
        assert!((3600..4 * 3600).contains(&total), "{total}");
    }
}
