//! One module per subcommand.

pub mod action;
pub mod audit;
pub mod check;
pub mod connectors;
pub mod credentials;
pub mod daemon;
pub mod demo;
pub mod explain;
pub mod fetch;
pub mod init;
pub mod integrations;
pub mod lists;
pub mod plugins;
pub mod prices;
pub mod report;
pub mod run;
pub mod runs;
pub mod saas_users;
pub mod schedule;
pub mod schema;
pub mod serve;
pub mod test;
pub mod users;
pub mod validate;
pub mod views;
pub mod workflows;
