//! One module per subcommand.

pub mod connectors;
pub mod demo;
pub mod fetch;
pub mod schema;
pub mod validate;
