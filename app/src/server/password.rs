//! Password hashing: Argon2id at OWASP's minimum parameters (m=19456 KiB, t=2, p=1, the
//! argon2 crate's defaults), always off the async runtime, on a few dedicated threads of
//! low CPU priority: a login flood can neither pile up 19 MiB buffers nor starve the cheap
//! requests, and logins still get every CPU cycle nothing else wants.

use crate::api::ApiError;
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use std::sync::{Arc, Mutex, mpsc};

type Job = Box<dyn FnOnce() + Send>;

/// The stored hash of an account that has no password (made by signing in through a
/// provider): no password matches it.
pub const NO_PASSWORD: &str = "";

#[derive(Clone)]
pub struct Passwords {
    /// Work for the hashing threads; they end when the last sender is dropped.
    jobs: mpsc::Sender<Job>,
    /// A real hash of a random password, verified against when the user does not exist, so
    /// unknown users and wrong passwords take the same time.
    dummy_hash: Arc<str>,
}

impl Passwords {
    /// `concurrency`: how many hashes may run at once (one thread each; one per core is
    /// plenty).
    pub fn new(concurrency: usize) -> Result<Self, ApiError> {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|e| super::internal_error("no randomness", e))?;
        let dummy_hash = hash_blocking(&random)?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..concurrency.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    lower_this_threads_priority();
                    loop {
                        // Holding the lock only while waiting: one idle thread takes the next job.
                        let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // every sender is gone
                        }
                    }
                })
                .map_err(|e| super::internal_error("could not start a hashing thread", e))?;
        }
        Ok(Self { jobs, dummy_hash: dummy_hash.into() })
    }

    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        self.run(move || hash_blocking(password.as_bytes())).await?
    }

    /// True when `password` matches `hash`. With no hash (unknown or disabled user, or an
    /// account without a password) it still
    /// does the full work against the dummy hash and answers false.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, ApiError> {
        let dummy = self.dummy_hash.clone();
        self.run(move || match hash.filter(|h| h != NO_PASSWORD) {
            Some(hash) => verify_blocking(password.as_bytes(), &hash),
            None => {
                let _ = verify_blocking(password.as_bytes(), &dummy);
                false
            }
        })
        .await
    }

    /// Queues `f` for the hashing threads and waits for its result. A request dropped
    /// meanwhile doesn't cancel the job: the queue stays the one bound on hashing work.
    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(f());
        });
        self.jobs.send(job).map_err(|e| super::internal_error("password hasher stopped", e))?;
        result.await.map_err(|e| super::internal_error("password hashing failed", e))
    }
}

/// Refuses passwords that are common, breached-style or built from the user's own details
/// (zxcvbn's score below 2: an estimate under 10^6 guesses), saying what to change. Length and the other
/// structural rules are in `crate::rules`, shared with the browser.
pub fn check_strength(password: &str, field: &str, user_inputs: &[&str]) -> Result<(), ApiError> {
    let estimate = zxcvbn::zxcvbn(password, user_inputs);
    if estimate.score() >= zxcvbn::Score::Two {
        return Ok(());
    }
    let mut detail = String::from("This password is too easy to guess");
    if let Some(feedback) = estimate.feedback() {
        if let Some(warning) = feedback.warning() {
            detail = format!("{detail}: {}", warning.to_string().trim_end_matches('.'));
        }
        detail.push('.');
        for suggestion in feedback.suggestions() {
            detail = format!("{detail} {suggestion}");
        }
    } else {
        detail.push('.');
    }
    Err(ApiError::invalid(field, detail))
}

/// Nice 10: the scheduler runs request handling first and hashing in what is left.
#[allow(unsafe_code)]
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread's own id; failure only means the thread
    // keeps its priority, which is logged.
    unsafe {
        let tid = libc::gettid();
        if libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10) != 0 {
            tracing::warn!("could not lower the hashing thread's priority");
        }
    }
}

fn hash_blocking(password: &[u8]) -> Result<String, ApiError> {
    Argon2::default()
        .hash_password(password)
        .map(|h| h.to_string())
        .map_err(|e| super::internal_error("password hashing failed", e))
}

fn verify_blocking(password: &[u8], hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default().verify_password(password, &parsed).is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "stored password hash is unreadable");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_use_owasp_parameters() {
        let p = Passwords::new(2).unwrap();
        let hash = p.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(p.verify("correct horse".into(), Some(hash.clone())).await.unwrap());
        assert!(!p.verify("wrong horse".into(), Some(hash)).await.unwrap());
    }

    #[tokio::test]
    async fn same_password_gets_a_fresh_salt() {
        let p = Passwords::new(2).unwrap();
        let a = p.hash("password1".into()).await.unwrap();
        let b = p.hash("password1".into()).await.unwrap();
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn unknown_user_never_verifies() {
        let p = Passwords::new(1).unwrap();
        assert!(!p.verify("anything".into(), None).await.unwrap());
    }

    #[test]
    fn common_and_personal_passwords_are_refused_with_advice() {
        for weak in ["password1", "12345678", "qwertyuiop", "iloveyou1"] {
            let err = check_strength(weak, "password", &[]).unwrap_err();
            assert_eq!(err.field.as_deref(), Some("password"));
            assert!(err.detail.starts_with("This password is too easy to guess"), "{}", err.detail);
        }
        assert!(check_strength("adalovelace1815", "password", &["ada", "lovelace", "adalovelace"]).is_err());
        for fine in ["analytical engine", "correct horse battery staple", "Tr0ub4dor&3x!q"] {
            assert!(check_strength(fine, "password", &[]).is_ok(), "{fine}");
        }
    }

    #[tokio::test]
    async fn corrupt_hash_is_a_failed_login_not_a_crash() {
        let p = Passwords::new(1).unwrap();
        assert!(!p.verify("x".into(), Some("not a phc string".into())).await.unwrap());
    }
}
