//! The explorer: the grid's shared, verifiable registry.
//!
//! It is a bcdb ledger (every record a signed revision in a Merkle log, every answer provable)
//! with the grid's rules hooked in front of the ledger's own ([`grid`]) and views the grid needs
//! ([`api`]): the phonebook, farms, nodes with their free capacity, contracts with their state,
//! and a work queue per node. `tf` and `zos` talk to it with [`client::GridClient`].
//!
//! - [`records`]: what each grid record looks like in the ledger (schemas, payloads, authors).
//! - [`grid`]: the rules a record must pass and the views built from the log.
//! - [`server`]: `explorer serve`, the routes.
//! - [`client`]: the typed client.
//!
//! Nodes do not trust any of this: they re-check the signatures they act on against phonebook
//! entries they read with inclusion proofs.

#![warn(missing_docs)]

pub mod api;
pub mod client;
pub mod grid;
pub mod records;
pub mod server;
