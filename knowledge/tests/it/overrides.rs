//! A municipality's own directory overrides, disables and adds answers.

use knowledge::{KnowledgeBase, KnowledgeError};

use crate::Scratch;

const SHARED: &str = "version: 1
answers:
  - id: pas-pris
    topic: pas.ny
    title: Pris på pas
    questions: [hvad koster et pas, pris på nyt pas, paspris]
    chat: Et pas koster det samme i hele landet.
    spoken: Et pas koster det samme i hele landet.
    department: borgerservice
  - id: pas-tid
    topic: pas.ny
    title: Hvor lang tid tager et pas
    questions: [hvornår kommer mit pas, hvor lang tid tager pas, ventetid pas]
    chat: Der går normalt et par uger.
    spoken: Der går normalt et par uger.
";

fn with_local(local: &str) -> Scratch {
    let scratch = Scratch::with_answers(SHARED);
    let dir = scratch.dir.path().join("municipalities/eksempel/answers");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("lokalt.yaml"), local).expect("write");
    scratch
}

#[test]
fn override_replaces_only_the_fields_given() {
    let scratch = with_local(
        "version: 1
overrides:
  - id: pas-pris
    chat: Hos os koster et pas det samme som alle andre steder. Ring {borgerservice_telefon}.
disable:
  - id: pas-tid
    reason: vi har vores eget svar
answers:
  - id: pas-lokal-aabent
    topic: pas.ny
    title: Pas om lørdagen
    questions: [kan jeg få pas om lørdagen, åbent lørdag pas, pas i weekenden]
    chat: Borgerservice har ikke åbent om lørdagen.
    spoken: Borgerservice har ikke åbent om lørdagen.
",
    );
    let kb = KnowledgeBase::load(&scratch.paths()).expect("loads");
    let ids: Vec<&str> = kb.answers().iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["pas-pris", "pas-lokal-aabent"]);
    let pris = &kb.answers()[0];
    assert_eq!(
        pris.chat,
        "Hos os koster et pas det samme som alle andre steder. Ring 70 10 20 31."
    );
    assert_eq!(pris.spoken, "Et pas koster det samme i hele landet.");
    assert_eq!(pris.department.as_deref(), Some("borgerservice"));
    let at = kb.location("pas-pris").expect("location");
    assert!(at.file.ends_with("lokalt.yaml"), "{at}");
    assert_eq!(at.line, 3);
}

#[test]
fn stale_overrides_and_shadowing_ids_are_errors() {
    let scratch = with_local(
        "version: 1
overrides:
  - id: pas-findes-ikke
    chat: tekst
disable:
  - id: pas-heller-ikke
    reason: gammelt
answers:
  - id: pas-tid
    topic: pas.ny
    title: Egen ventetid
    questions: [a b c, d e f, g h i]
    chat: tekst
    spoken: tekst
",
    );
    let Err(KnowledgeError::Invalid(problems)) = KnowledgeBase::load(&scratch.paths()) else {
        panic!("expected problems");
    };
    let found: Vec<(&str, usize, usize)> = problems
        .iter()
        .map(|p| (p.code, p.location.line, p.location.column))
        .collect();
    assert_eq!(
        found,
        [
            ("duplicate-id", 9, 5),
            ("unknown-override", 3, 5),
            ("unknown-override", 6, 5)
        ]
    );
    assert!(
        problems[0].message.contains("overrides:"),
        "{}",
        problems[0]
    );
}

#[test]
fn override_is_validated_like_an_answer() {
    let scratch = with_local(
        "version: 1
overrides:
  - id: pas-pris
    spoken: Det koster 100 kroner.
    department: ukendt
",
    );
    let Err(KnowledgeError::Invalid(problems)) = KnowledgeBase::load(&scratch.paths()) else {
        panic!("expected problems");
    };
    let codes: Vec<&str> = problems.iter().map(|p| p.code).collect();
    assert_eq!(codes, ["digits-in-spoken", "unknown-department"]);
    assert_eq!(problems[0].location.line, 4);
}
