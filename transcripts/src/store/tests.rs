//! Store tests on real SQLite files.

use time::macros::datetime;
use time::OffsetDateTime;

use super::*;
use crate::{RawUtterance, Scrubber};

fn scrub(s: &str) -> RedactedText {
    Scrubber::new().scrub(&RawUtterance::new(s))
}

/// A citizen turn: text, topic, decision, latency.
type SeedTurn<'a> = (&'a str, Option<&'a str>, Option<Decision>, Option<u32>);

struct Seed<'a> {
    channel: Channel,
    at: OffsetDateTime,
    ooh: bool,
    turns: &'a [SeedTurn<'a>],
    outcome: Option<Outcome>,
}

fn add(store: &Store, seed: Seed<'_>) -> ConversationId {
    let id = store
        .start_conversation(&NewConversation {
            channel: seed.channel,
            municipality: "eksempel",
            started_at: seed.at,
            out_of_hours: seed.ooh,
        })
        .unwrap();
    for (text, topic, decision, latency) in seed.turns {
        let text = scrub(text);
        store
            .add_turn(
                id,
                &NewTurn {
                    speaker: Speaker::Citizen,
                    at: seed.at,
                    text: &text,
                    topic: *topic,
                    answer_id: None,
                    confidence: Some(0.5),
                    decision: *decision,
                    latency_ms: *latency,
                },
            )
            .unwrap();
    }
    if let Some(o) = seed.outcome {
        store.end_conversation(id, seed.at, &o).unwrap();
    }
    id
}

/// Five conversations over two days.
fn seeded() -> (tempfile::TempDir, Store, Vec<ConversationId>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in(dir.path()).unwrap();
    let ids = vec![
        add(
            &store,
            Seed {
                channel: Channel::Voice,
                at: datetime!(2026-11-02 09:00 UTC),
                ooh: false,
                turns: &[(
                    "jeg skal have nyt pas",
                    Some("pas"),
                    Some(Decision::Answer),
                    Some(300),
                )],
                outcome: Some(Outcome::Answered),
            },
        ),
        add(
            &store,
            Seed {
                channel: Channel::Voice,
                at: datetime!(2026-11-02 10:00 UTC),
                ooh: false,
                turns: &[
                    (
                        "hvornår kommer skraldebilen",
                        Some("affald"),
                        Some(Decision::Confirm),
                        Some(500),
                    ),
                    (
                        "mit nummer er 12345678",
                        Some("none"),
                        Some(Decision::Handover),
                        Some(700),
                    ),
                ],
                outcome: Some(Outcome::Transferred {
                    department: "teknik-miljoe".into(),
                }),
            },
        ),
        add(
            &store,
            Seed {
                channel: Channel::Chat,
                at: datetime!(2026-11-02 22:00 UTC),
                ooh: true,
                turns: &[(
                    "link til boligstøtte",
                    Some("boligstoette"),
                    Some(Decision::Answer),
                    Some(100),
                )],
                outcome: Some(Outcome::SmsSent),
            },
        ),
        add(
            &store,
            Seed {
                channel: Channel::Chat,
                at: datetime!(2026-11-03 08:00 UTC),
                ooh: false,
                turns: &[(
                    "kan jeg tale med et menneske",
                    Some("menneske"),
                    Some(Decision::Handover),
                    Some(200),
                )],
                outcome: Some(Outcome::HandedOver {
                    department: "omstilling".into(),
                }),
            },
        ),
        add(
            &store,
            Seed {
                channel: Channel::Voice,
                at: datetime!(2026-11-03 09:00 UTC),
                ooh: false,
                turns: &[],
                outcome: None,
            },
        ),
    ];
    (dir, store, ids)
}

fn ids(list: &[ConversationSummary]) -> Vec<i64> {
    list.iter().map(|c| c.id.0).collect()
}

