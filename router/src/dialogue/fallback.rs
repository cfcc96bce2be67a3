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
