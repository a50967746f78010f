//! A real SMTP server for the tests, on tokio, in the test process: it speaks enough of
//! RFC 5321 for lettre (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), keeps every message it
//! accepts, and can refuse the next few with a transient 451, as a busy relay does.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Clone, Debug)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Mail {
    /// The token of the mail's link to `<page>?token=`.
    pub fn token(&self, page: &str) -> String {
        let marker = format!("/{page}?token=");
        let start = self.text.find(&marker).unwrap_or_else(|| panic!("no {page} link in {}", self.text))
            + marker.len();
        self.text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }
}

#[derive(Default)]
struct State {
    mails: Vec<Mail>,
    refuse: usize,
}

#[derive(Clone)]
pub struct SmtpSink {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = Self { addr: listener.local_addr().unwrap(), state: Arc::default() };
        let state = sink.state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, state.clone()));
            }
        });
        sink
    }

    /// `--smtp-url` for the app.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Answers the next `n` messages with 451 (try again later).
    pub fn refuse_next(&self, n: usize) {
        self.state.lock().unwrap().refuse = n;
    }

    pub fn mails_to(&self, to: &str) -> Vec<Mail> {
        self.state.lock().unwrap().mails.iter().filter(|m| m.to == to).cloned().collect()
    }

    pub fn count(&self) -> usize {
        self.state.lock().unwrap().mails.len()
    }

    /// Waits (up to 10 s) until `to` has received `n` mails, and returns them, oldest first.
    pub async fn wait_for(&self, to: &str, n: usize) -> Vec<Mail> {
        let started = std::time::Instant::now();
        loop {
            let mails = self.mails_to(to);
            if mails.len() >= n {
                return mails;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "{to} got {} of {n} mails", mails.len());
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The newest mail to `to` whose subject contains `subject`, waiting for it.
    pub async fn wait_for_subject(&self, to: &str, subject: &str) -> Mail {
        let started = std::time::Instant::now();
        loop {
            if let Some(mail) = self.mails_to(to).into_iter().rev().find(|m| m.subject.contains(subject)) {
                return mail;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "no mail {subject:?} to {to}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

async fn serve(stream: tokio::net::TcpStream, state: Arc<Mutex<State>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let _ = write.write_all(b"220 sink ESMTP ready\r\n").await;
    let mut to = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") {
            b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if command.starts_with("RCPT TO:") {
            to = line.trim_end()[8..].trim().trim_start_matches('<').trim_end_matches('>').to_owned();
            b"250 OK\r\n"
        } else if command == "DATA" {
            let refuse = {
                let mut state = state.lock().unwrap();
                let refuse = state.refuse > 0;
                state.refuse = state.refuse.saturating_sub(1);
                refuse
            };
            if refuse {
                b"451 4.3.0 Busy, try again later\r\n"
            } else {
                let _ = write.write_all(b"354 Go ahead\r\n").await;
                let mut data = Vec::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    // Dot-stuffing (RFC 5321 §4.5.2).
                    data.extend_from_slice(line.strip_prefix('.').unwrap_or(&line).as_bytes());
                }
                state.lock().unwrap().mails.push(parse(&to, &data));
                b"250 OK queued\r\n"
            }
        } else if command == "QUIT" {
            let _ = write.write_all(b"221 Bye\r\n").await;
            return;
        } else {
            b"250 OK\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

pub fn parse(to: &str, data: &[u8]) -> Mail {
    use mailparse::MailHeaderMap;
    let parsed = mailparse::parse_mail(data).expect("the app sends well-formed mail");
    let subject = parsed.headers.get_first_value("Subject").unwrap_or_default();
    let part = |mime: &str| {
        parsed
            .subparts
            .iter()
            .find(|p| p.ctype.mimetype == mime)
            .map(|p| p.get_body().unwrap())
            .unwrap_or_default()
    };
    Mail { to: to.to_owned(), subject, text: part("text/plain"), html: part("text/html") }
}
