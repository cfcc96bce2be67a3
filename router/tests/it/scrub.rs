//! `vejviser scrub --jsonl` as the measuring script uses it: real binary,
//! stdin and stdout, one output line per input line.

use std::process::Output;

use crate::{json_lines, vejviser};

fn scrub(stdin: &str) -> Output {
    vejviser(&["scrub", "--jsonl"], stdin)
}

fn lines(out: &Output) -> Vec<serde_json::Value> {
    json_lines(out)
}

#[test]
fn scrub_jsonl_redacts_each_line_in_order() {
    let input = r#"{"id": "v1", "text": "mit cpr nummer er 140387 2133 og jeg hedder mette kjær", "channel": "voice"}
{"id": 2, "text": "Ring på 28 47 19 63 eller skriv til ole.bjerre@stofanet.dk", "channel": "chat"}
{"id": "v3", "text": "hvornår har i åbent det koster 45 kr per sæk", "channel": "voice"}
"#;
    let out = scrub(input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let l = lines(&out);
    assert_eq!(l.len(), 3);
    assert_eq!(l[0]["id"], "v1");
    assert_eq!(
        l[0]["redacted"],
        "mit cpr nummer er [CPR] og jeg hedder [NAVN]"
    );
    assert_eq!(l[1]["id"], 2);
    assert_eq!(
        l[1]["redacted"],
        "Ring på [TELEFON] eller skriv til [EMAIL]"
    );
    assert_eq!(
        l[2]["redacted"],
        "hvornår har i åbent det koster 45 kr per sæk"
    );
    for v in &l {
        assert_eq!(v.as_object().expect("object").len(), 2, "{v}");
    }
}

#[test]
fn scrub_jsonl_reports_bad_lines_without_their_text_and_exits_1() {
    let input = "{\"id\": \"a\", \"text\": 170562}\n{\"id\": \"b\", \"text\": \"cpr 1705621183\", \"channel\": \"fax\"}\n{\"id\": \"c\", \"text\": \"cpr 1705621183\"}\n";
    let out = scrub(input);
    assert_eq!(out.status.code(), Some(1));
    let l = lines(&out);
    assert_eq!(l.len(), 3);
    assert_eq!(l[0]["id"], "a");
    assert!(l[0]["error"].is_string());
    assert_eq!(l[1]["id"], "b");
    assert!(l[1]["error"].is_string());
    assert_eq!(l[2]["redacted"], "cpr [CPR]");
    let all =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!all.contains("170562"), "raw text echoed: {all}");
}
