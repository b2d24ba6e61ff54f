"""Creates or rotates the app secret in Secrets Manager (run through bin/init-secret).

The secret is the JSON shared/src/adapters/secrets.rs reads:
  token_signing_keys   "kid:base64url[,kid:base64url]": the first signs, all verify
  ip_hash_key          HMAC key for source IPs, transaction ids and the deletion log
  kie_api_key, kie_webhook_hmac_key (optional), revenuecat_api_key,
  revenuecat_webhook_auth, revenuecat_webhook_auth_previous (during a rotation only)

Create (no secret of that name yet): fresh signing and IP-hash keys; the provider keys come
from the environment (KIE_API_KEY, KIE_WEBHOOK_HMAC_KEY, REVENUECAT_API_KEY,
REVENUECAT_WEBHOOK_AUTH) or, when unset and a terminal is attached, from a prompt that does
not echo. A missing REVENUECAT_WEBHOOK_AUTH is generated ("Bearer <random>").

Rotate (the secret exists): a fresh signing key signs from now on and the current one still
verifies (tokens it signed live at most ACCESS_TOKEN_SECONDS); older keys are dropped. The
IP-hash key is kept: purchases are stored under its HMAC, and a new key would let a sync grant
every purchase again. Provider keys are kept unless the environment (or, with --prompt, an
answer) gives new ones; a new REVENUECAT_WEBHOOK_AUTH moves the current one to
revenuecat_webhook_auth_previous, and --drop-previous-webhook-auth ends that rotation.

Secrets are never taken from the command line and never printed. The secret's complete ARN
is printed on stdout (what `sam deploy --guided` asks for as AppSecretArn); everything else
goes to stderr.
"""

import argparse
import base64
import getpass
import json
import os
import secrets
import sys
import time

import boto3
from botocore.exceptions import ClientError, NoRegionError

PROVIDER_KEYS = [
    # (JSON field, environment variable, required, what it is)
    ("kie_api_key", "KIE_API_KEY", True, "KIE API key"),
    ("kie_webhook_hmac_key", "KIE_WEBHOOK_HMAC_KEY", False, "KIE webhook HMAC key (only if enabled on the KIE account)"),
    ("revenuecat_api_key", "REVENUECAT_API_KEY", True, "RevenueCat secret REST API key"),
    ("revenuecat_webhook_auth", "REVENUECAT_WEBHOOK_AUTH", False, "RevenueCat webhook Authorization value (empty: generate one)"),
]
MIN_KEY_BYTES = 32


def say(text):
    print(text, file=sys.stderr)


