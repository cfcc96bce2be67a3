//! Secrets (API tokens, callback keys) that never reach a log.

/// A secret string. `Debug` prints `Secret(***)`; there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret the binary read from an environment variable or a
    /// file; surrounding whitespace (a file's newline) is dropped.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into().trim().to_string())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_is_redacted() {
        let s = super::Secret::new("token-123\n");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.expose(), "token-123");
    }
}
