//! `poshuk staff`: the accounts of the node's web page. The password is
//! read from `POSHUK_STAFF_PASSWORD` or typed at a prompt (never an
//! argument, which other local users could read in the process list).

use std::time::Duration;

use clap::{Args, Subcommand};
use poshuk_protocol::local::{StaffAccount, StaffAccountRequest, StaffRemoval};
use poshuk_protocol::routes::local;

use super::http::{LocalNeed, NodeAccess, Server};

#[derive(Subcommand)]
pub(crate) enum StaffCommand {
    /// Add a staff account, or change its password and role (its sessions end).
    Add(AddArgs),
    /// List the staff accounts.
    List(ListArgs),
    /// Remove a staff account (its sessions end).
    Remove(RemoveArgs),
}

#[derive(Args)]
pub(crate) struct AddArgs {
    /// The login name (letters, digits, . _ - @).
    name: String,
    /// `searcher` (search, review, contact requests) or `admin` (also sees
    /// every staff member's recent searches).
    #[arg(long, default_value = "searcher")]
    role: String,
    /// The password (12 characters or more); typed at a prompt when unset.
    #[arg(
        long = "password-from-env",
        env = "POSHUK_STAFF_PASSWORD",
        hide_env_values = true
    )]
    password: Option<String>,
    #[command(flatten)]
    node: NodeAccess,
}

#[derive(Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    node: NodeAccess,
}

#[derive(Args)]
pub(crate) struct RemoveArgs {
    /// The login name.
    name: String,
    #[command(flatten)]
    node: NodeAccess,
}

pub(crate) fn run(command: StaffCommand) -> anyhow::Result<()> {
    match command {
        StaffCommand::Add(args) => {
            let password = match args.password {
                Some(password) => password,
                None => {
                    let first =
                        rpassword::prompt_password(format!("password for {}: ", args.name))?;
                    let again = rpassword::prompt_password("the same again: ")?;
                    if first != again {
                        anyhow::bail!("the two passwords differ; nothing was changed");
                    }
                    first
                }
            };
            let node = Server::node(&args.node, LocalNeed::Admin, Duration::from_secs(30))?;
            let request = StaffAccountRequest {
                name: args.name.clone(),
                password,
                role: args.role.clone(),
            };
            let account: StaffAccount = node.post(local::STAFF, &request)?;
            println!(
                "staff account {} ({}) is ready: log in at {}/ui/",
                account.name,
                account.role,
                args.node.node.trim_end_matches('/')
            );
        }
        StaffCommand::List(args) => {
            let node = Server::node(&args.node, LocalNeed::Admin, Duration::from_secs(30))?;
            let accounts: Vec<StaffAccount> = node.get(local::STAFF)?;
            if accounts.is_empty() {
                println!("no staff accounts: add one with `poshuk staff add NAME`");
            }
            for account in accounts {
                println!("{}\t{}", account.name, account.role);
            }
        }
        StaffCommand::Remove(args) => {
            let node = Server::node(&args.node, LocalNeed::Admin, Duration::from_secs(30))?;
            let _: serde_json::Value = node.post(
                local::STAFF_REMOVE,
                &StaffRemoval {
                    name: args.name.clone(),
                },
            )?;
            println!("staff account {} removed; its sessions ended", args.name);
        }
    }
    Ok(())
}
