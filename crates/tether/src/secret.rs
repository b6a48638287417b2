//! Holding and generating secrets without leaking them.
//!
//! [`SecretString`] prints a placeholder in `Debug` and `Display`, so a password that
//! ends up in an error, a log line or a panic message shows as `[REDACTED]`, and its
//! buffer is overwritten with zeros when it is dropped (`zeroize`), so a freed password
//! does not linger in the heap. Temporaries that hold a password outside a
//! `SecretString` (a rendered statement, a decrypted store value) are `Zeroizing` too.

use rand::distributions::Alphanumeric;
use rand::Rng;
use zeroize::{Zeroize, ZeroizeOnDrop};

#[derive(Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, Zeroize, ZeroizeOnDrop)]
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

    /// Compiles only when `T` overwrites its buffer when dropped.
    fn assert_zeroized_on_drop<T: ZeroizeOnDrop>() {}

    #[test]
    fn secrets_never_print() {
        let s = SecretString::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "[REDACTED] [REDACTED]");
        assert_eq!(format!("{:?}", Some(vec![s.clone()])), "Some([[REDACTED]])");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn secrets_are_zeroized_on_drop() {
        assert_zeroized_on_drop::<SecretString>();
        let mut s = SecretString::new("hunter2");
        s.zeroize();
        assert!(s.is_empty());
    }

    #[test]
    fn passwords_are_alphanumeric_and_fresh() {
        let a = generate_password(16);
        assert_eq!(a.expose().len(), 16);
        assert!(a.expose().chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, generate_password(16));
    }
}
