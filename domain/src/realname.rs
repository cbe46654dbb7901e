//! Real-name checks (实名核验): the interface a provider implements to confirm that an
//! ID number belongs to a name, and that a face matches the ID photo. No provider is
//! bundled: face verification services serve only some ID holders and organisation
//! types, so an association plugs in the one it contracts, and a failed or unavailable
//! check goes to staff for manual verification from uploaded documents.

use std::future::Future;
use std::pin::Pin;

/// A boxed future, so providers can be used as trait objects.
pub type ProviderFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

/// The result a provider returns for one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckResult {
    /// The data match.
    Match,
    /// The data do not match.
    Mismatch,
    /// The provider cannot check this person (for example an ID type it does not serve).
    Unsupported,
}

/// A provider call that failed, with whether retrying may help.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("real-name provider failed: {message}")]
pub struct ProviderError {
    pub message: String,
    pub retryable: bool,
}

/// A real-name check provider. Implementations must set their own timeouts and must
/// not log the ID number or the image.
pub trait RealNameProvider: Send + Sync {
    /// Checks that `id_number` (normalized, 18 characters) belongs to `name`.
    fn check_identity<'a>(&'a self, id_number: &'a str, name: &'a str) -> ProviderFuture<'a, CheckResult>;

    /// Compares `face_jpeg` with the photo of the ID card of `id_number`.
    fn match_face<'a>(&'a self, id_number: &'a str, face_jpeg: &'a [u8]) -> ProviderFuture<'a, CheckResult>;
}

/// Returns the `operators.real_name_status` a provider result leads to; anything but a
/// match goes to manual verification as `failed`.
pub fn status_after(result: CheckResult) -> &'static str {
    match result {
        CheckResult::Match => "passed",
        CheckResult::Mismatch | CheckResult::Unsupported => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A provider that matches one fixed person, as a test double.
    struct OnePerson;

    impl RealNameProvider for OnePerson {
        fn check_identity<'a>(&'a self, id_number: &'a str, name: &'a str) -> ProviderFuture<'a, CheckResult> {
            let result = if id_number == "43010219800101123X" && name == "王小明" { CheckResult::Match } else { CheckResult::Mismatch };
            Box::pin(async move { Ok(result) })
        }

        fn match_face<'a>(&'a self, _: &'a str, _: &'a [u8]) -> ProviderFuture<'a, CheckResult> {
            Box::pin(async { Ok(CheckResult::Unsupported) })
        }
    }

    #[test]
    fn provider_results_map_to_status() {
        let provider: Box<dyn RealNameProvider> = Box::new(OnePerson);
        let matched = poll_once(provider.check_identity("43010219800101123X", "王小明"));
        assert_eq!(status_after(matched.unwrap()), "passed");
        let other = poll_once(provider.check_identity("43010219800101123X", "王大明"));
        assert_eq!(status_after(other.unwrap()), "failed");
        let face = poll_once(provider.match_face("43010219800101123X", b"jpeg"));
        assert_eq!(status_after(face.unwrap()), "failed", "an unsupported check goes to staff");
    }

    /// Polls a future that never waits, which is all the test double's futures do.
    fn poll_once<T>(future: ProviderFuture<'_, T>) -> Result<T, ProviderError> {
        use std::task::{Context, Poll, Waker};
        let mut future = future;
        let mut context = Context::from_waker(Waker::noop());
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("the test double's future does not wait"),
        }
    }
}
