"""Alerts: rules per tenant, the incidents they open, and the notifications that reach people.

- ``models.py``      rules, webhook endpoints, condition trackers, alerts, notifications,
                     deliveries and their attempts
- ``services.py``    writes with rules (rules, endpoints, acknowledge), validated and audited
- ``conditions.py``  what a rule measures (occupancy, footfall, health, completeness)
- ``evaluation.py``  rules -> conditions -> alerts opened, updated and resolved (idempotent)
- ``outbox.py``      notifications written with their alert; claiming and digests
- ``senders/``       e-mail, SMS, webhook senders
- ``delivery.py``    one delivery: claim, send, log the attempt, back off
- ``tasks.py``       Celery tasks on the short queue; ``receivers.py`` listens to counting
See docs/alerts.md.
"""
