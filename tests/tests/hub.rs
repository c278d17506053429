//! The hub's screen (issue 13, item 5) through a real `doorstep serve`: a hub account made by
//! `doorstep admin create-hub-user`; in a real headless Chromium the hub user signs in with the
//! keyboard, sees the escalation a phone raised, acknowledges it, opens the person's trends, and
//! the phone sees who acknowledged after one sync (a screenshot is saved in
//! `target/hub-screenshots/`). Over plain HTTP: forged forms and password guessing are refused,
//! and every view is audited.

use std::path::PathBuf;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use doorstep_core::testing;
use doorstep_tests::browser::Browser;
use doorstep_tests::{runtime, team, Backend, Device, Postgres, ServerProc};

const PASSWORD: &str = "kestrel harbour lantern";

/// An `application/x-www-form-urlencoded` body, as a browser sends a form.
trait FormBody {
    fn form_of(self, pairs: &[(&str, String)]) -> Self;
}

impl FormBody for reqwest::RequestBuilder {
    fn form_of(self, pairs: &[(&str, String)]) -> Self {
        let enc = |s: &str| -> String {
            s.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect()
        };
        let body: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body.join("&"))
    }
}

struct Hub {
    _dir: tempfile::TempDir,
    server: ServerProc,
    rt: tokio::runtime::Runtime,
    phone: Device,
    person: String,
}

