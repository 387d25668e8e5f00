//! `agency-client`: what an agency runs to take part in the ledger, built only on
//! ledger-core and the HTTP API of spec/api.md.
//!
//! The library holds everything the `agency-client` binary does, so that tests
//! can check each part on its own:
//!
//! | module | what it does |
//! |---|---|
//! | [`keys`] | Ed25519 key files and public keys as the registry writes them |
//! | [`statement`] | builds and signs statements (spec/entry.md §1, §3.2, §4), including registry statements (spec/registry.md §3) |
//! | [`api`] | the JSON bodies of the append and read API (spec/api.md) |
//! | [`http`] | an async client for the server, with its error codes |
//! | [`submit`] | `submit`, and the send path every server command shares: build, sign, send, check the receipt |
//! | [`registry`] | the registry authority's commands: `register`, `add-key`, `rotate-key`, `revoke-key`, `grant-access`, `revoke-access`, and `erase-payload` as the authority |
//! | [`access`] | builds the access statements (spec/registry.md §6) and checks a read payload against its commitment |
//! | [`payload`] | `read-payload` and `erase-payload`: an agency's accountable access to a private payload |
//! | [`load`] | `load`: a bounded load generator for a server on the loopback interface |
//! | [`cli`] | the command line |

#![deny(missing_docs)]

pub mod access;
pub mod api;
pub mod cli;
pub mod http;
pub mod keys;
pub mod load;
pub mod payload;
pub mod registry;
pub mod statement;
pub mod submit;
