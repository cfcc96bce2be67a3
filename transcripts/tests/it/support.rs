//! Shared helpers: seeding through the public API and serving the views.

use std::net::SocketAddr;

use time::macros::datetime;
use time::OffsetDateTime;
use transcripts::views::{self, ViewsConfig};
use transcripts::{
    Channel, ConversationId, Decision, NewConversation, NewTurn, Outcome, RawUtterance, Role,
    Scrubber, Speaker, Store,
};

pub(crate) const PASSWORD: &str = "korrekt hest batteri";

/// What one seeded conversation looks like: channel, start, out of hours,
/// citizen utterances with topic and decision, outcome.
type Seed = (
    Channel,
    OffsetDateTime,
    bool,
    &'static [(&'static str, &'static str, Decision)],
    Outcome,
);

/// Seeds four conversations (scrubbed through the Scrubber) and the users
/// `analytiker` (analyst) and `chef` (admin). Returns the conversation ids.
pub(crate) fn seed(store: &Store) -> Vec<ConversationId> {
    let scrubber = Scrubber::new();
    let seeds: Vec<Seed> = vec![
        (
            Channel::Voice,
            datetime!(2026-11-02 09:00 UTC),
            false,
            &[("jeg skal have fornyet mit pas", "pas", Decision::Answer)],
            Outcome::Answered,
        ),
        (
            Channel::Chat,
            datetime!(2026-11-02 21:00 UTC),
            true,
            &[
                (
                    "hvornår bliver skraldespanden tømt",
                    "affald",
                    Decision::Confirm,
                ),
                ("mit telefonnummer er 12345678", "none", Decision::Handover),
            ],
            Outcome::Transferred {
                department: "teknik-miljoe".into(),
            },
        ),
        (
            Channel::Chat,
            datetime!(2026-11-03 10:00 UTC),
            false,
            &[(
                "hvordan søger jeg boligstøtte",
                "boligstoette",
                Decision::Answer,
            )],
            Outcome::SmsSent,
        ),
        (
            Channel::Voice,
            datetime!(2026-11-03 11:00 UTC),
            false,
            &[("må man have høns i haven", "none", Decision::Handover)],
            Outcome::HandedOver {
                department: "omstilling".into(),
            },
        ),
    ];
    let mut ids = Vec::new();
    for (channel, at, ooh, turns, outcome) in seeds {
        let id = store
            .start_conversation(&NewConversation {
                channel,
                municipality: "eksempel",
                started_at: at,
                out_of_hours: ooh,
            })
            .unwrap();
        for (text, topic, decision) in turns {
            let redacted = scrubber.scrub(&RawUtterance::new(*text));
            store
                .add_turn(
                    id,
                    &NewTurn {
                        speaker: Speaker::Citizen,
                        at,
                        text: &redacted,
                        topic: Some(topic),
                        answer_id: None,
                        confidence: Some(0.42),
                        decision: Some(*decision),
                        latency_ms: Some(250),
                    },
                )
                .unwrap();
        }
        store.end_conversation(id, at, &outcome).unwrap();
        ids.push(id);
    }
    let now = OffsetDateTime::now_utc();
    store
        .add_user("analytiker", Role::Analyst, PASSWORD, now)
        .unwrap();
    store.add_user("chef", Role::Admin, PASSWORD, now).unwrap();
    ids
}

/// Serves the views on a free loopback port; returns the base URL
/// (`http://127.0.0.1:PORT`).
pub(crate) async fn serve(store: Store, config: ViewsConfig) -> String {
    let app = views::router(store.open_again().unwrap(), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    format!("http://{addr}")
}
