//! The menu: the phone's DTMF menu and the chat's buttons, reached after
//! repeated misunderstandings or a key pressed at any time.

use std::sync::Arc;

use knowledge::{Channel, Decision};

use super::{contact, Action, Button, Dialogue, NumberReply, State, Step, MENU_TRIES};
use crate::flows::{MenuOption, Target};
use crate::text::Text;

impl Dialogue {
    pub(super) fn show_menu(&mut self, menu: usize, intro: bool, s: &mut Step<'_>) {
        let config = Arc::clone(&self.config);
        let Some(m) = config.flow.menus.get(menu) else {
            return self.hand_to_switchboard(s);
        };
        let mut t = if intro {
            self.prompt("menu", &[])
        } else {
            Text::default()
        };
        let choices: Vec<String> = m
            .options
            .iter()
            .map(|o| format!("Tryk {} for {}.", o.key, o.label))
            .collect();
        let sep = if t.spoken.is_empty() { "" } else { " " };
        t.spoken = format!("{}{sep}{}", t.spoken, choices.join(" "));
        self.state = State::Menu { menu };
        if self.channel == Channel::Voice {
            self.say(s, "menu", t, true);
            self.listen(s, true);
        } else {
            if !t.chat.is_empty() {
                self.say(s, "menu", t, true);
            }
            s.actions.push(Action::ShowButtons(
                m.options
                    .iter()
                    .map(|o| Button {
                        id: format!("menu:{}", o.key),
                        label: o.label.clone(),
                    })
                    .collect(),
            ));
            self.listen(s, false);
        }
    }

    pub(super) fn menu_miss(&mut self, menu: usize, s: &mut Step<'_>) {
        self.menu_misses = self.menu_misses.saturating_add(1);
        if self.menu_misses >= MENU_TRIES {
            return self.hand_to_switchboard(s);
        }
        let t = self.prompt("menu_invalid", &[]);
        self.say(s, "menu_invalid", t, true);
        self.show_menu(menu, false, s);
    }

    pub(super) fn key(&mut self, key: char, s: &mut Step<'_>) {
        let menu = match self.state {
            State::Menu { menu } => menu,
            State::Confirming { .. }
            | State::OfferingSms { .. }
            | State::OfferingCallback { .. }
                if key == '1' || key == '2' =>
            {
                // 1 for yes, 2 for no, as menus usually say.
                return self.yes_no_key(key == '1', s);
            }
            _ => 0,
        };
        let option = self
            .config
            .flow
            .menus
            .get(menu)
            .and_then(|m| m.options.iter().find(|o| o.key == key))
            .cloned();
        match option {
            Some(o) => self.choose(&o, s),
            None if matches!(self.state, State::Menu { .. }) => self.menu_miss(menu, s),
            None => self.miss(s),
        }
    }

    pub(super) fn yes_no_key(&mut self, yes: bool, s: &mut Step<'_>) {
        match self.state.clone() {
            State::Confirming { candidates, index } => self.confirmed(yes, &candidates, index, s),
            State::OfferingSms { .. } => self.sms_answer(yes, s),
            State::OfferingCallback { .. } => self.callback_answer(yes, s),
            _ => {}
        }
    }

    pub(super) fn button(&mut self, id: &str, s: &mut Step<'_>) {
        if let Some(index) = id.strip_prefix(contact::WINDOW_BUTTON) {
            return self.window_chosen(index, s);
        }
        match id {
            "ja" | "nej" => self.yes_no_key(id == "ja", s),
            "sms:ja" | "sms:nej" => {
                if let State::OfferingSms { .. } = self.state {
                    self.sms_answer(id == "sms:ja", s);
                }
            }
            "callback:ja" | "callback:nej" => {
                if let State::OfferingCallback { .. } = self.state {
                    self.callback_answer(id == "callback:ja", s);
                }
            }
            contact::CANCEL_BUTTON => self.number_reply(NumberReply::Cancelled, s),
            _ => match id.strip_prefix("menu:").and_then(|k| k.chars().next()) {
                Some(k) => self.key(k, s),
                None => self.miss(s),
            },
        }
    }

    pub(super) fn choose(&mut self, option: &MenuOption, s: &mut Step<'_>) {
        match &option.target {
            Target::Menu(m) => self.show_menu(*m, false, s),
            Target::Topic(t) => {
                self.state = State::Listening;
                s.decision = Some(Decision::Answer);
                self.deliver(t, None, s);
            }
            Target::Answer(a) => {
                self.state = State::Listening;
                let topic = self.config.matcher.answer(a).map(|x| x.topic.clone());
                s.decision = Some(Decision::Answer);
                match topic {
                    Some(t) => self.deliver(&t, Some(a), s),
                    None => self.miss(s),
                }
            }
            Target::Transfer(d) => {
                self.state = State::Listening;
                self.route(d, None, s);
            }
        }
    }
}
