//! The pages behind login: conversations, one conversation, "ikke
//! forstået", key figures, and the CSV exports.

use std::fmt::Write;

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use time::OffsetDateTime;

use super::html::{self, esc};
use super::{blocking, chart, AppState, Authed, CsrfForm, ViewError};
use crate::store::{Channel, ConversationFilter, ConversationId, Kpis, OutcomeKind, Period, Role};

/// Conversations shown per page.
const PAGE_SIZE: u32 = 100;
/// Default period of the figures pages.
const DEFAULT_DAYS: u32 = 30;

pub(super) async fn home(State(state): State<AppState>, _user: Authed) -> Redirect {
    Redirect::to(&format!("{}/samtaler", state.config.base_path))
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The filter form's fields (Danish names, as in the URL).
#[derive(Debug, Default, Deserialize)]
pub(super) struct ListQuery {
    fra: Option<String>,
    til: Option<String>,
    kanal: Option<String>,
    emne: Option<String>,
    udfald: Option<String>,
    afdeling: Option<String>,
    aabningstid: Option<String>,
    soeg: Option<String>,
    side: Option<String>,
}

impl ListQuery {
    fn filter(&self) -> Result<ConversationFilter, ViewError> {
        let now = OffsetDateTime::now_utc();
        let mut f = ConversationFilter::default();
        if let Some(fra) = non_empty(&self.fra) {
            f.from = Some(Period::from_days(fra, None, now)?.from);
        }
        if let Some(til) = non_empty(&self.til) {
            f.to = Some(Period::from_days(til, Some(til), now)?.to);
        }
        f.channel = match non_empty(&self.kanal) {
            Some(k) => Some(Channel::parse(k).ok_or_else(|| bad("ukendt kanal"))?),
            None => None,
        };
        f.topic = non_empty(&self.emne).map(str::to_string);
        f.outcome = match non_empty(&self.udfald) {
            Some(u) => Some(OutcomeKind::parse(u).ok_or_else(|| bad("ukendt udfald"))?),
            None => None,
        };
        f.department = non_empty(&self.afdeling).map(str::to_string);
        f.out_of_hours = match non_empty(&self.aabningstid) {
            Some("uden") => Some(true),
            Some("inden") => Some(false),
            Some(_) => return Err(bad("ukendt valg for åbningstid")),
            None => None,
        };
        f.text = non_empty(&self.soeg).map(str::to_string);
        Ok(f)
    }

    fn page(&self) -> u32 {
        non_empty(&self.side)
            .and_then(|s| s.parse().ok())
            .unwrap_or(1)
            .max(1)
    }
}

fn bad(m: &str) -> ViewError {
    ViewError::BadRequest(m.to_string())
}

fn filter_form(base: &str, q: &ListQuery) -> String {
    let v = |s: &Option<String>| s.clone().unwrap_or_default();
    let channels = [("voice", "Telefon"), ("chat", "Chat")];
    let outcomes: Vec<(&str, &str)> = OutcomeKind::ALL
        .iter()
        .map(|k| (k.as_str(), html::outcome_label(*k)))
        .collect();
    format!(
        r#"<form method="get" action="{base}/samtaler" class="filter" role="search" aria-label="Filtrér samtaler">
{fra}{til}{kanal}{emne}{udfald}{afdeling}{ooh}{soeg}
<button type="submit">Filtrér</button>
</form>"#,
        base = esc(base),
        fra = html::input("date", "fra", "Fra dato", &v(&q.fra)),
        til = html::input("date", "til", "Til dato", &v(&q.til)),
        kanal = html::select("kanal", "Kanal", &channels, &v(&q.kanal)),
        emne = html::input("text", "emne", "Emne (id)", &v(&q.emne)),
        udfald = html::select("udfald", "Udfald", &outcomes, &v(&q.udfald)),
        afdeling = html::input("text", "afdeling", "Afdeling (id)", &v(&q.afdeling)),
        ooh = html::select(
            "aabningstid",
            "Åbningstid",
            &[
                ("inden", "Inden for åbningstid"),
                ("uden", "Uden for åbningstid")
            ],
            &v(&q.aabningstid)
        ),
        soeg = html::input("search", "soeg", "Søg i tekst", &v(&q.soeg)),
    )
}

pub(super) async fn conversations(
    State(state): State<AppState>,
    user: Authed,
    RawQuery(raw): RawQuery,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>, ViewError> {
    let base = state.config.base_path.clone();
    let mut filter = q.filter()?;
    let page = q.page();
    filter.limit = PAGE_SIZE;
    filter.offset = (page - 1) * PAGE_SIZE;
    let store = state.store.clone();
    let (total, rows) = blocking(move || {
        Ok((
            store.count_conversations(&filter)?,
            store.conversations(&filter)?,
        ))
    })
    .await?;

    let mut body = filter_form(&base, &q);
    let raw = raw.unwrap_or_default();
    let _ = write!(
        body,
        r#"<p>{total} samtaler. <a href="{base}/samtaler.csv?{raw}" download>Hent som CSV</a></p>
<table><caption>Samtaler, nyeste først</caption><thead><tr>
<th scope="col">Nr.</th><th scope="col">Start</th><th scope="col">Kanal</th><th scope="col">Udfald</th>
<th scope="col">Afdeling</th><th scope="col">Uden for åbningstid</th><th scope="col">Emner</th><th scope="col">Ture</th>
</tr></thead><tbody>"#,
        base = esc(&base),
        raw = esc(&raw),
    );
    for c in &rows {
        let outcome = c
            .outcome
            .as_ref()
            .map_or("I gang", |o| html::outcome_label(o.kind()));
        let dept = c
            .outcome
            .as_ref()
            .and_then(|o| o.department())
            .unwrap_or("");
        let _ = write!(
            body,
            r#"<tr><td><a href="{base}/samtaler/{id}">{id}</a></td><td>{start}</td><td>{ch}</td><td>{outcome}</td><td>{dept}</td><td>{ooh}</td><td>{topics}</td><td>{turns}</td></tr>"#,
            base = esc(&base),
            id = c.id.0,
            start = html::datetime(c.started_at),
            ch = html::channel_label(c.channel),
            dept = esc(dept),
            ooh = if c.out_of_hours { "Ja" } else { "Nej" },
            topics = esc(&c.topics.join(", ")),
            turns = c.turns,
        );
    }
    body.push_str("</tbody></table>");
    let pages = total.div_ceil(u64::from(PAGE_SIZE)).max(1);
    if pages > 1 {
        let keep: String = raw
            .split('&')
            .filter(|p| !p.starts_with("side=") && !p.is_empty())
            .map(|p| format!("{p}&"))
            .collect();
        let _ = write!(
            body,
            r#"<nav aria-label="Sider"><p>Side {page} af {pages}. "#
        );
        if page > 1 {
            let _ = write!(
                body,
                r#"<a href="{}/samtaler?{}side={}">Forrige</a> "#,
                esc(&base),
                esc(&keep),
                page - 1
            );
        }
        if u64::from(page) < pages {
            let _ = write!(
                body,
                r#"<a href="{}/samtaler?{}side={}">Næste</a>"#,
                esc(&base),
                esc(&keep),
                page + 1
            );
        }
        body.push_str("</p></nav>");
    }
    Ok(Html(html::page(&base, "Samtaler", Some(&user.0), &body)))
}

fn csv_response(filename: &str, data: Vec<u8>) -> Response {
    (
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        data,
    )
        .into_response()
}

fn csv_error(e: impl std::fmt::Display) -> ViewError {
    tracing::error!(error = %e, "writing csv failed");
    ViewError::Internal
}

pub(super) async fn conversations_csv(
    State(state): State<AppState>,
    _user: Authed,
    Query(q): Query<ListQuery>,
) -> Result<Response, ViewError> {
    let filter = q.filter()?;
    let store = state.store.clone();
    let rows = blocking(move || store.conversations(&filter)).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "id",
        "kanal",
        "kommune",
        "start",
        "slut",
        "udfald",
        "afdeling",
        "uden_for_aabningstid",
        "ture",
        "emner",
    ])
    .map_err(csv_error)?;
    for c in rows {
        w.write_record([
            c.id.0.to_string(),
            c.channel.as_str().to_string(),
            c.municipality,
            html::datetime(c.started_at),
            c.ended_at.map(html::datetime).unwrap_or_default(),
            c.outcome
                .as_ref()
                .map(|o| o.kind().as_str().to_string())
                .unwrap_or_default(),
            c.outcome
                .as_ref()
                .and_then(|o| o.department())
                .unwrap_or("")
                .to_string(),
            if c.out_of_hours { "ja" } else { "nej" }.to_string(),
            c.turns.to_string(),
            c.topics.join(" "),
        ])
        .map_err(csv_error)?;
    }
    let data = w.into_inner().map_err(csv_error)?;
    Ok(csv_response("samtaler.csv", data))
}

