"""Runs moto's server on HOST PORT, one request at a time.

moto applies a DynamoDB transaction by deep-copying the table and restoring
that copy when a condition fails; with concurrent requests the restore undoes
writes other requests made meanwhile (seen as ledger rows of cancelled
transactions). Serving one request at a time makes transactions serializable,
as they are on real DynamoDB.
"""
import os
import sys

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

host, port = sys.argv[1], int(sys.argv[2])
os.environ.setdefault("MOTO_PORT", str(port))
run_simple(host, port, DomainDispatcherApplication(create_backend_app), threaded=False, request_handler=MotoRequestHandler)
