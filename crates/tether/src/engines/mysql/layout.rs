//! Where a MariaDB/MySQL server's files live and which binaries run it: the unit's
//! layout (data directory, pid file, socket, private temporary directory), finding
//! `mariadbd`/`mysqld` and telling which dialect it speaks, and recognising a running
//! server by its pid. Shared by the MariaDB start path (`server`) and MySQL 8's
//! initialisation (`mysql8`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::secret::SecretString;
use crate::workload::process::pid_alive;
use crate::workload::WorkloadError;
use tether_core::my_plan::Dialect;

/// The system user MariaDB runs as when tether is root.
pub const SYSTEM_USER: &str = "mysql";
/// tether's admin login (over 127.0.0.1).
pub const ADMIN_USER: &str = "root";
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// A refused connect costs well under a millisecond; polling often keeps deploy close to
/// the server's own start time.
pub(crate) const READY_POLL: Duration = Duration::from_millis(10);

/// One MariaDB server (see the module docs): its data directory (whose parent is the unit
/// directory, which also holds its socket and pid file), its log file, its port on
/// 127.0.0.1 and the password of `root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MariaDbSpec {
    pub data_dir: PathBuf,
    pub log_file: PathBuf,
    pub port: u16,
    pub root_password: SecretString,
    /// The application's settings, passed as options at each start.
    pub settings: BTreeMap<String, String>,
    /// A member of a Galera cluster (mysql-k8s deployed with more than one unit); `None`
    /// for a plain server, which starts without any `wsrep` option.
    pub galera: Option<super::galera::GaleraOptions>,
}

/// A unit's MariaDB data directory, under its unit directory.
pub const DATA_DIR: &str = "mysqldata";
/// A unit's MariaDB error log (also the server's stdout and stderr), under its unit directory.
pub const ERROR_LOG: &str = "mariadb.log";

impl MariaDbSpec {
    /// The usual layout: `<unit dir>/`[`DATA_DIR`] and `<unit dir>/`[`ERROR_LOG`], with the
    /// server's own defaults until [`MariaDbSpec::with_settings`].
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn for_unit(unit_dir: &Path, port: u16, root_password: SecretString) -> MariaDbSpec {
        MariaDbSpec {
            data_dir: unit_dir.join(DATA_DIR),
            log_file: unit_dir.join(ERROR_LOG),
            port,
            root_password,
            settings: BTreeMap::new(),
            galera: None,
        }
    }

    pub fn with_settings(self, settings: BTreeMap<String, String>) -> MariaDbSpec {
        MariaDbSpec { settings, ..self }
    }

    /// The server as a member of a Galera cluster.
    pub fn with_galera(self, galera: super::galera::GaleraOptions) -> MariaDbSpec {
        MariaDbSpec { galera: Some(galera), ..self }
    }
}

/// What this machine gives a server: its memory, and whether MariaDB's audit plugin is
/// installed beside the server.
pub fn host_resources() -> Result<tether_core::my_config::Host, WorkloadError> {
    let bins = MariaDbBinaries::find()?;
    let plugin_dir = match bins.mariadbd.parent() {
        Some(dir) if dir == Path::new("/usr/sbin") => PathBuf::from("/usr/lib/mysql/plugin"),
        Some(dir) => dir.join("../lib/plugin"),
        None => PathBuf::new(),
    };
    let audit_plugin = bins.flavor == Dialect::MariaDb && plugin_dir.join("server_audit.so").is_file();
    Ok(tether_core::my_config::Host { memory_bytes: crate::workload::host::total_memory_bytes(), audit_plugin })
}

const ENGINE: &str = "MariaDB";

/// Which server the machine has and where its programs are: `mariadbd` and
/// `mariadb-install-db`, or MySQL 8's `mysqld` (which initialises itself; `install_db`
/// is then the same `mysqld`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MariaDbBinaries {
    pub flavor: Dialect,
    pub mariadbd: PathBuf,
    pub install_db: PathBuf,
}

impl MariaDbBinaries {
    /// `$TETHER_MARIADB_BIN` (a directory with `mariadbd` and `mariadb-install-db`, or
    /// with a MySQL 8 `mysqld`), else Debian's paths: MariaDB's programs, else
    /// `/usr/sbin/mysqld` when it is MySQL 8.
    pub fn find() -> Result<MariaDbBinaries, WorkloadError> {
        if let Some(dir) = std::env::var_os("TETHER_MARIADB_BIN").filter(|d| !d.is_empty()) {
            let dir = PathBuf::from(dir);
            return Self::find_in(&dir, &dir).map_err(|_| {
                not_found(format!(
                    "$TETHER_MARIADB_BIN ({}) has neither mariadbd and mariadb-install-db nor a MySQL 8 mysqld",
                    dir.display()
                ))
            });
        }
        Self::find_in(Path::new("/usr/sbin"), Path::new("/usr/bin"))
    }

