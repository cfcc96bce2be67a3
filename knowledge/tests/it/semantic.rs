//! The semantic channel: the embedding cache and the fused ranking.

use std::sync::Arc;

use knowledge::{BuildOptions, Channel, Embedder, KnowledgeBase, Matcher};

use crate::{repo, Scratch};

const ANSWERS: &str = "version: 1
answers:
  - id: pas-pris
    topic: pas.ny
    title: Pris på pas til voksne
    questions: [hvad koster et nyt pas, hvor dyrt er et pas, pris på pas]
    keywords: [paspris]
    chat: Prisen står på borger.dk.
    spoken: Prisen står på borger punktum dk.
  - id: affald-sortering-batterier
    topic: affald.sortering
    title: Hvor skal batterier hen
    questions: [hvor skal jeg smide brugte batterier, hvad gør jeg med gamle batterier, batterier i skraldespanden]
    keywords: [batteri]
    chat: Batterier lægges oven på låget af skraldespanden i en pose.
    spoken: Læg batterierne i en pose oven på låget.
";

fn embedder() -> Arc<Embedder> {
    Arc::new(
        Embedder::load(&repo().join("models/e5-small-q4.bin"))
            .expect("scripts/fetch-e5 puts the model in models/"),
    )
}

fn build(kb: &KnowledgeBase, embedder: &Arc<Embedder>, cache: &std::path::Path) -> Matcher {
    Matcher::build_with(
        kb,
        &BuildOptions {
            embedder: Some(Arc::clone(embedder)),
            cache: Some(cache),
            ..BuildOptions::default()
        },
    )
    .expect("builds")
}

#[test]
fn rebuild_embeds_only_changed_texts() {
    let scratch = Scratch::with_answers(ANSWERS);
    let cache = scratch.dir.path().join("cache/e5.bin");
    let e = embedder();
    let kb = KnowledgeBase::load(&scratch.paths()).expect("loads");
    let first = build(&kb, &e, &cache);
    // Two titles, six questions, two out-of-scope examples.
    assert_eq!(first.semantic_texts(), (10, 10));
    assert!(cache.is_file());
    let again = build(&kb, &e, &cache);
    assert_eq!(again.semantic_texts(), (10, 0));

    let edited = ANSWERS.replace("pris på pas]", "hvad skal jeg betale for et pas]");
    std::fs::write(scratch.dir.path().join("answers/test.yaml"), edited).expect("write");
    let kb = KnowledgeBase::load(&scratch.paths()).expect("loads");
    let after_edit = build(&kb, &e, &cache);
    assert_eq!(after_edit.semantic_texts(), (10, 1));
}

#[test]
fn paraphrase_without_shared_words_finds_its_topic() {
    let scratch = Scratch::with_answers(ANSWERS);
    let cache = scratch.dir.path().join("cache/e5.bin");
    let kb = KnowledgeBase::load(&scratch.paths()).expect("loads");
    let m = build(&kb, &embedder(), &cache);
    assert!(m.has_semantic());
    // Everyday words the answers do not use.
    let r = m
        .find("udtjente AA-celler, hvor af med dem?", Channel::Chat)
        .expect("match");
    let top = r.candidates.first().expect("a candidate");
    assert_eq!(top.topic, "affald.sortering", "{r:?}");
    assert!(r.features.semantic > 0.0);
}
