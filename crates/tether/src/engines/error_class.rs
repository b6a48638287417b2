//! How a caller should treat an engine's error, decided by the engine that knows its
//! server's answers: retry later, show the unit as blocked with a message, or treat it
//! as a bug (the hook fails and says why). Callers match on the class, never on text.

/// What an engine error means for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorClass {
    /// Transient (a connection lost, the server restarting): the same work may succeed
    /// later, so the hook fails and is retried.
    Retry,
    /// The request cannot be served as it stands (an unknown role, missing rights): the
    /// unit says why in a `blocked` status; retrying changes nothing.
    Blocked(String),
    /// Anything else: a statement tether should not have sent.
    Bug,
}

/// Implemented by each engine's error type.
pub trait Classify: std::fmt::Display {
    fn class(&self) -> ErrorClass;

    /// The server's or the network's answer alone, for a status that already names the
    /// server (never a secret: error texts carry none).
    fn root(&self) -> String {
        self.to_string()
    }
}
