//! Real headless Chromium over WebDriver (chromedriver): an analyst logs
//! in, filters the conversations, opens one and downloads the CSV.
//! `scripts/setup-browser` installs chromium and chromium-driver.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use transcripts::views::ViewsConfig;
use transcripts::Store;

use crate::support::{seed, serve, PASSWORD};

/// Kills chromedriver when the test ends, however it ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_chromedriver() -> (Driver, String) {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed by scripts/setup-browser");
    let driver = Driver(child);
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (driver, format!("http://127.0.0.1:{port}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("chromedriver did not start listening");
}

/// The element once it is on the page. After a click that navigates,
/// chromedriver may answer a lookup with "aborted by navigation" rather
/// than "no such element"; both mean "not there yet".
async fn appear(
    browser: &fantoccini::Client,
    locator: Locator<'_>,
) -> fantoccini::elements::Element {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match browser.find(locator).await {
            Ok(e) => return e,
            Err(e) if std::time::Instant::now() > deadline => {
                panic!("{locator:?} did not appear: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn wait_for_file(path: &Path) -> String {
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(path) {
            if !text.is_empty() {
                return text;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} was not downloaded", path.display());
}

#[tokio::test(flavor = "multi_thread")]
async fn analyst_logs_in_filters_opens_and_downloads_csv() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in(dir.path()).unwrap();
    let ids = seed(&store);
    let base = serve(store, ViewsConfig::default()).await;
    let downloads = tempfile::tempdir().unwrap();

    let (_driver, webdriver) = start_chromedriver().await;
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            "prefs": {
                "download.default_directory": downloads.path(),
                "download.prompt_for_download": false,
            }
        }),
    );
    let browser = ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&webdriver)
        .await
        .unwrap();

    // Asking for the list goes to the login form first.
    browser
        .goto(&format!("{base}/analyse/samtaler"))
        .await
        .unwrap();
    appear(&browser, Locator::Id("navn")).await;
    browser
        .find(Locator::Id("navn"))
        .await
        .unwrap()
        .send_keys("analytiker")
        .await
        .unwrap();
    browser
        .find(Locator::Id("adgangskode"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    browser
        .find(Locator::Css("main form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    appear(&browser, Locator::XPath("//h1[text()='Samtaler']")).await;
    let rows = browser.find_all(Locator::Css("tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 4);

    // Filter: chat conversations handled outside opening hours.
    browser
        .find(Locator::Id("kanal"))
        .await
        .unwrap()
        .select_by_value("chat")
        .await
        .unwrap();
    browser
        .find(Locator::Id("aabningstid"))
        .await
        .unwrap()
        .select_by_value("uden")
        .await
        .unwrap();
    browser
        .find(Locator::XPath("//button[text()='Filtrér']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    appear(
        &browser,
        Locator::XPath("//p[starts-with(text(), '1 samtaler')]"),
    )
    .await;
    let rows = browser.find_all(Locator::Css("tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 1);
    let url = browser.current_url().await.unwrap();
    assert!(url.as_str().contains("kanal=chat"), "{url}");

    // Open it.
    let id = ids[1].0.to_string();
    browser
        .find(Locator::LinkText(&id))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let title = format!("//h1[text()='Samtale {id}']");
    appear(&browser, Locator::XPath(&title)).await;
    let page = browser.source().await.unwrap();
    assert!(page.contains("skraldespanden"));
    assert!(!page.contains("12345678"));
    assert!(page.contains("Bekræft"));

    // Back to the filtered list and download its CSV.
    browser.back().await.unwrap();
    appear(&browser, Locator::LinkText("Hent som CSV"))
        .await
        .click()
        .await
        .unwrap();
    let csv = wait_for_file(&downloads.path().join("samtaler.csv")).await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[0].starts_with("id,kanal"));
    assert!(
        lines[1].starts_with(&format!("{id},chat,eksempel")),
        "{csv}"
    );

    browser.close().await.unwrap();
}
