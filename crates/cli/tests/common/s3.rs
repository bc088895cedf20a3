//! Real S3 servers on 127.0.0.1 for the storage tests: `s3s-fs` (checks signatures) and
//! moto's server. Installed by `scripts/setup`; each test brings its own up on a free
//! port and tears it down.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tapedeck_storage::{Bucket, Credentials, StorageProfile};

use crate::common::free_port;
use crate::common::s3_keys::{ACCESS_KEY, SECRET_KEY};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    S3sFs,
    Moto,
}

pub struct S3Server {
    pub kind: Kind,
    pub port: u16,
    /// s3s-fs keeps its objects here (kept across a restart).
    root: PathBuf,
    child: Option<Child>,
    log: PathBuf,
}

impl S3Server {
    /// Starts a server of `kind` with `bucket` in it; its files live under `dir`.
    pub fn start(kind: Kind, dir: &Path, bucket: &str) -> S3Server {
        let root = dir.join(format!("{kind:?}-root"));
        std::fs::create_dir_all(&root).expect("s3 root");
        let mut s = S3Server {
            kind,
            port: free_port(),
            root,
            child: None,
            log: dir.join(format!("{kind:?}.log")),
        };
        s.run();
        s.block_on(async {
            s.client()
                .create_bucket()
                .bucket(bucket)
                .send()
                .await
                .expect("creating the test bucket")
        });
        s
    }

    fn run(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("s3 log");
        let port = self.port.to_string();
        let mut cmd = match self.kind {
            Kind::S3sFs => {
                let mut c = Command::new("s3s-fs");
                c.args(["--host", "127.0.0.1", "--port", &port])
                    .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
                    .arg(&self.root);
                c
            }
            Kind::Moto => {
                let mut c = Command::new("python3");
                c.args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port]);
                c
            }
        };
        let child = cmd
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("starting {:?} ({e}); scripts/setup installs it", self.kind)
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "{:?} did not listen: {}",
                self.kind,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (an outage); [`S3Server::restart`] brings it back on the same port
    /// with the same objects.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        assert_eq!(
            self.kind,
            Kind::S3sFs,
            "only s3s-fs keeps its objects across a restart"
        );
        self.run();
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A `[[storage]]` table for this server.
    pub fn profile_toml(&self, name: &str, bucket: &str, extra: &str) -> String {
        format!(
            "[[storage]]\nname = \"{name}\"\nprovider = \"custom\"\nendpoint = \"{}\"\nbucket = \"{bucket}\"\n{extra}\n",
            self.endpoint()
        )
    }

    fn client(&self) -> tapedeck_storage::aws_sdk_s3::Client {
        let profile: StorageProfile = toml::from_str(&format!(
            "name = \"harness\"\nprovider = \"custom\"\nendpoint = \"{}\"\nbucket = \"harness\"",
            self.endpoint()
        ))
        .expect("profile");
        Bucket::new(
            &profile,
            &Credentials {
                access_key_id: ACCESS_KEY.into(),
                secret_access_key: SECRET_KEY.into(),
            },
        )
        .client
    }

    fn block_on<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    /// Every object of `bucket` as (key, size), sorted by key.
    pub fn list(&self, bucket: &str) -> Vec<(String, u64)> {
        self.block_on(async {
            let client = self.client();
            let mut out = Vec::new();
            let mut token = None;
            loop {
                let page = client
                    .list_objects_v2()
                    .bucket(bucket)
                    .set_continuation_token(token)
                    .send()
                    .await
                    .expect("listing the bucket");
                for o in page.contents() {
                    out.push((
                        o.key().unwrap_or_default().to_string(),
                        o.size().unwrap_or(0) as u64,
                    ));
                }
                token = page.next_continuation_token().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
            out.sort();
            out
        })
    }

    pub fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        self.block_on(async {
            self.client()
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("GET {key}: {e:?}"))
                .body
                .collect()
                .await
                .expect("reading the object")
                .into_bytes()
                .to_vec()
        })
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Keys (with `/`) of every final file under `root`, with their sizes, sorted.
pub fn local_files(root: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if !p.to_string_lossy().ends_with(".part") {
                let key = p
                    .strip_prefix(root)
                    .expect("under root")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((key, e.metadata().map(|m| m.len()).unwrap_or(0)));
            }
        }
    }
    out.sort();
    out
}
