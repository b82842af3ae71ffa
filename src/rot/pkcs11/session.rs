//! The PKCS#11 session pool, and the mapping of cryptoki errors to [`RotError`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use cryptoki::context::Pkcs11;
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use super::super::RotError;

/// A fixed set of logged-in R/W sessions handed out one caller at a time.
pub(super) struct SessionPool {
    pub(super) ctx: Pkcs11,
    pub(super) slot: Slot,
    /// Kept to log in again if every session was lost (PKCS#11 forgets the login
    /// when the application's last session on the token closes).
    pub(super) pin: AuthPin,
    pub(super) size: usize,
    state: Mutex<PoolState>,
    pub(super) returned: Condvar,
    /// Counts discarded sessions. Closing the application's last session on a token
    /// invalidates every object handle (SoftHSM2 does exactly that), so handle caches
    /// remember the epoch of their lookup and look again once it has moved.
    pub(super) epoch: AtomicU64,
}

struct PoolState {
    idle: Vec<Session>,
    /// Sessions open, idle or checked out.
    open: usize,
}

impl SessionPool {
    pub(super) fn open(
        ctx: Pkcs11,
        slot: Slot,
        pin: AuthPin,
        size: usize,
    ) -> Result<SessionPool, RotError> {
        let pool = SessionPool {
            ctx,
            slot,
            pin,
            size,
            state: Mutex::new(PoolState {
                idle: Vec::with_capacity(size),
                open: 0,
            }),
            returned: Condvar::new(),
            epoch: AtomicU64::new(0),
        };
        // Opening every session now surfaces a bad PIN or a session limit at startup.
        let mut sessions = Vec::with_capacity(size);
        for _ in 0..size {
            sessions.push(pool.new_session()?);
        }
        {
            let mut st = pool.lock();
            st.open = sessions.len();
            st.idle = sessions;
        }
        Ok(pool)
    }

    pub(super) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // The state stays consistent even if a holder panicked: it only moves sessions.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a session and makes sure the user is logged in on the token.
    pub(super) fn new_session(&self) -> Result<Session, RotError> {
        let session = self
            .ctx
            .open_rw_session(self.slot)
            .map_err(|e| ck_err("C_OpenSession", &e))?;
        let state = session
            .get_session_info()
            .map_err(|e| ck_err("C_GetSessionInfo", &e))?
            .session_state();
        if !matches!(state, SessionState::RwUser) {
            self.login(&session)?;
        }
        Ok(session)
    }

    /// Logs the user in; the login then holds for every session of the process.
    pub(super) fn login(&self, session: &Session) -> Result<(), RotError> {
        match session.login(UserType::User, Some(&self.pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
            Err(CkError::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange, _)) => {
                Err(RotError::BadPin)
            }
            Err(CkError::Pkcs11(RvError::PinLocked, _)) => Err(RotError::PinLocked),
            Err(e) => Err(ck_err("C_Login", &e)),
        }
    }

    /// Takes a session, waiting for one to be returned if all are in use.
    pub(super) fn get(&self) -> Result<PooledSession<'_>, RotError> {
        let mut st = self.lock();
        loop {
            if let Some(session) = st.idle.pop() {
                return Ok(PooledSession {
                    pool: self,
                    session: Some(session),
                    broken: false,
                    stale_handle: false,
                });
            }
            if st.open < self.size {
                // A session was discarded as broken: replace it outside the lock.
                st.open += 1;
                drop(st);
                return match self.new_session() {
                    Ok(session) => Ok(PooledSession {
                        pool: self,
                        session: Some(session),
                        broken: false,
                        stale_handle: false,
                    }),
                    Err(e) => {
                        self.lock().open -= 1;
                        self.returned.notify_one();
                        Err(e)
                    }
                };
            }
            st = self.returned.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// A session checked out of the pool; goes back on drop unless it broke.
pub(super) struct PooledSession<'a> {
    pub(super) pool: &'a SessionPool,
    pub(super) session: Option<Session>,
    /// A call failed in a way that makes the session unusable: close it on return.
    pub(super) broken: bool,
    /// A call was refused because an object handle is no longer valid.
    pub(super) stale_handle: bool,
}

impl PooledSession<'_> {
    /// Runs one cryptoki call, noting failures that make the session unusable.
    pub(super) fn call<T>(
        &mut self,
        f: impl FnOnce(&Session) -> cryptoki::error::Result<T>,
    ) -> cryptoki::error::Result<T> {
        let Some(session) = self.session.as_ref() else {
            return Err(CkError::Pkcs11(
                RvError::SessionHandleInvalid,
                cryptoki::context::Function::OpenSession,
            ));
        };
        let result = f(session);
        if let Err(e) = &result {
            self.broken |= is_session_failure(e);
            self.stale_handle |= matches!(
                rv_of(e),
                Some(
                    RvError::ObjectHandleInvalid
                        | RvError::KeyHandleInvalid
                        | RvError::WrappingKeyHandleInvalid
                        | RvError::UnwrappingKeyHandleInvalid
                )
            );
        }
        result
    }

    /// Logs the user in again if the token forgot the login (an external
    /// `C_Logout`, a token that times logins out).
    pub(super) fn ensure_logged_in(&mut self) -> Result<(), RotError> {
        let info = self
            .call(|s| s.get_session_info())
            .map_err(|e| ck_err("C_GetSessionInfo", &e))?;
        if matches!(info.session_state(), SessionState::RwUser) {
            return Ok(());
        }
        let pool = self.pool;
        match self.session.as_ref() {
            Some(session) => pool.login(session),
            None => Ok(()),
        }
    }
}

impl Drop for PooledSession<'_> {
    fn drop(&mut self) {
        let Some(session) = self.session.take() else {
            return;
        };
        let mut st = self.pool.lock();
        if self.broken {
            st.open -= 1;
            self.pool.epoch.fetch_add(1, Ordering::SeqCst);
            drop(st);
            // Closing may fail too (the handle is gone); cryptoki logs that.
            drop(session);
        } else {
            st.idle.push(session);
            drop(st);
        }
        self.pool.returned.notify_one();
    }
}

/// Errors after which a session should not be reused.
pub(super) fn is_session_failure(e: &CkError) -> bool {
    matches!(
        rv_of(e),
        Some(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::DeviceError
                | RvError::DeviceRemoved
                | RvError::TokenNotPresent
                | RvError::UserNotLoggedIn
                | RvError::OperationActive
        )
    )
}

pub(super) fn rv_of(e: &CkError) -> Option<RvError> {
    match e {
        CkError::Pkcs11(rv, _) => Some(*rv),
        _ => None,
    }
}

/// A short description of a cryptoki error: the CKR name for PKCS#11 return
/// values (cryptoki's own text for them is a paragraph of the specification).
pub(super) fn ck_detail(e: &CkError) -> String {
    match e {
        CkError::Pkcs11(rv, _) => format!("CKR {rv:?}"),
        other => other.to_string(),
    }
}

pub(super) fn ck_err(function: &'static str, e: &CkError) -> RotError {
    RotError::Pkcs11 {
        function,
        detail: ck_detail(e),
    }
}
