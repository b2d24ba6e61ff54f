"""Runs moto's server on HOST PORT, one request at a time.

moto applies a DynamoDB transaction by deep-copying the table and restoring
that copy when a condition fails; with concurrent requests the restore undoes
writes other requests made meanwhile (seen as ledger rows of cancelled
transactions). Serving one request at a time makes transactions serializable,
as they are on real DynamoDB.

moto also takes that deep copy once per item of the transaction (the same
table copied again for each); within one transaction the copies are equal, so
here the first is reused: a transaction of six items copies the table once.
"""
import copy
import os
import sys

import moto.dynamodb.models as dynamodb_models
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app


class _OneCopyPerTransaction:
    """Stands in for the `copy` module inside moto's DynamoDB models."""

    def __init__(self):
        self.cache = None

    def deepcopy(self, obj, memo=None):
        if self.cache is None:
            return copy.deepcopy(obj, memo)
        if id(obj) not in self.cache:
            self.cache[id(obj)] = copy.deepcopy(obj, memo)
        return self.cache[id(obj)]

    def __getattr__(self, name):
        return getattr(copy, name)


_copies = _OneCopyPerTransaction()
dynamodb_models.copy = _copies
_transact = dynamodb_models.DynamoDBBackend.transact_write_items


def _transact_with_one_copy(self, transact_items):
    _copies.cache = {}
    try:
        return _transact(self, transact_items)
    finally:
        _copies.cache = None


dynamodb_models.DynamoDBBackend.transact_write_items = _transact_with_one_copy

host, port = sys.argv[1], int(sys.argv[2])
os.environ.setdefault("MOTO_PORT", str(port))
run_simple(host, port, DomainDispatcherApplication(create_backend_app), threaded=False, request_handler=MotoRequestHandler)
