//! `vejviser run`: answer questions typed at a prompt.
//!
//! The knowledge index is rebuilt when a knowledge file changes; an edit
//! that fails validation is reported and the last good index stays.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use knowledge::{Channel, Decision, Fingerprint, KnowledgeBase};

use crate::paths::Project;

pub(crate) fn run(project: &Project) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let mut matcher = project.matcher()?;
    let mut fingerprint = Fingerprint::of(&project.knowledge)?;
    println!(
        "Vejviser: {} svar indlæst på {} ms. Skriv et spørgsmål (tom linje eller Ctrl-D afslutter).",
        matcher.answers().len(),
        started.elapsed().as_millis()
    );
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        print!("> ");
        std::io::stdout().flush()?;
        let Some(line) = lines.next() else { break };
        let line = line?;
        if line.trim().is_empty() {
            break;
        }
        if let Ok(now) = Fingerprint::of(&project.knowledge) {
            if now != fingerprint {
                fingerprint = now;
                match KnowledgeBase::load(&project.knowledge)
                    .map_err(anyhow::Error::from)
                    .and_then(|kb| project.matcher_for(&kb))
                {
                    Ok(m) => {
                        matcher = m;
                        println!(
                            "(vidensbasen er genindlæst: {} svar)",
                            matcher.answers().len()
                        );
                    }
                    Err(e) => println!("(ændringen i vidensbasen er ikke taget i brug: {e})"),
                }
            }
        }
        let m = matcher.find(&line, Channel::Chat)?;
        let answer = m.answer_id.as_deref().and_then(|id| matcher.answer(id));
        match (m.decision, answer) {
            (Decision::Answer, Some(a)) => {
                println!("{}\n", a.chat.trim());
                for link in &a.links {
                    println!("  {} – {}", link.title, link.url);
                }
            }
            (Decision::Confirm, Some(a)) => {
                println!("Handler det om: {}? (sikkerhed {:.2})\n", a.title, m.confidence);
                println!("{}", a.chat.trim());
            }
            _ => println!(
                "Det er jeg ikke sikker på, at jeg kan svare på. Jeg kan stille dig videre til en medarbejder."
            ),
        }
        println!(
            "  [emne {}, svar {}, sikkerhed {:.2}, {}]",
            m.topic,
            m.answer_id.as_deref().unwrap_or("-"),
            m.confidence,
            m.decision.as_str()
        );
    }
    Ok(ExitCode::SUCCESS)
}
