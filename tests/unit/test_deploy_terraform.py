"""The Terraform module for one region's data stores.

Parsed with python-hcl2 when it is installed (structured checks of the resources), and
always with plain-text checks, so the suite stays offline and fast without it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

TERRAFORM = Path(__file__).resolve().parents[2] / "terraform"
MODULE = TERRAFORM / "modules" / "gantral-aws"
EXAMPLE = TERRAFORM / "examples" / "single-region"


def _unquote(node: Any) -> Any:
    """python-hcl2 8 keeps HCL quotes and adds `__is_block__`-style keys; drop both."""
    if isinstance(node, dict):
        return {
            _unquote(k): _unquote(v)
            for k, v in node.items()
            if not (k.startswith("__") and k.endswith("__"))
        }
    if isinstance(node, list):
        return [_unquote(v) for v in node]
    if isinstance(node, str) and len(node) >= 2 and node[0] == node[-1] == '"':
        return node[1:-1]
    return node


def _load(path: Path) -> dict[str, Any]:
    hcl2 = pytest.importorskip("hcl2", reason="python-hcl2 not installed: text checks only")
    options = getattr(hcl2, "SerializationOptions", None)
    with path.open() as handle:
        if options is None:
            return _unquote(hcl2.load(handle))
        return _unquote(
            hcl2.load(
                handle,
                serialization_options=options(
                    with_comments=False, explicit_blocks=False, strip_string_quotes=True
                ),
            )
        )


def _resources(parsed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{"aws_s3_bucket.audit": {...}} from hcl2's list of one-key dicts."""
    found: dict[str, dict[str, Any]] = {}
    for entry in parsed.get("resource", []):
        for kind, named in entry.items():
            for name, body in named.items():
                found[f"{kind}.{name}"] = body
    return found


