//! `rollcall prices set|list|remove`: licence prices per app and user type, which the
//! dashboard turns into money spent on inactive seats.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use rollcall_store::Price;

use crate::datadir::open_store;

/// Licence prices.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Set the monthly price of one seat, e.g. `rollcall prices set Miro Full 16 --currency EUR`.
    Set {
        /// The app (as in `saas-users list`; case-insensitive).
        app: String,
        /// The user type (case-insensitive).
        user_type: String,
        /// The price per seat and month, e.g. 16 or 7.50.
        amount: String,
        /// The currency shown next to amounts.
        #[arg(long, default_value = "")]
        currency: String,
    },
    /// List the prices.
    List,
    /// Remove a price.
    Remove {
        /// The app.
        app: String,
        /// The user type.
        user_type: String,
    },
}

/// `16`, `16.5` or `16.50` as hundredths.
fn cents(amount: &str) -> Option<i64> {
    let (whole, frac) = match amount.trim().split_once('.') {
        Some((w, f)) => (w, f),
        None => (amount.trim(), ""),
    };
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 2
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = format!("{frac:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(frac)
}

pub async fn run(args: Args, data_dir: Option<PathBuf>) -> Result<ExitCode> {
    let store = open_store(data_dir).await?;
    match args.command {
        Command::Set {
            app,
            user_type,
            amount,
            currency,
        } => {
            let Some(monthly_cents) = cents(&amount) else {
                bail!(
                    "`{amount}` is not a price: write a number with at most two decimals, e.g. 16 or 7.50"
                );
            };
            store
                .put_price(&Price {
                    app: app.clone(),
                    user_type: user_type.clone(),
                    monthly_cents,
                    currency: currency.trim().to_owned(),
                })
                .await?;
            println!(
                "a {app} {user_type} seat costs {}.{:02} {} per month",
                monthly_cents / 100,
                monthly_cents % 100,
                currency.trim()
            );
        }
        Command::List => {
            let prices = store.list_prices().await?;
            if prices.is_empty() {
                println!("no prices yet: `rollcall prices set APP USER_TYPE AMOUNT` sets one");
            }
            for p in prices {
                println!(
                    "{:<20} {:<20} {:>10}.{:02} {}",
                    p.app,
                    p.user_type,
                    p.monthly_cents / 100,
                    p.monthly_cents % 100,
                    p.currency
                );
            }
        }
        Command::Remove { app, user_type } => {
            if !store.remove_price(&app, &user_type).await? {
                bail!("there is no price for {app} {user_type}; `rollcall prices list` shows them");
            }
            println!("removed the price of {app} {user_type}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::cents;

    #[test]
    fn amounts() {
        assert_eq!(cents("16"), Some(1600));
        assert_eq!(cents("7.5"), Some(750));
        assert_eq!(cents("7.05"), Some(705));
        assert_eq!(cents("0.99"), Some(99));
        for bad in ["", "-1", "1.234", "abc", ".5", "1e3"] {
            assert_eq!(cents(bad), None, "{bad}");
        }
    }
}
