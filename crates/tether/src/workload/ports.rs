//! Free ports on 127.0.0.1 for new servers.

/// A port on 127.0.0.1 that is free now (the OS picks it).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}
