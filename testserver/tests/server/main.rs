//! Integration tests of the test server over real HTTP (reqwest on 127.0.0.1).

#![allow(dead_code)]

mod common;
mod faults;
mod generation;
mod members;
mod scim;
