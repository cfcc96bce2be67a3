//! When a transfer fails: the caller hears the department's public number
//! and, where an SMS can reach them, is offered it by SMS; the
//! conversation then goes on ("Er der andet …?") instead of ending.

use std::sync::Arc;

use super::{Dialogue, Event, Outcome, State, Step};
use crate::text::Text;

impl Dialogue {
    /// Events while a transfer is under way: only its failure and the
    /// end of the conversation mean anything.
    pub(super) fn while_transferring(&mut self, event: Event<'_>, s: &mut Step<'_>) {
        match event {
            Event::TransferFailed => self.transfer_failed(s),
            // The transfer went through, or the caller hung up.
            Event::Ended => self.state = State::Ended,
            _ => {}
        }
    }

    fn transfer_failed(&mut self, s: &mut Step<'_>) {
        let State::Transferring { department, topic } =
            std::mem::replace(&mut self.state, State::Listening)
        else {
            return;
        };
        s.topic = topic;
        let config = Arc::clone(&self.config);
        let Some(dept) = config.departments.get(&department) else {
            // The department vanished in a reload: the switchboard helps.
            self.outcome = Outcome::InProgress;
            return self.hand_to_switchboard(s);
        };
        let name = Text::same(dept.name.clone());
        let vars = [("afdeling", &name), ("telefon", &dept.phone)];
        let t = self.prompt("transfer_failed", &vars);
        self.say(s, "transfer_failed", t, false);
        // The caller was given the number instead of being put through;
        // "nej" to "Er der andet …?" now ends the call.
        self.outcome = Outcome::HandedOver(department);
        self.answered_once = true;
        if self.sms_to_caller {
            let t = self.prompt("offer_sms_phone", &[]);
            self.say(s, "offer_sms_phone", super::with_keys(t), true);
            let sms = self.prompt("sms_phone_text", &vars);
            s.actions.push(super::Action::OfferSms {
                answer_id: None,
                url: None,
            });
            self.state = State::OfferingSms {
                answer_id: None,
                text: sms,
            };
            return self.listen(s, false);
        }
        self.anything_else(s);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::{Arc, OnceLock};

    use jiff::Timestamp;
    use knowledge::Channel;

    use crate::dialogue::{Action, Dialogue, Event, Outcome, Turn};

    fn config() -> Arc<crate::Config> {
        static CONFIG: OnceLock<Arc<crate::Config>> = OnceLock::new();
        CONFIG
            .get_or_init(|| {
                let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
                Arc::new(crate::load(&root, "eksempel").expect("the shipped configuration loads"))
            })
            .clone()
    }

    /// A Tuesday morning: Jobcenter answers the phone.
    fn open() -> Timestamp {
        "2026-03-10T10:00:00+01:00".parse().expect("a time")
    }

    /// A call that pressed 3 (Jobcenter) and got a transfer.
    fn transferring(sms_to_caller: bool) -> Dialogue {
        let mut d = Dialogue::new(config());
        d.set_sms_to_caller(sms_to_caller);
        d.step(
            Event::Started {
                channel: Channel::Voice,
            },
            open(),
        );
        let turn = d.step(Event::Dtmf('3'), open());
        assert!(
            turn.actions.iter().any(
                |a| matches!(a, Action::Transfer { department, .. } if department == "jobcenter")
            ),
            "{:?}",
            turn.actions
        );
        d
    }

    fn said(turn: &Turn) -> String {
        turn.actions
            .iter()
            .filter_map(|a| match a {
                Action::Say(s) => Some(s.text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }

    #[test]
    fn transfer_failed_says_the_number_and_offers_it_by_sms() {
        let mut d = transferring(true);
        let turn = d.step(Event::TransferFailed, open());
        let text = said(&turn);
        assert!(text.contains("ikke stille dig om til Jobcenter"), "{text}");
        assert!(text.contains("halvfjerds, ti, tyve, fyrre"), "{text}");
        assert!(text.contains("Tryk 1 for ja eller 2 for nej"), "{text}");
        assert!(turn
            .actions
            .iter()
            .any(|a| matches!(a, Action::OfferSms { .. })));
        assert_eq!(turn.outcome, Outcome::HandedOver("jobcenter".into()));
        let yes = d.step(Event::Dtmf('1'), open());
        let sms = yes.actions.iter().find_map(|a| match a {
            Action::SendSms { text, .. } => Some(text.clone()),
            _ => None,
        });
        assert_eq!(
            sms.as_deref(),
            Some("Du kan ringe til Jobcenter på 70 10 20 40. Venlig hilsen Eksempel Kommune")
        );
        assert_eq!(yes.outcome, Outcome::SmsSent);
    }

    #[test]
    fn transfer_failed_without_sms_says_the_number_and_goes_on() {
        let mut d = transferring(false);
        let turn = d.step(Event::TransferFailed, open());
        assert!(
            said(&turn).contains("Du kan selv ringe på"),
            "{}",
            said(&turn)
        );
        assert!(!turn
            .actions
            .iter()
            .any(|a| matches!(a, Action::OfferSms { .. } | Action::End)));
        assert!(matches!(turn.actions.last(), Some(Action::Listen { .. })));
    }

    #[test]
    fn while_transferring_only_failure_or_the_end_counts() {
        let mut d = transferring(true);
        for event in [Event::Dtmf('1'), Event::NoInput, Event::SmsConsent(true)] {
            let turn = d.step(event, open());
            assert!(turn.actions.is_empty(), "{:?}", turn.actions);
            assert_eq!(turn.outcome, Outcome::Transferred("jobcenter".into()));
        }
        d.step(Event::Ended, open());
        // Ended for good: a late failure report changes nothing.
        let late = d.step(Event::TransferFailed, open());
        assert!(late.actions.is_empty());
        assert_eq!(late.outcome, Outcome::Transferred("jobcenter".into()));
    }
}
