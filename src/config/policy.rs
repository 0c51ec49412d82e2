//! The effective background admission policy per provider (SPEC §2).

use super::schema::Config;
use crate::model::budget::{ActionBudget, Admission};

impl Config {
    /// `policy.daemon`, widened by `policy.providers.<name>`, and for `codex` by
    /// `policy.codex` when it is written in the config.
    pub fn admission(&self, provider: &str) -> Admission {
        let base = self
            .policy
            .providers
            .get(provider)
            .unwrap_or(&self.policy.daemon);
        let mut budgets = self.policy.daemon.allowed_budgets.clone();
        for b in &base.allowed_budgets {
            if !budgets.contains(b) {
                budgets.push(*b);
            }
        }
        let mut admission = Admission {
            allowed_budgets: budgets,
            allow_interactive: base.allow_interactive || self.policy.daemon.allow_interactive,
            allow_mutating: base.allow_mutating || self.policy.daemon.allow_mutating,
        };
        let kind = self
            .providers
            .get(provider)
            .map_or(provider, |p| p.kind.as_str());
        if kind == "codex"
            && let Some(codex) = &self.policy.codex
            && codex.auto_stay_afloat
        {
            if codex.allow_provider_spend {
                for b in [ActionBudget::CheapProvider, ActionBudget::SpendProvider] {
                    if !admission.allowed_budgets.contains(&b) {
                        admission.allowed_budgets.push(b);
                    }
                }
            }
            admission.allow_interactive |= codex.allow_interactive_auth;
        }
        admission
    }
}

impl Config {
    /// The usage percentage at or above which an account is "hot" and elected after cooler
    /// ones (`policy.usage_switch_threshold_pct`, default 95).
    pub fn usage_threshold_pct(&self) -> f64 {
        self.policy
            .usage_switch_threshold_pct
            .unwrap_or(crate::model::election::DEFAULT_USAGE_THRESHOLD_PCT)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::check_text;
    use crate::model::budget::ActionBudget;

    #[test]
    fn default_policy_admits_only_free_work_and_codex_spend_needs_writing() {
        let (c, _) =
            check_text(r#"{"version":1,"providers":{"codex":{"kind":"codex","accounts":{}}}}"#);
        let a = c.unwrap().admission("codex");
        assert!(!a.admits(ActionBudget::SpendProvider).admitted);
        let (c, _) = check_text(
            r#"{"version":1,"policy":{"codex":{"allow_provider_spend":true}},"providers":{"codex":{"kind":"codex","accounts":{}}}}"#,
        );
        assert!(
            c.unwrap()
                .admission("codex")
                .admits(ActionBudget::SpendProvider)
                .admitted
        );
    }

    #[test]
    fn per_provider_policy_widens() {
        let (c, p) = check_text(
            r#"{"version":1,"policy":{"providers":{"gh":{"allowed_budgets":["cheap_provider"]}}},"providers":{"gh":{"kind":"codex","accounts":{}}}}"#,
        );
        assert!(p.is_empty(), "{p:?}");
        let c = c.unwrap();
        assert!(
            c.admission("gh")
                .admits(ActionBudget::CheapProvider)
                .admitted
        );
        assert!(c.admission("gh").admits(ActionBudget::FreeCommand).admitted);
        assert!(
            !c.admission("other")
                .admits(ActionBudget::CheapProvider)
                .admitted
        );
    }
}
