//! Encryption at rest for everything in the store that may hold a credential:
//! secret contents, relation databags, action parameters and results.
//!
//! ChaCha20-Poly1305 with a random 96-bit nonce per value; the 32-byte key lives in a
//! file only the owner can read (`Home::key()`), created on first start. The key bytes
//! read from the file and every decrypted or to-be-encrypted plaintext are `Zeroizing`.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("cannot read or create the store key {path}: {source}")]
    Key { path: String, source: std::io::Error },
    #[error("the store key {0} is not 32 bytes")]
    KeyLength(String),
    #[error("a sealed value does not decrypt with this controller's key")]
    Open,
}

#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer")
    }
}

impl Sealer {
    /// Loads the key at `path`, creating it (mode 0600) when absent.
    pub fn load_or_create(path: &Path) -> Result<Sealer, SealError> {
        let err = |source| SealError::Key { path: path.display().to_string(), source };
        let key = match std::fs::read(path) {
            Ok(k) => Zeroizing::new(k),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut k = Zeroizing::new(vec![0u8; 32]);
                rand::rngs::OsRng.fill_bytes(&mut k);
                let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(err)?;
                f.write_all(&k).map_err(err)?;
                f.sync_all().map_err(err)?;
                k
            }
            Err(e) => return Err(err(e)),
        };
        if key.len() != 32 {
            return Err(SealError::KeyLength(path.display().to_string()));
        }
        Ok(Sealer { cipher: ChaCha20Poly1305::new(Key::from_slice(&key)) })
    }

    pub fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let mut out = nonce.to_vec();
        // Encryption with a valid key and nonce cannot fail for in-memory buffers.
        out.extend(self.cipher.encrypt(Nonce::from_slice(&nonce), plain).unwrap_or_default());
        out
    }

    pub fn open(&self, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        if sealed.len() < 12 {
            return Err(SealError::Open);
        }
        let (nonce, body) = sealed.split_at(12);
        self.cipher.decrypt(Nonce::from_slice(nonce), body).map(Zeroizing::new).map_err(|_| SealError::Open)
    }

    pub fn seal_json<T: serde::Serialize>(&self, v: &T) -> Vec<u8> {
        self.seal(&Zeroizing::new(serde_json::to_vec(v).unwrap_or_default()))
    }

    pub fn open_json<T: serde::de::DeserializeOwned>(&self, sealed: &[u8]) -> Result<T, SealError> {
        serde_json::from_slice(&self.open(sealed)?).map_err(|_| SealError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_round_trip_and_hide_the_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let s = Sealer::load_or_create(&dir.path().join("k")).unwrap();
        let sealed = s.seal(b"hunter2-password");
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(*s.open(&sealed).unwrap(), b"hunter2-password");
        let again = Sealer::load_or_create(&dir.path().join("k")).unwrap();
        assert_eq!(*again.open(&sealed).unwrap(), b"hunter2-password");
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(s.open(&bad).is_err());
    }
}
