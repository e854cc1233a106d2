"""Security controls of issue 17: audit of privileged changes, brute force, secrets."""
