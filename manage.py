#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # Without DJANGO_SECRET_KEY this is a development checkout: production
    # cannot run without one (config.settings stops start-up), so management
    # commands default to debug there, as `make run` does. Only the
    # environment decides, never a file; DJANGO_DEBUG=0 still means off, and
    # the servers (config.asgi, config.runtime.serve) never get this default.
    if not os.environ.get("DJANGO_SECRET_KEY"):
        os.environ.setdefault("DJANGO_DEBUG", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
