"""Findings where people work: the outbox of notifications (Slack, Microsoft Teams, Jira,
ServiceNow, PagerDuty, GitHub), their payloads, their delivery, and the weekly team digest
(docs/notifications.md)."""