/// A team, a hub account and a phone whose NEWS2 of 6 on the ward has escalated and synced.
fn hub(backend: &Backend, prefix: &str) -> Hub {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProc::start(backend);
    let rt = runtime();
    team(backend, prefix);
    let short = backend.admin_with_input(
        &[
            "create-hub-user",
            &format!("{prefix}-hub1"),
            "--name",
            "Hana Hub",
            "--role",
            "virtual-ward-clinician",
            "--team",
            prefix,
        ],
        "short\n",
    );
    assert!(!short.status.success());
    assert!(
        String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"),
        "{short:?}"
    );
    let made = backend.admin_with_input(
        &[
            "create-hub-user",
            &format!("{prefix}-hub1"),
            "--name",
            "Hana Hub",
            "--role",
            "virtual-ward-clinician",
            "--team",
            prefix,
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(made.status.success(), "{made:?}");
    let phone = Device::enrol(
        &rt,
        backend,
        &server.url,
        &format!("{prefix}-nurse2"),
        dir.path(),
    );
    let person = phone
        .store
        .register_patient(testing::demographics("Edith", "Crawley", None, "HX7 8AB"))
        .unwrap();
    phone
        .store
        .admit_to_ward(&person, testing::ward_admission(None))
        .unwrap();
    for (minutes, obs) in [
        (90, testing::normal_observations()),
        (10, testing::news2_six()),
    ] {
        phone
            .store
            .record_observations(&person, Utc::now() - Duration::minutes(minutes), obs, None)
            .unwrap();
    }
    phone.sync(&rt).unwrap();
    Hub {
        _dir: dir,
        server,
        rt,
        phone,
        person,
    }
}

fn wait_for(browser: &Browser, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + StdDuration::from_secs(15);
    loop {
        let page = browser.source();
        if ok(&page) {
            return page;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {}\n{page}",
            browser.url()
        );
        std::thread::sleep(StdDuration::from_millis(100));
    }
}

fn screenshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/hub-screenshots")
        .join(name)
}

#[test]
fn a_hub_user_acknowledges_an_escalation_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::Sqlite(dir.path().join("server"));
    let h = hub(&backend, "hb");
    let bad = backend.admin_fails(&[
        "set-escalation-routes",
        "--team",
        "hb",
        "--in-hours",
        "Hub",
        "--out-of-hours",
        "111",
        "--hours",
        "20:00-08:00",
    ]);
    assert!(bad.contains("open before they close"), "{bad}");
    backend.admin(&[
        "set-escalation-routes",
        "--team",
        "hb",
        "--in-hours",
        "Call the hub on 01422 555 010",
        "--out-of-hours",
        "Out-of-hours GP via 111 option 3",
        "--hours",
        "00:00-23:59",
        "--weekends",
    ]);
    let browser = Browser::start();
    let url = &h.server.url;

    browser.open(&format!("{url}/hub"));
    wait_for(&browser, "the sign-in page", |p| {
        p.contains("<h1>Sign in</h1>")
    });
    // Accessible: every control labelled, a language, one main heading, a skip link.
    let unlabelled = browser.script(
        "return [...document.querySelectorAll('input:not([type=hidden]), button')]\
         .filter(e => e.tagName === 'INPUT' ? e.labels.length === 0 : !e.textContent.trim()).length",
    );
    assert_eq!(unlabelled, 0);
    assert_eq!(
        browser.script("return document.documentElement.lang"),
        "en-GB"
    );
    // Signed in with the keyboard: type, then Enter.
    let user = browser.find("#user");
    browser.type_into(&user, "hb-hub1");
    let password = browser.find("#password");
    browser.type_into(&password, &format!("{PASSWORD}\u{E007}"));
    let page = wait_for(&browser, "the ward after sign-in", |p| {
        p.contains("Virtual ward, team hb")
    });
    assert!(page.contains("Edith Crawley"), "{page}");
    assert!(page.contains("NEWS2 6"), "{page}");
    assert!(page.contains("open, not acknowledged"), "{page}");
    assert_eq!(
        browser.script("return document.querySelectorAll('h1').length"),
        1
    );
    let unlabelled = browser.script(
        "return [...document.querySelectorAll('input:not([type=hidden])')]\
         .filter(e => e.labels.length === 0).length",
    );
    assert_eq!(unlabelled, 0);

    let ack = browser.find("form[action='/hub/escalations/acknowledge'] button");
    browser.click(&ack);
    let page = wait_for(&browser, "the acknowledgement", |p| {
        p.contains("You acknowledged the escalation of Edith Crawley")
    });
    assert!(page.contains("acknowledged</span> by Hana Hub"), "{page}");
    assert!(
        !page.contains("Acknowledge the escalation of"),
        "no second button: {page}"
    );
    let shot = screenshot_path("ward-acknowledged.png");
    browser.screenshot(&shot);
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );

    // An action, then the outcome, which closes it.
    let what = browser.find("form[action='/hub/escalations/record'] input[name=note]");
    browser.type_into(&what, "Phoned Edith: video review booked for 14:00");
    browser.click(&browser.find("form[action='/hub/escalations/record'] button"));
    wait_for(&browser, "the action", |p| {
        p.contains("You recorded an action on the escalation of Edith Crawley")
    });
    browser.click(&browser.find("form[action='/hub/escalations/record'] input[value=outcome]"));
    let what = browser.find("form[action='/hub/escalations/record'] input[name=note]");
    browser.type_into(&what, "Stable on video review; stays on the ward\u{E007}");
    let page = wait_for(&browser, "the outcome", |p| {
        p.contains("You recorded the outcome of the escalation of Edith Crawley")
    });
    assert!(page.contains("Open escalations (0)"), "{page}");

    let link = browser.find("table.census a");
    browser.click(&link);
    let page = wait_for(&browser, "the trends", |p| p.contains("<h2>Trends</h2>"));
    assert!(page.contains("NEWS2, last 7 days"), "{page}");
    assert!(page.contains("<svg"), "{page}");
    browser.screenshot(&screenshot_path("person-trends.png"));

    // The phone sees who acknowledged, after one sync; the hub's audit has both views.
    h.phone.sync(&h.rt).unwrap();
    let esc = h.phone.store.escalations(Some(h.person.clone())).unwrap();
    let by = esc[0].acknowledged_by.as_ref().unwrap();
    assert_eq!(by.display_name, "Hana Hub");
    assert_eq!(
        esc[0].status,
        doorstep_core::record::escalation::EscalationStatus::Closed
    );
    assert_eq!(esc[0].history.len(), 3, "{:?}", esc[0].history);
    assert!(by.device_id.starts_with("hub:"), "{by:?}");
    let audit = backend.admin(&["hub-views", &h.person]);
    assert!(
        audit.contains("hb-hub1  listed on the hub's ward census"),
        "{audit}"
    );
    assert!(
        audit.contains("hb-hub1  viewed the record on the hub"),
        "{audit}"
    );
}

