//! One module per subcommand.

pub mod connectors;
pub mod credentials;
pub mod demo;
pub mod fetch;
pub mod integrations;
pub mod lists;
pub mod plugins;
pub mod run;
pub mod runs;
pub mod saas_users;
pub mod schema;
pub mod users;
pub mod validate;
pub mod views;