pub(super) async fn conversation(
    State(state): State<AppState>,
    user: Authed,
    Path(id): Path<i64>,
) -> Result<Html<String>, ViewError> {
    let base = state.config.base_path.clone();
    let store = state.store.clone();
    let detail = blocking(move || store.conversation(ConversationId(id)))
        .await?
        .ok_or(ViewError::NotFound)?;
    let s = &detail.summary;
    let mut body = format!(
        r#"<dl>
<dt>Kanal</dt><dd>{ch}</dd>
<dt>Kommune</dt><dd>{muni}</dd>
<dt>Start</dt><dd>{start}</dd>
<dt>Slut</dt><dd>{end}</dd>
<dt>Udfald</dt><dd>{outcome}{dept}</dd>
<dt>Uden for åbningstid</dt><dd>{ooh}</dd>
</dl>
<table><caption>Ture</caption><thead><tr>
<th scope="col">Tid</th><th scope="col">Taler</th><th scope="col">Tekst (renset)</th><th scope="col">Emne</th>
<th scope="col">Svar</th><th scope="col">Sikkerhed</th><th scope="col">Beslutning</th><th scope="col">Svartid (ms)</th>
</tr></thead><tbody>"#,
        ch = html::channel_label(s.channel),
        muni = esc(&s.municipality),
        start = html::datetime(s.started_at),
        end = s.ended_at.map(html::datetime).unwrap_or_else(|| "–".into()),
        outcome = s
            .outcome
            .as_ref()
            .map_or("I gang", |o| html::outcome_label(o.kind())),
        dept = s
            .outcome
            .as_ref()
            .and_then(|o| o.department())
            .map(|d| format!(": {}", esc(d)))
            .unwrap_or_default(),
        ooh = if s.out_of_hours { "Ja" } else { "Nej" },
    );
    for t in &detail.turns {
        let decision = match (t.decision, t.confirmation_rejected) {
            (Some(d), true) => format!("{} (afvist)", html::decision_label(d)),
            (Some(d), false) => html::decision_label(d).to_string(),
            (None, _) => String::new(),
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html::datetime(t.at),
            html::speaker_label(t.speaker),
            esc(t.text.as_str()),
            esc(t.topic.as_deref().unwrap_or("")),
            esc(t.answer_id.as_deref().unwrap_or("")),
            t.confidence.map(|c| format!("{c:.2}")).unwrap_or_default(),
            decision,
            t.latency_ms.map(|l| l.to_string()).unwrap_or_default(),
        );
    }
    body.push_str("</tbody></table>");
    if user.0.role == Role::Admin {
        let _ = write!(
            body,
            r#"<form method="post" action="{base}/samtaler/{id}/slet">
<input type="hidden" name="csrf" value="{csrf}">
<button type="submit">Slet samtalen</button>
</form>"#,
            base = esc(&base),
            csrf = esc(&user.0.csrf),
        );
    }
    let _ = write!(
        body,
        r#"<p><a href="{}/samtaler">Tilbage til samtaler</a></p>"#,
        esc(&base)
    );
    let title = format!("Samtale {id}");
    Ok(Html(html::page(&base, &title, Some(&user.0), &body)))
}

