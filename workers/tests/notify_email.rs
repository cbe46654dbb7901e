//! Email delivery against a real SMTP server (aiosmtpd from Debian's python3-aiosmtpd,
//! run by /usr/bin/python3) and into the file outbox.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use workers::notify::{Channel, DeliveryErrorKind, EmailAttachment, EmailMessage, EmailSender, SmtpConfig, Tls};

const PYTHON: &str = "/usr/bin/python3";
const FROM: &str = "继续教育平台 <noreply@certflow.test>";

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("certflow-{label}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).expect("create temporary directory");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An aiosmtpd process on a free loopback port, killed on drop.
struct SmtpServer {
    child: Child,
    port: u16,
    stderr_path: PathBuf,
}

impl SmtpServer {
    /// Starts aiosmtpd with the handler class and its arguments, and waits until it
    /// accepts connections. Panics with the server's stderr when it cannot start.
    fn start(work_dir: &Path, handler: &str, handler_args: &[&str]) -> SmtpServer {
        SmtpServer::start_with(work_dir, &[], handler, handler_args)
    }

    /// Like [`SmtpServer::start`], with extra aiosmtpd options before the handler.
    fn start_with(work_dir: &Path, options: &[&str], handler: &str, handler_args: &[&str]) -> SmtpServer {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec!["-m", "aiosmtpd", "-n", "-l", &listen];
        args.extend_from_slice(options);
        args.extend_from_slice(&["-c", handler]);
        args.extend_from_slice(handler_args);
        SmtpServer::launch(work_dir, port, &args)
    }

    /// Runs `PYTHON args` with `work_dir` on the module path, and waits until `port`
    /// accepts connections. Panics with the server's stderr when it cannot start.
    fn launch(work_dir: &Path, port: u16, args: &[&str]) -> SmtpServer {
        let probe = Command::new(PYTHON)
            .args(["-c", "import aiosmtpd"])
            .output();
        match probe {
            Ok(output) if output.status.success() => {}
            Ok(output) => panic!(
                "{PYTHON} cannot import aiosmtpd; install it with `apt-get install -y python3-aiosmtpd`: {}",
                String::from_utf8_lossy(&output.stderr)
            ),
            Err(error) => {
                panic!("failed to run {PYTHON}: {error}; the SMTP tests need Debian's python3")
            }
        }

        let stderr_path = work_dir.join("aiosmtpd.stderr");
        let stderr = std::fs::File::create(&stderr_path).expect("create aiosmtpd stderr file");
        let child = Command::new(PYTHON)
            .args(args)
            .env("PYTHONPATH", work_dir)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|error| panic!("failed to start aiosmtpd: {error}"));
        let mut server = SmtpServer {
            child,
            port,
            stderr_path,
        };

        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "aiosmtpd exited with {status} before accepting connections: {}",
                    server.stderr()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "aiosmtpd did not accept connections on port {port} within 15 s: {}",
                    server.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    fn config(&self) -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".to_string(),
            port: self.port,
            tls: Tls::None,
            username: None,
            password: None,
            from: FROM.to_string(),
            timeout: Duration::from_secs(5),
            root_certificate: None,
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("read local address").port()
}

/// Starts aiosmtpd's Maildir handler writing into `<work_dir>/maildir`.
fn start_maildir_server(work_dir: &Path) -> (SmtpServer, PathBuf) {
    let maildir = work_dir.join("maildir");
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("create Maildir subdirectory");
    }
    let maildir_arg = maildir
        .to_str()
        .expect("temporary path is UTF-8")
        .to_string();
    let server = SmtpServer::start(work_dir, "aiosmtpd.handlers.Mailbox", &[&maildir_arg]);
    (server, maildir)
}

