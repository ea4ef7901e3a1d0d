"""The web console: server-rendered pages under ``/ui`` of the gateway (Jinja2 templates, htmx
for the live parts), with its few static files committed beside them (static/VENDORED.md)."""
