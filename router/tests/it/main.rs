//! End-to-end tests of the `vejviser` binary's command-line contracts.

mod cli;
mod scrub;
mod sip;
