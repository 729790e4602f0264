//! A private OpenLDAP `slapd` (Debian's package) on a reserved loopback port, with its own
//! configuration and database in a temporary directory: no system service is touched. Loaded
//! with `tests/data/ldap/ministry.ldif`, people in Active Directory's shape (sAMAccountName,
//! mail, displayName, title, department, manager, memberOf).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BASE_DN: &str = "dc=minhacienda,dc=test";
pub const ADMIN_DN: &str = "cn=admin,dc=minhacienda,dc=test";
/// Distinctive, so that a test can show it never reaches a log line.
pub const ADMIN_PASSWORD: &str = "Clave-LDAP-9f3k2";

/// AD's attribute names with AD's OIDs and usable matching rules (Debian's msuser.schema has
/// none, so filters on them match nothing).
const AD_LITE_SCHEMA: &str = "\
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.2.141 NAME 'department' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
";

pub struct Slapd {
    pub port: u16,
    /// With [`Slapd::start_tls`]: the `ldaps://` port (the plain port then offers StartTLS).
    pub tls_port: Option<u16>,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

/// A private CA and a server certificate for 127.0.0.1 signed by it (rustls refuses a CA
/// certificate presented as the server's), written into `d` as ca.pem, server.pem, server.key.
fn make_certificates(d: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .current_dir(d)
            .args(args)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(&[
        &["req", "-x509", "-new"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "30",
            "-subj",
            "/CN=Ministerio CA de pruebas",
        ],
    ]
    .concat());
    run(&[
        &["req", "-new"][..],
        &ec,
        &[
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    ]
    .concat());
    std::fs::write(
        d.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         extendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-set_serial",
        "1",
        "-days",
        "30",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ]);
}

fn slapd_binary() -> Option<PathBuf> {
    ["/usr/sbin/slapd", "/usr/local/sbin/slapd"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

impl Slapd {
    /// `None` (with the reason printed) when slapd is not installed outside CI; under CI its
    /// absence fails the test (deploy/dev/test.sh installs it).
    pub async fn start() -> Option<Slapd> {
        Self::start_with(false).await
    }

    /// With TLS: `ldaps://` on [`Slapd::tls_port`] and StartTLS on the plain port, with a
    /// certificate from the private CA [`Slapd::ca_file`].
    pub async fn start_tls() -> Option<Slapd> {
        Self::start_with(true).await
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    async fn start_with(tls: bool) -> Option<Slapd> {
        let Some(_) = slapd_binary() else {
            let why = "slapd is not installed (apt-get install slapd ldap-utils)";
            if std::env::var_os("CI").is_some() {
                panic!("{why}");
            }
            eprintln!("skipped: {why}");
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::create_dir(d.join("db")).unwrap();
        std::fs::write(d.join("ad-lite.schema"), AD_LITE_SCHEMA).unwrap();
        let tls_conf = if tls {
            make_certificates(d);
            format!(
                "TLSCACertificateFile {d}/ca.pem\nTLSCertificateFile {d}/server.pem\n\
                 TLSCertificateKeyFile {d}/server.key\n",
                d = d.display()
            )
        } else {
            String::new()
        };
        let conf = format!(
            "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include {d}/ad-lite.schema
{tls_conf}pidfile {d}/slapd.pid
argsfile {d}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
database mdb
maxsize 33554432
suffix \"{BASE_DN}\"
rootdn \"{ADMIN_DN}\"
rootpw {ADMIN_PASSWORD}
directory {d}/db
overlay memberof
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
",
            d = d.display()
        );
        std::fs::write(d.join("slapd.conf"), conf).unwrap();
        let ldif = super::repo_root().join("tests/data/ldap/ministry.ldif");
        let out = Command::new("slapadd")
            .arg("-f")
            .arg(d.join("slapd.conf"))
            .arg("-l")
            .arg(&ldif)
            .output()
            .expect("run slapadd");
        assert!(
            out.status.success(),
            "slapadd failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut s = Slapd {
            port: super::ports::reserve(),
            tls_port: tls.then(super::ports::reserve),
            dir,
            child: None,
        };
        s.resume().await;
        Some(s)
    }

    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// The `[directory.ldap]` section for this server, with its password in a file.
    pub fn config(&self, extra: &str) -> String {
        let pw = self.dir.path().join("ldap-password");
        std::fs::write(&pw, format!("{ADMIN_PASSWORD}\n")).unwrap();
        format!(
            r#"
[directory.ldap]
url = "{url}"
bind_dn = "{ADMIN_DN}"
password_file = "{pw}"
base_dn = "ou=Personas,{BASE_DN}"
filter = "(&(objectClass=inetOrgPerson)(mail=*))"
refresh_minutes = 60
{extra}

[directory.ldap.attributes]
substitute = "secretary"

[directory.ldap.roles_by_group]
agente = ["CN=Mesa de Ayuda,OU=Grupos,DC=minhacienda,DC=test"]
seguridad_informacion = ["cn=Seguridad de la Informacion,ou=Grupos,dc=minhacienda,dc=test"]

[directory.ldap.roles_by_title]
director = ["^Director"]
subdirector = ["^Subdirector"]
jefe_oficina = ["^Jefe de (la )?Oficina"]
coordinador = ["^Coordinador"]
"#,
            url = self.url(),
            pw = pw.display()
        )
    }

    /// Starts (again) on the same port and database; returns once it answers.
    pub async fn resume(&mut self) {
        let d = self.dir.path();
        let child = Command::new(slapd_binary().expect("slapd"))
            .arg("-f")
            .arg(d.join("slapd.conf"))
            .arg("-h")
            .arg(match self.tls_port {
                None => format!("ldap://127.0.0.1:{}/", self.port),
                Some(t) => format!("ldap://127.0.0.1:{}/ ldaps://127.0.0.1:{t}/", self.port),
            })
            // Foreground, quiet: the test owns the process and stops it by its pid.
            .args(["-d", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn slapd");
        self.child = Some(child);
        let url = self.url();
        super::eventually(Duration::from_secs(15), "slapd answering", || {
            let url = url.clone();
            async move {
                let (conn, mut ldap) = ldap3::LdapConnAsync::new(&url).await.ok()?;
                ldap3::drive!(conn);
                ldap.simple_bind(ADMIN_DN, ADMIN_PASSWORD)
                    .await
                    .ok()?
                    .success()
                    .ok()?;
                let _ = ldap.unbind().await;
                Some(())
            }
        })
        .await;
    }

    /// An LDAP outage: SIGTERM, and waits until the process is gone.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let _ = c.wait();
        }
    }

    /// Deletes an entry, as an administrator removing someone who left.
    pub async fn delete(&self, dn: &str) {
        let (conn, mut ldap) = ldap3::LdapConnAsync::new(&self.url()).await.unwrap();
        ldap3::drive!(conn);
        ldap.simple_bind(ADMIN_DN, ADMIN_PASSWORD)
            .await
            .unwrap()
            .success()
            .unwrap();
        ldap.delete(dn).await.unwrap().success().unwrap();
        let _ = ldap.unbind().await;
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
