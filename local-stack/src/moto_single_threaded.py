"""Runs moto's server on HOST PORT, one request at a time.

moto applies a DynamoDB transaction by deep-copying the table and restoring
that copy when a condition fails; with concurrent requests the restore undoes
writes other requests made meanwhile (seen as ledger rows of cancelled
transactions). Serving one request at a time makes transactions serializable,
as they are on real DynamoDB.

moto also takes that deep copy once per item of the transaction (the same
table copied again for each); within one transaction the copies are equal, so
here the first is reused: a transaction of six items copies the table once.

moto ignores `ClientRequestToken`; DynamoDB does not: a TransactWriteItems
repeated with the token of one that committed in the last 10 minutes
succeeds without applying it again (the same token with other parameters is
`IdempotentParameterMismatchException`). The retry of a request whose answer
was lost depends on it, so it is added here.
"""
import copy
import json
import os
import sys
import time

import moto.dynamodb.models as dynamodb_models
import moto.dynamodb.responses as dynamodb_responses
from moto.dynamodb.exceptions import DynamodbException, ERROR_TYPE_PREFIX
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


class IdempotentParameterMismatch(DynamodbException):
    def __init__(self):
        super().__init__(ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException",
                         "The request uses the same client token as a previous, but non-identical request.")


_IDEMPOTENCY_SECONDS = 600
_committed = {}  # token -> (parameters, committed at, response)
_handle_transaction = dynamodb_responses.DynamoHandler.transact_write_items


def _transact_idempotently(self):
    token = self.body.get("ClientRequestToken")
    if not token:
        return _handle_transaction(self)
    now = time.monotonic()
    for old in [t for t, (_, at, _) in _committed.items() if now - at > _IDEMPOTENCY_SECONDS]:
        del _committed[old]
    parameters = json.dumps({k: v for k, v in self.body.items() if k != "ClientRequestToken"}, sort_keys=True)
    if token in _committed:
        seen, _, response = _committed[token]
        if seen != parameters:
            raise IdempotentParameterMismatch()
        return response
    # Only a committed request is remembered: a cancelled one may be sent again and applied.
    response = _handle_transaction(self)
    _committed[token] = (parameters, now, response)
    return response


dynamodb_responses.DynamoHandler.transact_write_items = _transact_idempotently

host, port = sys.argv[1], int(sys.argv[2])
os.environ.setdefault("MOTO_PORT", str(port))
run_simple(host, port, DomainDispatcherApplication(create_backend_app), threaded=False, request_handler=MotoRequestHandler)
