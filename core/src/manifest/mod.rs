//! Connector manifests: the file format ([`model`]) and loading a file into a
//! compiled connector with every problem reported at once ([`load`]).

pub mod load;
pub mod model;

pub use load::{LoadError, load_connector, manifest_schema};
pub use model::*;