#[test]
fn filters_select_the_matching_conversations() {
    let (_dir, store, c) = seeded();
    let all = store.conversations(&ConversationFilter::default()).unwrap();
    assert_eq!(ids(&all), vec![c[4].0, c[3].0, c[2].0, c[1].0, c[0].0]);

    let f = |f: ConversationFilter| ids(&store.conversations(&f).unwrap());
    assert_eq!(
        f(ConversationFilter {
            channel: Some(Channel::Chat),
            ..Default::default()
        }),
        vec![c[3].0, c[2].0]
    );
    assert_eq!(
        f(ConversationFilter {
            topic: Some("affald".into()),
            ..Default::default()
        }),
        vec![c[1].0]
    );
    assert_eq!(
        f(ConversationFilter {
            outcome: Some(OutcomeKind::Transferred),
            department: Some("teknik-miljoe".into()),
            ..Default::default()
        }),
        vec![c[1].0]
    );
    assert_eq!(
        f(ConversationFilter {
            out_of_hours: Some(true),
            ..Default::default()
        }),
        vec![c[2].0]
    );
    let day =
        Period::from_days("2026-11-03", Some("2026-11-03"), OffsetDateTime::now_utc()).unwrap();
    assert_eq!(
        f(ConversationFilter::with_period(day)),
        vec![c[4].0, c[3].0]
    );
    // Search is case-insensitive, also for æ/ø/å.
    assert_eq!(
        f(ConversationFilter {
            text: Some("BOLIGSTØTTE".into()),
            ..Default::default()
        }),
        vec![c[2].0]
    );
    let limited = ConversationFilter {
        limit: 2,
        offset: 1,
        ..Default::default()
    };
    assert_eq!(f(limited.clone()), vec![c[3].0, c[2].0]);
    assert_eq!(store.count_conversations(&limited).unwrap(), 5);
}

#[test]
fn turns_come_back_redacted_and_in_order() {
    let (_dir, store, c) = seeded();
    let detail = store.conversation(c[1]).unwrap().unwrap();
    assert_eq!(detail.turns.len(), 2);
    assert_eq!(detail.turns[0].topic.as_deref(), Some("affald"));
    assert_eq!(detail.turns[1].decision, Some(Decision::Handover));
    assert!(!detail.turns[1].text.as_str().contains("12345678"));
    assert_eq!(detail.summary.topics, vec!["affald", "none"]);
    assert_eq!(
        detail.summary.outcome,
        Some(Outcome::Transferred {
            department: "teknik-miljoe".into()
        })
    );
    assert!(store.conversation(ConversationId(9999)).unwrap().is_none());
}

#[test]
fn kpis_on_a_seeded_database() {
    let (_dir, store, _) = seeded();
    let period =
        Period::from_days("2026-11-01", Some("2026-11-30"), OffsetDateTime::now_utc()).unwrap();
    let k = store.kpis(period).unwrap();
    assert_eq!(k.conversations, 5);
    assert_eq!(k.ended, 4);
    assert_eq!(k.contained, 2);
    assert_eq!(k.containment, Some(0.5));
    assert_eq!(k.sms_sent, 1);
    assert_eq!(k.transfers_per_department.get("teknik-miljoe"), Some(&1));
    assert_eq!(k.out_of_hours, 1);
    assert_eq!(k.out_of_hours_share, Some(0.2));
    assert_eq!(k.citizen_turns, 5);
    assert_eq!(k.none_rate, Some(0.2));
    let menneske = k.topics.iter().find(|t| t.topic == "menneske").unwrap();
    assert_eq!((menneske.turns, menneske.not_understood), (1, 1));
    let pas = k.topics.iter().find(|t| t.topic == "pas").unwrap();
    assert_eq!(pas.rate, 0.0);
    assert_eq!(k.latency_median_ms, Some(300));
    assert_eq!(k.latency_p95_ms, Some(700));
    assert_eq!(k.days.len(), 2);
    assert_eq!(k.days[0].date, "2026-11-02");
    assert_eq!(k.days[0].conversations, 3);
    assert_eq!(k.days[0].contained, 2);
    assert_eq!(k.days[1].handed_over, 1);

    let empty = store
        .kpis(
            Period::from_days("2025-01-01", Some("2025-01-31"), OffsetDateTime::now_utc()).unwrap(),
        )
        .unwrap();
    assert_eq!(empty.conversations, 0);
    assert_eq!(empty.containment, None);
}

