//! Decisions on a small knowledge base: answer, confirm, hand over, none.

use knowledge::{Channel, Decision, KnowledgeBase, Matcher, Thresholds, TOPIC_NONE};

use crate::Scratch;

const ANSWERS: &str = "version: 1
answers:
  - id: pas-pris
    topic: pas.ny
    title: Pris på pas til voksne
    questions: [hvad koster et nyt pas, pris på pas, hvad skal jeg betale for at forny mit pas]
    keywords: [paspris, pasgebyr]
    chat: Prisen står på borger.dk.
    spoken: Prisen står på borger punktum dk.
  - id: koerekort-fornyelse
    topic: koerekort.fornyelse
    title: Forny kørekort
    questions: [mit kørekort er udløbet, hvordan fornyer jeg mit kørekort, kørekortet skal fornyes]
    keywords: [kørekortfornyelse, udløbet kørekort]
    chat: Du fornyer kørekortet i Borgerservice.
    spoken: Du fornyer kørekortet i Borgerservice.
  - id: affald-sortering-batterier
    topic: affald.sortering
    title: Hvor skal batterier hen
    questions: [hvor skal jeg smide brugte batterier, batterier i skraldespanden, hvad gør jeg med gamle batterier]
    keywords: [batteri, farligt affald]
    chat: Batterier lægges oven på låget af skraldespanden i en pose.
    spoken: Læg batterierne i en pose oven på låget.
  - id: menneske-medarbejder
    topic: menneske
    title: Tale med en medarbejder
    questions: [jeg vil tale med et menneske, stil mig over til en medarbejder, kan jeg få en person i telefonen]
    keywords: [menneske, medarbejder, person, sagsbehandler]
    chat: Jeg stiller dig videre.
    spoken: Jeg stiller dig videre.
";

fn matcher() -> (Scratch, Matcher) {
    let scratch = Scratch::with_answers(ANSWERS);
    let kb = KnowledgeBase::load(&scratch.paths()).expect("loads");
    let m = Matcher::build(&kb).expect("builds");
    (scratch, m)
}

const LENIENT: Thresholds = Thresholds {
    answer: 0.5,
    confirm: 0.2,
};

#[test]
fn clear_question_is_answered() {
    let (_s, m) = matcher();
    let r = m
        .find_with("hvad koster et nyt pas", Channel::Chat, LENIENT)
        .expect("match");
    assert_eq!(r.topic, "pas.ny");
    assert_eq!(r.answer_id.as_deref(), Some("pas-pris"));
    assert_eq!(r.decision, Decision::Answer);
}

#[test]
fn misspelt_and_split_words_still_match() {
    let (_s, m) = matcher();
    let r = m
        .find_with("mit korekort er udlobet", Channel::Chat, LENIENT)
        .expect("match");
    assert_eq!(r.topic, "koerekort.fornyelse");
    let r = m
        .find_with(
            "øh gamle batteri er hvor skal de hen",
            Channel::Voice,
            LENIENT,
        )
        .expect("match");
    assert_eq!(r.topic, "affald.sortering");
}

#[test]
fn unrelated_question_comes_back_as_none() {
    let (_s, m) = matcher();
    for text in ["hvordan bliver vejret i morgen", "xyzzy plugh", ""] {
        let r = m.find(text, Channel::Voice).expect("match");
        assert_eq!(r.topic, TOPIC_NONE, "{text}");
        assert_eq!(r.decision, Decision::Handover, "{text}");
        assert!(r.answer_id.is_none());
    }
}

#[test]
fn request_for_a_person_is_handed_over() {
    let (_s, m) = matcher();
    let r = m
        .find_with(
            "jeg vil gerne tale med et menneske",
            Channel::Voice,
            LENIENT,
        )
        .expect("match");
    assert_eq!(r.topic, "menneske");
    assert_eq!(r.decision, Decision::Handover);
}

#[test]
fn thresholds_decide_between_answer_confirm_and_handover() {
    let (_s, m) = matcher();
    let text = "pas";
    let c = m
        .find_with(text, Channel::Chat, LENIENT)
        .expect("match")
        .confidence;
    assert!(c > 0.0 && c < 1.0);
    let at = |answer: f32, confirm: f32| {
        m.find_with(text, Channel::Chat, Thresholds { answer, confirm })
            .expect("match")
    };
    assert_eq!(at(c, c).decision, Decision::Answer);
    assert_eq!(at((c + 0.01).min(1.0), c).decision, Decision::Confirm);
    let low = at(1.0, (c + 0.01).min(1.0));
    assert_eq!(low.decision, Decision::Handover);
    assert_eq!(low.topic, TOPIC_NONE);
}

#[test]
fn confidence_grows_with_evidence() {
    let (_s, m) = matcher();
    let weak = m
        .find(
            "hvordan fornyer jeg min cykelhjelm og min paraply",
            Channel::Chat,
        )
        .expect("match")
        .confidence;
    let strong = m
        .find(
            "hvordan fornyer jeg mit kørekort det er udløbet",
            Channel::Chat,
        )
        .expect("match")
        .confidence;
    assert!(strong > weak, "{strong} <= {weak}");
}
