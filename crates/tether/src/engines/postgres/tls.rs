//! [`VerifyFull`]: tokio-postgres's TLS hook over rustls, trusting only an adopted
//! server's `tls-ca` and checking the server's name against its certificate (libpq's
//! `sslmode=verify-full`). tokio-postgres ships no TLS of its own and the adapter crates
//! for it are not in this workspace; the hook is a few lines over `tokio-rustls`, which is.
//!
//! A handshake the certificate check refuses fails with the rustls error inside, which
//! `PgError` classifies (see `engines::tls::refusal`). No channel binding is offered:
//! SCRAM without it still never sends the password.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use tokio_rustls::TlsConnector;

use crate::engines::tls::TlsCa;

/// How long the server may take to answer whether it speaks TLS.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// PostgreSQL's `SSLRequest`: the length, then the code 1234/5679.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// Whether the server at `host:port` answers `SSLRequest` with `N` (it has `ssl = off`):
/// tells "no TLS there" apart from a failed handshake or an unreachable server, which
/// answer otherwise or not at all (then `false`: the connection's own error stands).
pub async fn refuses_tls(host: &str, port: u16) -> bool {
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect((host, port)).await?;
        stream.write_all(&SSL_REQUEST).await?;
        let mut answer = [0u8; 1];
        stream.read_exact(&mut answer).await?;
        Ok::<_, io::Error>(answer[0] == b'N')
    };
    matches!(tokio::time::timeout(PROBE_TIMEOUT, probe).await, Ok(Ok(true)))
}

/// Makes TLS connections that trust `tls-ca` only.
#[derive(Clone)]
pub struct VerifyFull {
    config: Arc<rustls::ClientConfig>,
}

impl VerifyFull {
    pub fn new(ca: &TlsCa) -> VerifyFull {
        VerifyFull { config: ca.client_config() }
    }
}

/// One connection's handshake, to the server named `name`.
pub struct Handshake {
    connector: TlsConnector,
    name: ServerName<'static>,
}

impl<S> MakeTlsConnect<S> for VerifyFull
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type TlsConnect = Handshake;
    type Error = io::Error;

    fn make_tls_connect(&mut self, host: &str) -> io::Result<Handshake> {
        let name = ServerName::try_from(host.to_string()).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(Handshake { connector: TlsConnector::from(self.config.clone()), name })
    }
}

impl<S> TlsConnect<S> for Handshake
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Stream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move { Ok(Stream(self.connector.connect(self.name, stream).await?)) })
    }
}

/// The encrypted connection.
pub struct Stream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for Stream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}