#[test]
fn not_understood_lists_none_handover_and_rejected_confirmations() {
    let (_dir, store, c) = seeded();
    let period =
        Period::from_days("2026-11-01", Some("2026-11-30"), OffsetDateTime::now_utc()).unwrap();
    let before: u32 = store
        .not_understood(period)
        .unwrap()
        .iter()
        .map(|g| g.count)
        .sum();
    assert_eq!(before, 2);
    let confirm = store.conversation(c[1]).unwrap().unwrap().turns[0].id;
    store.reject_confirmation(confirm).unwrap();
    let groups = store.not_understood(period).unwrap();
    assert_eq!(groups.iter().map(|g| g.count).sum::<u32>(), 3);
    assert!(groups
        .iter()
        .flat_map(|g| &g.examples)
        .any(|e| e.as_str() == "hvornår kommer skraldebilen"));
    assert!(matches!(
        store.reject_confirmation(TurnId(424242)),
        Err(StoreError::UnknownTurn(_))
    ));
}

#[test]
fn retention_deletes_only_old_conversations_and_their_turns() {
    let (_dir, store, c) = seeded();
    let now = datetime!(2026-12-03 07:30 UTC);
    // 30 days before `now` is 2026-11-03 07:30: the three of 2 November go.
    assert_eq!(store.delete_older_than(30, now).unwrap(), 3);
    let left = ids(&store.conversations(&ConversationFilter::default()).unwrap());
    assert_eq!(left, vec![c[4].0, c[3].0]);
    let n: i64 = store
        .conn()
        .query_row("SELECT count(*) FROM turns", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1, "the turns of deleted conversations go too");
}

#[test]
fn delete_by_id() {
    let (_dir, store, c) = seeded();
    assert!(store.delete_conversation(c[1]).unwrap());
    assert!(!store.delete_conversation(c[1]).unwrap());
    assert!(store.conversation(c[1]).unwrap().is_none());
    assert_eq!(
        store
            .conversations(&ConversationFilter::default())
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn ids_must_look_like_ids_and_ended_conversations_take_no_turns() {
    let (_dir, store, c) = seeded();
    let text = scrub("hej");
    let turn = |topic| NewTurn {
        speaker: Speaker::Bot,
        at: OffsetDateTime::now_utc(),
        text: &text,
        topic,
        answer_id: None,
        confidence: None,
        decision: None,
        latency_ms: None,
    };
    assert!(matches!(
        store.add_turn(c[4], &turn(Some("Jeg hedder Hans"))),
        Err(StoreError::InvalidId { .. })
    ));
    assert!(matches!(
        store.add_turn(c[0], &turn(None)),
        Err(StoreError::ConversationEnded(_))
    ));
    assert!(matches!(
        store.add_turn(ConversationId(777), &turn(None)),
        Err(StoreError::UnknownConversation(777))
    ));
    assert!(store.add_turn(c[4], &turn(Some("pas"))).is_ok());
}

#[test]
fn reopening_keeps_data_and_schema_version() {
    let (dir, store, c) = seeded();
    drop(store);
    let again = Store::open_in(dir.path()).unwrap();
    assert!(again.conversation(c[0]).unwrap().is_some());
    let v: i64 = again
        .conn()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, schema::VERSION);
    let mode: String = again
        .conn()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.sqlite");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    assert!(matches!(
        Store::open(&path),
        Err(StoreError::SchemaTooNew { found: 99, .. })
    ));
}