    pub(crate) fn find_in(sbin: &Path, bin: &Path) -> Result<MariaDbBinaries, WorkloadError> {
        let b = MariaDbBinaries { flavor: Dialect::MariaDb, mariadbd: sbin.join("mariadbd"), install_db: bin.join("mariadb-install-db") };
        if b.mariadbd.is_file() && b.install_db.is_file() {
            return Ok(b);
        }
        let mysqld = sbin.join("mysqld");
        if mysqld.is_file() {
            match flavor_of(&version_output(&mysqld)) {
                Some(Dialect::MySql) => {
                    return Ok(MariaDbBinaries { flavor: Dialect::MySql, mariadbd: mysqld.clone(), install_db: mysqld })
                }
                Some(Dialect::MariaDb) => {}
                None => {
                    return Err(not_found(format!(
                        "{} is neither MariaDB nor MySQL 8 (tether runs those): install mariadb-server (or set $TETHER_MARIADB_BIN)",
                        mysqld.display()
                    )))
                }
            }
        }
        Err(not_found("no /usr/sbin/mariadbd and /usr/bin/mariadb-install-db, nor a MySQL 8 /usr/sbin/mysqld: install mariadb-server or set $TETHER_MARIADB_BIN".into()))
    }
}

/// What `mysqld --version` prints (empty if it cannot run).
fn version_output(mysqld: &Path) -> String {
    std::process::Command::new(mysqld)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// The server a `mysqld --version` line names: MariaDB says so
/// (`mysqld  Ver 10.11.6-MariaDB-0+deb12u1 for debian-linux-gnu`); MySQL may not
/// (`/usr/sbin/mysqld  Ver 8.0.36-0ubuntu0.22.04.1 for Linux on x86_64 ((Ubuntu))`), so
/// any other `Ver 8.` or later is MySQL. Older MySQL (5.7: no roles) is `None`.
pub fn flavor_of(version_line: &str) -> Option<Dialect> {
    if version_line.contains("MariaDB") {
        return Some(Dialect::MariaDb);
    }
    let ver = version_line.split_once(" Ver ")?.1.trim_start();
    let major: u32 = ver.split('.').next()?.parse().ok()?;
    (major >= 8).then_some(Dialect::MySql)
}

fn not_found(hint: String) -> WorkloadError {
    WorkloadError::BinariesNotFound { engine: ENGINE, hint }
}

/// The unit directory that holds the data directory, socket and pid file.
pub fn unit_dir(spec: &MariaDbSpec) -> PathBuf {
    spec.data_dir.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"))
}

pub fn pid_file(spec: &MariaDbSpec) -> PathBuf {
    unit_dir(spec).join("mysqld.pid")
}

pub fn socket_path(spec: &MariaDbSpec) -> PathBuf {
    unit_dir(spec).join("mysqld.sock")
}

/// The only directory `LOAD DATA INFILE` / `SELECT … INTO OUTFILE` may touch.
pub(crate) fn files_dir(spec: &MariaDbSpec) -> PathBuf {
    unit_dir(spec).join("mysql-files")
}

/// The server's private temporary directory: two servers set up at once must not share
/// `/tmp` (their temporary table files collide).
pub(crate) fn tmp_dir(spec: &MariaDbSpec) -> PathBuf {
    unit_dir(spec).join("tmp")
}

pub(crate) fn prep_err(step: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> WorkloadError {
    let path = path.to_path_buf();
    move |source| WorkloadError::Prepare { step, path, source }
}

/// The last lines of a tool's stderr and its status.
pub(crate) fn tail(stderr: &[u8], status: &std::process::ExitStatus) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).rev().take(5).collect();
    format!("{} ({status})", lines.into_iter().rev().collect::<Vec<_>>().join(" | "))
}

/// The pid in the unit's pid file, if it is there and readable.
pub fn read_pid_file(unit_dir: &Path) -> Option<u32> {
    std::fs::read_to_string(unit_dir.join("mysqld.pid")).ok()?.trim().parse().ok()
}

/// The command line of a process, split at NULs.
pub(crate) fn cmdline(pid: u32) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect()
}

/// Whether `pid` is a live `mariadbd` (or `mysqld`) serving `data_dir`.
pub fn is_mariadb_of(pid: u32, data_dir: &Path) -> bool {
    if !pid_alive(pid) {
        return false;
    }
    let args = cmdline(pid);
    let Some(argv0) = args.first() else { return false };
    if !(argv0.ends_with("mariadbd") || argv0.ends_with("mysqld")) {
        return false;
    }
    args.iter().any(|a| a == &format!("--datadir={}", data_dir.display()))
}

/// A live server of this data directory found by its command line: one started by a
/// controller that died before the server wrote its pid file (a second server on the
/// same data directory would fail on InnoDB's lock and leave the first one orphaned).
pub(crate) fn find_server_of(data_dir: &Path) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| is_mariadb_of(*pid, data_dir))
}
