//! The CONNECT check a connection task runs before its session starts, and the reload of
//! the access rules on request (SIGHUP).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use mq_proto::Connect;
use tracing::{info, warn};

use super::{load_policy, AccessControl, AuthLoadError, Credentials, Refusal};
use crate::broker::config::BrokerConfig;
use crate::broker::Shared;

/// Checks a CONNECT's credentials against the policy in force. Password hashes are
/// verified on a blocking thread so the reactor keeps serving other connections; a source
/// address that keeps failing is turned away without a check.
pub(crate) async fn check(
    shared: &Shared,
    peer: SocketAddr,
    connect: &Connect,
    certificate: bool,
) -> Result<(), Refusal> {
    let now = Instant::now();
    if shared.auth_failures.is_blocked(peer.ip(), now) {
        return Err(Refusal::TooManyFailures);
    }
    let access = shared.state.lock().access();
    let loopback_listener = listeners_are_loopback_only(&shared.config);
    let result = if connect.password.is_some() && !certificate {
        let username = connect.username.clone();
        let password = connect.password.clone();
        tokio::task::spawn_blocking(move || {
            let credentials = Credentials {
                username: username.as_deref(),
                password: password.as_deref(),
                loopback_listener,
                certificate,
            };
            access.authenticate(&credentials, now)
        })
        .await
        .unwrap_or(Err(Refusal::CheckFailed))
    } else {
        let credentials = Credentials {
            username: connect.username.as_deref(),
            password: connect.password.as_deref(),
            loopback_listener,
            certificate,
        };
        access.authenticate(&credentials, now)
    };
    match result {
        Err(refusal) if refusal.is_failed_login() => {
            shared.auth_failures.record_failure(peer.ip(), now)
        }
        Ok(()) if connect.password.is_some() => shared.auth_failures.record_success(peer.ip()),
        _ => {}
    }
    result
}

/// Anonymous clients are allowed by default only when every listener is bound to a
/// loopback address (the decision is per broker, not yet per listener).
fn listeners_are_loopback_only(config: &BrokerConfig) -> bool {
    config.listeners.iter().all(|l| l.bind.ip().is_loopback())
}

/// Loads the access rules for a broker about to start: their warnings are logged, and so
/// is a configuration that lets nobody in.
pub(crate) fn load_at_start(
    config: &BrokerConfig,
) -> Result<Arc<dyn AccessControl>, AuthLoadError> {
    let (policy, warnings) = load_policy(&config.auth)?;
    for warning in warnings {
        warn!("{warning}");
    }
    let anonymous = config.auth.anonymous();
    if config.auth.password_file.is_none()
        && anonymous != super::Anonymous::Allowed
        && !(anonymous == super::Anonymous::LoopbackOnly && listeners_are_loopback_only(config))
    {
        warn!(
            "anonymous clients are refused and there is no password file: no client can connect \
             (use --password-file, or --allow-anonymous to let anyone in)"
        );
    }
    Ok(Arc::new(policy))
}

/// Reloads the password and ACL files the broker was started with and puts them in force
/// for every check from then on; open connections stay. Files that do not load leave the
/// rules in force unchanged.
#[derive(Clone)]
pub struct AccessReloader {
    shared: Arc<Shared>,
}

impl AccessReloader {
    pub(crate) fn new(shared: Arc<Shared>) -> AccessReloader {
        AccessReloader { shared }
    }

    /// Blocking: reads files and may hash nothing, but call it off the reactor anyway.
    pub fn reload(&self) -> Result<(), AuthLoadError> {
        let auth = &self.shared.config.auth;
        if auth.password_file.is_none() && auth.acl_file.is_none() {
            return Ok(());
        }
        match load_policy(auth) {
            Ok((policy, warnings)) => {
                for warning in warnings {
                    warn!("{warning}");
                }
                self.shared.state.lock().set_access(Arc::new(policy));
                info!("reloaded the password and ACL files");
                Ok(())
            }
            Err(e) => {
                warn!("kept the access rules in force: {e}");
                Err(e)
            }
        }
    }
}
