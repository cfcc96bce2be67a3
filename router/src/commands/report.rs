//! `vejviser report --since DATE [--until DATE] [--json]`: the analysts' key
//! figures from the transcript store.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use time::OffsetDateTime;
use transcripts::{Kpis, Period, Store};

use crate::paths::Project;

pub(crate) fn run(
    project: &Project,
    data_dir: Option<PathBuf>,
    since: &str,
    until: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let period = Period::from_days(since, until, OffsetDateTime::now_utc())?;
    let data_dir = data_dir.unwrap_or_else(|| project.data_dir());
    let store = Store::open_in(&data_dir)
        .with_context(|| format!("opening the transcript store in {}", data_dir.display()))?;
    let kpis = store.kpis(period)?;
    if json {
        // Written rather than println!-ed, so a closed pipe is an error, not a panic.
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &kpis)?;
        writeln!(out)?;
    } else {
        print_text(&kpis);
    }
    Ok(ExitCode::SUCCESS)
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{:.1} %", v * 100.0))
}

fn print_text(k: &Kpis) {
    println!("period            {} .. {}", k.from, k.to);
    println!("conversations     {} ({} ended)", k.conversations, k.ended);
    println!(
        "containment       {} ({} of {})",
        pct(k.containment),
        k.contained,
        k.ended
    );
    println!("sms sent          {}", k.sms_sent);
    println!("transferred       {}", k.transferred);
    for (dept, n) in &k.transfers_per_department {
        println!("  {dept:<16}{n}");
    }
    println!("handed over       {}", k.handed_over);
    println!("emergency (112)   {}", k.emergency);
    println!("abandoned         {}", k.abandoned);
    println!(
        "out of hours      {} ({})",
        k.out_of_hours,
        pct(k.out_of_hours_share)
    );
    println!("none rate         {}", pct(k.none_rate));
    let ms = |v: Option<u32>| v.map_or_else(|| "-".into(), |v| format!("{v} ms"));
    println!("latency median    {}", ms(k.latency_median_ms));
    println!("latency p95       {}", ms(k.latency_p95_ms));
}