def random_key():
    """32 random bytes, base64url without padding (43 characters)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(MIN_KEY_BYTES)).decode().rstrip("=")


def fresh_kid(taken):
    kid = "k" + time.strftime("%Y%m%d%H%M%S", time.gmtime())
    while kid in taken:
        kid += secrets.choice("abcdefghijklmnopqrstuvwxyz")
    return kid


def signing_keys(spec):
    """[(kid, key)] from "kid:key,kid:key"."""
    keys = []
    for part in (p.strip() for p in spec.split(",")):
        if part:
            kid, _, key = part.partition(":")
            keys.append((kid, key))
    return keys


def ask(label):
    if not sys.stdin.isatty():
        return None
    return getpass.getpass(f"{label}: ").strip()


def provider_value(env, label, prompt):
    value = os.environ.get(env, "").strip()
    if value:
        return value
    if prompt:
        return ask(label) or None
    return None


def check(doc):
    """The checks the functions make at start-up (shared/src/auth/keys.rs)."""
    keys = signing_keys(doc["token_signing_keys"])
    if not keys or len({k for k, _ in keys}) != len(keys):
        sys.exit("init-secret: token_signing_keys needs at least one key and distinct key ids")
    for kid, key in keys:
        raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
        if not kid or len(raw) < MIN_KEY_BYTES:
            sys.exit(f"init-secret: signing key {kid!r} needs an id and at least {MIN_KEY_BYTES} bytes")
    if len(doc.get("ip_hash_key", "")) < MIN_KEY_BYTES:
        sys.exit(f"init-secret: ip_hash_key must be at least {MIN_KEY_BYTES} characters")


def main():
    parser = argparse.ArgumentParser(
        prog="bin/init-secret",
        description="Create or rotate the app secret (keys from the environment or a prompt, never arguments).",
    )
    parser.add_argument("--name", default="pro-portrait/app", help="the secret's name (default: pro-portrait/app)")
    parser.add_argument("--region", help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / the profile's)")
    parser.add_argument("--prompt", action="store_true",
                        help="on a rotation, also ask for each provider key (an empty answer keeps the current one)")
    parser.add_argument("--drop-previous-webhook-auth", action="store_true",
                        help="end a webhook value rotation: remove revenuecat_webhook_auth_previous")
    args = parser.parse_args()

    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    client = boto3.client("secretsmanager", region_name=region)
    try:
        current = client.get_secret_value(SecretId=args.name)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        current = None

    if current is None:
        doc = {"token_signing_keys": f"{fresh_kid(set())}:{random_key()}", "ip_hash_key": random_key()}
        for field, env, required, label in PROVIDER_KEYS:
            value = provider_value(env, label, prompt=True)
            if value:
                doc[field] = value
            elif field == "revenuecat_webhook_auth":
                doc[field] = f"Bearer {random_key()}"
                say("generated revenuecat_webhook_auth: set the same value as the Authorization header of "
                    "RevenueCat's webhook (read it with: aws secretsmanager get-secret-value --secret-id <arn> "
                    "--query SecretString --output text)")
            elif required:
                sys.exit(f"init-secret: {env} is not set and there is no terminal to ask for the {label}")
        check(doc)
        out = client.create_secret(
            Name=args.name,
            Description="Pro Portrait app secret: token signing keys, IP hash key, provider keys (bin/init-secret)",
            SecretString=json.dumps(doc),
        )
        arn = out["ARN"]
        say(f"created {args.name} with fresh signing and IP-hash keys; provider keys: "
            + ", ".join(f for f, *_ in PROVIDER_KEYS if f in doc))
    else:
        doc = json.loads(current["SecretString"])
        old = signing_keys(doc.get("token_signing_keys", ""))
        kid = fresh_kid({k for k, _ in old})
        doc["token_signing_keys"] = ",".join(f"{k}:{v}" for k, v in [(kid, random_key())] + old[:1])
        changed = []
        for field, env, _required, label in PROVIDER_KEYS:
            value = provider_value(env, f"{label} [empty: keep]", prompt=args.prompt)
            if not value or value == doc.get(field):
                continue
            if field == "revenuecat_webhook_auth" and doc.get(field):
                doc["revenuecat_webhook_auth_previous"] = doc[field]
                changed.append("revenuecat_webhook_auth_previous")
            doc[field] = value
            changed.append(field)
        if args.drop_previous_webhook_auth and doc.pop("revenuecat_webhook_auth_previous", None) is not None:
            changed.append("revenuecat_webhook_auth_previous (removed)")
        check(doc)
        client.put_secret_value(SecretId=current["ARN"], SecretString=json.dumps(doc))
        arn = current["ARN"]
        say(f"rotated {args.name}: new signing key {kid} signs, {old[0][0] if old else 'none'} still verifies; "
            "ip_hash_key kept; " + (f"changed: {', '.join(changed)}" if changed else "provider keys kept"))
        say("the functions read the secret at cold start: redeploy (or wait for new instances) to use it")
    print(arn)


if __name__ == "__main__":
    try:
        main()
    except NoRegionError:
        sys.exit("init-secret: no AWS region: give --region, or set AWS_REGION")
    except ClientError as err:
        sys.exit(f"init-secret: {err}")
