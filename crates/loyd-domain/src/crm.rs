//! CRM entries: notes, contact events, tasks and reminders about one customer or one
//! organisation, and the rules of recording and closing them.

use serde::{Deserialize, Serialize};

use crate::access::{CHANNELS, Invalid, is_channel};
use crate::said;
use crate::time::Timestamp;

/// What a CRM entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Note,
    /// A contact with the customer (a call, a visit, a message).
    Event,
    /// Something to do by a due time; open until done or cancelled.
    Task,
    Reminder,
}

/// Where an entry stands: tasks and reminders start open, notes and events are done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    Open,
    Done,
    Cancelled,
}

impl EntryKind {
    pub const ALL: [EntryKind; 4] = [EntryKind::Note, EntryKind::Event, EntryKind::Task, EntryKind::Reminder];

    pub fn name(self) -> &'static str {
        match self {
            EntryKind::Note => "note",
            EntryKind::Event => "event",
            EntryKind::Task => "task",
            EntryKind::Reminder => "reminder",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            Invalid(said::crm_kind(Self::ALL.map(Self::name).join(", ")))
        })
    }

    /// Tasks and reminders have a due time and an open status until closed.
    pub fn is_due(self) -> bool {
        matches!(self, EntryKind::Task | EntryKind::Reminder)
    }

    /// The status a new entry of this kind starts with.
    pub fn first_status(self) -> EntryStatus {
        if self.is_due() { EntryStatus::Open } else { EntryStatus::Done }
    }
}

impl EntryStatus {
    pub const ALL: [EntryStatus; 3] = [EntryStatus::Open, EntryStatus::Done, EntryStatus::Cancelled];

    pub fn name(self) -> &'static str {
        match self {
            EntryStatus::Open => "open",
            EntryStatus::Done => "done",
            EntryStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| Invalid(said::crm_status(Self::ALL.map(Self::name).join(", "))))
    }
}

/// Checks a new entry of a kind ([`EntryKind::parse`] at the edge): its body (up to
/// 10 000 characters, line breaks allowed), about exactly one customer or organisation,
/// a due time for tasks and reminders, a known channel.
pub fn check_entry(
    kind: EntryKind,
    body: &str,
    about_customer: bool,
    about_organisation: bool,
    due_at: Option<Timestamp>,
    channel: Option<&str>,
) -> Result<(), Invalid> {
    crate::text::lines("a CRM entry's body", body, 10_000).map_err(|e| Invalid(e.said()))?;
    if about_customer == about_organisation {
        return Err(Invalid(said::crm_subject()));
    }
    if kind.is_due() && due_at.is_none() {
        return Err(Invalid(said::crm_due_needed()));
    }
    if channel.is_some_and(|ch| !is_channel(ch)) {
        return Err(Invalid(said::crm_channel(CHANNELS.join(", "))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_statuses_parse_from_their_names_only() {
        for k in EntryKind::ALL {
            assert_eq!(EntryKind::parse(k.name()), Ok(k));
        }
        for s in EntryStatus::ALL {
            assert_eq!(EntryStatus::parse(s.name()), Ok(s));
        }
        assert_eq!(EntryKind::parse("Note").unwrap_err().to_string(), "a CRM entry is one of note, event, task, reminder");
        assert_eq!(EntryStatus::parse("closed").unwrap_err().to_string(), "a status is one of open, done, cancelled");
        assert_eq!(serde_json::to_string(&EntryKind::Reminder).unwrap(), "\"reminder\"");
    }

    #[test]
    fn tasks_and_reminders_start_open_with_a_due_time_notes_and_events_are_done() {
        let due = Some("2026-06-01T10:00:00Z".parse().unwrap());
        assert_eq!(check_entry(EntryKind::Task, "call back", true, false, due, Some("phone")), Ok(()));
        assert_eq!(EntryKind::Task.first_status(), EntryStatus::Open);
        assert_eq!(EntryKind::Reminder.first_status(), EntryStatus::Open);
        assert_eq!(EntryKind::Note.first_status(), EntryStatus::Done);
        assert_eq!(EntryKind::Event.first_status(), EntryStatus::Done);
        let refused = |kind, body, c, o, due, ch| check_entry(kind, body, c, o, due, ch).unwrap_err().to_string();
        assert_eq!(refused(EntryKind::Task, "x", true, false, None, None), "tasks and reminders need a due time");
        assert_eq!(refused(EntryKind::Note, "x", true, true, None, None), "a CRM entry is about one customer or one organisation");
        assert_eq!(refused(EntryKind::Note, "x", false, false, None, None), "a CRM entry is about one customer or one organisation");
        assert_eq!(refused(EntryKind::Note, "x", true, false, None, Some("fax")), "a channel is one of sms, email, push, phone, post, telegram, viber, whatsapp");
        assert_eq!(refused(EntryKind::Note, "", true, false, None, None), "a CRM entry's body must not be empty");
        assert_eq!(EntryKind::parse("memo").unwrap_err().to_string(), "a CRM entry is one of note, event, task, reminder");
    }
}
