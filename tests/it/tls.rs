//! TLS verification of the Databricks/ARM clients: always on, with `--ca-bundle` to trust a
//! private CA. A workspace behind a self-signed HTTPS endpoint (a small rustls front of a
//! `brickwarden emulator` process, its certificate made by the `openssl` CLI) is refused by
//! `brickwarden plan` with an error naming certificate verification, and accepted with
//! `--ca-bundle` pointing at that certificate.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::support::controlplane::free_port;
use crate::support::text;

const BIN: &str = env!("CARGO_BIN_EXE_brickwarden");

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("openssl runs (the tests install the openssl CLI)");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed certificate for 127.0.0.1: `cert.pem`, and its certificate and key in DER.
fn self_signed(dir: &Path) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=brickwarden-tls-test",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
        ],
    );
    openssl(
        dir,
        &[
            "x509", "-in", "cert.pem", "-outform", "DER", "-out", "cert.der",
        ],
    );
    openssl(
        dir,
        &[
            "pkcs8", "-topk8", "-nocrypt", "-in", "key.pem", "-outform", "DER", "-out", "key.der",
        ],
    );
    let cert = std::fs::read(dir.join("cert.der")).unwrap();
    let key = std::fs::read(dir.join("key.der")).unwrap();
    (
        CertificateDer::from(cert),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
    )
}

/// An HTTPS front of a plain HTTP server: each TLS connection carries one request, forwarded
/// with `Connection: close`, and the answer is sent back.
fn https_front(
    upstream: SocketAddr,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> u16 {
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || {
                let _ = forward_one(stream, upstream, config);
            });
        }
    });
    port
}

fn forward_one(
    tcp: TcpStream,
    upstream: SocketAddr,
    config: Arc<rustls::ServerConfig>,
) -> std::io::Result<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        // A client that refuses the certificate ends the handshake here with an error.
        let n = tls.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + 4 + length {
        let n = tls.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let mut request: String = head
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    request.push_str("Connection: close\r\n\r\n");
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(request.as_bytes())?;
    up.write_all(&buf[head_end + 4..])?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    tls.write_all(&answer)?;
    tls.conn.send_close_notify();
    tls.flush()
}

/// A `brickwarden emulator` process, killed on drop.
struct EmulatorProcess(Child, u16);

impl EmulatorProcess {
    fn start() -> EmulatorProcess {
        let port = free_port();
        let child = Command::new(BIN)
            .args(["emulator", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start brickwarden emulator");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "emulator did not start listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        EmulatorProcess(child, port)
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn plan(file: &Path, extra: &[&str]) -> (Output, String) {
    let out = Command::new(BIN)
        .args(["plan", "-f"])
        .arg(file)
        .args(extra)
        .env_remove("BRICKWARDEN_CA_BUNDLE")
        .env("DATABRICKS_TOKEN", "dapi-emulator")
        .env("NO_COLOR", "1")
        .output()
        .expect("run brickwarden plan");
    let text = text(&out);
    (out, text)
}

#[test]
fn self_signed_endpoint_is_refused_without_ca_bundle_and_accepted_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let emulator = EmulatorProcess::start();
    let port = https_front(SocketAddr::from(([127, 0, 0, 1], emulator.1)), cert, key);
    let file = dir.path().join("ws.yaml");
    std::fs::write(
        &file,
        format!(
            r#"apiVersion: brickwarden.io/v1alpha1
kind: DatabricksWorkspace
metadata: {{name: tls, namespace: default}}
spec:
  host: https://127.0.0.1:{port}/ws/ws-1
  auth:
    personalAccessToken:
      secretRef: {{name: pat, key: token}}
  mode: Audit
  policy:
    workspaceConf:
      exportNotebook: false
"#
        ),
    )
    .unwrap();

    // Verification is on by default: the self-signed certificate is refused, and the error says
    // why and how to trust it.
    let (out, text) = plan(&file, &[]);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("Failed"),
        "the control could not be read: {text}"
    );
    assert!(text.contains("invalid peer certificate"), "{text}");
    assert!(text.contains("certificate verification"), "{text}");
    assert!(text.contains("--ca-bundle"), "{text}");

    // Trusting the certificate: the workspace is read (drift found: exit 2), no TLS error.
    let bundle = dir.path().join("cert.pem");
    let (out, text) = plan(&file, &["--ca-bundle", bundle.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(!text.contains("certificate"), "{text}");
    assert!(text.contains("enableExportNotebook"), "{text}");

    // The same through the environment, as a Deployment would set it.
    let out = Command::new(BIN)
        .args(["plan", "-o", "json", "-f"])
        .arg(&file)
        .env("BRICKWARDEN_CA_BUNDLE", &bundle)
        .env("DATABRICKS_TOKEN", "dapi-emulator")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A bundle that is not a certificate is a clear start-up error.
    let not_pem = dir.path().join("key.der");
    let (out, text) = plan(&file, &["--ca-bundle", not_pem.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("CA bundle"), "{text}");
}
