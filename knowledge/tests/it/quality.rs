//! The review across answers: duplicates, thin topics, self-retrieval.

use knowledge::quality::{review, Severity};
use knowledge::{KnowledgeBase, Matcher};

use crate::Scratch;

fn answer(id: &str, topic: &str, questions: &[&str], chat: &str) -> String {
    format!(
        "  - id: {id}\n    topic: {topic}\n    title: {id}\n    questions: [{}]\n    chat: {chat}\n    spoken: {chat}\n",
        questions.join(", ")
    )
}

#[test]
fn duplicates_and_thin_topics_are_errors() {
    let text = "Du bestiller et nyt pas hos Borgerservice og betaler gebyret ved skranken.";
    let yaml = format!(
        "version: 1\nanswers:\n{}{}{}",
        answer(
            "pas-a",
            "pas.ny",
            &["hvordan får jeg nyt pas", "nyt pas", "forny pas"],
            text
        ),
        answer(
            "pas-b",
            "pas.ny",
            &["bestil pas", "pas bestilling", "nyt pas"],
            text
        ),
        answer(
            "affald-c",
            "affald.sortering",
            &[
                "hvor skal batterier hen",
                "batterier affald",
                "sortere batterier"
            ],
            "Batterier lægger du i den lille pose på låget."
        ),
    );
    let scratch = Scratch::with_answers(&yaml);
    let kb = KnowledgeBase::load(&scratch.paths()).expect("loads");
    let matcher = Matcher::build(&kb).expect("index");
    let review = review(&kb, &matcher, 2).expect("review");
    let errors: Vec<(&str, Option<usize>)> = review
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error && f.code != "thin-topic")
        .map(|f| (f.code, f.location.as_ref().map(|l| l.line)))
        .collect();
    assert_eq!(
        errors,
        [
            ("duplicate-question", Some(9)),
            ("near-duplicate-text", Some(9))
        ]
    );
    let thin = review
        .findings
        .iter()
        .filter(|f| f.code == "thin-topic")
        .count();
    assert_eq!(thin, 86, "every topic but pas.ny (two answers) is thin");
    assert!(review
        .findings
        .iter()
        .any(|f| f.message.contains("`affald.sortering` has 1")));
}