#[test]
fn users_passwords_and_sessions() {
    let (_dir, store, _) = seeded();
    let now = datetime!(2026-11-05 12:00 UTC);
    store
        .add_user("mette", Role::Analyst, "en lang adgangskode", now)
        .unwrap();
    assert!(matches!(
        store.add_user("mette", Role::Admin, "en anden lang kode", now),
        Err(StoreError::UserExists(_))
    ));
    assert!(matches!(
        store.add_user("kort", Role::Admin, "kort", now),
        Err(StoreError::WeakPassword(_))
    ));
    let hash: String = store
        .conn()
        .query_row(
            "SELECT password_hash FROM users WHERE name='mette'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert_eq!(
        store
            .check_password("mette", "en lang adgangskode")
            .unwrap(),
        Some(Role::Analyst)
    );
    assert_eq!(
        store.check_password("mette", "forkert kode!!").unwrap(),
        None
    );
    assert_eq!(
        store
            .check_password("ukendt", "en lang adgangskode")
            .unwrap(),
        None
    );

    let s = store
        .create_session("mette", time::Duration::hours(8), now)
        .unwrap();
    let user = store.session_user(&s.token, now).unwrap().unwrap();
    assert_eq!((user.name.as_str(), user.role), ("mette", Role::Analyst));
    assert_eq!(user.csrf, s.csrf);
    // Expired after eight hours.
    assert!(store
        .session_user(&s.token, now + time::Duration::hours(8))
        .unwrap()
        .is_none());
    // Logout ends it.
    let s2 = store
        .create_session("mette", time::Duration::hours(8), now)
        .unwrap();
    store.end_session(&s2.token).unwrap();
    assert!(store.session_user(&s2.token, now).unwrap().is_none());
    // Removing the user ends the rest.
    let s3 = store
        .create_session("mette", time::Duration::hours(8), now)
        .unwrap();
    store.remove_user("mette").unwrap();
    assert!(store.session_user(&s3.token, now).unwrap().is_none());
    assert!(matches!(
        store.remove_user("mette"),
        Err(StoreError::UnknownUser(_))
    ));
}

#[test]
fn deleted_text_does_not_linger_in_the_files() {
    let (dir, store, c) = seeded();
    let text = scrub("spørgsmål om zebrafinkeregistrering");
    store
        .add_turn(
            c[4],
            &NewTurn {
                speaker: Speaker::Citizen,
                at: OffsetDateTime::now_utc(),
                text: &text,
                topic: None,
                answer_id: None,
                confidence: None,
                decision: None,
                latency_ms: None,
            },
        )
        .unwrap();
    let contains = |needle: &[u8]| {
        ["vejviser.sqlite", "vejviser.sqlite-wal"].iter().any(|f| {
            std::fs::read(dir.path().join(f))
                .map(|b| b.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        })
    };
    assert!(contains(b"zebrafinke"), "the marker was written");
    assert!(store.delete_conversation(c[4]).unwrap());
    assert!(
        !contains(b"zebrafinke"),
        "secure_delete and the checkpoint wiped it"
    );
}

#[test]
fn emergency_and_a_late_out_of_hours_flag() {
    let (_dir, store, c) = seeded();
    store.mark_out_of_hours(c[4]).unwrap();
    store
        .end_conversation(c[4], datetime!(2026-11-03 09:01 UTC), &Outcome::Emergency)
        .unwrap();
    let s = store.conversation(c[4]).unwrap().unwrap().summary;
    assert!(s.out_of_hours);
    assert_eq!(s.outcome, Some(Outcome::Emergency));
    let k = store
        .kpis(
            Period::from_days("2026-11-01", Some("2026-11-30"), OffsetDateTime::now_utc()).unwrap(),
        )
        .unwrap();
    assert_eq!((k.emergency, k.ended, k.out_of_hours), (1, 5, 2));
    assert_eq!(k.containment, Some(0.4));
    assert!(matches!(
        store.end_conversation(c[4], OffsetDateTime::now_utc(), &Outcome::Answered),
        Err(StoreError::ConversationEnded(_))
    ));
    assert!(matches!(
        store.mark_out_of_hours(ConversationId(5555)),
        Err(StoreError::UnknownConversation(5555))
    ));
}

#[test]
fn days_are_danish_days() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in(dir.path()).unwrap();
    // 22:30 UTC on 1 July is 00:30 on 2 July in Denmark (summer time).
    add(
        &store,
        Seed {
            channel: Channel::Voice,
            at: datetime!(2026-07-01 22:30 UTC),
            ooh: true,
            turns: &[],
            outcome: Some(Outcome::Abandoned),
        },
    );
    let now = OffsetDateTime::now_utc();
    let k = store
        .kpis(Period::from_days("2026-07-02", Some("2026-07-02"), now).unwrap())
        .unwrap();
    assert_eq!(k.conversations, 1);
    assert_eq!(k.days[0].date, "2026-07-02");
    let before = store
        .kpis(Period::from_days("2026-07-01", Some("2026-07-01"), now).unwrap())
        .unwrap();
    assert_eq!(before.conversations, 0);
}
