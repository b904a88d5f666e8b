//! Connector manifests: the file format ([`model`]) and loading a file into a
//! compiled connector with every problem reported at once ([`load`]).

pub mod load;
pub mod model;
pub mod plugins;

pub use load::{LoadError, load_connector, load_connector_with_plugins, manifest_schema};
pub use model::*;
pub use plugins::{PluginCallSpec, PluginRequirement};
