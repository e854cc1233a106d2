"""Portal pages of the tenant's people: users and invitations, your account, sign-in help."""
