//! The staff's web page in a real browser (Debian's Chromium, driven through
//! ChromeDriver by WebDriver): at partner A, log in, search in Latin for a
//! person B holds in Cyrillic, see the hit explained, confirm it, ask B for
//! contact; at B, see the request with B's own case id, accept with a
//! contact text; at A, see the answer. Then the bad inputs: a forged CSRF
//! token, a session ended in a second tab, a bogus session, a 1 MB message,
//! another partner's handle typed into a URL. Screenshots of each page are
//! saved in `target/web-screenshots/`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use fantoccini::{Client, ClientBuilder, Locator};

use crate::federation::{PARTNERS, guarded, joins, search, shared_person, start_coordinator};
use crate::support::{
    NodeProcess, add_staff, poshuk, read_csv, state_dir, synth_data, workspace_with_keyring,
};

/// ChromeDriver on a port it chose itself; killed on drop.
struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    fn start() -> ChromeDriver {
        let binary = std::env::var("POSHUK_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let mut child = Command::new(&binary)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {binary} ({error}): the web page's tests need Debian's chromium and chromium-driver (`apt-get install chromium chromium-driver`, as .ci/run does)"
                )
            });
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let port = loop {
            let line = lines
                .next()
                .expect("chromedriver said where it listens")
                .expect("chromedriver's output");
            if let Some(rest) = line.split("started successfully on port ").nth(1) {
                break rest.trim_end_matches('.').trim().to_string();
            }
        };
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        ChromeDriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The browser's profile directory; on drop, any Chromium still using it is
/// stopped (a failed assertion leaves the session open, and stopping
/// ChromeDriver does not stop its browser).
struct BrowserProfile(tempfile::TempDir);

impl Drop for BrowserProfile {
    fn drop(&mut self) {
        let pattern = format!("--user-data-dir={}", self.0.path().display());
        let _ = Command::new("pkill").args(["-f", &pattern]).status();
    }
}

/// A headless Chromium session with its own empty profile.
async fn browser(driver: &ChromeDriver, profile: &Path) -> Client {
    let binary = std::env::var("POSHUK_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": binary,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--lang=en-US",
                "--window-size=1100,1400",
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": {"intl.accept_languages": "en-US,en"}
        }),
    );
    ClientBuilder::rustls()
        .expect("tls")
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session in Chromium")
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/web-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    dir
}

async fn snap(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("a screenshot");
    std::fs::write(screenshots().join(format!("{name}.png")), png).expect("saved");
}

