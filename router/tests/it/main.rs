//! End-to-end tests of the `vejviser` binary's command-line contracts.

mod cli;
mod scrub;
mod sms;
mod flows;
mod trace;
mod store_cli;
