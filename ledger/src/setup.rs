//! Commands that shape the ledger rather than move money: principals,
//! branches, accounts, approval policy and opening clearing windows.

use crate::account::{Account, NewAccount, Purpose};
use crate::account_table::AccountNo;
use crate::approval::ApprovalPolicy;
use crate::audit::AuditEvent;
use crate::branch::{Branch, NewBranch};
use crate::clearing_window::ClearingWindow;
use crate::command::Receipt;
use crate::id::{AccountId, BranchCode, PrincipalName};
use crate::ledger::{Context, Ledger};
use crate::limits::TEXT_LENGTH_MAX;
use crate::principal::{KeyHash, NewPrincipal, Principal, Role};
use crate::rejection::Rejection;

/// Rejects text above [`TEXT_LENGTH_MAX`].
pub(crate) fn check_text(field: &str, text: Option<&str>) -> Result<(), Rejection> {
    match text {
        Some(text) if text.len() > TEXT_LENGTH_MAX => Err(Rejection::TextTooLong {
            field: field.to_string(),
            max: TEXT_LENGTH_MAX,
        }),
        _ => Ok(()),
    }
}

impl Ledger {
    pub(crate) fn create_principal(
        &mut self,
        context: &Context,
        new: NewPrincipal,
    ) -> Result<Receipt, Rejection> {
        Self::require(&context.role, &["admin"], "create principals")?;
        check_text("key_id", Some(&new.key_id))?;
        if let Some(existing) = self.principals.get(&new.name) {
            let same = existing.role == new.role
                && existing.authority == new.authority
                && existing.key_hash == new.key_hash;
            return if same {
                Ok(Receipt::Principal(existing.clone()))
            } else {
                Err(Rejection::PrincipalExists {
                    principal: new.name,
                })
            };
        }
        if new.name.as_str() == crate::principal::Actor::SYSTEM {
            return Err(Rejection::PrincipalExists {
                principal: new.name,
            });
        }
        if self.derived.key_index.contains_key(&new.key_hash) {
            return Err(Rejection::KeyInUse);
        }
        if let Role::Branch(code) = &new.role {
            let Some(branch) = self.branches.get(code) else {
                return Err(Rejection::BranchNotFound {
                    branch: code.clone(),
                });
            };
            if branch.kind.is_external() {
                return Err(Rejection::ExternalParticipantInvalid {
                    branch: code.clone(),
                    reason: "it is reached through its clearing scheme and has no principals"
                        .into(),
                });
            }
        }
        let principal = Principal {
            name: new.name.clone(),
            role: new.role.clone(),
            authority: new.authority,
            key_hash: new.key_hash,
            key_id: new.key_id.clone(),
            revoked: false,
        };
        self.derived
            .key_index
            .insert(new.key_hash, new.name.clone());
        self.principals.insert(new.name.clone(), principal.clone());
        self.record(
            context,
            AuditEvent::PrincipalCreated {
                name: new.name,
                role: new.role,
                authority: new.authority,
                key_id: new.key_id,
            },
        );
        Ok(Receipt::Principal(principal))
    }

    /// Replaces a principal's key. Applying the same key again answers the
    /// principal as it is (a retry).
    pub(crate) fn rotate_principal_key(
        &mut self,
        context: &Context,
        name: PrincipalName,
        key_hash: KeyHash,
        key_id: String,
    ) -> Result<Receipt, Rejection> {
        Self::require(&context.role, &["admin"], "rotate keys")?;
        check_text("key_id", Some(&key_id))?;
        let principal = self.named_principal(&name)?;
        if principal.key_hash == key_hash {
            return Ok(Receipt::Principal(principal.clone()));
        }
        if self.derived.key_index.contains_key(&key_hash) {
            return Err(Rejection::KeyInUse);
        }
        let old = principal.key_hash;
        self.derived.key_index.remove(&old);
        self.derived.key_index.insert(key_hash, name.clone());
        let principal = self.principals.get_mut(&name).expect("checked above");
        principal.key_hash = key_hash;
        principal.key_id = key_id.clone();
        let receipt = Receipt::Principal(principal.clone());
        self.record(context, AuditEvent::PrincipalKeyRotated { name, key_id });
        Ok(receipt)
    }

    /// Revokes a principal, unless it is the last admin standing. Revoking
    /// a revoked principal answers it as it is (a retry).
    pub(crate) fn revoke_principal(
        &mut self,
        context: &Context,
        name: PrincipalName,
    ) -> Result<Receipt, Rejection> {
        Self::require(&context.role, &["admin"], "revoke principals")?;
        let Some(principal) = self.principals.get(&name) else {
            return Err(Rejection::UnknownPrincipal { principal: name });
        };
        if principal.revoked {
            return Ok(Receipt::Principal(principal.clone()));
        }
        let admins = self
            .principals
            .values()
            .filter(|p| p.role == Role::Admin && !p.revoked)
            .count();
        if principal.role == Role::Admin && admins == 1 {
            return Err(Rejection::LastAdmin { principal: name });
        }
        let old = principal.key_hash;
        self.derived.key_index.remove(&old);
        let principal = self.principals.get_mut(&name).expect("checked above");
        principal.revoked = true;
        let receipt = Receipt::Principal(principal.clone());
        self.record(context, AuditEvent::PrincipalRevoked { name });
        Ok(receipt)
    }

