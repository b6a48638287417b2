//! Holding and generating secrets without leaking them.
//!
//! [`SecretString`] prints a placeholder in `Debug` and `Display`, so a password that
//! ends up in an error, a log line or a panic message shows as `[REDACTED]`.

use rand::distributions::Alphanumeric;
use rand::Rng;

#[derive(Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(s: impl Into<String>) -> Self {
        SecretString(s.into())
    }
    /// The clear value: call only where it must reach a database or the user.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl std::fmt::Display for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// A random password of `len` characters from `[A-Za-z0-9]`, from the OS CSPRNG.
pub fn generate_password(len: usize) -> SecretString {
    SecretString(rand::rngs::OsRng.sample_iter(&Alphanumeric).take(len).map(char::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = SecretString::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "[REDACTED] [REDACTED]");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn passwords_are_alphanumeric_and_fresh() {
        let a = generate_password(16);
        assert_eq!(a.expose().len(), 16);
        assert!(a.expose().chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, generate_password(16));
    }
}