pub(super) async fn delete_conversation(
    State(state): State<AppState>,
    user: Authed,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ViewError> {
    user.check_csrf(&form.csrf)?;
    if user.0.role != Role::Admin {
        return Err(ViewError::Forbidden);
    }
    let store = state.store.clone();
    if !blocking(move || store.delete_conversation(ConversationId(id))).await? {
        return Err(ViewError::NotFound);
    }
    tracing::info!(conversation = id, user = %user.0.name, "conversation deleted");
    Ok(Redirect::to(&format!("{}/samtaler", state.config.base_path)).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct PeriodQuery {
    fra: Option<String>,
    til: Option<String>,
}

impl PeriodQuery {
    fn period(&self) -> Result<Period, ViewError> {
        let now = OffsetDateTime::now_utc();
        let default_from = html::date(now - time::Duration::days(i64::from(DEFAULT_DAYS)));
        let from = non_empty(&self.fra).unwrap_or(&default_from);
        Ok(Period::from_days(from, non_empty(&self.til), now)?)
    }

    fn form(&self, base: &str, action: &str, period: Period) -> String {
        let fra = html::date(period.from);
        let til = non_empty(&self.til).map(str::to_string).unwrap_or_default();
        format!(
            r#"<form method="get" action="{base}/{action}" class="filter" aria-label="Periode">
{}{}<button type="submit">Vis</button></form>"#,
            html::input("date", "fra", "Fra dato", &fra),
            html::input("date", "til", "Til dato (tom: i dag)", &til),
            base = esc(base),
            action = esc(action),
        )
    }
}

pub(super) async fn not_understood(
    State(state): State<AppState>,
    user: Authed,
    Query(q): Query<PeriodQuery>,
) -> Result<Html<String>, ViewError> {
    let base = state.config.base_path.clone();
    let period = q.period()?;
    let store = state.store.clone();
    let groups = blocking(move || store.not_understood(period)).await?;
    let mut body = q.form(&base, "ikke-forstaaet", period);
    let total: u32 = groups.iter().map(|g| g.count).sum();
    let _ = write!(
        body,
        r#"<p>{total} ytringer, der endte i «none», overdragelse eller en afvist bekræftelse, i {} grupper.</p>
<table><caption>Ikke forstået, største grupper først</caption><thead><tr>
<th scope="col">Antal</th><th scope="col">Eksempler (renset)</th><th scope="col">Fælles ordstammer</th><th scope="col">Samtaler</th>
</tr></thead><tbody>"#,
        groups.len()
    );
    for g in &groups {
        let examples: String = g
            .examples
            .iter()
            .map(|e| format!("<li>{}</li>", esc(e.as_str())))
            .collect();
        let links: Vec<String> = g
            .conversations
            .iter()
            .map(|c| format!(r#"<a href="{}/samtaler/{}">{}</a>"#, esc(&base), c.0, c.0))
            .collect();
        let _ = write!(
            body,
            "<tr><td>{}</td><td><ul>{examples}</ul></td><td>{}</td><td>{}</td></tr>",
            g.count,
            esc(&g.shared_words.join(", ")),
            links.join(", "),
        );
    }
    body.push_str("</tbody></table>");
    Ok(Html(html::page(
        &base,
        "Ikke forstået",
        Some(&user.0),
        &body,
    )))
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.1} %", v * 100.0))
        .unwrap_or_else(|| "–".into())
}

fn ms(v: Option<u32>) -> String {
    v.map(|v| format!("{v} ms")).unwrap_or_else(|| "–".into())
}

pub(super) async fn kpis(
    State(state): State<AppState>,
    user: Authed,
    RawQuery(raw): RawQuery,
    Query(q): Query<PeriodQuery>,
) -> Result<Html<String>, ViewError> {
    let base = state.config.base_path.clone();
    let period = q.period()?;
    let store = state.store.clone();
    let k = blocking(move || store.kpis(period)).await?;
    let mut body = q.form(&base, "noegletal", period);
    let _ = write!(
        body,
        r#"<p><a href="{base}/noegletal.csv?{raw}" download>Hent som CSV</a></p>
<dl>
<dt>Samtaler</dt><dd>{conv} (afsluttede: {ended})</dd>
<dt>Klaret uden medarbejder (containment)</dt><dd>{cont} ({contained} af {ended})</dd>
<dt>SMS sendt</dt><dd>{sms}</dd>
<dt>Omstillet</dt><dd>{tr}</dd>
<dt>Overdraget til medarbejder</dt><dd>{ho}</dd>
<dt>Nødsituation (112)</dt><dd>{em}</dd>
<dt>Afbrudt</dt><dd>{ab}</dd>
<dt>Uden for åbningstid</dt><dd>{ooh} ({oohs})</dd>
<dt>Andel «none» af borgerytringer</dt><dd>{none}</dd>
<dt>Svartid, median</dt><dd>{med}</dd>
<dt>Svartid, 95. percentil</dt><dd>{p95}</dd>
</dl>
<h2>Samtaler pr. dag</h2>
{chart}
"#,
        base = esc(&base),
        raw = esc(&raw.unwrap_or_default()),
        conv = k.conversations,
        ended = k.ended,
        cont = pct(k.containment),
        contained = k.contained,
        sms = k.sms_sent,
        tr = k.transferred,
        ho = k.handed_over,
        em = k.emergency,
        ab = k.abandoned,
        ooh = k.out_of_hours,
        oohs = pct(k.out_of_hours_share),
        none = pct(k.none_rate),
        med = ms(k.latency_median_ms),
        p95 = ms(k.latency_p95_ms),
        chart = chart::days_svg(&k.days),
    );
    body.push_str(
        r#"<table><caption>Pr. dag</caption><thead><tr><th scope="col">Dato</th><th scope="col">Samtaler</th>
<th scope="col">Klaret uden medarbejder</th><th scope="col">Omstillet</th><th scope="col">Overdraget</th>
<th scope="col">SMS</th><th scope="col">Uden for åbningstid</th></tr></thead><tbody>"#,
    );
    for d in &k.days {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&d.date),
            d.conversations,
            d.contained,
            d.transferred,
            d.handed_over,
            d.sms_sent,
            d.out_of_hours
        );
    }
    body.push_str(
        r#"</tbody></table><table><caption>Omstillinger pr. afdeling</caption><thead><tr><th scope="col">Afdeling</th><th scope="col">Antal</th></tr></thead><tbody>"#,
    );
    for (dept, n) in &k.transfers_per_department {
        let _ = write!(body, "<tr><td>{}</td><td>{n}</td></tr>", esc(dept));
    }
    body.push_str(
        r#"</tbody></table><table><caption>Ikke forstået pr. emne</caption><thead><tr><th scope="col">Emne</th><th scope="col">Borgerytringer</th><th scope="col">Ikke forstået</th><th scope="col">Andel</th></tr></thead><tbody>"#,
    );
    for t in &k.topics {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&t.topic),
            t.turns,
            t.not_understood,
            pct(Some(t.rate))
        );
    }
    body.push_str("</tbody></table>");
    Ok(Html(html::page(&base, "Nøgletal", Some(&user.0), &body)))
}

