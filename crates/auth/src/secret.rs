//! [`Secret`]: a password in memory. It must never reach a log, so `Debug`
//! prints nothing of it, and its bytes are overwritten when it is dropped.

use std::fmt;

/// A password or other shared secret.
///
/// `Debug` prints `Secret(***)`; there is deliberately no `Display`. The
/// buffer, including spare capacity, is zeroed on drop.
#[derive(Clone, Default)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps the bytes of a secret.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Secret(bytes.into())
    }

    /// The secret bytes, for the code that really needs them (hashing, APOP digests).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Overwrites every byte of `buf`, spare capacity included, with zeros,
/// leaving `buf.len() == buf.capacity()`. Growing to capacity never
/// reallocates, so no copy is left behind here.
pub(crate) fn wipe(buf: &mut Vec<u8>) {
    let cap = buf.capacity();
    buf.resize(cap, 0);
    for b in buf.iter_mut() {
        *b = 0;
    }
    // Keeps the optimiser from treating the stores as dead before the free.
    std::hint::black_box(&mut *buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(Secret(***))");
        assert_eq!(s.expose(), b"hunter2");
        assert_eq!(s.len(), 7);
    }

    #[test]
    fn wipe_zeroes_spare_capacity_too() {
        let mut v = Vec::with_capacity(32);
        v.extend_from_slice(b"password");
        let cap = v.capacity();
        wipe(&mut v);
        assert_eq!(v.len(), cap);
        assert!(v.iter().all(|&b| b == 0));
    }
}