    /// A principal that may still be changed: known and not revoked.
    fn named_principal(&self, name: &PrincipalName) -> Result<&Principal, Rejection> {
        match self.principals.get(name) {
            None => Err(Rejection::UnknownPrincipal {
                principal: name.clone(),
            }),
            Some(principal) if principal.revoked => Err(Rejection::PrincipalRevoked {
                principal: name.clone(),
            }),
            Some(principal) => Ok(principal),
        }
    }

    pub(crate) fn create_branch(
        &mut self,
        context: &Context,
        new: NewBranch,
    ) -> Result<Receipt, Rejection> {
        Self::require(&context.role, &["admin", "operator"], "create branches")?;
        check_text("name", Some(&new.name))?;
        if let Some(existing) = self.branches.get(&new.code) {
            let differing = if existing.name != new.name {
                Some("name")
            } else if existing.parent != new.parent {
                Some("parent")
            } else if existing.kind != new.kind {
                Some("kind")
            } else {
                None
            };
            return match differing {
                None => Ok(Receipt::Branch(existing.clone())),
                Some(field) => Err(Rejection::BranchExistsWithDifferent {
                    branch: new.code,
                    field: field.to_string(),
                }),
            };
        }
        if let Some(parent) = &new.parent {
            let Some(parent_branch) = self.branches.get(parent) else {
                return Err(Rejection::BranchNotFound {
                    branch: parent.clone(),
                });
            };
            // External participants stand outside the org tree: they have no
            // parent and no children.
            if new.kind.is_external() {
                return Err(Rejection::ExternalParticipantInvalid {
                    branch: new.code,
                    reason: "an external participant has no parent in the org tree".into(),
                });
            }
            if parent_branch.kind.is_external() {
                return Err(Rejection::ExternalParticipantInvalid {
                    branch: parent.clone(),
                    reason: format!("it cannot be the parent of branch {}", new.code),
                });
            }
        }
        let branch = Branch {
            code: new.code.clone(),
            name: new.name.clone(),
            parent: new.parent.clone(),
            kind: new.kind.clone(),
            created_at: context.position,
            created_by: context.actor.principal.clone(),
        };
        self.branches.insert(new.code.clone(), branch.clone());
        self.derived.add_branch(new.code.clone());
        self.record(context, AuditEvent::BranchCreated(new));
        Ok(Receipt::Branch(branch))
    }

    pub(crate) fn open_account(
        &mut self,
        context: &Context,
        new: NewAccount,
    ) -> Result<Receipt, Rejection> {
        Self::require(
            &context.role,
            &["admin", "operator", "branch"],
            "open accounts",
        )?;
        if let Role::Branch(own) = &context.role {
            if *own != new.branch {
                return Err(Rejection::Forbidden {
                    reason: format!(
                        "branch {own} may not open accounts for branch {}",
                        new.branch
                    ),
                });
            }
            if matches!(
                new.purpose,
                Purpose::Clearing | Purpose::SettlementReserve | Purpose::CentralBankReserve
            ) {
                return Err(Rejection::Forbidden {
                    reason: "clearing, settlement reserve and central bank reserve accounts are \
                             opened by operators"
                        .into(),
                });
            }
        }
        check_text("name", new.name.as_deref())?;
        if new.flags.closed {
            return Err(Rejection::AccountOpenedClosed);
        }
        if let Some(existing) = self.accounts.get(&new.id) {
            let differing = [
                ("branch", existing.branch != new.branch),
                ("currency", existing.currency != new.currency),
                ("class", existing.class != new.class),
                ("purpose", existing.purpose != new.purpose),
                ("name", existing.name != new.name),
            ]
            .into_iter()
            .find(|(_, differs)| *differs);
            return match differing {
                None => Ok(Receipt::Account(Box::new(existing.clone()))),
                Some((field, _)) => Err(Rejection::AccountExistsWithDifferent {
                    account: new.id,
                    field: field.to_string(),
                }),
            };
        }
        let Some(&branch_no) = self.derived.branch_numbers.get(&new.branch) else {
            return Err(Rejection::BranchNotFound { branch: new.branch });
        };
        let special_key = (branch_no, new.currency, new.purpose);
        let special = self.is_special_purpose(&new.branch, new.purpose);
        if special && let Some(&account) = self.derived.special_accounts.get(&special_key) {
            return Err(Rejection::ClearingAccountExists {
                branch: new.branch,
                currency: new.currency,
                account: self.accounts.at(account).id.clone(),
            });
        }
        let account = Account {
            id: new.id.clone(),
            branch: new.branch.clone(),
            currency: new.currency,
            class: new.class,
            purpose: new.purpose,
            flags: new.flags,
            name: new.name.clone(),
            balance: Default::default(),
            opened_at: context.position,
            opened_by: context.actor.principal.clone(),
        };
        let no = self.accounts.open(account.clone(), branch_no);
        if special {
            self.derived.special_accounts.insert(special_key, no);
        }
        self.record(context, AuditEvent::AccountOpened(new));
        Ok(Receipt::Account(Box::new(account)))
    }