/// Plain HTTP: pages need a session, forms need their CSRF token, guessing is stopped.
fn forged_forms_and_guessing(backend: &Backend, prefix: &str) {
    let h = hub(backend, prefix);
    let url = h.server.url.clone();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let rt = &h.rt;
    let send = |req: reqwest::RequestBuilder| {
        rt.block_on(async {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let headers = r.headers().clone();
            (status, headers, r.text().await.unwrap())
        })
    };
    let (status, headers, _) = send(http.get(format!("{url}/hub/ward")));
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/hub/login");

    let (_, headers, body) = send(http.get(format!("{url}/hub/login")));
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let cookie = headers["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let login_cookie = cookie.split(';').next().unwrap().to_string();
    let csrf = body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    // A sign-in form from elsewhere (no matching cookie) is refused.
    let form = |user: &str, pw: &str, csrf: &str| {
        vec![
            ("user", user.to_string()),
            ("password", pw.to_string()),
            ("csrf", csrf.to_string()),
        ]
    };
    let (status, _, body) = send(http.post(format!("{url}/hub/login")).form_of(&form(
        &format!("{prefix}-hub1"),
        PASSWORD,
        "forged",
    )));
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("came from another site"), "{body}");

    // Signed in: a form without the session's token changes nothing.
    let (status, headers, _) = send(
        http.post(format!("{url}/hub/login"))
            .header("cookie", &login_cookie)
            .form_of(&form(&format!("{prefix}-hub1"), PASSWORD, &csrf)),
    );
    assert_eq!(status, 303);
    let session = headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("doorstep_hub="))
        .unwrap();
    let session = session.split(';').next().unwrap().to_string();
    let esc = h.phone.store.escalations(Some(h.person.clone())).unwrap();
    let (status, _, body) = send(
        http.post(format!("{url}/hub/escalations/acknowledge"))
            .header("cookie", &session)
            .form_of(&[
                ("csrf", "forged".to_string()),
                ("person_id", h.person.clone()),
                ("escalation_id", esc[0].id.clone()),
            ]),
    );
    assert_eq!(status, 403, "{body}");
    let (_, _, ward) = send(
        http.get(format!("{url}/hub/ward"))
            .header("cookie", &session),
    );
    assert!(
        ward.contains("open, not acknowledged"),
        "nothing was recorded: {ward}"
    );
    // The session's own CSRF token, from the ward page.
    let csrf_of = |page: &str| {
        page.split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap()
            .to_string()
    };
    let session_csrf = csrf_of(&ward);
    let record = |fields: &[(&str, String)]| {
        send(
            http.post(format!("{url}/hub/escalations/record"))
                .header("cookie", &session)
                .form_of(fields),
        )
    };
    // Not something to record; a person not on the team; an oversized form: each refused
    // with words, nothing recorded.
    let (status, _, body) = record(&[
        ("csrf", session_csrf.clone()),
        ("person_id", h.person.clone()),
        ("escalation_id", esc[0].id.clone()),
        ("kind", "delete".into()),
    ]);
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("is not something to record on an escalation"),
        "{body}"
    );
    let (status, _, body) = record(&[
        ("csrf", session_csrf.clone()),
        ("person_id", "someone-else".into()),
        ("escalation_id", esc[0].id.clone()),
    ]);
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("caseload; nothing was recorded"), "{body}");
    let (status, _, _) = record(&[
        ("csrf", session_csrf.clone()),
        ("person_id", h.person.clone()),
        ("escalation_id", esc[0].id.clone()),
        ("note", "x".repeat(20_000)),
    ]);
    assert_eq!(status, 413);
    let (_, _, ward) = send(
        http.get(format!("{url}/hub/ward"))
            .header("cookie", &session),
    );
    assert!(
        ward.contains("open, not acknowledged"),
        "still nothing recorded: {ward}"
    );
    // A crafted confirmation link puts no words on the page.
    let (_, _, ward) = send(
        http.get(format!(
            "{url}/hub/ward?done=been+hacked%3A+call+0800+000+000"
        ))
        .header("cookie", &session),
    );
    assert!(!ward.contains("been hacked"), "{ward}");
    // Someone else's person is not found.
    let (status, _, _) = send(
        http.get(format!("{url}/hub/people/not-a-person"))
            .header("cookie", &session),
    );
    assert_eq!(status, 404);

    // Guessing: ten wrong passwords in a minute, then 429 even for the right one.
    for _ in 0..10 {
        let (status, _, body) = send(
            http.post(format!("{url}/hub/login"))
                .header("cookie", &login_cookie)
                .form_of(&form(&format!("{prefix}-hub1"), "wrong guess here", &csrf)),
        );
        assert_eq!(status, 401, "{body}");
        assert!(
            body.contains("do not match an active hub account"),
            "{body}"
        );
    }
    let (status, _, body) = send(
        http.post(format!("{url}/hub/login"))
            .header("cookie", &login_cookie)
            .form_of(&form(&format!("{prefix}-hub1"), PASSWORD, &csrf)),
    );
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("too many wrong sign-ins"), "{body}");
}

#[test]
fn forged_forms_and_password_guessing_are_refused_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    forged_forms_and_guessing(&Backend::Sqlite(dir.path().join("server")), "hf");
}

#[test]
fn forged_forms_and_password_guessing_are_refused_on_postgres() {
    let pg = Postgres::start();
    forged_forms_and_guessing(&Backend::Postgres(pg.url.clone()), "hfpg");
}