def _block(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body[name]
    return value[0] if isinstance(value, list) else value


@pytest.fixture(scope="module")
def resources() -> dict[str, dict[str, Any]]:
    return _resources(_load(MODULE / "main.tf"))


def test_module_files_exist() -> None:
    for name in ("versions.tf", "variables.tf", "main.tf", "outputs.tf"):
        assert (MODULE / name).is_file(), name
    assert (EXAMPLE / "main.tf").is_file()


def test_bucket_is_versioned_object_locked_encrypted_and_private(
    resources: dict[str, dict[str, Any]],
) -> None:
    assert resources["aws_s3_bucket.audit"]["object_lock_enabled"] is True
    versioning = resources["aws_s3_bucket_versioning.audit"]
    assert _block(versioning, "versioning_configuration")["status"] == "Enabled"
    lock = resources["aws_s3_bucket_object_lock_configuration.audit"]
    retention = _block(_block(lock, "rule"), "default_retention")
    assert retention["mode"] == "COMPLIANCE"
    assert retention["days"] == "${var.object_lock_retention_days}"
    public = resources["aws_s3_bucket_public_access_block.audit"]
    for flag in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        assert public[flag] is True, flag
    sse = resources["aws_s3_bucket_server_side_encryption_configuration.audit"]
    default = _block(_block(sse, "rule"), "apply_server_side_encryption_by_default")
    assert "AES256" in default["sse_algorithm"] and "aws:kms" in default["sse_algorithm"]


def test_database_is_encrypted_private_and_has_no_password_in_terraform(
    resources: dict[str, dict[str, Any]],
) -> None:
    db = resources["aws_db_instance.audit"]
    assert db["engine"] == "postgres"
    assert db["storage_encrypted"] is True
    assert db["publicly_accessible"] is False
    assert db["manage_master_user_password"] is True
    assert "password" not in db
    assert db["skip_final_snapshot"] is False


def test_signing_key_secret_is_created_without_a_value(
    resources: dict[str, dict[str, Any]],
) -> None:
    assert "aws_secretsmanager_secret.signing_key" in resources
    # Values are put out of band, so no secret ever lands in the Terraform state.
    assert not any(r.startswith("aws_secretsmanager_secret_version.") for r in resources)
    assert not any(r.startswith("random_password.") for r in resources)


def test_attestation_key_secret_is_created_empty_and_read_by_the_api_only(
    resources: dict[str, dict[str, Any]],
) -> None:
    secret = resources["aws_secretsmanager_secret.attestation_key"]
    assert secret["kms_key_id"] == "${var.kms_key_arn}"
    assert secret["name"] != resources["aws_secretsmanager_secret.signing_key"]["name"]
    data = _load(MODULE / "main.tf")["data"]
    policies = {
        name: body
        for entry in data
        for kind, named in entry.items()
        if kind == "aws_iam_policy_document"
        for name, body in named.items()
    }

    def secrets_read_by(policy: str) -> set[str]:
        statements = policies[policy]["statement"]
        return {
            resource
            for statement in statements
            if any("secretsmanager" in a for a in statement["actions"])
            for resource in statement["resources"]
        }

    attestation = "${aws_secretsmanager_secret.attestation_key.arn}"
    signing = "${aws_secretsmanager_secret.signing_key.arn}"
    # Each process reads its own private key, never the other's.
    assert attestation in secrets_read_by("api") and signing not in secrets_read_by("api")
    assert signing in secrets_read_by("sink") and attestation not in secrets_read_by("sink")
    outputs = {
        name: body
        for entry in _load(MODULE / "outputs.tf")["output"]
        for name, body in entry.items()
    }
    assert outputs["attestation_key_secret_arn"]["value"] == attestation
    example = _load(EXAMPLE / "main.tf")
    to_fill = next(o["secrets_to_fill"] for o in example["output"] if "secrets_to_fill" in o)
    assert "${module.gantral.attestation_key_secret_arn}" in to_fill["value"].values()


def test_every_variable_used_is_declared_and_every_output_resolves() -> None:
    variables = {name for entry in _load(MODULE / "variables.tf")["variable"] for name in entry}
    text = "\n".join(p.read_text() for p in MODULE.glob("*.tf"))
    used = set(re.findall(r"\bvar\.([a-z_][a-z0-9_]*)", text))
    assert used - variables == set()
    outputs = {name for entry in _load(MODULE / "outputs.tf")["output"] for name in entry}
    example = (EXAMPLE / "main.tf").read_text()
    assert set(re.findall(r"\bmodule\.gantral\.([a-z_][a-z0-9_]*)", example)) <= outputs
    module = _load(EXAMPLE / "main.tf")["module"][0]["gantral"]
    assert module["source"] == "../../modules/gantral-aws"
    required = {
        name
        for entry in _load(MODULE / "variables.tf")["variable"]
        for name, body in entry.items()
        if "default" not in body
    }
    assert required <= set(module)


# --- Plain-text checks: always run, also without python-hcl2 ------------------------------


def _resource_text(text: str, kind: str, name: str) -> str:
    match = re.search(rf'resource "{kind}" "{name}" \{{(.*?)\n\}}', text, re.S)
    assert match, f"{kind}.{name} not found"
    return match.group(1)


def test_text_checks_of_the_module() -> None:
    text = (MODULE / "main.tf").read_text()
    assert re.search(
        r"object_lock_enabled\s*=\s*true", _resource_text(text, "aws_s3_bucket", "audit")
    )
    versioning = _resource_text(text, "aws_s3_bucket_versioning", "audit")
    assert re.search(r'status\s*=\s*"Enabled"', versioning)
    lock = _resource_text(text, "aws_s3_bucket_object_lock_configuration", "audit")
    assert re.search(r'mode\s*=\s*"COMPLIANCE"', lock)
    assert re.search(r"days\s*=\s*var\.object_lock_retention_days", lock)
    public = _resource_text(text, "aws_s3_bucket_public_access_block", "audit")
    assert len(re.findall(r"=\s*true", public)) == 4
    _resource_text(text, "aws_s3_bucket_server_side_encryption_configuration", "audit")
    db = _resource_text(text, "aws_db_instance", "audit")
    for setting in ("storage_encrypted", "manage_master_user_password"):
        assert re.search(rf"{setting}\s*=\s*true", db), setting
    assert re.search(r"publicly_accessible\s*=\s*false", db)
    assert not re.search(r"^\s*password\s*=", db, re.M)
    _resource_text(text, "aws_secretsmanager_secret", "signing_key")
    _resource_text(text, "aws_secretsmanager_secret", "attestation_key")
    api_policy = re.search(r'data "aws_iam_policy_document" "api" \{(.*?)\n\}', text, re.S)
    sink_policy = re.search(r'data "aws_iam_policy_document" "sink" \{(.*?)\n\}', text, re.S)
    assert api_policy and sink_policy
    assert "aws_secretsmanager_secret.attestation_key.arn" in api_policy.group(1)
    assert "aws_secretsmanager_secret.attestation_key" not in sink_policy.group(1)
    assert "aws_secretsmanager_secret_version" not in text
    versions = (MODULE / "versions.tf").read_text()
    assert 'source = "hashicorp/aws"' in versions or re.search(
        r'source\s*=\s*"hashicorp/aws"', versions
    )


def test_no_credentials_state_or_tfvars_in_the_repository() -> None:
    for path in TERRAFORM.rglob("*"):
        assert not path.name.endswith((".tfstate", ".tfstate.backup", ".tfvars")), path
        assert ".terraform" not in path.parts, path
    for path in TERRAFORM.rglob("*.tf"):
        text = path.read_text()
        assert not re.search(r"^\s*(access_key|secret_key|token)\s*=", text, re.M), path
        assert not re.search(r"\bAKIA[0-9A-Z]{16}\b", text), path
        assert "-----BEGIN" not in text, path
