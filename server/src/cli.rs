//! The command line: `serve` (the default, optionally with the demo users), and the admin
//! commands `create-user`, `disable-user`, `enable-user`, `rotate-key` and `audit`.

use crate::config::Config;
use crate::startup::{Application, auth_service};
use anyhow::Context;
use app::api::{ErrorCode, NewAccount, Role};
use app::server::AuthService;
use clap::{Parser, Subcommand};
use std::io::{BufRead, IsTerminal};

#[derive(Parser)]
#[command(name = "server", version, about = "Leptos Auth: the web server and its admin commands")]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,

    /// Create the demo users (user1/password1, user2/password2) if they don't exist.
    #[arg(long, env = "DEMO_USERS", global = true,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub demo: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the app (the default when no command is given).
    Serve,
    /// Create a user. The password is asked for at a prompt, or read from the first line of
    /// standard input when that is not a terminal; never from the command line.
    CreateUser {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        first_name: String,
        #[arg(long)]
        last_name: String,
        /// Make the user an admin (may list, disable and enable accounts on /admin).
        #[arg(long)]
        admin: bool,
    },
    /// Disable an account: it can no longer log in, and all its sessions end at once.
    DisableUser {
        #[arg(long)]
        username: String,
    },
    /// Enable a disabled account again (also lifts a failed-login lock).
    EnableUser {
        #[arg(long)]
        username: String,
    },
    /// Make a new signing key. New tokens use it (running servers pick it up within 30 s);
    /// tokens signed with older keys stay valid until they expire.
    RotateKey,
    /// Print a user's most recent audit events, newest first.
    Audit {
        #[arg(long)]
        username: String,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

impl Cli {
    pub async fn run(self) -> anyhow::Result<()> {
        match self.command.unwrap_or(Command::Serve) {
            Command::Serve => {
                let app = Application::build(&self.config).await?;
                if self.demo {
                    seed_demo_users(app.auth()).await?;
                }
                Ok(app.run_until_stopped().await?)
            }
            Command::CreateUser { username, email, first_name, last_name, admin } => {
                let auth = auth_service(&self.config).await?;
                let password = read_password()?;
                let form = NewAccount { username, password, email, first_name, last_name };
                let role = if admin { Role::Admin } else { Role::User };
                let profile = auth.create_user(form, role).await.map_err(anyhow::Error::msg)?;
                println!("Created {} {}.", if admin { "admin" } else { "user" }, profile.username);
                Ok(())
            }
            Command::DisableUser { username } => set_disabled(&self.config, &username, true).await,
            Command::EnableUser { username } => set_disabled(&self.config, &username, false).await,
            Command::RotateKey => {
                let kid = auth_service(&self.config).await?.rotate_key().await.map_err(anyhow::Error::msg)?;
                println!("New signing key {kid}; older keys keep verifying until their tokens expire.");
                Ok(())
            }
            Command::Audit { username, limit } => {
                let auth = auth_service(&self.config).await?;
                let entries = auth.audit_log(&username, limit).await.map_err(anyhow::Error::msg)?;
                println!("{:<20}  {:<24}  {:<32}  ip", "time (UTC)", "event", "session");
                for e in entries {
                    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(e.at);
                    println!(
                        "{:<20}  {:<24}  {:<32}  {}",
                        humantime::format_rfc3339_seconds(at).to_string(),
                        e.event,
                        e.session_id.as_deref().unwrap_or("-"),
                        e.ip.as_deref().unwrap_or("-"),
                    );
                }
                Ok(())
            }
        }
    }
}

async fn set_disabled(config: &Config, username: &str, disabled: bool) -> anyhow::Result<()> {
    let auth = auth_service(config).await?;
    auth.set_disabled(username, disabled).await.map_err(anyhow::Error::msg)?;
    match disabled {
        true => println!("Disabled {username}; all their sessions have ended."),
        false => println!("Enabled {username}."),
    }
    Ok(())
}

/// The demo accounts of ../shared/CONTRACT.md. Only ever created when asked for.
pub async fn seed_demo_users(auth: &AuthService) -> anyhow::Result<()> {
    let demo = [
        ("user1", "password1", "Sam", "Smith", "sam@example.com"),
        ("user2", "password2", "Tim", "Allen", "tim@example.com"),
    ];
    for (username, password, first_name, last_name, email) in demo {
        let form = NewAccount {
            username: username.into(),
            password: password.into(),
            email: email.into(),
            first_name: first_name.into(),
            last_name: last_name.into(),
        };
        match auth.create_demo_account(form).await {
            Ok(_) => tracing::info!(username, "demo user created"),
            Err(e) if e.code == ErrorCode::UsernameTaken => {}
            Err(e) => return Err(anyhow::Error::msg(e)).context("creating the demo users"),
        }
    }
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Password (again): ")?;
        anyhow::ensure!(first == again, "the passwords do not match");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("reading the password from stdin")?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}