/// The page's text, once the page a click started to load has loaded (a
/// body that goes stale under the reader is read again from the new page).
async fn body_text(client: &Client) -> String {
    let mut last_error = None;
    for _ in 0..100 {
        let found = client.wait().for_element(Locator::Css("body")).await;
        match found {
            Ok(body) => match body.text().await {
                Ok(text) => return text,
                Err(error) => last_error = Some(error.to_string()),
            },
            Err(error) => last_error = Some(error.to_string()),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the page never settled: {last_error:?}");
}

/// Uploads an export on the overlap page (open in `client`) and reloads the
/// page until the run says it is done or stopped (at most 600 times); the
/// page's text then.
async fn run_overlap(client: &Client, export: &Path) -> String {
    client
        .find(Locator::Id("export"))
        .await
        .expect("file field")
        .send_keys(&export.display().to_string())
        .await
        .expect("chooses the file");
    // The page before the run may say "Done" of the last run: mark it, and
    // read nothing until the browser has left it (the click returns before
    // the form's navigation ends).
    client
        .execute("window.poshukPageBeforeRun = true; return true;", vec![])
        .await
        .expect("marks the page");
    client
        .find(Locator::Css("form.card button[type=submit]"))
        .await
        .expect("run")
        .click()
        .await
        .expect("starts");
    for _ in 0..600 {
        let still_there = client
            .execute("return window.poshukPageBeforeRun === true;", vec![])
            .await
            .ok()
            .and_then(|value| value.as_bool())
            .unwrap_or(false);
        if !still_there {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut page = String::new();
    for _ in 0..600 {
        page = body_text(client).await;
        if page.contains("Done") || page.contains("Stopped") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        client.refresh().await.expect("reloads");
    }
    page
}

/// Visible form fields without a label.
async fn unlabelled(client: &Client) -> u64 {
    client
        .execute(
            "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')].filter(e => !(e.labels && e.labels.length)).length;",
            vec![],
        )
        .await
        .expect("runs")
        .as_u64()
        .expect("a count")
}

async fn log_in(client: &Client, base: &str, name: &str, password: &str) {
    client.goto(&format!("{base}/ui/")).await.expect("opens");
    // Not logged in: the page sends the browser to the login form.
    assert!(
        client
            .current_url()
            .await
            .expect("url")
            .path()
            .ends_with("/ui/login"),
        "not sent to the login page"
    );
    client
        .find(Locator::Id("name"))
        .await
        .expect("name")
        .send_keys(name)
        .await
        .expect("types");
    client
        .find(Locator::Id("password"))
        .await
        .expect("password")
        .send_keys(password)
        .await
        .expect("types");
    client
        .find(Locator::Css("form button[type=submit]"))
        .await
        .expect("button")
        .click()
        .await
        .expect("submits");
    let text = body_text(client).await;
    assert!(text.contains(&format!("Logged in as {name}")), "{text}");
}

/// The NGO's record id of the person `shared_person` names.
fn record_id_at(dir: &Path, source: &str, person_of_intl_row: &str) -> String {
    let truth = read_csv(&dir.join("data/truth.csv"));
    let person = truth[1..]
        .iter()
        .find(|row| row[1] == person_of_intl_row)
        .map(|row| row[2].clone())
        .expect("the person");
    truth[1..]
        .iter()
        .find(|row| row[2] == person && row[0].replace('-', "_") == source)
        .map(|row| row[1].clone())
        .expect("the source's record of the person")
}

#[test]
fn staff_search_review_and_ask_for_contact_across_partners_in_a_real_browser() {
    let driver = ChromeDriver::start();
    let (workspace, _) = workspace_with_keyring();
    let dir = workspace.path();
    synth_data(dir, 300, 9);
    let share = |id: &'static str| {
        move |config: &mut poshuk_node::NodeConfig| {
            guarded(id)(config);
            config.federation.share_agreeing_fields = true;
        }
    };
    let mut nodes: Vec<NodeProcess> = PARTNERS
        .iter()
        .map(|(id, file)| {
            let node = NodeProcess::start_with(dir, id, &share(id));
            let run = poshuk(
                dir,
                &["ingest", "--node", &node.local, &format!("data/{file}.csv")],
            );
            assert!(run.success, "{}", run.stderr);
            node
        })
        .collect();
    // Each partner's age identity; the coordinator lists the public keys.
    let public_keys: HashMap<String, String> = PARTNERS
        .iter()
        .map(|(id, _)| {
            let run = poshuk(
                dir,
                &["keys", "identity", "--config", &format!("{id}.toml")],
            );
            assert!(run.success, "{}", run.stderr);
            (id.to_string(), run.stdout.trim().to_string())
        })
        .collect();
    let registry: Vec<(&str, &str)> = PARTNERS
        .iter()
        .zip(&nodes)
        .map(|((id, _), node)| (*id, node.federation.as_str()))
        .collect();
    let (mut coordinator, url) = start_coordinator(dir, &registry, 2000, &|config| {
        for partner in &mut config.partners {
            partner.public_key = public_keys.get(&partner.id).cloned();
        }
    });
    for ((id, _), node) in PARTNERS.iter().zip(&mut nodes) {
        node.reconfigure(dir, &joins(&url, id));
    }
    let (ngo, intl) = (&nodes[0], &nodes[2]);
    let ru_sources_pid = nodes[1].child.id();
    add_staff(dir, &intl.local, "anna", "anna-password-123");
    add_staff(dir, &ngo.local, "bohdan", "bohdan-password-456");
    // B is opened as `localhost`, A as 127.0.0.1: two sites for the browser.
    let a = intl.local.clone();
    let b = ngo.local.replace("127.0.0.1", "localhost");

    // The person, as the international organization wrote them (Latin), and
    // the NGO's case id (held in Cyrillic there).
    let person = shared_person(dir);
    let field = |name: &str| person[name].as_str().unwrap_or("").to_string();
    let full_name = format!(
        "{} {} {}",
        field("family_name"),
        field("given_name"),
        field("patronymic")
    );
    let intl_rows = read_csv(&dir.join("data/intl_org.csv"));
    let intl_id = intl_rows[1..]
        .iter()
        .find(|row| {
            row[1] == field("given_name")
                && row[2] == field("family_name")
                && row[6] == field("birth_date")
        })
        .map(|row| row[0].clone())
        .expect("the international organization's row");
    let ngo_case = record_id_at(dir, "ngo_ua", &intl_id);
    // The NGO's handle of the person, as a hit carries it (for the URL test).
    let (status, answer) = search(intl, &person);
    assert_eq!(status, 200, "{answer}");
    let ngo_handle = answer["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .find(|hit| hit["partner"] == "ngo-ua")
        .and_then(|hit| hit["handle"].as_str())
        .expect("a hit at the NGO")
        .to_string();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let profile = BrowserProfile(tempfile::tempdir().expect("profile"));
    let profile = &profile.0;
    runtime.block_on(async {
        let client = browser(&driver, profile.path()).await;

        // --- A: log in, search in Latin --------------------------------------
        log_in(&client, &a, "anna", "anna-password-123").await;
        snap(&client, "01-overview").await;
        let overview = body_text(&client).await;
        assert!(overview.contains("Records in this node"), "{overview}");
        client.goto(&format!("{a}/ui/search")).await.expect("search page");
        client.find(Locator::Id("full_name")).await.expect("field").send_keys(&full_name).await.expect("types");
        assert_eq!(unlabelled(&client).await, 0, "a field without a label on the search form");
        snap(&client, "02-search-form").await;
        // By keyboard: Enter in a field sends the form.
        client
            .find(Locator::Id("birth_date"))
            .await
            .expect("field")
            .send_keys(&format!("{}\u{E007}", field("birth_date")))
            .await
            .expect("types and presses Enter");
        let results = body_text(&client).await;
        snap(&client, "03-results").await;
        assert!(results.contains("ngo-ua"), "no section for the NGO: {results}");
        let ngo_hit = "//section[h2[normalize-space()='ngo-ua']]//article[1]";
        let hit_text = client
            .find(Locator::XPath(ngo_hit))
            .await
            .expect("the NGO's hit")
            .text()
            .await
            .expect("text");
        assert!(hit_text.contains("Match: strong"), "{hit_text}");
        // Explained in words, the searcher's own input beside each level.
        assert!(hit_text.contains("given name:"), "{hit_text}");
        assert!(hit_text.contains("family name:"), "{hit_text}");
        assert!(hit_text.contains(&format!("(you typed: {})", field("given_name"))), "{hit_text}");
        // The partner's contact is shown.
        assert!(results.contains("cases@ngo-ua.example.org"), "{results}");
        // A's own record: its case id.
        assert!(results.contains("Your own record"), "{results}");
        assert!(results.contains(&intl_id), "{results}");

        assert_eq!(unlabelled(&client).await, 0, "a field without a label on the results");
        // Keyboard users meet the skip link first.
        let skip_first = client
            .execute(
                "return document.querySelector('a, button, input:not([type=hidden]), select, textarea').classList.contains('skip');",
                vec![],
            )
            .await
            .expect("runs");
        assert_eq!(skip_first, serde_json::json!(true));
        // Readable on a phone: nothing wider than the screen.
        client.set_window_size(390, 844).await.expect("phone size");
        let fits = client
            .execute("return document.documentElement.scrollWidth <= window.innerWidth + 1;", vec![])
            .await
            .expect("runs");
        assert_eq!(fits, serde_json::json!(true), "the results page scrolls sideways on a phone");
        snap(&client, "03b-results-phone").await;
        client.set_window_size(1100, 1400).await.expect("desktop size");

        // --- the language switch ------------------------------------------------
        client.find(Locator::Css("a.lang")).await.expect("switch").click().await.expect("switches");
        let html_lang = client.find(Locator::Css("html")).await.expect("html").attr("lang").await.expect("attr");
        assert_eq!(html_lang.as_deref(), Some("uk"));
        let ukrainian = body_text(&client).await;
        assert!(ukrainian.contains("Збіг: сильний"), "{ukrainian}");
        snap(&client, "04-results-ukrainian").await;
        client.find(Locator::Css("a.lang")).await.expect("switch").click().await.expect("switches");

        // --- A: confirm the hit ---------------------------------------------------
        client
            .find(Locator::XPath(&format!("{ngo_hit}//input[@value='confirmed']")))
            .await
            .expect("radio")
            .click()
            .await
            .expect("checks");
        client
            .find(Locator::XPath(&format!("{ngo_hit}//input[@name='note']")))
            .await
            .expect("note")
            .send_keys("same child: photo matches")
            .await
            .expect("types");
        client
            .find(Locator::XPath(&format!("{ngo_hit}//form[contains(@class,'review')]//button")))
            .await
            .expect("save")
            .click()
            .await
            .expect("saves");
        // Saving posts the form and loads the page again: wait for the page
        // that shows the review (the old page's elements go stale).
        let reviewed_hit = format!("{ngo_hit}[contains(., 'Review: confirmed')]");
        let reviewed = client
            .wait()
            .for_element(Locator::XPath(&reviewed_hit))
            .await
            .expect("the reviewed hit")
            .text()
            .await
            .expect("text");
        assert!(reviewed.contains("Review: confirmed"), "{reviewed}");
        assert!(reviewed.contains("Reviewed by anna"), "{reviewed}");
        assert!(reviewed.contains("same child: photo matches"), "{reviewed}");
        snap(&client, "05-confirmed").await;

        // --- A: forged CSRF token: refused with a page, nothing saved ------------
        let results_url = client.current_url().await.expect("url").to_string();
        client
            .execute(
                "document.querySelectorAll('form.review input[name=csrf]').forEach(i => i.value = 'forged');",
                vec![],
            )
            .await
            .expect("forges");
        client
            .find(Locator::XPath(&format!("{ngo_hit}//input[@value='rejected']")))
            .await
            .expect("radio")
            .click()
            .await
            .expect("checks");
        client
            .find(Locator::XPath(&format!("{ngo_hit}//form[contains(@class,'review')]//button")))
            .await
            .expect("save")
            .click()
            .await
            .expect("submits");
        let refused = body_text(&client).await;
        assert!(refused.contains("This form has expired or was not sent from this page"), "{refused}");
        snap(&client, "06-forged-csrf").await;
        client.goto(&results_url).await.expect("back");
        let still = client.find(Locator::XPath(ngo_hit)).await.expect("hit").text().await.expect("text");
        assert!(still.contains("Review: confirmed"), "a forged form changed the review: {still}");

        // --- A: another partner's handle typed into a URL: refused -----------------
        client.goto(&format!("{a}/ui/record/{ngo_handle}")).await.expect("opens");
        let not_ours = body_text(&client).await;
        assert!(not_ours.contains("This is not one of your organization's records"), "{not_ours}");
        snap(&client, "07-foreign-handle").await;

        // --- A: ask the NGO for contact (HTML in the message stays text) ---------
        client.goto(&results_url).await.expect("back");
        client
            .find(Locator::XPath(&format!("{ngo_hit}//a[contains(@class,'button')]")))
            .await
            .expect("ask for contact")
            .click()
            .await
            .expect("opens");
        let message = "We hold <b>this child</b> in our list. Please call us.";
        client.find(Locator::Id("message")).await.expect("message").send_keys(message).await.expect("types");
        snap(&client, "08-contact-form").await;
        let form_url = client.current_url().await.expect("url").to_string();
        client.find(Locator::Css("form.card button[type=submit]")).await.expect("send").click().await.expect("sends");
        let sent = body_text(&client).await;
        assert!(sent.contains("The request was sealed to the partner and sent."), "{sent}");
        assert!(sent.contains("waiting for an answer"), "{sent}");
        snap(&client, "09-contact-sent").await;

        // The coordinator restarts (on the same address): the request is kept
        // in its database, not in memory.
        let _ = coordinator.0.kill();
        let _ = coordinator.0.wait();
        let config_path = dir.join("coordinator.toml");
        let address = url.trim_start_matches("http://");
        let config = std::fs::read_to_string(&config_path)
            .expect("config")
            .replace("listen = \"127.0.0.1:0\"", &format!("listen = \"{address}\""));
        crate::support::write_private(&config_path, &config);
        let (child, _) = crate::support::spawn_server(
            dir,
            &["coordinator", "--config", "coordinator.toml"],
            &dir.join("coordinator-restarted.log"),
        );
        coordinator.0 = child;

        // --- A: a 1 MB message is refused with a page ------------------------------
        client.goto(&form_url).await.expect("form again");
        client
            .execute(
                "const t = document.getElementById('message'); t.removeAttribute('maxlength'); t.value = 'x'.repeat(1048576);",
                vec![],
            )
            .await
            .expect("fills");
        client.find(Locator::Css("form.card button[type=submit]")).await.expect("send").click().await.expect("sends");
        let too_long = body_text(&client).await;
        assert!(too_long.contains("The text is too long"), "{too_long}");
        snap(&client, "10-message-too-long").await;

        // --- B: the request, with B's own case id; accept -----------------------
        log_in(&client, &b, "bohdan", "bohdan-password-456").await;
        client.goto(&format!("{b}/ui/contacts")).await.expect("inbox");
        let inbox = body_text(&client).await;
        assert!(inbox.contains(message), "the message, as text: {inbox}");
        let source = client.source().await.expect("source");
        assert!(!source.contains("<b>this child</b>"), "HTML in a message was not escaped");
        snap(&client, "11-inbox").await;
        client
            .find(Locator::XPath("//h2[normalize-space()='Received']/following::table[1]//a"))
            .await
            .expect("answer link")
            .click()
            .await
            .expect("opens");
        let request = body_text(&client).await;
        assert!(request.contains(&format!("Case id: {ngo_case}")), "B's own case id: {request}");
        snap(&client, "12-request").await;
        let reply = "Olena Bondar, +380 44 000 00 00, weekdays";
        client.find(Locator::Id("reply")).await.expect("reply").send_keys(reply).await.expect("types");
        client
            .find(Locator::Css("button[value=accept]"))
            .await
            .expect("accept")
            .click()
            .await
            .expect("accepts");
        let answered = body_text(&client).await;
        assert!(answered.contains("Your answer was sealed and sent."), "{answered}");
        snap(&client, "13-answered").await;

        // --- A: the answer -----------------------------------------------------------
        client.goto(&format!("{a}/ui/contacts")).await.expect("outbox");
        let outcome = body_text(&client).await;
        assert!(outcome.contains("accepted"), "{outcome}");
        assert!(outcome.contains(reply), "{outcome}");
        snap(&client, "14-answer-received").await;

        // --- A: the overlap page: upload the export, see the counts, download -----
        client.goto(&format!("{a}/ui/overlap")).await.expect("overlap page");
        assert!(body_text(&client).await.contains("No overlap has been run yet."));
        let overlap = run_overlap(&client, &dir.join("data/intl_org.csv")).await;
        assert!(overlap.contains("Done"), "{overlap}");
        let cases = intl_rows.len() - 1;
        assert!(overlap.contains(&format!("Cases read: {cases}")), "{overlap}");
        snap(&client, "15-overlap").await;
        let ngo_row = client
            .find(Locator::XPath("//table//tr[td[1][normalize-space()='ngo-ua']]"))
            .await
            .expect("a row for the NGO")
            .text()
            .await
            .expect("text");
        let counts: Vec<usize> = ngo_row
            .split_whitespace()
            .skip(1)
            .map(|number| number.parse().expect("a count"))
            .collect();
        // strong, possible, confirmed, rejected, new: the review made above
        // counts as confirmed, not new.
        assert_eq!(counts.len(), 5, "{ngo_row}");
        assert!(counts[0] >= 10, "few strong overlaps with the NGO: {ngo_row}");
        assert_eq!(counts[2], 1, "the confirmed pair: {ngo_row}");
        assert_eq!(counts[4], counts[0] + counts[1] - 1, "{ngo_row}");
        assert!(client.find(Locator::Css("svg.chart")).await.is_ok(), "no chart");
        // The report, as the browser would download it with this session.
        let session = client
            .get_named_cookie("poshuk_session_intl_org")
            .await
            .expect("the session cookie");
        let report = reqwest::Client::new()
            .get(format!("{a}/ui/overlap/report.xlsx"))
            .header("cookie", format!("poshuk_session_intl_org={}", session.value()))
            .send()
            .await
            .expect("downloads");
        assert_eq!(report.status(), 200);
        let bytes = report.bytes().await.expect("bytes");
        assert!(bytes.starts_with(b"PK") && bytes.len() > 2000, "not an xlsx");

        // --- A: a partner that does not answer is named in a banner ---------------------
        let silenced = Command::new("kill")
            .args(["-9", &ru_sources_pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(silenced.success());
        client.goto(&format!("{a}/ui/search")).await.expect("search page");
        client
            .find(Locator::Id("full_name"))
            .await
            .expect("field")
            .send_keys(&full_name)
            .await
            .expect("types");
        client
            .find(Locator::Id("birth_date"))
            .await
            .expect("field")
            .send_keys(&format!("{}\u{E007}", field("birth_date")))
            .await
            .expect("searches");
        let partial = body_text(&client).await;
        assert!(
            partial.contains("did not answer in time") && partial.contains("ru-sources"),
            "{partial}"
        );
        assert!(partial.contains("ngo-ua"), "the others still answer: {partial}");
        snap(&client, "16-partner-silent").await;
        // An overlap run while that partner is down says which cases were
        // searched without it, and why.
        // A case with a name and nothing else is refused by the node (422)
        // and counted; the run goes on.
        let small = dir.join("small.csv");
        let mut lines: Vec<String> = std::fs::read_to_string(dir.join("data/intl_org.csv"))
            .expect("export")
            .lines()
            .take(4)
            .map(str::to_string)
            .collect();
        let header: Vec<String> = lines[0].split(',').map(str::to_string).collect();
        let thin_row: Vec<&str> = header
            .iter()
            .map(|column| match column.as_str() {
                "record_id" => "THIN-1",
                "given_name" => "Olena",
                "family_name" => "Kovalenko",
                _ => "",
            })
            .collect();
        lines.insert(1, thin_row.join(","));
        std::fs::write(&small, lines.join("\n") + "\n").expect("small export");
        client.goto(&format!("{a}/ui/overlap")).await.expect("overlap page");
        let partial_run = run_overlap(&client, &small).await;
        assert!(partial_run.contains("Done"), "{partial_run}");
        assert!(
            partial_run.contains("did not answer or refused") && partial_run.contains("ru-sources ("),
            "{partial_run}"
        );
        snap(&client, "16b-overlap-partial").await;

        // --- A: a session ended in a second tab ----------------------------------------
        client.goto(&results_url).await.expect("results");
        let first = client.window().await.expect("window");
        let second = client.new_window(true).await.expect("tab");
        client.switch_to_window(second.handle).await.expect("switches");
        client.goto(&format!("{a}/ui/")).await.expect("opens");
        client
            .find(Locator::Css(".who button[type=submit]"))
            .await
            .expect("log out")
            .click()
            .await
            .expect("logs out");
        client.switch_to_window(first).await.expect("back");
        client
            .find(Locator::XPath(&format!("{ngo_hit}//form[contains(@class,'review')]//button")))
            .await
            .expect("save")
            .click()
            .await
            .expect("submits");
        let ended = body_text(&client).await;
        assert!(ended.contains("Your session has ended"), "{ended}");
        snap(&client, "17-session-ended").await;

        // --- B: an account removed while logged in: its session has ended --------
        client.goto(&format!("{b}/ui/")).await.expect("opens");
        let removed = Command::new(env!("CARGO_BIN_EXE_poshuk"))
            .args(["staff", "remove", "bohdan", "--node", &ngo.local])
            .current_dir(dir)
            .env("POSHUK_STATE_DIR", state_dir())
            .output()
            .expect("runs");
        assert!(removed.status.success(), "{}", String::from_utf8_lossy(&removed.stderr));
        client.goto(&format!("{b}/ui/search")).await.expect("opens");
        let expired = body_text(&client).await;
        assert!(expired.contains("Your session has ended. Please log in again."), "{expired}");
        snap(&client, "18-account-removed").await;
        client.close().await.expect("closes");
    });

    // Every step is in the nodes' audit logs with the staff member, and
    // nothing the staff wrote is there.
    let audit_a =
        std::fs::read_to_string(dir.join("intl-org-data/audit.jsonl")).expect("A's audit");
    let audit_b = std::fs::read_to_string(dir.join("ngo-ua-data/audit.jsonl")).expect("B's audit");
    for (audit, staff, route) in [
        (&audit_a, "anna", "/ui/review"),
        (&audit_a, "anna", "/ui/contacts"),
        (&audit_b, "bohdan", "/ui/contacts/{id}/answer"),
    ] {
        assert!(
            audit
                .lines()
                .any(|line| line.contains(&format!("\"route\":\"{route}\""))
                    && line.contains(&format!("\"staff\":\"{staff}\""))),
            "no audit line for {route} by {staff}"
        );
    }
    for audit in [&audit_a, &audit_b] {
        assert!(
            !audit.contains("this child")
                && !audit.contains("Olena Bondar")
                && !audit.contains("photo matches")
        );
    }
    // The coordinator relayed ciphertext only.
    let relay = std::fs::read(dir.join(state_relay(dir))).unwrap_or_default();
    let relay = String::from_utf8_lossy(&relay);
    assert!(!relay.contains("this child") && !relay.contains("Olena Bondar"));
}

/// The coordinator's database file (its state directory is the working
/// directory's `state`, as the tests' configs leave it).
fn state_relay(dir: &Path) -> PathBuf {
    let config = std::fs::read_to_string(dir.join("coordinator.toml")).expect("config");
    let state: toml::Value = toml::from_str(&config).expect("toml");
    let state_dir = state
        .get("state_dir")
        .and_then(|value| value.as_str())
        .unwrap_or("coordinator-state");
    dir.join(state_dir).join("coordinator.db")
}

/// The page's doors without a browser: single sign-on only beside the local
/// credential, idle sessions ended, failed logins throttled, the cookie's
/// and the answers' security attributes, foreign origins and hosts refused.
#[test]
fn the_pages_doors_hold_without_a_browser() {
    let (workspace, _) = workspace_with_keyring();
    let dir = workspace.path();
    let node = NodeProcess::start_with(dir, "solo", &|config| {
        config.web.sso_header = Some("X-Forwarded-User".into());
        // Sessions end after the first idle second.
        config.web.session_idle_minutes = 0;
    });
    add_staff(dir, &node.local, "olena", "olena-password-789");
    let search_token =
        std::fs::read_to_string(dir.join("solo-data/local-search.token")).expect("token");
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let home = format!("{}/ui/", node.local);
    let location = |response: &reqwest::blocking::Response| {
        response
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_string()
    };

    // Single sign-on: the header alone is nobody; with the local credential
    // it names an existing account; an unknown name is nobody.
    let alone = http
        .get(&home)
        .header("X-Forwarded-User", "olena")
        .send()
        .expect("answers");
    assert_eq!(
        (alone.status().as_u16(), location(&alone)),
        (303, "/ui/login".into())
    );
    let proxied = http
        .get(&home)
        .header("X-Forwarded-User", "olena")
        .bearer_auth(search_token.trim())
        .send()
        .expect("answers");
    assert_eq!(proxied.status(), 200);
    let headers = proxied.headers().clone();
    assert!(proxied.text().expect("page").contains("olena"));
    let csp = headers["content-security-policy"].to_str().expect("csp");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(headers["cache-control"], "no-store");
    let stranger = http
        .get(&home)
        .header("X-Forwarded-User", "mallory")
        .bearer_auth(search_token.trim())
        .send()
        .expect("answers");
    assert_eq!(stranger.status(), 303);

    // A login, on `localhost`: the cookie is HttpOnly, SameSite=Strict and
    // Secure; idle for a second (the config's limit), the session ends.
    let localhost = node.local.replace("127.0.0.1", "localhost");
    let login_page = http
        .get(format!("{localhost}/ui/login"))
        .send()
        .expect("answers");
    let login_cookie = login_page.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_string();
    let login_value = login_cookie.split(';').next().expect("pair").to_string();
    let page = login_page.text().expect("page");
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form's token")
        .to_string();
    let log_in = |password: &str| {
        http.post(format!("{localhost}/ui/login"))
            .header("cookie", &login_value)
            .header("accept-language", "en-GB,en;q=0.8")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={csrf}&name=olena&password={password}"))
            .send()
            .expect("answers")
    };
    let logged_in = log_in("olena-password-789");
    assert_eq!(logged_in.status(), 303);
    let session_cookie = logged_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("poshuk_session_solo="))
        .expect("a session cookie")
        .to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(session_cookie.contains(attribute), "{session_cookie}");
    }
    let session = session_cookie.split(';').next().expect("pair").to_string();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let idle = http
        .get(format!("{localhost}/ui/"))
        .header("cookie", &session)
        .send()
        .expect("answers");
    assert_eq!(
        (idle.status().as_u16(), location(&idle)),
        (303, "/ui/login?ended=1".into())
    );

    // Five wrong passwords, then even the right one waits.
    for _ in 0..5 {
        assert_eq!(log_in("wrong-password-000").status(), 401);
    }
    let throttled = log_in("olena-password-789");
    assert_eq!(throttled.status(), 429);
    assert!(
        throttled
            .text()
            .expect("page")
            .contains("Too many failed logins")
    );

    // A form from another origin, a request for another host: refused.
    let foreign = http
        .post(format!("{}/ui/search", node.local))
        .header("origin", "http://evil.example")
        .header("X-Forwarded-User", "olena")
        .bearer_auth(search_token.trim())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("csrf=x&full_name=x")
        .send()
        .expect("answers");
    assert_eq!(foreign.status(), 403);
    let rebound = http
        .get(&home)
        .header("host", "evil.example")
        .send()
        .expect("answers");
    assert_eq!(rebound.status(), 403);
    assert!(
        rebound.headers().contains_key("content-security-policy"),
        "a refusal without the security headers"
    );
    // The language switch goes back to a page of this site only, whatever
    // it is given.
    for back in [
        "/ui/%0a",
        "https://evil.example/",
        "//evil.example/ui/",
        "/ui/\\evil",
    ] {
        let switched = http
            .get(format!("{}/ui/lang?to=en&back={back}", node.local))
            .send()
            .expect("answers");
        assert_eq!(
            (switched.status().as_u16(), location(&switched)),
            (303, "/ui/".into()),
            "{back}"
        );
    }
    // A failed login names no account that does not exist in the audit
    // log (what was typed may be a person's name), and fetching the login
    // form writes nothing.
    let typed = "Ivanenko Petro";
    let _ = http
        .post(format!("{localhost}/ui/login"))
        .header("cookie", &login_value)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf={csrf}&name=Ivanenko+Petro&password=whatever-whatever"
        ))
        .send()
        .expect("answers");
    let audit_path = dir.join("solo-data/audit.jsonl");
    let before = std::fs::metadata(&audit_path).expect("audit").len();
    for _ in 0..20 {
        let _ = http
            .get(format!("{}/ui/login", node.local))
            .send()
            .expect("answers");
    }
    let audit = std::fs::read_to_string(&audit_path).expect("audit");
    assert_eq!(
        audit.len() as u64,
        before,
        "fetching the login form was logged"
    );
    assert!(!audit.contains(typed), "a typed name is in the audit log");
    assert!(
        audit.contains("(no such account)"),
        "the failed login is not audited"
    );

    // Slow clients holding hundreds of connections to the local listener
    // do not take the node's descriptors: the federation API still answers.
    let mut trickles = Vec::new();
    for _ in 0..400 {
        if let Ok(mut stream) =
            std::net::TcpStream::connect(node.local.trim_start_matches("http://"))
        {
            use std::io::Write;
            let _ = stream.write_all(b"GET /ui/login HTTP/1.1\r\nHost: 127.0.0.1\r\n");
            trickles.push(stream);
        }
    }
    let livez = http
        .get(format!("{}/livez", node.federation))
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .expect("the federation API answers");
    assert_eq!(livez.status(), 200);
    drop(trickles);
    let again = http
        .get(format!("{}/ui/login", node.local))
        .timeout(std::time::Duration::from_secs(30))
        .send()
        .expect("the page answers once they are gone");
    assert_eq!(again.status(), 200);
    // No page ever shows a stack trace or the server's internals.
    let missing = http
        .get(format!("{}/ui/nothing-here", node.local))
        .send()
        .expect("answers");
    assert_eq!(missing.status(), 404);
    assert!(missing.text().expect("page").contains("<html"));
}
