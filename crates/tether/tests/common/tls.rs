//! [`TestCa`]: a certificate authority made by `openssl` for one test, and server
//! certificates it signs for an IP address (as a subject alternative name, which is what
//! a client checking the server's name compares an address with). Adopted servers started
//! with TLS ([`super::ExternalPg::start_with_tls`], [`super::ExternalMariaDb::start_with_tls`])
//! use them; the CA's PEM is what an operator gives tether as `tls-ca`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct TestCa {
    dir: tempfile::TempDir,
    /// The CA certificate, PEM.
    pub pem: String,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

impl TestCa {
    /// A new self-signed CA (EC P-256, valid for a day) named `name`.
    pub fn new(name: &str) -> TestCa {
        let dir = tempfile::Builder::new().prefix("tether-test-ca-").tempdir().expect("temp dir");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        openssl(dir.path(), &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key"]);
        let subject = format!("/CN={name}");
        openssl(
            dir.path(),
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                "ca.key",
                "-days",
                "1",
                "-subj",
                &subject,
                "-out",
                "ca.pem",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        let pem = fs::read_to_string(dir.path().join("ca.pem")).expect("ca.pem");
        TestCa { dir, pem }
    }

    /// The CA certificate's file (world-readable), for clients' `sslrootcert`/`--ssl-ca`.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A server certificate for `ip`, with its key, written into `dest` as `server.crt` and
    /// `server.key` (mode 0600), both owned by the system user `owner` (the server's).
    pub fn issue(&self, ip: &str, dest: &Path, owner: &str) -> (PathBuf, PathBuf) {
        let d = self.dir.path();
        openssl(d, &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "server.key"]);
        openssl(d, &["req", "-new", "-key", "server.key", "-subj", &format!("/CN={ip}"), "-out", "server.csr"]);
        let ext = format!(
            "subjectAltName=IP:{ip}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        );
        fs::write(d.join("server.ext"), ext).expect("server.ext");
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "1",
                "-extfile",
                "server.ext",
                "-out",
                "server.crt",
            ],
        );
        let (crt, key) = (dest.join("server.crt"), dest.join("server.key"));
        for (from, to) in [("server.crt", &crt), ("server.key", &key)] {
            fs::copy(d.join(from), to).expect("copy the certificate");
            fs::set_permissions(to, fs::Permissions::from_mode(0o600)).expect("chmod");
            let owned = Command::new("chown").arg(format!("{owner}:{owner}")).arg(to).status().expect("chown");
            assert!(owned.success(), "chown {}", to.display());
        }
        (crt, key)
    }
}
