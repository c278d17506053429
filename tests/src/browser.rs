//! A real headless Chromium driven over the W3C WebDriver protocol by `chromedriver` (Debian's
//! `chromium` and `chromium-driver`; `scripts/test.sh` installs them). Just the commands the
//! hub's test needs: open a page, find, type, click, read the page, run a check, screenshot.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
}

fn find_binary(env: &str, names: &[&str]) -> String {
    if let Ok(p) = std::env::var(env) {
        return p;
    }
    for n in names {
        for dir in ["/usr/bin", "/usr/lib/chromium", "/usr/local/bin"] {
            let p = Path::new(dir).join(n);
            if p.exists() {
                return p.display().to_string();
            }
        }
    }
    panic!(
        "{} not found: install Debian's chromium and chromium-driver (scripts/test.sh does), or set {env}",
        names.join(" / ")
    )
}

impl Browser {
    /// Start chromedriver on a free loopback port and a headless Chromium session.
    pub fn start() -> Browser {
        let driver_bin = find_binary("DOORSTEP_CHROMEDRIVER", &["chromedriver"]);
        let chromium = find_binary("DOORSTEP_CHROMIUM", &["chromium", "chromium-browser"]);
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {driver_bin}: {e}"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut b = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            rt,
            http: reqwest::Client::new(),
        };
        b.wait_ready();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1600", "--lang=en-GB"
            ]}
        }}});
        let v = b.call("POST", "/session", Some(caps));
        b.session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {v}"))
            .to_string();
        b
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = self.rt.block_on(async {
                let r = self
                    .http
                    .get(format!("{}/status", self.base))
                    .send()
                    .await
                    .ok()?;
                let v: Value = r.json().await.ok()?;
                v["value"]["ready"].as_bool()
            });
            if ready == Some(true) {
                return;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let v: Value = self.rt.block_on(async {
            let req = match method {
                "GET" => self.http.get(&url),
                "DELETE" => self.http.delete(&url),
                _ => self.http.post(&url).json(&body.unwrap_or(json!({}))),
            };
            req.send()
                .await
                .expect("WebDriver request")
                .json()
                .await
                .expect("WebDriver answer")
        });
        if let Some(err) = v["value"]["error"].as_str() {
            panic!(
                "WebDriver {method} {path}: {err}: {}",
                v["value"]["message"]
            );
        }
        v
    }

    fn s(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session)
    }

    pub fn open(&self, url: &str) {
        self.call("POST", &self.s("/url"), Some(json!({ "url": url })));
    }

    /// The first element matching a CSS selector (panics naming it when there is none).
    pub fn find(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            &self.s("/element"),
            Some(json!({"using": "css selector", "value": css})),
        );
        v["value"][ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    /// Type into an element ("\u{E007}" is Enter).
    pub fn type_into(&self, element: &str, text: &str) {
        self.call(
            "POST",
            &self.s(&format!("/element/{element}/value")),
            Some(json!({ "text": text })),
        );
    }

    pub fn click(&self, element: &str) {
        self.call("POST", &self.s(&format!("/element/{element}/click")), None);
    }

    pub fn source(&self) -> String {
        self.call("GET", &self.s("/source"), None)["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn url(&self) -> String {
        self.call("GET", &self.s("/url"), None)["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Run a script in the page and return its value.
    pub fn script(&self, script: &str) -> Value {
        self.call(
            "POST",
            &self.s("/execute/sync"),
            Some(json!({"script": script, "args": []})),
        )["value"]
            .clone()
    }

    /// A PNG of the window, saved at `path`.
    pub fn screenshot(&self, path: &Path) {
        use base64::Engine;
        let v = self.call("GET", &self.s("/screenshot"), None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(v["value"].as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot directory");
        }
        std::fs::write(path, png).expect("write the screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let url = format!("{}{path}", self.base);
            let _ = self
                .rt
                .block_on(async { self.http.delete(&url).send().await });
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