    /// Whether a branch has at most one account of `purpose` per currency,
    /// which the ledger books through itself: the clearing, settlement
    /// reserve and central bank reserve accounts, and an external
    /// participant's vostro account (its settlement account with us).
    pub(crate) fn is_special_purpose(&self, branch: &BranchCode, purpose: Purpose) -> bool {
        match purpose {
            Purpose::Clearing | Purpose::SettlementReserve | Purpose::CentralBankReserve => true,
            Purpose::Vostro => self
                .branches
                .get(branch)
                .is_some_and(|branch| branch.kind.is_external()),
            _ => false,
        }
    }

    /// The account and its number, if `context`'s role may manage it.
    fn managed_account(
        &self,
        context: &Context,
        id: &AccountId,
    ) -> Result<(AccountNo, &Account), Rejection> {
        Self::require(
            &context.role,
            &["admin", "operator", "branch"],
            "manage accounts",
        )?;
        let no = self
            .accounts
            .number(id)
            .ok_or_else(|| Rejection::AccountNotFound {
                account: id.clone(),
            })?;
        let account = self.accounts.at(no);
        if let Role::Branch(own) = &context.role
            && *own != account.branch
        {
            return Err(Rejection::Forbidden {
                reason: format!("account {id} belongs to branch {}", account.branch),
            });
        }
        Ok((no, account))
    }

    pub(crate) fn set_account_frozen(
        &mut self,
        context: &Context,
        id: AccountId,
        frozen: bool,
    ) -> Result<Receipt, Rejection> {
        let (no, account) = self.managed_account(context, &id)?;
        if account.flags.closed {
            return Err(Rejection::AccountClosed { account: id });
        }
        if account.flags.frozen == frozen {
            return Ok(Receipt::Account(Box::new(account.clone())));
        }
        let account = self.accounts.at_mut(no);
        account.flags.frozen = frozen;
        let receipt = Receipt::Account(Box::new(account.clone()));
        self.record(
            context,
            AuditEvent::AccountFrozen {
                account: id,
                frozen,
            },
        );
        Ok(receipt)
    }

    pub(crate) fn close_account(
        &mut self,
        context: &Context,
        id: AccountId,
    ) -> Result<Receipt, Rejection> {
        let (no, account) = self.managed_account(context, &id)?;
        if account.flags.closed {
            return Ok(Receipt::Account(Box::new(account.clone())));
        }
        if !account.balance.is_settled() {
            return Err(Rejection::AccountBalanceNotZero { account: id });
        }
        let account = self.accounts.at_mut(no);
        account.flags.closed = true;
        let receipt = Receipt::Account(Box::new(account.clone()));
        self.record(context, AuditEvent::AccountClosed { account: id });
        Ok(receipt)
    }

    pub(crate) fn set_policy(
        &mut self,
        context: &Context,
        policy: ApprovalPolicy,
    ) -> Result<Receipt, Rejection> {
        Self::require(&context.role, &["admin"], "set approval policy")?;
        policy.validate()?;
        if !self.branches.contains_key(&policy.branch) {
            return Err(Rejection::BranchNotFound {
                branch: policy.branch,
            });
        }
        let branch_no = self.derived.branch_numbers[&policy.branch];
        self.derived
            .policy_index
            .insert((branch_no, policy.currency), policy.clone());
        self.policies
            .insert((policy.branch.clone(), policy.currency), policy.clone());
        self.record(context, AuditEvent::PolicySet(policy.clone()));
        Ok(Receipt::Policy(policy))
    }

    pub(crate) fn open_window_command(&mut self, context: &Context) -> Result<Receipt, Rejection> {
        Self::require(
            &context.role,
            &["admin", "operator"],
            "open clearing windows",
        )?;
        if let Some(window) = self.meta.open_window {
            return Err(Rejection::WindowAlreadyOpen { window });
        }
        let id = self.open_window(context);
        Ok(Receipt::Window(Box::new(
            self.windows.get(&id).expect("just opened").clone(),
        )))
    }

    /// Opens the next clearing window and returns its id.
    pub(crate) fn open_window(&mut self, context: &Context) -> u64 {
        assert!(self.meta.open_window.is_none(), "one open window at a time");
        let id = self.meta.last_window + 1;
        self.windows
            .insert(id, ClearingWindow::open(id, context.at, context.position));
        self.meta.last_window = id;
        self.meta.open_window = Some(id);
        self.record(context, AuditEvent::WindowOpened { window: id });
        id
    }
}
