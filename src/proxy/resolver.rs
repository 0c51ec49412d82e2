//! Name resolution for the upstream client, remembered for a short while.
//!
//! Names are resolved when a connection is opened (a kept connection needs none). A burst of
//! harness connections opens a burst of upstream ones; with `ureq`'s default resolver each
//! ran `getaddrinfo` (glibc reads `/etc/hosts` and its configuration anew and asks the DNS
//! resolver: 9 system calls and, measured when it still ran per request, about twice the
//! proxy's CPU per request; docs/performance.md). One resolver serves a session's threads.
//!
//! An answer is kept for [`REMEMBER`]; failures are not kept. A provider that moves to new
//! addresses is followed within that time; connections already open are not affected.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// How long a resolved answer is used before the name is resolved again.
pub const REMEMBER: Duration = Duration::from_secs(30);

/// Hosts remembered at once (a session talks to one or two).
const HOSTS: usize = 8;

/// A resolver that remembers `inner`'s answers for `remember`.
pub struct RememberingResolver<R = DefaultResolver> {
    inner: R,
    remember: Duration,
    answers: Mutex<Vec<Answer>>,
}

struct Answer {
    scheme: String,
    authority: String,
    addrs: ResolvedSocketAddrs,
    at: Instant,
}

impl RememberingResolver {
    pub fn new() -> Self {
        Self::around(DefaultResolver::default(), REMEMBER)
    }
}

impl Default for RememberingResolver {
    fn default() -> Self {
        Self::new()
    }
}

impl<R: Resolver> RememberingResolver<R> {
    fn around(inner: R, remember: Duration) -> Self {
        RememberingResolver {
            inner,
            remember,
            answers: Mutex::new(Vec::new()),
        }
    }
}

impl<R> fmt::Debug for RememberingResolver<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RememberingResolver")
    }
}

impl<R: Resolver> Resolver for RememberingResolver<R> {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let scheme = uri.scheme_str().unwrap_or("");
        let authority = uri.authority().map_or("", |a| a.as_str());
        let now = Instant::now();
        {
            let answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(a) = answers.iter().find(|a| {
                a.scheme == scheme
                    && a.authority == authority
                    && now.duration_since(a.at) < self.remember
            }) {
                return Ok(a.addrs.clone());
            }
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        answers.retain(|a| !(a.scheme == scheme && a.authority == authority));
        if answers.len() >= HOSTS {
            answers.remove(0);
        }
        answers.push(Answer {
            scheme: scheme.to_string(),
            authority: authority.to_string(),
            addrs: addrs.clone(),
            at: now,
        });
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use ureq::unversioned::transport::time::Duration as UreqDuration;

    /// The default resolver, counting how often it is asked.
    #[derive(Debug, Default)]
    struct Counting(AtomicUsize);

    impl Resolver for Counting {
        fn resolve(
            &self,
            uri: &Uri,
            config: &Config,
            timeout: NextTimeout,
        ) -> Result<ResolvedSocketAddrs, ureq::Error> {
            self.0.fetch_add(1, Ordering::SeqCst);
            if uri.host() == Some("fails.test") {
                return Err(ureq::Error::HostNotFound);
            }
            DefaultResolver::default().resolve(uri, config, timeout)
        }
    }

    fn ask(r: &impl Resolver, url: &str) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let timeout = NextTimeout {
            after: UreqDuration::NotHappening,
            reason: ureq::Timeout::Resolve,
            per_read: None,
            per_write: None,
        };
        r.resolve(&url.parse().unwrap(), &Config::default(), timeout)
    }

    #[test]
    fn an_answer_is_reused_until_it_is_too_old_and_each_host_has_its_own() {
        let r = RememberingResolver::around(Counting::default(), Duration::from_secs(3600));
        let first = ask(&r, "http://localhost:8080/v1/messages").unwrap();
        assert!(!first.is_empty());
        let again = ask(&r, "http://localhost:8080/v1/responses").unwrap();
        assert_eq!(first.as_ref(), again.as_ref());
        assert_eq!(r.inner.0.load(Ordering::SeqCst), 1, "asked once");
        ask(&r, "http://localhost:8081/").unwrap();
        ask(&r, "https://localhost:8080/").unwrap();
        assert_eq!(r.inner.0.load(Ordering::SeqCst), 3, "port and scheme count");

        let forgetful = RememberingResolver::around(Counting::default(), Duration::ZERO);
        ask(&forgetful, "http://localhost:8080/").unwrap();
        ask(&forgetful, "http://localhost:8080/").unwrap();
        assert_eq!(
            forgetful.inner.0.load(Ordering::SeqCst),
            2,
            "too old: asked again"
        );
    }

    #[test]
    fn a_failure_is_not_remembered() {
        let r = RememberingResolver::around(Counting::default(), Duration::from_secs(3600));
        assert!(ask(&r, "http://fails.test/").is_err());
        assert!(ask(&r, "http://fails.test/").is_err());
        assert_eq!(r.inner.0.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn it_remembers_a_bounded_number_of_hosts() {
        let r = RememberingResolver::around(Counting::default(), Duration::from_secs(3600));
        for port in 0..(HOSTS as u16 + 4) {
            ask(&r, &format!("http://127.0.0.1:{}/", 1000 + port)).unwrap();
        }
        assert_eq!(r.answers.lock().unwrap().len(), HOSTS);
    }
}
