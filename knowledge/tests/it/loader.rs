//! The loader's errors name file, line, column and a stable code.

use knowledge::{KnowledgeBase, KnowledgeError, Problem};

use crate::Scratch;

const GOOD: &str = "version: 1
answers:
  - id: pas-pris
    topic: pas.ny
    title: Pris på pas
    questions:
      - hvad koster et pas
      - pris på nyt pas
      - paspris
    keywords: [pas, gebyr]
    chat: Et pas koster det samme i hele landet. Ring på {borgerservice_telefon}.
    spoken: Et pas koster det samme i hele landet. Ring på {borgerservice_telefon}.
    links:
      - kind: selvbetjening
        title: Ansøg om pas
        url: https://www.borger.dk/pas
    department: borgerservice
";

fn problems(yaml: &str) -> Vec<Problem> {
    let scratch = Scratch::with_answers(yaml);
    match KnowledgeBase::load(&scratch.paths()) {
        Err(KnowledgeError::Invalid(p)) => p,
        Err(e) => panic!("expected validation problems, got {e}"),
        Ok(_) => panic!("expected validation problems, the file loaded"),
    }
}

fn codes(p: &[Problem]) -> Vec<(&'static str, usize, usize)> {
    p.iter()
        .map(|p| (p.code, p.location.line, p.location.column))
        .collect()
}

#[test]
fn valid_file_loads_with_settings_filled_in() {
    let scratch = Scratch::with_answers(GOOD);
    let kb = KnowledgeBase::load(&scratch.paths()).expect("loads");
    let a = &kb.answers()[0];
    assert_eq!(
        a.chat,
        "Et pas koster det samme i hele landet. Ring på 70 10 20 31."
    );
    assert!(
        a.spoken.ends_with("halvfjerds, ti, tyve, enogtredive."),
        "{}",
        a.spoken
    );
}

#[test]
fn unknown_key_names_line_and_column() {
    let p = problems(&GOOD.replace("    keywords:", "    keyword:"));
    assert_eq!(codes(&p), vec![("yaml", 10, 5)]);
    assert!(
        p[0].message.contains("unknown field `keyword`"),
        "{}",
        p[0].message
    );
    assert!(p[0].to_string().contains("test.yaml:10:5"), "{}", p[0]);
}

#[test]
fn unknown_topic_is_an_error_at_its_line() {
    let p = problems(&GOOD.replace("topic: pas.ny", "topic: pas.gammel"));
    assert_eq!(codes(&p), vec![("unknown-topic", 4, 5)]);
}

#[test]
fn duplicate_ids_point_at_the_first_use() {
    let body = GOOD.trim_start_matches("version: 1\nanswers:\n");
    let p = problems(&format!("{GOOD}{body}"));
    assert_eq!(codes(&p), vec![("duplicate-id", 18, 5)]);
    assert!(p[0].message.contains("test.yaml:3:5"), "{}", p[0].message);
}

#[test]
fn spoken_text_rules() {
    let p = problems(&GOOD.replace(
        "    spoken: Et pas koster det samme i hele landet. Ring på {borgerservice_telefon}.",
        "    spoken: Det koster 10 kr. Se https://www.borger.dk. Tak. Farvel.",
    ));
    let c: Vec<_> = p.iter().map(|p| p.code).collect();
    assert!(c.contains(&"spoken-too-long"), "{c:?}");
    assert!(c.contains(&"digits-in-spoken"), "{c:?}");
    assert!(c.contains(&"url-in-spoken"), "{c:?}");
    assert!(p.iter().all(|p| p.location.line == 12), "{p:?}");
}

#[test]
fn unknown_variable_department_and_bad_link() {
    let yaml = GOOD
        .replace(
            "{borgerservice_telefon}.\n    spoken",
            "{ukendt_telefon}.\n    spoken",
        )
        .replace("department: borgerservice", "department: skattestyrelsen")
        .replace("https://www.borger.dk/pas", "http://borger.dk/pas");
    let c: Vec<_> = problems(&yaml).iter().map(|p| p.code).collect();
    assert_eq!(
        c,
        vec!["unknown-department", "unknown-variable", "bad-link"]
    );
}

#[test]
fn too_few_questions() {
    let yaml = GOOD.replace("      - pris på nyt pas\n      - paspris\n", "");
    assert_eq!(codes(&problems(&yaml)), vec![("question-count", 6, 5)]);
}

#[test]
fn broken_yaml_names_its_position() {
    let p = problems("version: 1\nanswers:\n  - id: [unclosed\n");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].code, "yaml");
    assert!(p[0].location.line >= 3, "{p:?}");
}
