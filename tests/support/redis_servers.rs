//! Redis servers started by a test: `redis-server` processes on free loopback ports (plain,
//! TLS with an rcgen CA, cluster nodes, a sentinel), each in a scratch directory, killed when
//! dropped.
//!
//! When `redis-server` (or `redis-cli`) is not installed, [`redis_binaries`] says how to get
//! it and the test skips, except under CI (env `CI` set), where it fails.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::temp::TempDir;
use super::tls::TestCertificates;

/// Whether `redis-server` and `redis-cli` can be run; if not, says how to get them (and fails
/// under CI).
pub fn redis_binaries() -> bool {
    let missing: Vec<&str> = ["redis-server", "redis-cli"]
        .into_iter()
        .filter(|binary| {
            Command::new(binary)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_err()
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let how = format!(
        "{} not found: install them with `apt-get install -y redis-server redis-sentinel \
         redis-tools` (Debian, Ubuntu) or `brew install redis` (macOS)",
        missing.join(" and ")
    );
    if std::env::var_os("CI").is_some() {
        panic!("under CI: {how}");
    }
    // libtest captures println!; the stderr handle is shown.
    let _ = std::io::stderr().write_all(format!("    skipped: {how}\n").as_bytes());
    false
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A running `redis-server` (or sentinel); killed on drop.
pub struct RedisProcess {
    child: Child,
    /// The port it listens on (the TLS port for a TLS server).
    pub port: u16,
    /// Its scratch directory (config, cluster state).
    pub dir: TempDir,
}

impl RedisProcess {
    /// Starts `redis-server` on a free port with `extra` arguments; `tls` when the port is a
    /// TLS port. Waits until it accepts connections (and answers PING, when plain).
    pub fn start(name: &str, extra: &[String], tls: bool) -> RedisProcess {
        let port = free_port();
        let dir = TempDir::new(name);
        let mut args: Vec<String> = vec![
            "--bind".into(),
            "127.0.0.1".into(),
            "--save".into(),
            String::new(),
            "--appendonly".into(),
            "no".into(),
            "--dir".into(),
            dir.path().display().to_string(),
        ];
        if tls {
            args.extend(["--port".into(), "0".into(), "--tls-port".into()]);
        } else {
            args.push("--port".into());
        }
        args.push(port.to_string());
        args.extend(extra.iter().cloned());
        RedisProcess::spawn(Command::new("redis-server").args(&args), port, dir, !tls)
    }

    /// Starts a sentinel watching `service` at `master_port`, failing over quickly.
    pub fn sentinel(service: &str, master_port: u16) -> RedisProcess {
        let port = free_port();
        let dir = TempDir::new("sentinel");
        let config = dir.file("sentinel.conf");
        std::fs::write(
            &config,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\n\
                 sentinel monitor {service} 127.0.0.1 {master_port} 1\n\
                 sentinel down-after-milliseconds {service} 400\n\
                 sentinel failover-timeout {service} 2000\n\
                 sentinel parallel-syncs {service} 1\n",
                dir.path().display()
            ),
        )
        .expect("writing sentinel.conf");
        let mut command = Command::new("redis-server");
        command.arg(&config).arg("--sentinel");
        RedisProcess::spawn(&mut command, port, dir, true)
    }

    fn spawn(command: &mut Command, port: u16, dir: TempDir, ping: bool) -> RedisProcess {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting redis-server");
        let process = RedisProcess { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = if ping {
                process.ping()
            } else {
                TcpStream::connect(("127.0.0.1", port)).is_ok()
            };
            if ready {
                return process;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {port} did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A plain connection to it.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}", self.port))
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .expect("a connection to the test server")
    }

    fn ping(&self) -> bool {
        redis::Client::open(format!("redis://127.0.0.1:{}", self.port))
            .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(500)))
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_ok()
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// PEM text of a DER object.
fn pem(label: &str, der: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// The arguments of a TLS server presenting `certificates`' server certificate (for
/// `localhost` and 127.0.0.1), files written into `dir`.
pub fn tls_arguments(certificates: &TestCertificates, dir: &Path) -> Vec<String> {
    let cert = dir.join("server.pem");
    let key = dir.join("server.key");
    let ca = dir.join("ca.pem");
    std::fs::write(&cert, pem("CERTIFICATE", &certificates.server_der)).unwrap();
    std::fs::write(&key, pem("PRIVATE KEY", &certificates.server_key_der)).unwrap();
    std::fs::write(&ca, pem("CERTIFICATE", &certificates.ca_der)).unwrap();
    [
        "--tls-cert-file",
        &cert.display().to_string(),
        "--tls-key-file",
        &key.display().to_string(),
        "--tls-ca-cert-file",
        &ca.display().to_string(),
        "--tls-auth-clients",
        "no",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// A three-node Redis Cluster (no replicas), all slots assigned and agreed on.
pub struct RedisCluster {
    /// The nodes, in the order they were started.
    pub nodes: Vec<RedisProcess>,
    /// For a TLS cluster, the CA file `redis-cli` trusts (the directory holds the certificates).
    tls: Option<(TempDir, std::path::PathBuf)>,
}

impl RedisCluster {
    /// Starts three plain nodes and joins them with `redis-cli --cluster create`.
    pub fn start() -> RedisCluster {
        RedisCluster::start_with(None)
    }

    /// Starts three nodes speaking only TLS (clients and the cluster bus) with
    /// `certificates`' server certificate, and joins them.
    pub fn start_tls(certificates: &TestCertificates) -> RedisCluster {
        RedisCluster::start_with(Some(certificates))
    }

    fn start_with(certificates: Option<&TestCertificates>) -> RedisCluster {
        let tls = certificates.map(|certificates| {
            let dir = TempDir::new("redis-cluster-tls-files");
            let args = tls_arguments(certificates, dir.path());
            let ca = dir.file("ca.pem");
            (dir, ca, args)
        });
        let nodes: Vec<RedisProcess> = (0..3)
            .map(|_| {
                let mut args: Vec<String> =
                    ["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"]
                        .map(str::to_owned)
                        .to_vec();
                if let Some((_, _, tls_args)) = &tls {
                    args.extend(tls_args.iter().cloned());
                    args.extend(["--tls-cluster", "yes"].map(str::to_owned));
                }
                RedisProcess::start("cluster-node", &args, tls.is_some())
            })
            .collect();
        let cluster = RedisCluster {
            nodes,
            tls: tls.map(|(dir, ca, _)| (dir, ca)),
        };
        let mut create = cluster.cli();
        create.arg("--cluster").arg("create");
        for node in &cluster.nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        let output = create
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("running redis-cli --cluster create");
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cluster.nodes.iter().all(|node| {
            cluster
                .cli()
                .args(["-p", &node.port.to_string(), "CLUSTER", "INFO"])
                .output()
                .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok"))
        }) {
            assert!(Instant::now() < deadline, "the cluster did not become ok");
            std::thread::sleep(Duration::from_millis(100));
        }
        cluster
    }

    /// `redis-cli`, with the TLS options for a TLS cluster.
    pub fn cli(&self) -> Command {
        let mut cli = Command::new("redis-cli");
        cli.stdin(Stdio::null());
        if let Some((_, ca)) = &self.tls {
            cli.arg("--tls").arg("--cacert").arg(ca);
        }
        cli
    }
}
