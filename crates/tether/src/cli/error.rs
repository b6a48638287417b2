//! How a command fails: a usage error (exit 2) or a runtime error (exit 1), each
//! printed as one `ERROR <message>` line. Every CLI module returns these, so they live
//! apart from `mod.rs` (which maps them to the exit code) and import nothing of the CLI.

/// Why a command failed, classified by the exit code Juju would use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// Bad flags or arguments (exit 2).
    Usage(String),
    /// Anything that went wrong while doing the work (exit 1).
    Runtime(String),
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::Usage(message.into())
    }
    pub fn runtime(message: impl Into<String>) -> Self {
        CliError::Runtime(message.into())
    }
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Runtime(_) => 1,
        }
    }
    pub fn message(&self) -> &str {
        match self {
            CliError::Usage(m) | CliError::Runtime(m) => m,
        }
    }
}

/// What a command asks `main` to exit with once it has printed its output.
pub type CmdResult = Result<u8, CliError>;