/// The key figures as `kategori,noegle,vaerdi` rows.
pub(crate) fn kpis_csv_bytes(k: &Kpis) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["kategori", "noegle", "vaerdi"])?;
    let opt = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    let optn = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
    let rows: Vec<(&str, &str, String)> = vec![
        ("periode", "fra", k.from.clone()),
        ("periode", "til", k.to.clone()),
        ("samlet", "samtaler", k.conversations.to_string()),
        ("samlet", "afsluttede", k.ended.to_string()),
        ("samlet", "klaret_uden_medarbejder", k.contained.to_string()),
        ("samlet", "containment", opt(k.containment)),
        ("samlet", "besvaret", k.answered.to_string()),
        ("samlet", "sms_sendt", k.sms_sent.to_string()),
        ("samlet", "omstillet", k.transferred.to_string()),
        ("samlet", "overdraget", k.handed_over.to_string()),
        ("samlet", "noedsituation", k.emergency.to_string()),
        ("samlet", "afbrudt", k.abandoned.to_string()),
        ("samlet", "uden_for_aabningstid", k.out_of_hours.to_string()),
        (
            "samlet",
            "andel_uden_for_aabningstid",
            opt(k.out_of_hours_share),
        ),
        ("samlet", "borgerytringer", k.citizen_turns.to_string()),
        ("samlet", "none_andel", opt(k.none_rate)),
        ("samlet", "svartid_median_ms", optn(k.latency_median_ms)),
        ("samlet", "svartid_p95_ms", optn(k.latency_p95_ms)),
    ];
    for (a, b, c) in rows {
        w.write_record([a, b, &c])?;
    }
    for (dept, n) in &k.transfers_per_department {
        w.write_record(["omstillet_til", dept, &n.to_string()])?;
    }
    for t in &k.topics {
        w.write_record(["ikke_forstaaet_andel", &t.topic, &format!("{:.4}", t.rate)])?;
    }
    for d in &k.days {
        let cat = format!("dag:{}", d.date);
        for (key, v) in [
            ("samtaler", d.conversations),
            ("klaret_uden_medarbejder", d.contained),
            ("omstillet", d.transferred),
            ("overdraget", d.handed_over),
            ("sms_sendt", d.sms_sent),
            ("uden_for_aabningstid", d.out_of_hours),
        ] {
            w.write_record([cat.as_str(), key, &v.to_string()])?;
        }
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

pub(super) async fn kpis_csv(
    State(state): State<AppState>,
    _user: Authed,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, ViewError> {
    let period = q.period()?;
    let store = state.store.clone();
    let k = blocking(move || store.kpis(period)).await?;
    let data = kpis_csv_bytes(&k).map_err(csv_error)?;
    Ok(csv_response("noegletal.csv", data))
}
