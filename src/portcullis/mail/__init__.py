"""Mail: templates, transports (SMTP, file outbox, console) and the outbox sender."""
