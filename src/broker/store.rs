//! Where sessions live. The broker reaches sessions only through [`SessionStore`], so a
//! durable store can take the place of the in-memory one without touching the protocol
//! logic.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::session::Session;

pub trait SessionStore: Send {
    fn get(&self, client_id: &str) -> Option<&Session>;
    fn get_mut(&mut self, client_id: &str) -> Option<&mut Session>;
    /// Adds a session, returning the one it replaces.
    fn insert(&mut self, session: Session) -> Option<Session>;
    fn remove(&mut self, client_id: &str) -> Option<Session>;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// What the broker's tick has to do, found in one walk over the sessions.
    fn due(&self, now: Instant) -> Due;
    /// Every session, in no particular order.
    fn iter(&self) -> Box<dyn Iterator<Item = &Session> + '_>;
}

/// Client identifiers of the sessions the broker's tick acts on.
#[derive(Debug, Default)]
pub struct Due {
    /// Sessions whose delayed Will is due.
    pub wills: Vec<Arc<str>>,
    /// Offline sessions whose expiry has passed.
    pub expired: Vec<Arc<str>>,
}

/// Sessions kept in memory only: they survive reconnects, not a restart.
#[derive(Debug, Default)]
pub struct MemoryStore {
    /// Boxed: a map keeps spare slots (up to as many again as it holds), and a spare slot
    /// of an inline map costs a whole session. Keyed by the session's own client id.
    sessions: HashMap<Arc<str>, Box<Session>>,
}

impl SessionStore for MemoryStore {
    fn get(&self, client_id: &str) -> Option<&Session> {
        self.sessions.get(client_id).map(|session| &**session)
    }

    fn get_mut(&mut self, client_id: &str) -> Option<&mut Session> {
        self.sessions
            .get_mut(client_id)
            .map(|session| &mut **session)
    }

    fn insert(&mut self, session: Session) -> Option<Session> {
        self.sessions
            .insert(session.client_id.clone(), Box::new(session))
            .map(|old| *old)
    }

    fn remove(&mut self, client_id: &str) -> Option<Session> {
        self.sessions.remove(client_id).map(|session| *session)
    }

    fn len(&self) -> usize {
        self.sessions.len()
    }

    fn due(&self, now: Instant) -> Due {
        let mut due = Due::default();
        for session in self.sessions.values() {
            if session
                .pending_will
                .as_ref()
                .is_some_and(|pending| pending.1 <= now)
            {
                due.wills.push(session.client_id.clone());
            }
            if session.has_expired(now) {
                due.expired.push(session.client_id.clone());
            }
        }
        due
    }

    fn iter(&self) -> Box<dyn Iterator<Item = &Session> + '_> {
        Box::new(self.sessions.values().map(|session| &**session))
    }
}
