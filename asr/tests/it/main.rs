//! Integration tests of the asr crate: the real converted Whisper model
//! (`scripts/fetch-whisper` makes it), Danish speech synthesised by
//! espeak-ng at test time, and a real HTTP server playing the remote
//! recogniser.

mod endpointing;
mod local;
mod remote;
mod speech;
