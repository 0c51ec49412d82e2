//! Action budgets (admission classes), repair owners and the admission rule.

use serde::{Deserialize, Serialize};

/// How costly or intrusive an action is. Background work is admitted only for the
/// budgets policy allows; the default is `free_local` and `free_command`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionBudget {
    FreeLocal,
    FreeCommand,
    CheapProvider,
    SpendProvider,
    Interactive,
    Mutating,
}

impl ActionBudget {
    pub const ALL: [ActionBudget; 6] = [
        Self::FreeLocal,
        Self::FreeCommand,
        Self::CheapProvider,
        Self::SpendProvider,
        Self::Interactive,
        Self::Mutating,
    ];
    pub const DEFAULT_BACKGROUND: [ActionBudget; 2] = [Self::FreeLocal, Self::FreeCommand];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FreeLocal => "free_local",
            Self::FreeCommand => "free_command",
            Self::CheapProvider => "cheap_provider",
            Self::SpendProvider => "spend_provider",
            Self::Interactive => "interactive",
            Self::Mutating => "mutating",
        }
    }

    /// A probe may carry any budget but `interactive` and `mutating`.
    pub fn valid_for_probe(self) -> bool {
        !matches!(self, Self::Interactive | Self::Mutating)
    }

    /// Spends provider calls (and so needs `--confirm-spend` or a policy when it costs).
    pub fn contacts_provider(self) -> bool {
        matches!(self, Self::CheapProvider | Self::SpendProvider)
    }
}

/// Who repairs a provider's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepairOwner {
    OauthMuxRefresh,
    UpstreamCliLogin,
    ExternalSecretOwner,
    #[default]
    ManualOnly,
}

impl RepairOwner {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OauthMuxRefresh => "oauth_mux_refresh",
            Self::UpstreamCliLogin => "upstream_cli_login",
            Self::ExternalSecretOwner => "external_secret_owner",
            Self::ManualOnly => "manual_only",
        }
    }
}

/// The effective background policy for one provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Admission {
    pub allowed_budgets: Vec<ActionBudget>,
    pub allow_interactive: bool,
    pub allow_mutating: bool,
}

/// Whether an action of `budget` is admitted, and why (a stable reason string).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdmissionVerdict {
    pub admitted: bool,
    pub reason: &'static str,
    pub budget: ActionBudget,
}

impl Admission {
    pub fn admits(&self, budget: ActionBudget) -> AdmissionVerdict {
        let (admitted, reason) = match budget {
            ActionBudget::Interactive if !self.allow_interactive => {
                (false, "interactive_not_allowed")
            }
            ActionBudget::Mutating if !self.allow_mutating => (false, "mutating_not_allowed"),
            ActionBudget::Interactive | ActionBudget::Mutating => (true, "allowed_by_policy"),
            b if self.allowed_budgets.contains(&b) => (true, "allowed_by_policy"),
            _ => (false, "budget_not_allowed_by_policy"),
        };
        AdmissionVerdict {
            admitted,
            reason,
            budget,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_policy() -> Admission {
        Admission {
            allowed_budgets: ActionBudget::DEFAULT_BACKGROUND.to_vec(),
            allow_interactive: false,
            allow_mutating: false,
        }
    }

    #[test]
    fn default_admits_only_free_work() {
        let p = default_policy();
        assert!(p.admits(ActionBudget::FreeLocal).admitted);
        assert!(p.admits(ActionBudget::FreeCommand).admitted);
        let spend = p.admits(ActionBudget::SpendProvider);
        assert!(!spend.admitted);
        assert_eq!(spend.reason, "budget_not_allowed_by_policy");
        assert_eq!(
            p.admits(ActionBudget::Interactive).reason,
            "interactive_not_allowed"
        );
        assert_eq!(
            p.admits(ActionBudget::Mutating).reason,
            "mutating_not_allowed"
        );
    }

    #[test]
    fn policy_widens_admission() {
        let p = Admission {
            allowed_budgets: ActionBudget::ALL[..4].to_vec(),
            allow_interactive: true,
            allow_mutating: false,
        };
        assert!(p.admits(ActionBudget::SpendProvider).admitted);
        assert!(p.admits(ActionBudget::Interactive).admitted);
        assert!(!p.admits(ActionBudget::Mutating).admitted);
    }

    #[test]
    fn probe_budgets() {
        assert!(ActionBudget::SpendProvider.valid_for_probe());
        assert!(!ActionBudget::Interactive.valid_for_probe());
        assert!(!ActionBudget::Mutating.valid_for_probe());
    }
}