/// Writes a private CA and a server certificate for `localhost` that it signed into
/// `work_dir` with the openssl command, and returns (CA certificate, server certificate,
/// server key) paths. rustls rejects a self-signed certificate that is its own CA, so
/// the two are separate.
fn private_ca_and_localhost(work_dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let path = |name: &str| work_dir.join(name);
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(work_dir)
            .output()
            .unwrap_or_else(|error| panic!("failed to run openssl (Debian package openssl): {error}"));
        assert!(output.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    };
    openssl(&["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=certflow test CA", "-keyout", "ca.key", "-out", "ca.pem",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    openssl(&["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "localhost.key", "-out", "localhost.csr"]);
    std::fs::write(path("localhost.ext"), "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n").expect("write extensions");
    openssl(&["x509", "-req", "-in", "localhost.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-out", "localhost.pem", "-extfile", "localhost.ext"]);
    (path("ca.pem"), path("localhost.pem"), path("localhost.key"))
}

/// Starts aiosmtpd's Maildir handler with TLS: STARTTLS required (`starttls`) or TLS from
/// the first byte (`implicit`), with a certificate for `localhost`. Returns the server,
/// the Maildir and the CA certificate to trust.
fn start_tls_maildir_server(work_dir: &Path, implicit: bool) -> (SmtpServer, PathBuf, PathBuf) {
    let (ca, cert, key) = private_ca_and_localhost(work_dir);
    let maildir = work_dir.join("maildir");
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("create Maildir subdirectory");
    }
    let (cert_flag, key_flag) = if implicit { ("--smtpscert", "--smtpskey") } else { ("--tlscert", "--tlskey") };
    let server = SmtpServer::start_with(
        work_dir,
        &[cert_flag, cert.to_str().unwrap(), key_flag, key.to_str().unwrap()],
        "aiosmtpd.handlers.Mailbox",
        &[maildir.to_str().unwrap()],
    );
    (server, maildir, ca)
}

/// Starts aiosmtpd's Maildir handler behind STARTTLS that requires AUTH (PLAIN or
/// LOGIN) with `user` and `password`. The command-line server has no option for an
/// authenticator, so a short script runs aiosmtpd's Controller. Returns the server, the
/// Maildir and the CA certificate to trust.
fn start_auth_maildir_server(work_dir: &Path, user: &str, password: &str) -> (SmtpServer, PathBuf, PathBuf) {
    let script = r#"
import ssl, sys, threading
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

port, maildir, cert, key, user, password = sys.argv[1:7]
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)

def check(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and auth_data.password == password.encode()
    return AuthResult(success=ok, handled=False)

controller = Controller(Mailbox(maildir), hostname="127.0.0.1", port=int(port), tls_context=context, require_starttls=True, authenticator=check, auth_required=True)
controller.start()
threading.Event().wait()
"#;
    let (ca, cert, key) = private_ca_and_localhost(work_dir);
    let maildir = work_dir.join("maildir");
    for sub in ["tmp", "new", "cur"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("create Maildir subdirectory");
    }
    let script_path = work_dir.join("auth_server.py");
    std::fs::write(&script_path, script).expect("write the AUTH server script");
    let port = free_port();
    let port_arg = port.to_string();
    let server = SmtpServer::launch(
        work_dir,
        port,
        &[script_path.to_str().unwrap(), &port_arg, maildir.to_str().unwrap(), cert.to_str().unwrap(), key.to_str().unwrap(), user, password],
    );
    (server, maildir, ca)
}

/// Starts aiosmtpd with a handler that replies to every RCPT TO with `reply`.
fn start_rejecting_server(work_dir: &Path, reply: &str) -> SmtpServer {
    let handler = r#"
class Reject:
    def __init__(self, reply):
        self.reply = reply

    @classmethod
    def from_cli(cls, parser, *args):
        return cls(" ".join(args))

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return self.reply
"#;
    std::fs::write(work_dir.join("reject_handler.py"), handler).expect("write handler module");
    SmtpServer::start(work_dir, "reject_handler.Reject", &[reply])
}

fn maildir_messages(maildir: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(maildir.join("new"))
        .expect("read Maildir new/")
        .map(|entry| entry.expect("read Maildir entry").path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| std::fs::read_to_string(path).expect("read Maildir message"))
        .collect()
}

/// A parsed RFC 5322 message: unfolded headers and the raw body.
struct ParsedMail {
    headers: Vec<(String, String)>,
    body: String,
}

impl ParsedMail {
    fn parse(raw: &str) -> ParsedMail {
        let raw = raw.replace("\r\n", "\n");
        let (head, body) = raw
            .split_once("\n\n")
            .expect("message has a blank line after headers");

        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                let last = headers
                    .last_mut()
                    .expect("continuation line after a header");
                last.1.push_str(line);
            } else {
                let (name, value) = line.split_once(':').expect("header line has a colon");
                headers.push((name.to_string(), value.trim_start().to_string()));
            }
        }
        ParsedMail {
            headers,
            body: body.to_string(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Decodes the body by its Content-Transfer-Encoding.
    fn decoded_body(&self) -> String {
        let encoding = self
            .header("Content-Transfer-Encoding")
            .unwrap_or("7bit")
            .trim()
            .to_ascii_lowercase();
        let bytes = match encoding.as_str() {
            "base64" => {
                let compact: String = self.body.split_whitespace().collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .expect("valid base64 body")
            }
            "quoted-printable" => {
                quoted_printable::decode(self.body.as_bytes(), quoted_printable::ParseMode::Robust)
                    .expect("valid quoted-printable body")
            }
            _ => self.body.as_bytes().to_vec(),
        };
        String::from_utf8(bytes)
            .expect("body is UTF-8")
            .replace("\r\n", "\n")
    }
}

/// Decodes RFC 2047 encoded words (`=?charset?B|Q?text?=`). Whitespace between two
/// adjacent encoded words is dropped, as RFC 2047 section 6.2 requires. Only UTF-8 is
/// handled, because that is what lettre writes.
fn decode_rfc2047(value: &str) -> String {
    let mut output = String::new();
    let mut rest = value;
    let mut previous_was_encoded = false;

    while !rest.is_empty() {
        let Some(start) = rest.find("=?") else {
            output.push_str(rest);
            break;
        };
        let (plain, candidate) = rest.split_at(start);
        let parsed = parse_encoded_word(candidate);
        match parsed {
            Some((decoded, consumed)) => {
                if !(previous_was_encoded && plain.trim().is_empty()) {
                    output.push_str(plain);
                }
                output.push_str(&decoded);
                rest = &candidate[consumed..];
                previous_was_encoded = true;
            }
            None => {
                output.push_str(&rest[..start + 2]);
                rest = &rest[start + 2..];
                previous_was_encoded = false;
            }
        }
    }
    output
}

/// Parses one encoded word at the start of `text`. Returns the text and bytes consumed.
fn parse_encoded_word(text: &str) -> Option<(String, usize)> {
    let inner = text.strip_prefix("=?")?;
    let mut parts = inner.splitn(3, '?');
    let charset = parts.next()?;
    let encoding = parts.next()?;
    let tail = parts.next()?;
    let end = tail.find("?=")?;
    let payload = &tail[..end];
    assert!(
        charset.eq_ignore_ascii_case("utf-8"),
        "unexpected charset {charset}"
    );

    let bytes = match encoding {
        "B" | "b" => base64::engine::general_purpose::STANDARD
            .decode(payload)
            .ok()?,
        "Q" | "q" => {
            let underscores = payload.replace('_', " ");
            quoted_printable::decode(underscores.as_bytes(), quoted_printable::ParseMode::Robust)
                .ok()?
        }
        _ => return None,
    };
    let consumed = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    Some((String::from_utf8(bytes).ok()?, consumed))
}

/// Returns the `filename` parameter of a Content-Disposition value, decoding the RFC 2231
/// forms (`filename*=utf-8''…` and its `filename*0*=`, `filename*1*=` continuations).
fn disposition_filename(value: &str) -> Option<String> {
    let mut plain = None;
    let mut pieces: Vec<(usize, String)> = Vec::new();
    for parameter in value.split(';').map(str::trim) {
        let Some((name, raw)) = parameter.split_once('=') else { continue };
        let raw = raw.trim_matches('"');
        if name == "filename" {
            plain = Some(raw.to_string());
        } else if let Some(rest) = name.strip_prefix("filename*") {
            let index = rest.trim_end_matches('*').parse().unwrap_or(0);
            pieces.push((index, raw.to_string()));
        }
    }
    if pieces.is_empty() {
        return plain;
    }
    pieces.sort();
    let joined: String = pieces.into_iter().map(|(_, piece)| piece).collect();
    let encoded = joined.split_once("''").map(|(_, text)| text.to_string()).unwrap_or(joined);
    let mut bytes = Vec::new();
    let mut chars = encoded.bytes();
    while let Some(byte) = chars.next() {
        if byte == b'%' {
            let high = chars.next()?;
            let low = chars.next()?;
            bytes.push(u8::from_str_radix(std::str::from_utf8(&[high, low]).ok()?, 16).ok()?);
        } else {
            bytes.push(byte);
        }
    }
    String::from_utf8(bytes).ok()
}

fn sample_message(key: &str) -> EmailMessage {
    EmailMessage {
        to: "张伟 <zhang.wei@example.com>".to_string(),
        subject: "2025年度工业锅炉司炉学分卡已签发（卡号JX2025-000123），请登录平台查看".to_string(),
        body: "张伟，您好：\n\n您 2025 年度“工业锅炉司炉”项目的学分卡已签发。\n\n卡号：JX2025-000123\n".to_string(),
        attachments: Vec::new(),
        idempotency_key: key.to_string(),
    }
}

/// Tests live in this module so that `cargo test -p workers notify` selects them.
mod notify_email {
    use super::*;

    #[test]
    fn rfc2047_decoder_joins_adjacent_words() {
        let value = "=?utf-8?b?5Lit5paH?= =?utf-8?q?=E6=A0=87_=E9=A2=98?= tail";
        assert_eq!(decode_rfc2047(value), "中文标 题 tail");
    }

    #[tokio::test]
    async fn smtp_delivers_chinese_subject_and_body() {
        let work = TempDir::new("smtp");
        let (server, maildir) = start_maildir_server(work.path());
        let sender = EmailSender::smtp(server.config()).expect("build SMTP sender");
        let message = sample_message("card_issued:JX2025-000123");

        let receipt = sender.send(&message).await.unwrap_or_else(|error| {
            panic!("send failed: {error}; aiosmtpd stderr: {}", server.stderr())
        });
        sender.shutdown().await;

        assert_eq!(receipt.channel, Channel::Email);
        assert_eq!(
            receipt.provider_message_id,
            "<card_issued=3AJX2025-000123@certflow.test>"
        );

        let messages = maildir_messages(&maildir);
        assert_eq!(
            messages.len(),
            1,
            "Maildir holds {} messages",
            messages.len()
        );
        let mail = ParsedMail::parse(&messages[0]);

        let raw_subject = mail.header("Subject").expect("Subject header");
        assert!(
            raw_subject.is_ascii(),
            "Subject is not RFC 2047 encoded: {raw_subject}"
        );
        assert_eq!(decode_rfc2047(raw_subject), message.subject);
        assert_eq!(mail.decoded_body(), message.body);
        assert_eq!(
            mail.header("Message-ID"),
            Some(receipt.provider_message_id.as_str())
        );

        let from = decode_rfc2047(mail.header("From").expect("From header"));
        assert!(from.contains("继续教育平台"), "From: {from}");
        assert!(from.contains("<noreply@certflow.test>"), "From: {from}");
        let to = decode_rfc2047(mail.header("To").expect("To header"));
        assert!(to.contains("<zhang.wei@example.com>"), "To: {to}");
        assert_eq!(mail.header("X-RcptTo"), Some("zhang.wei@example.com"));
    }

    #[tokio::test]
    async fn smtp_delivers_chinese_attachment_name() {
        let work = TempDir::new("smtp-attachment");
        let (server, maildir) = start_maildir_server(work.path());
        let sender = EmailSender::smtp(server.config()).expect("build SMTP sender");
        let mut message = sample_message("card_issued:JX2025-000124");
        // Binary bytes after the header line, as in a real PDF, so the part is base64.
        let pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
        message.attachments.push(EmailAttachment {
            filename: "2025年度工业锅炉司炉学分卡（JX2025-000124）.pdf".to_string(),
            content_type: "application/pdf".to_string(),
            content: pdf.clone(),
        });
        sender.send(&message).await.unwrap_or_else(|error| panic!("send failed: {error}; aiosmtpd stderr: {}", server.stderr()));
        sender.shutdown().await;

        let messages = maildir_messages(&maildir);
        assert_eq!(messages.len(), 1);
        let raw = messages[0].replace("\r\n", "\n");
        let mail = ParsedMail::parse(&raw);
        assert_eq!(decode_rfc2047(mail.header("Subject").expect("Subject header")), message.subject);
        let content_type = mail.header("Content-Type").expect("Content-Type header");
        assert!(content_type.starts_with("multipart/mixed"), "{content_type}");

        // The attachment part: its headers up to the blank line, then base64.
        let part_start = raw.find("Content-Disposition: attachment").expect("an attachment part");
        let part = &raw[part_start..];
        let (head, body) = part.split_once("\n\n").expect("part headers end");
        let head = head.replace("\n ", " ").replace("\n\t", " ");
        let disposition = head.lines().find(|line| line.starts_with("Content-Disposition:")).unwrap();
        assert!(disposition.is_ascii(), "the file name is encoded: {disposition}");
        assert_eq!(disposition_filename(disposition.trim_start_matches("Content-Disposition:")).as_deref(), Some(message.attachments[0].filename.as_str()), "{disposition}");
        assert!(head.contains("application/pdf"), "{head}");
        assert!(head.contains("Content-Transfer-Encoding: base64"), "{head}");
        let encoded: String = body.lines().take_while(|line| !line.starts_with("--")).collect();
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(encoded.trim()).expect("base64 attachment"), pdf);
    }

    #[tokio::test]
    async fn smtp_starttls_with_private_ca() {
        let work = TempDir::new("smtp-starttls");
        let (server, maildir, cert) = start_tls_maildir_server(work.path(), false);
        let mut config = server.config();
        config.host = "localhost".to_string();
        config.tls = Tls::StartTls;
        config.root_certificate = Some(cert);
        let sender = EmailSender::smtp(config).expect("build SMTP sender");
        let message = sample_message("starttls:1");
        sender.send(&message).await.unwrap_or_else(|error| panic!("STARTTLS send failed: {error}; aiosmtpd stderr: {}", server.stderr()));
        sender.shutdown().await;
        let messages = maildir_messages(&maildir);
        assert_eq!(messages.len(), 1);
        assert_eq!(decode_rfc2047(ParsedMail::parse(&messages[0]).header("Subject").unwrap()), message.subject);

        // Without the private CA the certificate is not trusted, and nothing is sent.
        let mut untrusted = server.config();
        untrusted.host = "localhost".to_string();
        untrusted.tls = Tls::StartTls;
        let sender = EmailSender::smtp(untrusted).expect("build SMTP sender");
        assert!(sender.send(&sample_message("starttls:2")).await.is_err());
        assert_eq!(maildir_messages(&maildir).len(), 1);
    }

    #[tokio::test]
    async fn smtp_auth_over_starttls() {
        let work = TempDir::new("smtp-auth");
        let (server, maildir, ca) = start_auth_maildir_server(work.path(), "certflow", "s3cret-口令");
        let mut config = server.config();
        config.host = "localhost".to_string();
        config.tls = Tls::StartTls;
        config.root_certificate = Some(ca);
        config.username = Some("certflow".to_string());
        config.password = Some("s3cret-口令".to_string());
        let sender = EmailSender::smtp(config.clone()).expect("build SMTP sender");
        sender.send(&sample_message("auth:1")).await.unwrap_or_else(|error| panic!("authenticated send failed: {error}; server stderr: {}", server.stderr()));
        sender.shutdown().await;
        assert_eq!(maildir_messages(&maildir).len(), 1);

        // A wrong password fails for good (535), and nothing is delivered.
        config.password = Some("wrong".to_string());
        let sender = EmailSender::smtp(config.clone()).expect("build SMTP sender");
        let error = sender.send(&sample_message("auth:2")).await.expect_err("a wrong password is rejected");
        assert_eq!(error.kind, DeliveryErrorKind::Permanent, "{error}");

        // Without credentials the server refuses MAIL FROM.
        config.username = None;
        config.password = None;
        let sender = EmailSender::smtp(config).expect("build SMTP sender");
        assert!(sender.send(&sample_message("auth:3")).await.is_err());
        assert_eq!(maildir_messages(&maildir).len(), 1, "only the authenticated message arrived");
    }

    #[tokio::test]
    async fn smtp_implicit_tls_with_private_ca() {
        let work = TempDir::new("smtp-implicit");
        let (server, maildir, cert) = start_tls_maildir_server(work.path(), true);
        let mut config = server.config();
        config.host = "localhost".to_string();
        config.tls = Tls::Implicit;
        config.root_certificate = Some(cert);
        let sender = EmailSender::smtp(config).expect("build SMTP sender");
        let message = sample_message("implicit:1");
        sender.send(&message).await.unwrap_or_else(|error| panic!("implicit TLS send failed: {error}; aiosmtpd stderr: {}", server.stderr()));
        sender.shutdown().await;
        assert_eq!(maildir_messages(&maildir).len(), 1);
    }

    #[tokio::test]
    async fn smtp_plain_refused_when_server_requires_tls() {
        let work = TempDir::new("smtp-requiretls");
        let (server, maildir, _) = start_tls_maildir_server(work.path(), false);
        let sender = EmailSender::smtp(server.config()).expect("build SMTP sender");
        let error = sender.send(&sample_message("plain:1")).await.unwrap_err();
        assert!(!error.message.is_empty());
        assert!(maildir_messages(&maildir).is_empty(), "a server that requires TLS stores nothing sent in plaintext");
    }

    #[tokio::test]
    async fn smtp_resend_keeps_message_id() {
        let work = TempDir::new("smtp-resend");
        let (server, maildir) = start_maildir_server(work.path());
        let sender = EmailSender::smtp(server.config()).expect("build SMTP sender");
        let message = sample_message("enrolled/2025/42");

        let first = sender.send(&message).await.expect("first send");
        let second = sender.send(&message).await.expect("second send");
        sender.shutdown().await;

        assert_eq!(first.provider_message_id, second.provider_message_id);
        let messages = maildir_messages(&maildir);
        assert_eq!(
            messages.len(),
            2,
            "SMTP has no idempotency, so both copies arrive"
        );
        for raw in &messages {
            let mail = ParsedMail::parse(raw);
            assert_eq!(
                mail.header("Message-ID"),
                Some(first.provider_message_id.as_str())
            );
        }
    }

    #[tokio::test]
    async fn smtp_550_reply_is_permanent() {
        let work = TempDir::new("smtp-550");
        let server = start_rejecting_server(work.path(), "550 5.1.1 Mailbox unavailable");
        let sender = EmailSender::smtp(server.config()).expect("build SMTP sender");

        let error = sender
            .send(&sample_message("k-550"))
            .await
            .expect_err("send must fail");
        sender.shutdown().await;

        assert_eq!(error.kind, DeliveryErrorKind::Permanent, "{error}");
        assert!(error.message.contains("550"), "{error}");
    }

    #[tokio::test]
    async fn smtp_451_reply_is_retryable() {
        let work = TempDir::new("smtp-451");
        let server = start_rejecting_server(work.path(), "451 4.3.0 Try again later");
        let sender = EmailSender::smtp(server.config()).expect("build SMTP sender");

        let error = sender
            .send(&sample_message("k-451"))
            .await
            .expect_err("send must fail");
        sender.shutdown().await;

        assert_eq!(error.kind, DeliveryErrorKind::Retryable, "{error}");
        assert!(error.message.contains("451"), "{error}");
    }

    #[tokio::test]
    async fn smtp_refused_connection_is_retryable() {
        let port = free_port();
        let mut config = SmtpConfig::new("127.0.0.1", FROM);
        config.port = port;
        config.tls = Tls::None;
        config.timeout = Duration::from_secs(2);
        let sender = EmailSender::smtp(config).expect("build SMTP sender");

        let error = sender
            .send(&sample_message("k-refused"))
            .await
            .expect_err("send must fail");
        sender.shutdown().await;

        assert_eq!(error.kind, DeliveryErrorKind::Retryable, "{error}");
    }

    #[tokio::test]
    async fn smtp_invalid_recipient_is_permanent() {
        let mut config = SmtpConfig::new("127.0.0.1", FROM);
        config.port = free_port();
        config.tls = Tls::None;
        let sender = EmailSender::smtp(config).expect("build SMTP sender");
        let mut message = sample_message("k-invalid");
        message.to = "zhang.wei at example.com".to_string();

        let error = sender.send(&message).await.expect_err("send must fail");

        assert_eq!(error.kind, DeliveryErrorKind::Permanent, "{error}");
        assert!(
            error.message.contains("zhang.wei at example.com"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn smtp_config_rejects_half_credentials() {
        let mut config = SmtpConfig::new("127.0.0.1", FROM);
        config.username = Some("user".to_string());

        let result = EmailSender::smtp(config);

        assert!(result.is_err(), "username without password was accepted");
    }

    #[tokio::test]
    async fn file_outbox_writes_one_file_per_key() {
        let work = TempDir::new("email-outbox");
        let outbox_dir = work.path().join("outbox");
        let sender = EmailSender::file_outbox(&outbox_dir, FROM).expect("open email outbox");
        let message = sample_message("card_issued:JX2025-000123");

        let first = sender.send(&message).await.expect("first send");
        let mut changed = message.clone();
        changed.body = "另一份正文\n".to_string();
        let second = sender.send(&changed).await.expect("second send");

        let files: Vec<PathBuf> = std::fs::read_dir(&outbox_dir)
            .expect("read outbox")
            .map(|entry| entry.expect("read outbox entry").path())
            .collect();
        assert_eq!(files.len(), 1, "outbox files: {files:?}");
        assert_eq!(
            files[0].file_name().and_then(|name| name.to_str()),
            Some("card_issued=3AJX2025-000123.eml")
        );
        assert_eq!(first.provider_message_id, second.provider_message_id);
        assert_eq!(
            first.accepted_at.timestamp(),
            second.accepted_at.timestamp()
        );

        let mail = ParsedMail::parse(&std::fs::read_to_string(&files[0]).expect("read .eml"));
        assert_eq!(
            decode_rfc2047(mail.header("Subject").expect("Subject header")),
            message.subject
        );
        assert_eq!(mail.decoded_body(), message.body, "the first body is kept");
        assert_eq!(
            mail.header("Message-ID"),
            Some(first.provider_message_id.as_str())
        );
        assert!(mail.header("Date").is_some(), "Date header is missing");
    }

    #[tokio::test]
    async fn file_outbox_concurrent_sends_keep_one_file() {
        let work = TempDir::new("email-outbox-race");
        let outbox_dir = work.path().join("outbox");
        let sender = std::sync::Arc::new(
            EmailSender::file_outbox(&outbox_dir, FROM).expect("open email outbox"),
        );
        let message = sample_message("race-key");

        let mut tasks = Vec::new();
        for _ in 0..8 {
            let sender = sender.clone();
            let message = message.clone();
            tasks.push(tokio::spawn(async move { sender.send(&message).await }));
        }
        for task in tasks {
            task.await.expect("join send task").expect("send");
        }

        let names: Vec<String> = std::fs::read_dir(&outbox_dir)
            .expect("read outbox")
            .map(|entry| {
                entry
                    .expect("read outbox entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, ["race-key.eml"], "no temporary file may remain");
    }
}
